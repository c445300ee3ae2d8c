"""Errors meant for the user: one line that names the file or flag and the fix.

The CLI prints ``error: <message>`` and exits with code 2 for these, without a traceback.
"""

from __future__ import annotations

from masksynth.errors import UserError, reject_unknown_keys
from masksynth.tracked import CTCValidationError, NotLinkedError

__all__ = ["UserError", "MissingDependencyError", "TganAugWarning", "USER_ERRORS", "reject_unknown_keys", "require"]


class MissingDependencyError(UserError):
    """An optional dependency is not installed; the message says what to pip install."""


class TganAugWarning(UserWarning):
    """A result that is usable but worse than it should be; the message says what it lacks and the
    fix. The CLI prints it as one line ``warning: <message>``."""


#: Exceptions that the CLI reports as one line with exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, CTCValidationError, NotLinkedError)


def require(module: str, extra: str = "trackers"):
    """Import an optional module or raise :class:`MissingDependencyError` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"'{module}' is not installed ({exc}); install it with: "
            f"pip install 'tgan-aug[{extra}]' -c constraints.txt"
        ) from None
