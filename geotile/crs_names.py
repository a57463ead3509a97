"""CRS and grid naming: a CRS's exact EPSG code and short label, pixel sides, and the
difference between two rasters' grids, in words."""

from __future__ import annotations

import numpy as np

from geotile.affine_math import apply
from geotile.grid import GRID_TOLERANCE_PX


def pixel_sides(transform) -> tuple[float, float]:
    """A pixel's width and height in CRS units (``src.res``), on any grid: the lengths of
    the transform's columns, hypot(a, d) and hypot(b, e). |a| and |e| are 0 on a grid
    turned by 90 degrees."""
    return float(np.hypot(transform.a, transform.d)), float(np.hypot(transform.b, transform.e))


def pixel_size(transform) -> float:
    """One length for a pixel in CRS units on any grid: the side of a square of its area."""
    return float(np.sqrt(abs(transform.determinant)))


def exact_code(crs) -> str | None:
    """AUTHORITY:CODE where ``crs`` is exactly that CRS (EPSG:32633+5773 for a horizontal +
    vertical pair), else None: rasterio's to_string also names the code of one merely close
    to it (a PROJ string's ellipsoid-only datum prints as EPSG:3031)."""
    from pyproj import CRS

    crs = CRS.from_wkt(crs.to_wkt())
    if crs.is_compound:
        codes = [c.to_authority(min_confidence=100) for c in crs.sub_crs_list]
        if all(c and c[0] == codes[0][0] for c in codes):
            return f"{codes[0][0]}:" + "+".join(c[1] for c in codes)
    found = crs.to_authority(min_confidence=100)
    return ":".join(found) if found else None


def crs_label(crs) -> str:
    """A CRS in a few words: its exact EPSG code, else its name (and datum when the name is
    'unknown', as GDAL names a PROJ string's)."""
    import re

    if (code := crs.to_epsg(confidence_threshold=100)) is not None:
        return f"EPSG:{code}"
    wkt = crs.to_wkt()
    name = (re.match(r'\w+\["([^"]*)"', wkt) or [None, "?"])[1]
    datum = re.search(r'DATUM\["([^"]*)"', wkt)
    return f"'{name}'" + (f" (datum '{datum[1]}')" if datum and name == "unknown" else "")


def crs_labels(crs, other) -> tuple[str, str]:
    """:func:`crs_label` of two CRSs (None: 'none'), with what tells them apart where the
    labels read alike (two custom Transverse Mercators): the projection method, the first
    parameter that differs, the ellipsoid, the datum or the unit."""
    labels = tuple("none" if c is None else crs_label(c) for c in (crs, other))
    if labels[0] != labels[1] or crs is None or other is None:
        return labels
    from pyproj import CRS

    both = [CRS.from_wkt(c.to_wkt()) for c in (crs, other)]
    ops = [c.coordinate_operation for c in both]
    if None not in ops:
        if ops[0].method_name != ops[1].method_name:
            return tuple(f"{label} (method '{op.method_name}')"
                         for label, op in zip(labels, ops, strict=True))
        theirs = {p.name: p for p in ops[1].params}
        for param in ops[0].params:
            if param.name in theirs and param.value != theirs[param.name].value:
                return tuple(f"{label} ({p.name} {p.value:g})" for label, p in
                             zip(labels, (param, theirs[param.name]), strict=True))
    for what, part in (("ellipsoid", lambda c: c.ellipsoid), ("datum", lambda c: c.datum),
                       ("unit", lambda c: c.axis_info[0] if c.axis_info else None)):
        names = [getattr(part(c), "unit_name" if what == "unit" else "name", None)
                 for c in both]
        if names[0] != names[1]:
            return tuple(f"{label} ({what} '{name}')"
                         for label, name in zip(labels, names, strict=True))
    return labels


def grid_difference(src, other) -> str | None:
    """What differs between two open rasters' grids, in words with both values (size, CRS,
    pixel size or rotation, origin); None when they are the same grid: every corner of
    ``other`` within :data:`GRID_TOLERANCE_PX` pixels of ``src``'s, in any CRS. A CRS that
    nothing places a raster in (no geotransform) is no CRS: such a grid is its pixels."""
    from geotile.no_georef import map_crs, same_map_crs

    if (src.width, src.height) != (other.width, other.height):
        return f"{src.width}x{src.height} px against {other.width}x{other.height} px"
    if not same_map_crs(src, other):
        def name(r) -> str:
            if map_crs(r):
                return f"CRS {crs_label(r.crs)}"
            return f"CRS {crs_label(r.crs)} without a geotransform" if r.crs else "no CRS"

        return f"{name(src)} against {name(other)}"
    a, b = src.transform, other.transform
    if a == b:
        return None
    corners = np.array([(0, 0), (src.width, 0), (0, src.height), (src.width, src.height)],
                       float)
    try:  # other's corners in src's pixels
        cols, rows = apply(~a, *apply(b, corners[:, 0], corners[:, 1]))
    except Exception:  # a degenerate (non-invertible) transform
        cols = rows = np.full(4, np.inf)
    off = np.abs(np.stack([cols, rows], axis=1) - corners)
    if off.max() <= GRID_TOLERANCE_PX:
        return None
    from_origin = np.stack([cols - cols[0], rows - rows[0]], axis=1)  # the linear part
    if np.abs(from_origin - corners).max() > GRID_TOLERANCE_PX and not (a.b or a.d or b.b
                                                                         or b.d):
        def facing(t) -> str:  # signed: the sizes alone are equal
            way = "north-up" if t.e < 0 else "south-up, rows run north"
            return f"{t.a:.15g} x {t.e:.15g} ({way}{', mirrored' if t.a < 0 else ''})"

        if (a.a < 0) != (b.a < 0) or (a.e < 0) != (b.e < 0):
            return (f"pixel size {facing(a)} against {facing(b)}: one is flipped; `gdalwarp` "
                    "makes it north-up")
    if np.abs(from_origin - corners).max() > GRID_TOLERANCE_PX:
        def cell(t) -> str:
            turned = f", rotation terms {t.b:.15g}, {t.d:.15g}" if t.b or t.d else ""
            return "{:.15g} x {:.15g}{}".format(*pixel_sides(t), turned)

        return f"pixel size {cell(a)} against {cell(b)}"
    col, row = apply(~b, a.c, a.f)  # src's origin in other's pixels
    return (f"origin ({a.c:.15g}, {a.f:.15g}) against ({b.c:.15g}, {b.f:.15g}): shifted "
            f"by {col:.3g} px across, {row:.3g} px down")
