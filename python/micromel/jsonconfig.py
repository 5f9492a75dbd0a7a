"""Settings dataclasses from JSON objects (config.json sections, --frontend KEY=VALUE, the
segment config): an unknown key or a value of the wrong type is a one-line error that names
it, never a traceback or a silently coerced value."""
from __future__ import annotations

from dataclasses import fields

from .errors import MicromelError


def from_dict(cls, d, what: str):
    """`cls(**d)` with every value converted to its field's type: int (no bool, no fraction),
    float (no bool), bool (only true/false), str, tuple (of strings; not a lone string)."""
    if not isinstance(d, dict):
        raise MicromelError(f"{what}: expected a JSON object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise MicromelError(f"{what}: unknown keys {unknown}; known: {sorted(known)}")
    kw = {}
    for name, value in d.items():
        typ = known[name].type
        typ = typ if isinstance(typ, str) else typ.__name__
        try:
            kw[name] = _convert(typ, value)
        except (TypeError, ValueError):
            raise MicromelError(f"{what}: {name}={value!r} has the wrong type (expected {typ})") from None
    return cls(**kw)


def _convert(typ: str, value):
    if typ == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    if typ == "float":
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    if typ == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if typ == "tuple":
        if isinstance(value, (str, bytes)):
            raise ValueError
        return tuple(str(x) for x in value)
    return str(value)
