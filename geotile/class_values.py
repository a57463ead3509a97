"""Per-class option values (--min-area, --simplify: "car=2,building=10") and the class
names and ids they are given by: a raster's names, else class 1 is "building"."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geotile.class_keys import class_key, zero_is_background
from geotile.errors import InputError


def class_name_of(names, class_id: int) -> str:
    if names and 0 <= class_id < len(names):
        return str(names[class_id])
    return "building" if class_id == 1 and not names else str(class_id)


def parse_per_class(text: str | float | None, option: str = "--min-area") -> float | dict:
    """``"10"`` -> 10.0; ``"car=2,building=10"`` -> {"car": 2.0, "building": 10.0};
    ``"5,car=2"`` -> {"*": 5.0, "car": 2.0} (5 for every other class). Values >= 0; keys
    are class names or ids. InputError in one line otherwise."""
    if text is None:
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    values: dict[str, float] = {}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        key, _, number = part.rpartition("=")
        key = key.strip() or "*"
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < 0 or _value_key(key) in map(_value_key, values):
            raise InputError(f"{option} {text}: give a number >= 0 for all classes, or "
                             "class=number pairs (e.g. car=2,building=10), each class once.")
        values[key] = value
    if not values:
        raise InputError(f"{option} {text!r}: give a number or class=number pairs.")
    return values["*"] if list(values) == ["*"] else values


def per_class_values(value: float | dict, frame, names: list[str] | None = None) -> np.ndarray:
    """The value for each row of ``frame`` (by its ``class`` name, else ``class_id``). A key
    naming a class (of ``names``, the raster's by id, else of the frame's rows) is that class
    alone, as in --classes (:func:`class_id_of`): '2' of classes named '3', '1', '2' is id 3,
    not also id 2."""
    if not isinstance(value, dict):
        return np.full(len(frame), float(value))
    value = {_value_key(k): v for k, v in value.items()}
    default = value.get("*", 0.0)
    classes = frame["class"].astype(str).tolist() if "class" in frame else [""] * len(frame)
    ids = frame["class_id"].astype(str).tolist() if "class_id" in frame else [""] * len(frame)
    named = {class_key(n) for n in (names if names is not None else classes)}
    return np.array([value.get(class_key(n), default if i in named else value.get(i, default))
                     for n, i in zip(classes, ids, strict=True)], float)


def _value_key(key) -> str:
    """A per-class key as :func:`per_class_values` looks it up: a class name's
    :func:`~geotile.class_keys.class_key`, a class id's number ("05" is class 5)."""
    key = class_key(key)
    return str(int(key)) if key.isdigit() else key


def known_classes(names: list[str] | None) -> dict[str, int]:
    """Class key -> id of a raster's class names (None: unnamed, its class 1 is "building")."""
    return {class_key(n): i for i, n in enumerate(names or [])} or {"building": 1}


def class_id_of(name, names: list[str] | None) -> int:
    """The id of a class given by name or id in a raster with ``names`` (None: unnamed, its
    class 1 is "building")."""
    known = known_classes(names)
    key = class_key(name)
    return known[key] if key in known else int(name)


def check_each_class_once(keys, names: list[str] | None, option: str, path) -> None:
    """InputError in one line where two of ``keys`` (checked names or ids) are one class of a
    raster with ``names``: tree=5,2=1 (tree being class 2) would keep one value silently."""
    seen: dict[int, str] = {}
    for key in keys:
        class_id = class_id_of(key, names)
        if class_id in seen:
            raise InputError(f"{option}: {seen[class_id]!r} and {key!r} are both class "
                             f"{class_name_of(names, class_id)} (id {class_id}) in "
                             f"{Path(str(path)).name}: give each class once.")
        seen[class_id] = key


def check_class_names(keys, known: dict[str, int], option: str, path) -> None:
    bad = [k for k in keys if class_key(k) not in known and not str(k).isdigit()]
    if bad:
        named = ", ".join(n for n, i in known.items() if i or not zero_is_background([n]))
        classes = f"its classes: {named}" if known != {"building": 1} else \
            "it names no classes: give class ids, or building for class 1"
        raise InputError(f"{option}: no class {bad[0]!r} in {Path(str(path)).name} ({classes}). "
                         "Use these names or class ids.")
