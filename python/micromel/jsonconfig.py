"""Settings dataclasses from JSON objects (config.json sections, --frontend KEY=VALUE, the
segment config, the training record): the one `from_dict` rule. An unknown key or a value of
the wrong type is a one-line error that names it, never a traceback or a silently coerced
value; a missing key takes the field's default."""
from __future__ import annotations

from dataclasses import MISSING, asdict, fields

from .errors import MicromelError


class Settings:
    """What every settings dataclass has: to_dict() and a strict from_dict() (the rule
    below), errors naming `WHAT`."""
    WHAT = "settings"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d, what: str | None = None):
        return from_dict(cls, d, what or cls.WHAT)


def from_dict(cls, d, what: str):
    """`cls(**d)` with every value converted to its field's annotated type: int (no bool, no
    fraction), float (no bool), bool (only true/false), str, dict, `tuple[float, float]`,
    `tuple[str, ...]` (a list in JSON; not a lone string), and `X | None`."""
    if not isinstance(d, dict):
        raise MicromelError(f"{what}: expected a JSON object")
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise MicromelError(f"{what}: unknown keys {unknown}; known: {sorted(known)}")
    missing = [n for n, f in known.items() if n not in d and f.default is MISSING
               and f.default_factory is MISSING]
    if missing:
        raise MicromelError(f"{what}: missing keys {missing}")
    kw = {}
    for name, value in d.items():
        typ = known[name].type
        typ = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
        try:
            kw[name] = convert(typ, value)
        except (TypeError, ValueError):
            raise MicromelError(f"{what}: {name}={value!r} has the wrong type (expected {typ})") from None
    return cls(**kw)


def convert(typ: str, value):
    """One JSON value as the annotated type `typ` (a string: annotations are postponed)."""
    typ = typ.replace(" ", "")
    if typ.endswith("|None"):
        return None if value is None else convert(typ[:-5], value)
    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    if typ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        return float(value)
    if typ == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if typ == "str":
        if not isinstance(value, str):
            raise ValueError
        return value
    if typ == "dict":
        if not isinstance(value, dict):
            raise ValueError
        return dict(value)
    if typ.startswith("tuple"):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise ValueError
        items = list(value)
        inner = typ[6:-1].split(",") if typ.startswith("tuple[") else ["str", "..."]
        if len(inner) == 2 and inner[1] == "...":
            return tuple(convert(inner[0], v) for v in items)
        if len(items) != len(inner):
            raise ValueError
        return tuple(convert(t, v) for t, v in zip(inner, items))
    raise TypeError(f"no JSON conversion for {typ}")
