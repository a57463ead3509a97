"""``geotile vectorize`` from Python: which vectorizer the rasters and the output get.

Footprint/boundary/contact rasters get the marker watershed (:mod:`geotile.instances`) with
the thresholds the raster declares (the model's), ``lines`` road centrelines
(:mod:`geotile.lines`; to ``.csv`` SpaceNet's road CSV, :mod:`geotile.spacenet_roads`), a
``.csv`` output SpaceNet proposals (:mod:`geotile.spacenet`),
other rasters the plain polygonizer (:func:`geotile.vectorize.vectorize_polygons`).
Options that the chosen mode would not use are a :class:`~geotile.errors.UsageError`.
``geotile.vectorize_rasters`` is the function below.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from geotile.errors import UsageError, interrupted_as, unused_options
from geotile.gdal_settings import with_read_settings
from geotile.user_warnings import warn

#: the marker watershed's options (``--instances`` only), as their keyword and option names
MARKER_OPTIONS = {"marker_threshold": "--marker-threshold",
                  "boundary_threshold": "--boundary-threshold",
                  "contact_threshold": "--contact-threshold",
                  "marker_erosion": "--marker-erosion", "min_marker": "--min-marker"}


@with_read_settings
def vectorize_rasters(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    instances: bool | None = None,
    lines: bool = False,
    min_length: float | None = None,
    marker_threshold: float | None = None,
    boundary_threshold: float | None = None,
    contact_threshold: float | None = None,
    marker_erosion: int | None = None,
    min_marker: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Polygonize rasters (files, folders or glob patterns) into one vector file, as
    ``geotile vectorize`` does; ``.csv``: SpaceNet proposals (ImageId from each raster's name;
    with ``lines`` SpaceNet's road CSV).

    ``options``: :class:`geotile.VectorizeOptions`. ``instances``: one polygon per building
    by a marker watershed; None: on when every raster's bands are footprint and
    boundary/contact. Marker thresholds not given are the raster's tags (the model's), else
    0.5; ``marker_erosion`` 1 and ``min_marker`` 4 px when not given. ``lines``: road
    centrelines, spurs shorter than ``min_length`` metres (default 3) pruned. An option
    given for another mode (marker options without instances, ``min_length`` without
    ``lines``, a threshold for class rasters) is a UsageError. Returns a summary (output,
    features, per_class, crs, sources).
    """
    with interrupted_as(output):
        from geotile.input_files import expand_inputs
        from geotile.input_paths import input_exists
        from geotile.instances import InstanceOptions, common_thresholds, is_instance_raster
        from geotile.vectorize import VectorizeOptions

        options = options or VectorizeOptions()
        single = isinstance(paths, (str, bytes, os.PathLike))
        rasters = expand_inputs([os.fsdecode(paths)] if single else list(paths))
        marker = {"marker_threshold": marker_threshold, "boundary_threshold": boundary_threshold,
                  "contact_threshold": contact_threshold, "marker_erosion": marker_erosion,
                  "min_marker": min_marker}
        if lines:
            _check_line_options(options, instances, marker)
        elif min_length is not None:
            _refuse(["--min-length"], "--lines (road centrelines)")
        if instances is None and not lines:
            instances = all(input_exists(r) and is_instance_raster(r) for r in rasters)
        if not instances:
            _refuse([MARKER_OPTIONS[k] for k, v in marker.items() if v is not None],
                    "--instances (the marker watershed that splits footprint/boundary/contact "
                    "bands into buildings)")
        if options.threshold is not None:
            from geotile.raster_kinds import check_threshold_applies

            check_threshold_applies(rasters)
        if lines:
            from geotile.lines import LineOptions, vectorize_lines

            rules = LineOptions(threshold=options.threshold, simplify=options.simplify,
                                crs=options.crs, classes=options.classes,
                                **({} if min_length is None else {"min_length": min_length}))
            if Path(output).suffix.lower() == ".csv":
                from geotile.spacenet_roads import vectorize_lines_to_csv

                if options.crs is not None:
                    raise UsageError("--crs: a SpaceNet road CSV holds each image's pixel "
                                     "coordinates (WKT_Pix), in no CRS; leave it out.")
                return _said_empty(rasters, "line", vectorize_lines_to_csv(
                    rasters, output, options=rules, overwrite=overwrite, progress=progress))
            return _said_empty(rasters, "line", vectorize_lines(
                rasters, output, options=rules, overwrite=overwrite, progress=progress))
        rules = None
        if instances:
            given = {k: v for k, v in marker.items() if v is not None}
            # one owner: an option given wins, else what the raster declares (the model's)
            declared = common_thresholds([r for r in rasters if input_exists(r)], given)
            rules = InstanceOptions(**{**declared, **{k: given[k] for k in given
                                                      if k.endswith("_threshold")}},
                                    erosion=given.get("marker_erosion", 1),
                                    min_marker=given.get("min_marker", 4))
        if Path(output).suffix.lower() == ".csv":
            from geotile.spacenet import vectorize_to_csv

            return _said_empty(rasters, "polygon", vectorize_to_csv(
                rasters, output, options=options, instance_options=rules, overwrite=overwrite,
                progress=progress))
        if rules is not None:
            from geotile.instances import vectorize_instances

            return _said_empty(rasters, "polygon", vectorize_instances(
                rasters, output, options=options, instance_options=rules, overwrite=overwrite,
                progress=progress))
        from geotile.vectorize import vectorize_polygons

        summary = vectorize_polygons(rasters, output, options=options, overwrite=overwrite,
                                     progress=progress)
        # its polygons are of its valid pixels: one raster with any holds one (not read again)
        return summary if len(rasters) == 1 and summary["features"] else _said_empty(
            rasters, "polygon", summary)


def _said_empty(rasters, feature: str, summary: dict) -> dict:
    """``summary``, after a GeotileWarning for each raster without a valid pixel (all NaN,
    infinite or nodata: a broken model export), which gave the output no ``feature``."""

    from geotile.errors import GeotileWarning
    from geotile.input_paths import input_path
    from geotile.raster import holds_valid_pixel

    for raster in rasters:
        if not holds_valid_pixel(raster):
            warn(f"{input_path(raster).name}: the raster holds no valid pixel (all "
                 f"NaN, infinite or nodata), so no {feature} comes from it.",
                 GeotileWarning)
    return summary


def _refuse(given: list[str], mode: str) -> None:
    """A UsageError for the options ``given`` that only ``mode`` uses (none: nothing)."""
    if given:
        raise UsageError(unused_options(given, f"{mode} only"))


def _check_line_options(options, instances, marker: dict) -> None:
    """Centrelines take none of the polygon options (--instances, --regularize, --min-area,
    --fill-holes, the marker options): a UsageError naming those given."""
    given = [name for name, used in (("--instances", instances),
                                     ("--regularize", options.regularize),
                                     ("--min-area", options.min_area),
                                     ("--fill-holes", options.fill_holes)) if used]
    given += [MARKER_OPTIONS[k] for k, v in marker.items() if v is not None]
    if given:
        raise UsageError("--lines makes centrelines, not polygons: "
                         + unused_options(given, "polygons only"))


