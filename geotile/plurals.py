"""A count as a message says it: "1 image", "2 images"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural (``plural``, else ``noun`` + "s") unless ``n`` is 1."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def counted_are(n: int, noun: str, plural: str | None = None) -> str:
    """:func:`counted` and its verb: "1 feature is", "2 features are"."""
    return f"{counted(n, noun, plural)} {'is' if n == 1 else 'are'}"
