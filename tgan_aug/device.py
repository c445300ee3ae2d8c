"""Device names -> ``torch.device``: one rule for the library and the CLI's ``--device``."""

from __future__ import annotations

from tgan_aug.errors import UserError


def resolve_device(name: str):
    """'auto' -> cuda if available else cpu; validates explicit names ('cpu', 'cuda', 'cuda:N').

    Returns a ``torch.device``; a bad or unavailable name raises :class:`UserError` naming ``--device``.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device name; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return dev
