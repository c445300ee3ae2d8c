"""``python -m tgan_aug.cli ...`` (and ``torchrun -m tgan_aug.cli ...``): the same as the ``tgan-aug`` command."""

from tgan_aug.cli import main

if __name__ == "__main__":
    main()
