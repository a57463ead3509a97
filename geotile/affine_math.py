"""Affine transforms applied and chained through their coefficients.

affine 3 deprecates its ``*`` operator (a PendingDeprecationWarning now, an error under
``python -W error``, removal later) and affine 2.4, which rasterio 1.4 still accepts, has
no ``@``. These work on either, on numbers and numpy arrays alike, with the arithmetic
(and so the rounding) of affine's own operators.
"""

from __future__ import annotations

from affine import Affine


def apply(transform: Affine, x, y) -> tuple:
    """``transform`` applied to the point(s) (x, y): what ``transform @ (x, y)`` gives."""
    a, b, c, d, e, f = transform[:6]
    return x * a + y * b + c, x * d + y * e + f


def chain(outer: Affine, inner: Affine) -> Affine:
    """The transform that applies ``inner``, then ``outer``: ``outer @ inner``."""
    sa, sb, sc, sd, se, sf = outer[:6]
    oa, ob, oc, od, oe, of = inner[:6]
    return Affine(sa * oa + sb * od, sa * ob + sb * oe, sa * oc + sb * of + sc,
                  sd * oa + se * od, sd * ob + se * oe, sd * oc + se * of + sf)


def window_transform(window, transform: Affine) -> Affine:
    """The transform of ``window`` (a rasterio Window) of a raster georeferenced by
    ``transform``: what ``rasterio.windows.transform`` gives, bit for bit, without its
    ``*`` (whose notice fails a caller's ``python -W error``)."""
    x, y = apply(transform, window.col_off or 0.0, window.row_off or 0.0)
    return chain(Affine.translation(x - transform.c, y - transform.f), transform)
