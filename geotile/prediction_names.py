"""How a prediction's file name names its image: the image's stem, or it and a suffix
(TILE_1_pred.tif for TILE_1.png)."""

from __future__ import annotations

from pathlib import Path

#: what may follow an image's stem in its prediction's name
PREDICTION_SUFFIXES = ("_pred", "-pred", "_prediction", "_predictions", "_probabilities",
                       "_probs", "_classes", "_class", "_buildings")


def spelled_names(stem: str, names: list[str]) -> list[str]:
    """Those of ``names`` (of one :func:`~geotile.name_keys.name_key`) that the prediction
    stem ``stem`` names as they are spelled: TILE_1.png for TILE_1, TILE_1_pred or
    TILE_1.png, not tile_1.png (two images on a Linux disk); all of them where none is."""

    def named(name: str) -> bool:
        own = Path(name).stem
        return stem in (name, own) or (
            stem.startswith(own) and stem[len(own):].lower() in PREDICTION_SUFFIXES)

    return [n for n in names if named(n)] or names


def without_prediction_suffix(stem: str) -> str | None:
    """``stem`` less the prediction suffix it ends with, in any case (``TILE_1_PRED``:
    ``TILE_1``), None when it ends with none."""
    from geotile.name_keys import name_key

    key = name_key(stem)  # as long as the stem
    return next((stem[:-len(suffix)] for suffix in PREDICTION_SUFFIXES
                 if key.endswith(suffix) and len(key) > len(suffix)), None)
