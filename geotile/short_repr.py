"""A value as an error message quotes it: its repr, cut to 40 characters."""

from __future__ import annotations


def short_repr(value) -> str:
    """``repr(value)``, its first 37 characters and "..." where longer than 40."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
