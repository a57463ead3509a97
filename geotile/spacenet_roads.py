"""``vectorize --lines -o roads.csv``: road centrelines as SpaceNet's road CSV.

SpaceNet 3's submission format is ``ImageId, WKT_Pix``: one LINESTRING per row in the
pixel coordinates of its image (x = column, y = row from the top-left corner), a
``LINESTRING EMPTY`` row for an image without roads; SpaceNet 5's adds ``length_m`` and
``travel_time_s``. Each raster is one image (ImageId from its name, as for buildings:
:func:`geotile.spacenet.image_id`), its centrelines traced on their own
(:func:`geotile.lines.centrelines`). ``length_m`` is each line's ground length in metres
as ``vectorize --lines`` measures it (in the raster's CRS where its unit is a ground metre,
else in the UTM zone); it is left out when a raster has no CRS (its units are no metres),
and ``travel_time_s`` always (a centreline raster carries no speed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from geotile.errors import GeotileWarning
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: SpaceNet 3's columns, and SpaceNet 5's length (its travel_time_s needs a speed)
COLUMNS = ("ImageId", "WKT_Pix")
LENGTH = "length_m"


def _without_crs(paths: list) -> list:
    """The rasters of ``paths`` without a CRS (their lengths are in no metres)."""
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    missing = []
    for path in paths:
        with open_raster(path) as src:
            if map_crs(src) is None:
                missing.append(path)
    return missing


def line_rows(frame, transform, image: str, lengths: bool) -> list[tuple]:
    """Road CSV rows of one image from its centrelines (``frame`` in the raster's CRS, with
    length_m): WKT_Pix through the inverse of the image ``transform``, one LINESTRING per
    row (a MultiLineString's parts on rows of their own, its length shared by theirs);
    one ``LINESTRING EMPTY`` row (length 0) for an image without lines."""
    import shapely

    from geotile.spacenet import map_to_pixel

    if len(frame) == 0:
        return [(image, "LINESTRING EMPTY", 0)] if lengths else [(image, "LINESTRING EMPTY")]
    pixel = map_to_pixel(frame.geometry.values, transform)
    parts, owner = shapely.get_parts(pixel, return_index=True)
    share = shapely.length(parts) / np.maximum(shapely.length(pixel)[owner], 1e-12)
    wkt = shapely.to_wkt(parts, rounding_precision=6, trim=True)
    if not lengths:
        return [(image, w) for w in wkt]
    metres = frame["length_m"].to_numpy(dtype=np.float64)[owner] * share
    return [(image, w, round(float(m), 2)) for w, m in zip(wkt, metres, strict=True)]


def vectorize_lines_to_csv(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Centrelines of each raster on its own (ImageId from its name) into a SpaceNet road
    CSV (``options``: :class:`geotile.lines.LineOptions`, without ``crs``: WKT_Pix is in
    pixels). Returns a summary (output, features, length_m, per_class, crs, sources)."""
    from geotile.lines import LineOptions, centrelines
    from geotile.output_files import check_output
    from geotile.raster import open_raster
    from geotile.spacenet import check_image_ids, check_one_class, write_csv
    from geotile.vectorize_inputs import check_given_once, check_inputs

    options = options or LineOptions()
    check_output(output, overwrite)
    paths = check_given_once(paths)
    check_image_ids(paths, "lines")
    check_one_class(paths, options, "roads")
    missing = _without_crs(paths)
    lengths = not missing
    if missing:
        more = f" (and {len(missing) - 1} other rasters)" if len(missing) > 1 else ""
        warn(f"{missing[0]}: the raster has no CRS{more}, so its lines' lengths are "
             f"in no metres: {os.fspath(output)} leaves out length_m (SpaceNet 3's "
             "columns ImageId, WKT_Pix). Assign one with `gdal_edit.py -a_srs "
             "EPSG:xxxx` for SpaceNet 5's length_m.", GeotileWarning)
    from geotile.spacenet import image_id

    rows: list[tuple] = []
    per_class: dict[str, int] = {}
    total = 0.0
    for path in paths:
        checked, _ = check_inputs([path])
        frame, _ = centrelines(checked, options, progress)
        with open_raster(path) as src:
            transform = src.transform
        for name, count in frame["class"].astype(str).value_counts().items():
            per_class[name] = per_class.get(name, 0) + int(count)
        total += float(frame["length_m"].sum()) if len(frame) else 0.0
        rows += line_rows(frame, transform, image_id(path), lengths)
    write_csv(rows, output, overwrite, (*COLUMNS, LENGTH) if lengths else COLUMNS)
    lines = sum(1 for r in rows if r[1] != "LINESTRING EMPTY")
    log.info("%s: %d lines on %d images", os.fspath(output), lines, len(paths))
    return {"output": os.fspath(output), "features": lines, "length_m": round(total, 2),
            "units": "m" if lengths else "coordinates", "per_class": per_class, "crs": None,
            "sources": [os.path.basename(os.fspath(p)) for p in paths]}
