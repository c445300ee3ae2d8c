"""Frozen feature extractors for perceptual losses and metrics, all from local weight files.

- :mod:`tgan_aug.features.deepsea`: DeepSea's segmentation U-Net with the weights the ``deepsea`` package ships.
- :mod:`tgan_aug.features.vgg19`: ImageNet VGG19 from a local torchvision state-dict file.
- :mod:`tgan_aug.features.inception`: Inception-v3 pool features from a local file (for FID-Inception).

Import the submodules directly; this package imports nothing heavy.
"""
