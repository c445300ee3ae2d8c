"""One base for every configuration dataclass: presets, ``from_dict``/``to_dict``, validation, choices.

A configuration is a dataclass declared with :func:`configclass` that derives from :class:`ConfigBase`:

- ``Cls.preset(name, **overrides)``: the named preset (``Cls.PRESETS[name]``) with fields replaced;
  an unknown name raises :class:`UserError` listing the presets;
- ``Cls.from_dict(d)``: rebuild from a plain dict (JSON, a checkpoint); unknown keys raise
  :class:`UserError` naming them and the valid ones;
- ``cfg.to_dict()``: a JSON-able dict (tuples and arrays as lists) that ``from_dict`` inverts;
- ``cfg.validate()``: checks every field, raising :class:`UserError` naming it; ``__post_init__``
  runs it, so every instance (also from ``dataclasses.replace``) is valid.

Fields with a fixed set of values are typed with a ``Literal`` and checked by :func:`check_choice`.
Numpy-free and torch-free (masksynth's bottom layer): tgan_aug's configurations import it from here.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from masksynth.errors import UserError, reject_unknown_keys

__all__ = ["ConfigBase", "configclass", "check_choice", "choices_of", "jsonable"]


def choices_of(choices: Any) -> tuple[Any, ...]:
    """The allowed values of a ``Literal[...]`` type (or of a tuple/list given as is)."""
    if typing.get_origin(choices) is Literal:
        return typing.get_args(choices)
    return tuple(choices)


def check_choice(value: Any, choices: Any, name: str) -> None:
    """Raise :class:`UserError` unless ``value`` is one of ``choices`` (a ``Literal`` type or a tuple).

    ``name`` is what the user set (a field such as ``"config amp"`` or a flag such as ``"--density"``);
    the message reads ``"{name} must be one of a, b, c, got 'x'"``.
    """
    allowed = choices_of(choices)
    if isinstance(value, bool) or value not in allowed:
        raise UserError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def jsonable(value: Any) -> Any:
    """Tuples (and numpy arrays) as lists, recursively; what a JSON round trip gives."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "ndim"):  # numpy arrays and scalars
        return value.tolist()
    return value


class _PresetConstructor:
    """``Cls.preset(...)`` even on a dataclass with a *field* named ``preset``.

    Such a field (which preset a config came from) puts its default ("custom", "small", ...) in the
    class namespace, where it hides the inherited constructor. :func:`configclass` puts this
    descriptor back after the dataclass decorator has read the default. It has no ``__set__``, so
    on an instance the field value in the instance's ``__dict__`` wins; on the class it returns
    the constructor ``cls._preset``.
    """

    def __get__(self, obj: Any, owner: type) -> Any:
        return owner._preset  # type: ignore[attr-defined]


def configclass(cls: type | None = None, /, **dataclass_options: Any) -> Any:
    """``@dataclass`` (same options, e.g. ``frozen=True``) for a :class:`ConfigBase` subclass.

    It also keeps ``Cls.preset(name, ...)`` the constructor when the class has a field named ``preset``.
    """

    def wrap(c: type) -> type:
        c = dataclasses.dataclass(c, **dataclass_options)
        if not isinstance(c.__dict__.get("preset", _PRESET), _PresetConstructor):
            c.preset = _PRESET  # type: ignore[attr-defined]
        return c

    return wrap if cls is None else wrap(cls)


_PRESET = _PresetConstructor()


class ConfigBase:
    """Shared methods of the configuration dataclasses (see the module docstring).

    Subclasses set ``PRESETS`` (name -> field values), ``DEFAULT_PRESET``, ``WHAT`` (the name of
    the configuration in unknown-key messages) and ``PRESET_WHAT`` (in unknown-preset messages),
    define :meth:`validate`, and override the hooks :meth:`_preset_values` (presets that derive
    fields from others) and :meth:`_coerce` (JSON lists back to tuples, nested configs).
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    DEFAULT_PRESET: ClassVar[str | None] = None
    WHAT: ClassVar[str] = "config"
    PRESET_WHAT: ClassVar[str] = "config"

    preset = _PRESET

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise :class:`UserError` naming the first bad one. Subclasses extend it."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def preset_names(cls) -> list[str]:
        """Names accepted by :meth:`preset`."""
        return list(cls.PRESETS)

    @classmethod
    def _preset(cls, name: str | None = None, **overrides: Any) -> Any:
        """The preset ``name`` (default ``DEFAULT_PRESET``) with fields replaced by ``overrides``."""
        name = cls.DEFAULT_PRESET if name is None else name
        if name not in cls.PRESETS:
            raise UserError(f"unknown {cls.PRESET_WHAT} preset {name!r}; choose one of {', '.join(cls.PRESETS)}")
        values = cls._preset_values(name, dict(overrides))
        if "preset" in {f.name for f in dataclasses.fields(cls)}:  # type: ignore[arg-type]
            values["preset"] = name
        return cls.from_dict(values)

    @classmethod
    def _preset_values(cls, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Field values of preset ``name`` (known) with ``overrides`` applied."""
        return {**cls.PRESETS[name], **overrides}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Build from a plain dict (e.g. :meth:`to_dict` read back from JSON or a checkpoint).

        Unknown keys raise :class:`UserError` naming them; bad values raise it from :meth:`validate`.
        """
        data = dict(data) if isinstance(data, Mapping) else data
        reject_unknown_keys(cls, data, what=cls.WHAT)
        return cls(**cls._coerce(dict(data)))

    @classmethod
    def _coerce(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Turn JSON values back into field types (lists to tuples, dicts to nested configs)."""
        return data

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields (tuples as lists); :meth:`from_dict` inverts it."""
        return jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]

    def replace(self, **changes: Any) -> Any:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
