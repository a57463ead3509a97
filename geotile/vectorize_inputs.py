"""The rasters vectorize reads, checked before any work: one CRS for all, no raster given
twice, no two overlapping (their buildings would be counted twice), one list of class
names; and a raster's name as outputs and messages give it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from geotile.affine_math import apply
from geotile.class_keys import class_key
from geotile.errors import InputError


def check_inputs(paths: str | os.PathLike | Sequence[str | os.PathLike],
                 ) -> tuple[list, object]:
    """``(paths, crs)`` of the rasters after reading their headers (local paths as Path,
    GDAL virtual and remote paths as the strings given), in name order (the features, and
    the source of one across raster edges, the first of its rasters, do not depend on the
    order given): one CRS for all (or none for all), no raster given twice, no two rasters
    overlapping (their buildings would be counted twice)."""
    import shapely

    from geotile.crs_identity import one_crs
    from geotile.crs_names import crs_labels
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    if isinstance(paths, (str, bytes, os.PathLike)):  # one path, not its characters
        paths = [os.fsdecode(paths)]
    if not paths:
        raise InputError("no raster to vectorize: give at least one.")
    footprints, checked, crs, bare = [], [], None, []
    for position, path in enumerate(check_given_once(paths)):
        with open_raster(path) as src:
            here = map_crs(src)  # none for a CRS without a geotransform: pixels
            # at pixel 0, 0 of the output: refused where another raster lies there too (the
            # first patch of a plain picture, geotile tile's, has its neighbours beside it)
            bare.append(here is None and src.transform.is_identity)
            if position == 0:
                crs = here
            # a compound CRS (UTM + EGM96 heights) places pixels as its horizontal part does
            elif not one_crs(here, crs) and (bare[-1] or bare[0]):
                raise InputError(_one_at_a_time([*checked, path], bare, position, 0))
            elif not one_crs(here, crs):
                mine, first = crs_labels(here, crs)
                raise InputError(f"{path}: CRS {mine if here else '(none)'} differs from the "
                                 f"first raster's ({first}). Reproject (or assign a CRS "
                                 "with gdal_edit.py -a_srs) first.")
            t = src.transform
            corners = [apply(t, *xy) for xy in ((0, 0), (src.width, 0), (src.width, src.height),
                                         (0, src.height))]
            footprints.append((shapely.Polygon(corners), abs(t.a * t.e - t.b * t.d), t,
                               (src.width, src.height)))
        checked.append(path)
    _check_overlaps(checked, footprints, bare)
    from geotile.input_paths import in_name_order

    return in_name_order(checked), crs


def _one_at_a_time(paths: list, bare: list[bool], i: int, j: int) -> str:
    """The refusal of rasters ``paths[i]`` and ``paths[j]``, one of them ``bare`` (without
    a geotransform, ``i``'s if both): its polygons would lie in pixel coordinates, on those
    of the other."""
    from geotile.no_georef import orthorectify, sensor_georeferencing
    from geotile.raster import open_raster

    bare, other = (paths[i], paths[j]) if bare[i] else (paths[j], paths[i])
    with open_raster(bare) as src:
        sensor = sensor_georeferencing(src)
    how = f" (placed by {sensor} alone)" if sensor else ""
    return (f"{bare}: no geotransform{how}, so its polygons would be in its pixel "
            f"coordinates, where those of {other} lie too. Vectorize such rasters one at a "
            f"time (an -o each), or orthorectify them first ({orthorectify(sensor)}).")


def check_given_once(paths: Sequence[str | os.PathLike]) -> list:
    """``paths`` as input paths (:func:`geotile.input_paths.input_path`); an InputError for a
    raster given twice, however spelt (its buildings would be counted twice)."""
    from geotile.input_paths import input_path, is_local

    seen: dict[str, Path] = {}
    for path in map(input_path, paths):
        key = os.path.realpath(path) if is_local(path) else os.fspath(path)
        if key in seen:
            also = "" if os.fspath(seen[key]) == os.fspath(path) else f" (as {seen[key]} too)"
            raise InputError(f"{path}: given twice{also}; its buildings would be counted "
                             "twice. Give each raster once.")
        seen[key] = path
    return list(seen.values())


def _check_overlaps(paths: list[Path], footprints: list, bare: list[bool]) -> None:
    """Refuse two rasters sharing a pixel (on one pixel grid, :func:`geotile.grid.grid_places`)
    or more than a hundredth of a pixel of area (on others); where one of them is ``bare``
    (no geotransform: at pixel 0, 0), as :func:`_one_at_a_time`."""
    import shapely
    from shapely import affinity

    from geotile.grid import grid_places

    if len(paths) < 2:
        return
    polygons = [f[0] for f in footprints]
    places = grid_places([f[2] for f in footprints])
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        if places[i][0] == places[j][0]:  # one grid: whole pixels, float noise aside
            (_, ci, ri), (_, cj, rj) = places[i], places[j]
            (wi, hi), (wj, hj) = footprints[i][3], footprints[j][3]
            cols = min(ci + wi, cj + wj) - max(ci, cj)
            rows = min(ri + hi, rj + hj) - max(ri, rj)
            if cols > 0 and rows > 0 and (bare[i] or bare[j]):
                raise InputError(_one_at_a_time(paths, bare, i, j))
            if cols > 0 and rows > 0:
                raise InputError(
                    f"{paths[i]} and {paths[j]} overlap (by {cols} x {rows} pixels); features "
                    f"there would be counted twice. {MOSAIC_WAY} -srcwin).")
            continue
        overlap = polygons[i].intersection(polygons[j])
        pixels = overlap.area / min(footprints[i][1], footprints[j][1])
        if pixels <= 0.01:
            continue
        if bare[i] or bare[j]:
            raise InputError(_one_at_a_time(paths, bare, i, j))
        back = ~footprints[i][2]  # to the pixels of raster i
        inside = affinity.affine_transform(overlap, (back.a, back.b, back.d, back.e, back.c,
                                                     back.f))
        x0, y0, x1, y1 = inside.bounds
        if min(x1 - x0, y1 - y0) < 1:  # a sliver: georeferencing off one grid
            raise InputError(
                f"{paths[i]} and {paths[j]} overlap by {min(x1 - x0, y1 - y0):.2g} of a pixel: "
                "their origins or pixel sizes are not on one pixel grid (rounded "
                "georeferencing, as world files write it). Mosaic them first (gdalbuildvrt "
                "mosaic.vrt FILES) and vectorize the VRT, or give tiles georeferenced exactly "
                "(GeoTIFF).")
        raise InputError(
            f"{paths[i]} and {paths[j]} overlap (by about {pixels:.0f} pixels); features "
            f"there would be counted twice. {MOSAIC_WAY} -projwin).")


#: the way out of overlapping rasters (tiles delivered with overlaps or nodata collars)
MOSAIC_WAY = ("Vectorize one mosaic of them (predict ... --merge city.tif, or gdalbuildvrt "
              "city.vrt FILES: the later file wins where they overlap), or give rasters that "
              "only touch (crop one with gdal_translate")


def raster_file_name(path) -> str:
    """A raster's file name (the last part of a GDAL virtual path too, without a URL's
    ``?query``: a presigned URL's signature is no name)."""
    from geotile.input_paths import input_path

    return input_path(path).name


def same_class_names(named: tuple | None, path, names: list[str] | None) -> tuple | None:
    """``(first named raster, class names)`` of the rasters so far (``named``) with a raster's
    ``names``: one list of names labels every raster's ids, so names that disagree (on the
    ids both name) are an InputError naming both rasters."""
    if not names:
        return named
    if named is None:
        return path, names
    first, known = named
    for class_id, (a, b) in enumerate(zip(known, names, strict=False)):
        if class_key(a) != class_key(b):
            raise InputError(f"{path}: its class {class_id} is {b!r}, in {raster_file_name(first)} "
                             f"{a!r}; one output cannot label both. Vectorize them apart, or "
                             "fix the names (tag GEOTILE_CLASS_NAMES, gdal_edit.py -mo).")
    return (first, known) if len(known) >= len(names) else (path, names)
