"""What marks a raster as an output of geotile: which command wrote it (predict's,
make-masks'), from its GeoTIFF tags; readers and :mod:`geotile.resume` ask here."""

from __future__ import annotations

from collections.abc import Mapping

#: what marks a raster each command writes: its GEOTILE_OUTPUT values and the tag naming its
#: source (never one geotile asks users to set, as GEOTILE_OUTPUT and _CLASS_NAMES)
OWNERS = {"predict": (("probability", "raw", "class"), "GEOTILE_MODEL"),
          "make-masks": (("mask",), "GEOTILE_LABELS")}


def written_by(tags: Mapping[str, str] | None, command: str) -> bool:
    """Whether a raster of these tags (None: not a raster) is an output of geotile
    ``command`` (a key of :data:`OWNERS`), a mosaic of its outputs included."""
    kinds, source = OWNERS[command]
    return tags is not None and tags.get("GEOTILE_OUTPUT") in kinds and source in tags


def geotile_output(src) -> bool:
    """Whether the open raster ``src`` is an output of geotile (predict's, make-masks'),
    which declares what it holds whatever its name (a prediction of a band file is named
    after it)."""
    tags = src.tags()
    return any(written_by(tags, command) for command in OWNERS)
