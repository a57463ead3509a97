"""``geotile vectorize`` from Python: which vectorizer the rasters and the output get.

Footprint/boundary/contact rasters get the marker watershed (:mod:`geotile.instances`) with
the thresholds the raster declares (the model's), a ``.csv`` output SpaceNet proposals
(:mod:`geotile.spacenet`), other rasters the plain polygonizer
(:func:`geotile.vectorize.vectorize_polygons`). ``geotile.vectorize_rasters`` is the function
below.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def vectorize_rasters(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    instances: bool | None = None,
    marker_threshold: float | None = None,
    boundary_threshold: float | None = None,
    contact_threshold: float | None = None,
    marker_erosion: int = 1,
    min_marker: int = 4,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Polygonize rasters (files, folders or glob patterns) into one vector file, as
    ``geotile vectorize`` does; ``.csv``: SpaceNet proposals (ImageId from each raster's name).

    ``options``: :class:`geotile.VectorizeOptions`. ``instances``: one polygon per building
    by a marker watershed; None: on when every raster's bands are footprint and
    boundary/contact. Marker thresholds not given are the raster's tags (the model's), else
    0.5. Returns a summary (output, features, per_class, crs, sources).
    """
    from geotile.input_files import expand_inputs
    from geotile.instances import InstanceOptions, declared_thresholds, is_instance_raster
    from geotile.raster import input_exists
    from geotile.vectorize import VectorizeOptions

    options = options or VectorizeOptions()
    single = isinstance(paths, (str, bytes, os.PathLike))
    rasters = expand_inputs([os.fsdecode(paths)] if single else list(paths))
    if instances is None:
        instances = all(input_exists(r) and is_instance_raster(r) for r in rasters)
    rules = None
    if instances:
        given = {"marker_threshold": marker_threshold, "boundary_threshold": boundary_threshold,
                 "contact_threshold": contact_threshold}
        # one owner: an option given wins, else what the raster declares (the model's)
        declared = declared_thresholds(rasters[0]) if rasters and input_exists(rasters[0]) \
            else {}
        rules = InstanceOptions(**{**declared, **{k: v for k, v in given.items()
                                                  if v is not None}},
                                erosion=marker_erosion, min_marker=min_marker)
    if Path(output).suffix.lower() == ".csv":
        from geotile.spacenet import vectorize_to_csv

        return vectorize_to_csv(rasters, output, options=options, instance_options=rules,
                                overwrite=overwrite, progress=progress)
    if rules is not None:
        from geotile.instances import vectorize_instances

        return vectorize_instances(rasters, output, options=options, instance_options=rules,
                                   overwrite=overwrite, progress=progress)
    from geotile.vectorize import vectorize_polygons

    return vectorize_polygons(rasters, output, options=options, overwrite=overwrite,
                              progress=progress)
