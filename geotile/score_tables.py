"""Scores laid out as text tables: column widths that never cut a name, undefined scores
shown as '-', and the per-image table of object and pixel evaluations."""

from __future__ import annotations

import numpy as np


def name_column_width(names) -> int:
    """The width of a table's class column: 16, or the longest name and a space (names are
    never cut: 'Tree Canopy over Structures' and '... over Impervious Roads')."""
    return max(16, *(len(str(n)) + 1 for n in names), 0)


def shown(value: float, width: int = 0) -> str:
    """A score as tables print it: 4 decimals, or '-' where it is undefined (NaN)."""
    return f"{'-':>{width}}" if np.isnan(value) else f"{value:>{width}.4f}"


def class_lines(classes) -> list[str]:
    """A pixel score table's header and one line per class of ``classes`` (as_dict's):
    IoU, F1, precision, recall and support."""
    w = name_column_width(c["class"] for c in classes)
    return [f"{'class':<{w}}{'IoU':>8}{'F1':>8}{'prec.':>8}{'recall':>8}{'support':>12}",
            *(f"{c['class']:<{w}}" + "".join(shown(c[k], 8) for k in (
                "iou", "f1", "precision", "recall")) + f"{c['support']:>12}" for c in classes)]


def name_width(names) -> int:
    """The width of a table's image column: 40, or the longest name and a space (names are
    never cut: SpaceNet 7's months differ early in 59 characters)."""
    return max(40, *(len(str(name)) + 1 for name in names))


def image_table(rows: dict[str, dict], iou: bool = False) -> list[str]:
    """Lines of a per-image table (TP, FP, FN, precision, recall, F1[, IoU])."""
    counts = [max(r["tp"], r["fp"], r["fn"]) for r in rows.values()]
    w = max(6, len(str(max(counts, default=0))) + 2)
    n = name_width(rows)
    lines = [f"  {'image':<{n}}{'TP':>{w}}{'FP':>{w}}{'FN':>{w}}{'prec.':>8}{'recall':>8}"
             f"{'F1':>8}" + (f"{'IoU':>8}" if iou else "")]
    for name, r in rows.items():
        lines.append(f"  {name:<{n}}{r['tp']:>{w}}{r['fp']:>{w}}{r['fn']:>{w}}" + "".join(
            shown(r[k], 8) for k in ("precision", "recall", "f1", *(("iou",) if iou else ()))))
    return lines
