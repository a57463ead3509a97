"""How class names compare (:func:`class_key`) and which first names mean "no class", so
that id 0 is background (:func:`zero_is_background`): one convention for every command."""

from __future__ import annotations

import re
import unicodedata


def class_key(name) -> str:
    """Class names compare without case (Unicode case folding: STRASSE is straße), in one
    Unicode form (NFKC: a decomposed ä, fullwidth letters), and with spaces or hyphens as
    underscores."""
    text = unicodedata.normalize("NFKC", str(name)).strip().casefold()
    return text.replace(" ", "_").replace("-", "_")


#: first class names that mean "no class" (compared as :func:`class_key` gives them)
BACKGROUND_NAMES = frozenset({"background", "_background_", "bg", "none", "no_class", "noclass",
                              "nothing", "other", "others", "unlabeled", "unlabelled", "void",
                              "null", "negative", "no_data", "nodata", "ignore", "ignored",
                              "masked", "missing", "unclassified", "unknown", "fill", "0", ""})


#: words that make a first class name "no class" wherever they stand in it
#: (ISPRS Potsdam's and Vaihingen's 'Clutter/background', 'background_clutter', 'bg-other')
BACKGROUND_WORDS = frozenset({"background", "bg", "unlabeled", "unlabelled", "void",
                              "nodata", "ignore"})


def is_background_name(name: str) -> bool:
    key = class_key(name)
    return (key in BACKGROUND_NAMES or key.startswith(("no_", "not_", "non_"))
            or not BACKGROUND_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", key)))


def unnamed_zero(names) -> str:
    """The name of an id 0 that ``names`` (the others, by id) leave unnamed: background,
    unless another id is named so (ArcGIS' Classify Pixels: Value 1 'Background', 0 its
    NoData), whose class it would take when classes pair by name: then its number."""
    taken = any(class_key(n) == "background" for n in names if n)
    return "0" if taken else "background"


def is_placeholder_name(name) -> bool:
    """Whether a class name only numbers its class: predict's class_1 for a model naming
    none, make-masks' "3" for an id no label names (nothing to match by name)."""
    return re.fullmatch(r"(class_?)?\d+", class_key(name)) is not None


def zero_is_background(names) -> bool:
    """Whether class id 0 of a raster with ``names`` (by id) is background, no class: when
    it names no classes, or names id 0 by its number or as background is named
    (:data:`BACKGROUND_NAMES`, no_..., not_..., non_...). Otherwise (a softmax model without
    a background class, land cover classes 0..N-1) id 0 is a class like any other."""
    return not names or is_background_name(names[0])


def names_background(value) -> bool:
    """Whether a class VALUE of vector labels says background in so many words (background,
    void, unlabelled, nodata or 'No Data', ignore): narrower than a raster's first name, since
    a building-type attribute's 'other', 'unknown' or 'non_residential' is a class, and a
    country code 'BG' no short name of background."""
    key = class_key(value)
    words = {*re.split(r"[^a-z0-9]+", key), key.replace("_", "")}
    return not (BACKGROUND_WORDS - {"bg"}).isdisjoint(words)


def _loose_forms(name) -> set[str]:
    """A name without separators, and its singulars ('Buildings', 'low-vegetation');
    letters of every script kept ('建物' and '道路' are not one ''), none for a name of
    separators alone."""
    key = re.sub(r"[\W_]+", "", class_key(name))
    if not key:
        return set()
    forms = {key}
    for plural, singular in (("ies", "y"), ("es", ""), ("s", "")):
        if key.endswith(plural) and not key.endswith("ss") and len(key) - len(plural) >= 2:
            forms.add(key[:-len(plural)] + singular)
    return forms


def same_class_name(name, other) -> bool:
    """Whether two names name one class: the same :func:`class_key`, or apart only by
    separators or a plural ('Building', 'buildings'), as :func:`match_class_names` pairs."""
    return class_key(name) == class_key(other) or bool(_loose_forms(name) & _loose_forms(other))


def match_class_names(names, known) -> list[int | None]:
    """The index in ``known`` of each of ``names``: the first of the same :func:`class_key`,
    else the one name left that differs only by separators or a plural (both ways unique),
    else None."""
    first: dict[str, int] = {}
    for i, n in enumerate(known):
        first.setdefault(class_key(n), i)
    matched = [first.get(class_key(n)) for n in names]
    free = [j for j in first.values() if j not in matched]
    forms = {j: _loose_forms(known[j]) for j in free}
    loose = {i: [j for j in free if forms[j] & _loose_forms(names[i])]
             for i, m in enumerate(matched) if m is None}
    for i, found in loose.items():
        if len(found) == 1 and sum(found[0] in f for f in loose.values()) == 1:
            matched[i] = found[0]
    return matched
