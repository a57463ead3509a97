"""NaN or infinite model outputs at valid pixels: the error that names where the first
one lies (on the grid, then on the image or the mosaic's tile), and the check that raises it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from geotile.affine_math import apply, chain
from geotile.errors import ModelError


class NonFiniteOutput(ModelError):
    """NaN/inf at ``count`` of the ``total`` valid pixels of a window, the first at ``row``,
    ``col`` of the grid predicted on (see :meth:`at`). Built from its message alone, as
    workers rebuild errors and pickle does, it is an error without a place."""

    path, count, total, row, col = None, 0, 0, 0, 0

    @classmethod
    def at(cls, path, count: int, total: int, row: int, col: int, where: str = "",
           image: str = "") -> NonFiniteOutput:
        """The error of ``path`` (the model) at ``row``, ``col`` (of the raster ``image``,
        when named); ``where``: its map coordinates, if known."""
        of = f" of {image}" if image else ""
        error = cls(
            f"{path}: the model outputs NaN or infinite values at {count} of the {total} valid "
            f"pixels of a window, the first at row {row}, col {col}{of}{where}: likely a division "
            "or log in the model on black or nodata input. Declare the image's nodata "
            "(gdal_edit.py -a_nodata 0), give --mean/--std, or export the model with an "
            "epsilon (x / (y + 1e-6)).")
        error.path, error.count, error.total, error.row, error.col = path, count, total, row, col
        return error

    def placed(self, transform, crs=None, grid=None, image: str = "") -> NonFiniteOutput:
        """The error at the same pixel of the raster of ``transform`` (``grid``: the transform
        of the grid its row/col are on, when another), with map coordinates (``crs``);
        ``image``: that raster's name."""
        x, y = apply(grid or transform, self.col + 0.5, self.row + 0.5)
        col, row = apply(~transform, x, y)
        where = "" if crs is None and transform.is_identity else (
            f" (x={x:.10g}, y={y:.10g}{f' in {crs}' if crs else ''})")
        return NonFiniteOutput.at(self.path, self.count, self.total, math.floor(row),
                                  math.floor(col), where, image)


def placed_error(exc: NonFiniteOutput, src, image_path, mosaic=None) -> NonFiniteOutput:
    """``exc`` placed on the image ``src`` and named; with a ``mosaic``, on the tile
    that holds its pixel (the windows read the neighbouring tiles too)."""
    tile = mosaic.tile_at(exc.row, exc.col) if mosaic is not None else None
    if tile is None:
        return exc.placed(src.transform, src.crs, getattr(mosaic, "transform", None),
                          Path(image_path).name)
    from affine import Affine

    return exc.placed(chain(mosaic.transform, Affine.translation(tile.col, tile.row)), src.crs,
                      mosaic.transform, tile.path.name)


def finite_where_valid(model, output: np.ndarray, valid: np.ndarray, top: int = 0,
                        left: int = 0) -> np.ndarray:
    """``output`` with NaN/inf at nodata pixels set to 0 (never written); NonFiniteOutput
    when a valid pixel has one (``top``, ``left``: the window's place on the grid; a model
    computing 0/0 on zeroed nodata stays usable)."""
    bad = ~np.isfinite(output).all(axis=0)
    if (bad & valid).any():
        rows, cols = np.nonzero(bad & valid)
        raise NonFiniteOutput.at(model.path, len(rows), int(valid.sum()), top + int(rows[0]),
                              left + int(cols[0]))
    return np.where(bad, np.float32(0), output)
