"""PROJ's grids and CRS names in messages: a move PROJ could not make because a grid it
tried to download (PROJ_NETWORK=ON) was out of reach, said in one line."""

from __future__ import annotations

import contextlib

import numpy as np
import shapely

from geotile.errors import InputError


def proj_network_on() -> bool:
    """Whether PROJ may fetch grids online: PROJ_NETWORK=ON (environment, or GDAL's
    setting for rasterio's PROJ), or pyproj's own switch."""
    from pyproj.network import is_network_enabled

    from geotile.gdal_settings import user_value

    return is_network_enabled() or str(user_value("PROJ_NETWORK")).upper() in (
        "ON", "YES", "TRUE", "1")


def check_grid_download(before, after, source_crs, target_crs, source=None) -> None:
    """An InputError (:func:`grid_download_failure`) where geometries ``before`` (finite)
    came out of PROJ non-finite (``after``) with PROJ_NETWORK=ON: PROJ chose a
    transformation through a grid it fetches from its CDN and, unreachable, moved every
    vertex to inf (make-masks burnt nothing, vectorize wrote NaN coordinates, exit 0)."""
    if not proj_network_on():
        return
    finite = [np.isfinite(shapely.bounds(np.asarray(g, dtype=object))).all(axis=1)
              for g in (before, after)]
    lost = finite[0] & ~finite[1]
    if lost.any():
        raise grid_download_failure(
            source_crs, target_crs, shapely.total_bounds(np.asarray(before, dtype=object)[lost]),
            source, f" for {lost.sum()} of {len(lost)} features")


def check_grid_bounds(bounds, moved, source_crs, target_crs, source=None) -> None:
    """:func:`check_grid_download` for a raster's ``bounds`` moved by GDAL's PROJ (``moved``):
    a label raster's or --extra-bands' grid at inf read as all nodata or a traceback."""
    if np.isfinite(bounds).all() and not np.isfinite(moved).all() and proj_network_on():
        raise grid_download_failure(source_crs, target_crs, bounds, source, "")


def grid_download_failure(source_crs, target_crs, bounds, source, what: str) -> InputError:
    """The one line of a move PROJ could not make for want of a grid it tried to download
    (PROJ_NETWORK=ON, its CDN out of reach): the grid PROJ prefers for ``bounds`` (in
    ``source_crs``), projsync's command, and unsetting PROJ_NETWORK."""
    grid = "a PROJ grid"
    with contextlib.suppress(Exception):  # the grid is named where pyproj lists it
        from pyproj import CRS, Transformer
        from pyproj.transformer import AreaOfInterest, TransformerGroup

        src = CRS.from_wkt(source_crs.to_wkt())
        lonlat = bounds if src.is_geographic else Transformer.from_crs(
            src, src.geodetic_crs, always_xy=True).transform_bounds(*bounds)
        best = TransformerGroup(src, target_crs.to_wkt(), always_xy=True,
                                area_of_interest=AreaOfInterest(*lonlat)).transformers[0]
        grid = next(g.short_name for op in best.operations for g in op.grids)
    fetch = f"`projsync --file {grid}`" if grid.endswith(".tif") else "projsync"
    return InputError(
        f"{source + ': ' if source else ''}moving {crs_name(source_crs)} to "
        f"{crs_name(target_crs)} failed{what}: PROJ_NETWORK=ON has PROJ download {grid} for "
        f"it, which it could not (no network?). Get the grid once with {fetch}, or unset "
        "PROJ_NETWORK (a less accurate transformation without it).")


def crs_name(crs) -> str:
    """EPSG:xxxx, else the CRS's name (from its WKT)."""
    from pyproj import CRS

    crs = CRS.from_wkt(crs.to_wkt())
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name
