"""Many adjacent orthotiles on one pixel grid, predicted as one seamless surface.

A :class:`Mosaic` places each tile on a common pixel grid (same CRS, same pixel size,
origins whole pixels apart). :func:`predict_tile` predicts one tile with the windows of
the *whole mosaic's* grid (anchored at the mosaic origin, with the mosaic's borders),
reading pixels from the neighbouring tiles where a window straddles a file edge, and
blends only the windows that touch the tile into a tile-sized accumulator. The result
equals predicting the merged scene and cutting it; memory is bounded per tile.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geotile.affine_math import apply, chain
from geotile.crs_identity import one_crs
from geotile.crs_names import exact_code
from geotile.errors import InputError
from geotile.stage_clock import StageClock

if TYPE_CHECKING:
    from rasterio.windows import Window

@dataclass(frozen=True)
class MosaicTile:
    path: Path
    col: int  # tile origin in mosaic pixels
    row: int
    width: int
    height: int


@dataclass(frozen=True)
class Mosaic:
    """Tiles placed on one pixel grid; ``width`` x ``height`` px from the top-left tile."""

    tiles: tuple[MosaicTile, ...]
    width: int
    height: int
    #: the affine transform of the mosaic's top-left pixel
    transform: object = None
    #: what is computed once for all tiles (see :meth:`input_sources`, :meth:`identities`)
    _once: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def paths(self) -> list[Path]:
        return [t.path for t in self.tiles]

    def input_sources(self, beside: frozenset) -> dict:
        """:func:`geotile.input_sources.input_sources` of the tiles, once per ``beside``: each
        tile's output is checked against all tiles in time linear in their number."""
        from geotile.input_sources import input_sources

        key = ("sources", beside)
        if key not in self._once:
            self._once[key] = input_sources(self.paths, beside)
        return self._once[key]

    def identities(self) -> list:
        """:func:`geotile.resume.input_identities` of the tiles (for each output's completion
        tag), read once, sorted: the tiles in any order are the same mosaic."""
        import json

        from geotile.resume import input_identities

        if "identities" not in self._once:
            self._once["identities"] = sorted(input_identities(self.paths), key=json.dumps)
        return self._once["identities"]

    def tile(self, path: str | os.PathLike) -> MosaicTile:
        if "by_path" not in self._once:
            self._once["by_path"] = {os.fspath(t.path): t for t in reversed(self.tiles)}
        found = self._once["by_path"].get(os.fspath(path))
        if found is None:
            raise InputError(f"{path} is not one of the mosaic's tiles.")
        return found

    def overlapping(self, x0: int, y0: int, width: int, height: int) -> list[MosaicTile]:
        """The tiles that a region may overlap, in the mosaic's order, found in an index
        built once (a read looks at a few tiles, not at all of a city's)."""
        import shapely

        if "tree" not in self._once:
            self._once["tree"] = shapely.STRtree(
                [shapely.box(t.col, t.row, t.col + t.width, t.row + t.height)
                 for t in self.tiles])
        found = self._once["tree"].query(shapely.box(x0, y0, x0 + width, y0 + height))
        return [self.tiles[i] for i in sorted(found.tolist())]

    def tile_at(self, row: int, col: int) -> MosaicTile | None:
        """The tile holding mosaic pixel ``row``, ``col`` (the last, where tiles overlap)."""
        return next((t for t in reversed(self.tiles) if t.row <= row < t.row + t.height
                     and t.col <= col < t.col + t.width), None)

    def predict(self, model, path, options, indexes: list[int], progress: bool = False,
                clock=None):
        """:func:`predict_tile` of the tile ``path`` (predict.py calls this, importing
        nothing from here)."""
        return predict_tile(model, self, path, options, indexes, progress, clock)

    def read(self, sources: dict, x0: int, y0: int, width: int, height: int,
             indexes: list[int], pixels_too: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """Pixels (C, height, width) and valid mask of a mosaic region, read from every tile
        it overlaps (later tiles win where tiles overlap); outside every tile: invalid.
        ``sources`` caches the open tiles, each with whether its alpha band is read as values
        (:func:`~geotile.raster.alpha_holds_values`); ``pixels_too=False``: the mask only
        (pixels None).
        """
        from rasterio.windows import Window

        from geotile.raster import alpha_holds_values, read_block, valid_pixels

        pixels = None
        valid = np.zeros((height, width), bool)
        for tile in self.overlapping(x0, y0, width, height):
            left, top = max(x0, tile.col), max(y0, tile.row)
            right = min(x0 + width, tile.col + tile.width)
            bottom = min(y0 + height, tile.row + tile.height)
            if left >= right or top >= bottom:
                continue
            if tile.path not in sources:
                src = _open(tile.path)
                sources[tile.path] = src, alpha_holds_values(src, indexes)
            src, data_alpha = sources[tile.path]
            rows, cols = slice(top - y0, bottom - y0), slice(left - x0, right - x0)
            # nodata as predicting the tile alone has it (read_block)
            if pixels_too:
                part, mask = read_block(src, left - tile.col, top - tile.row, right - left,
                                        bottom - top, indexes, alpha_as_data=data_alpha)
            else:
                mask = valid_pixels(src, Window(left - tile.col, top - tile.row, right - left,
                                                bottom - top), indexes, data_alpha)
            valid[rows, cols] |= mask
            if pixels_too:
                if pixels is None:
                    pixels = np.zeros((len(indexes), height, width), part.dtype)
                pixels[:, rows, cols] = np.where(mask, part, pixels[:, rows, cols])
        if pixels is None and pixels_too:  # no tile here: read as nodata
            pixels = np.zeros((len(indexes), height, width), np.uint8)
        return pixels, valid


def _open(path):
    from geotile.raster import open_raster

    return open_raster(path)


def open_mosaic(paths: Sequence[str | os.PathLike], *, same_bands: bool = True,
                alternative: str = "or predict without --mosaic",
                disjoint: bool = False) -> Mosaic:
    """Place ``paths`` on one pixel grid, or raise InputError naming the tile off the grid
    and the gdalwarp fix (``alternative``: the other way out). ``same_bands``: the tiles
    must also have the same band count (alpha bands aside) and data type (their pixels are
    read as one);
    ``disjoint``: no two may overlap (each pixel is one tile's)."""
    from geotile.grid import grid_offset
    from geotile.input_files import path_list

    paths = path_list(paths)
    from geotile.crs_names import crs_labels, pixel_sides
    from geotile.input_paths import input_path
    from geotile.raster import alpha_bands

    first = None
    placed = []
    origin = None  # a tile without georeferencing: at pixel 0, 0 of pixel-coordinate tiles

    def unplaced(path, beside: str = "the other tiles") -> InputError:
        return InputError(f"{path}: no georeferencing, so it has no place beside {beside}; "
                          "give georeferenced tiles (GeoTIFF tags or a world file), "
                          f"{alternative}.")

    for path in map(input_path, paths):
        with _open(path) as src:
            transform, crs = src.transform, src.crs
            if len(paths) > 1 and crs is None and transform.is_identity:
                if origin is not None:
                    raise unplaced(path, f"{origin.name}, also at pixel 0, 0")
                origin = path
            if first is None:
                first = (path, transform, crs, src.count, "/".join(dict.fromkeys(src.dtypes)),
                         src.count - len(alpha_bands(src)))
                ref_names = tuple(src.descriptions)
            ref_path, ref, ref_crs, ref_count, ref_dtype, ref_data = first
            fix = (f"put all tiles on one grid, e.g. {_target_srs(ref_crs, ref_path)}gdalwarp "
                   f"-t_srs {_srs_argument(ref_crs, ref_path)} "
                   "-tr {:g} {:g} -tap, {}.".format(*pixel_sides(ref), alternative))
            pixel_size_differs = not all(math.isclose(
                getattr(transform, k), getattr(ref, k), rel_tol=1e-9, abs_tol=1e-12)
                for k in "abde")
            # a compound CRS (UTM + EGM96 heights) places pixels as its horizontal part does
            other_crs = not one_crs(crs, ref_crs)
            if origin is not None and (other_crs or pixel_size_differs):
                raise unplaced(origin)  # beside map tiles, not pixel-coordinate ones
            if other_crs:
                mine, theirs = crs_labels(crs, ref_crs)
                raise InputError(f"{path}: CRS {mine} differs from {ref_path.name}'s "
                                 f"({theirs}); "
                                 f"{_same_but_spelled(crs, ref_crs, path)}{fix}")
            if pixel_size_differs:
                raise InputError(f"{path}: pixel size {transform.a:g} x {transform.e:g} "
                                 f"differs from {ref_path.name}'s ({ref.a:g} x {ref.e:g}); "
                                 f"{fix}")
            place = grid_offset(ref, transform)  # whole pixels, as vectorize places tiles
            if place is None:
                col, row = apply(~ref, transform.c, transform.f)
                raise InputError(f"{path}: not aligned with {ref_path.name}'s grid: its "
                                 "origin is not a whole number of pixels from it "
                                 f"({col:.3f}, {row:.3f} px); {fix}")
            # an alpha band is the tile's mask (read per tile), not one of its bands: RGB
            # beside RGBA is one surface
            if same_bands and src.count != ref_count \
                    and src.count - len(alpha_bands(src)) != ref_data:
                bands = " ".join(f"-b {b}" for b in range(1, min(src.count, ref_count) + 1))
                raise InputError(f"{path}: {src.count} bands, {ref_path.name} has "
                                 f"{ref_count}; a mosaic's tiles need the same bands: give "
                                 f"them the same (gdal_translate {bands}), {alternative}.")
            names = tuple(src.descriptions)
            if same_bands and all(names) and all(ref_names) and names != ref_names \
                    and sorted(names) == sorted(ref_names):
                raise InputError(_band_order(path, names, ref_path, ref_names, alternative))
            dtype = "/".join(dict.fromkeys(src.dtypes))
            if same_bands and "/" in dtype:
                raise InputError(f"{path}: bands of different types ({dtype}); a mosaic's "
                                 "tiles are read and normalised as one type: convert them "
                                 f"(gdal_translate -ot), {alternative}.")
            if same_bands and dtype != ref_dtype:
                raise InputError(f"{path}: {dtype} pixels, {ref_path.name} has "
                                 f"{ref_dtype}; a mosaic's tiles are read and normalised as "
                                 f"one: convert them to one type (gdal_translate -ot), "
                                 f"{alternative}.")
            placed.append((path, *place, src.width, src.height))
    if not placed:
        raise InputError("--mosaic needs at least one image.")
    if disjoint:
        _check_disjoint(placed, alternative)
    from affine import Affine

    left = min(p[1] for p in placed)
    top = min(p[2] for p in placed)
    tiles = tuple(MosaicTile(p, c - left, r - top, w, h) for p, c, r, w, h in placed)
    width = max(t.col + t.width for t in tiles)
    height = max(t.row + t.height for t in tiles)
    return Mosaic(tiles, width, height, chain(first[1], Affine.translation(left, top)))


def _band_order(path, names: tuple, ref_path, ref_names: tuple, alternative: str) -> str:
    """The one line refusing a tile whose bands (``names``) are ``ref_path``'s in another
    order: a mosaic reads every tile's bands by the numbers of the tile predicted, so the
    neighbours' pixels would be other bands (a STAC Item's order is its assets')."""
    from geotile.stac_images import image_item

    if image_item(path) is not None:
        fix = "list the items' band assets in one order"
    else:  # the tile's bands put in the first one's order
        fix = "reorder them (gdal_translate {})".format(
            " ".join(f"-b {names.index(name) + 1}" for name in ref_names))
    other = ref_path.name if Path(path).name != ref_path.name else ref_path  # item.json
    return (f"{path}: bands {', '.join(names)}, in another order than {other}'s "
            f"({', '.join(ref_names)}); a mosaic reads its tiles' bands by number: {fix}, "
            f"{alternative}.")


def _check_disjoint(placed: list[tuple], alternative: str) -> None:
    """InputError naming two tiles that share pixels (``placed``: path, col, row, width,
    height on one grid): a mosaic's pixel is one tile's."""
    import shapely

    boxes = np.array([shapely.box(c, r, c + w, r + h) for _, c, r, w, h in placed])
    for a, b in shapely.STRtree(boxes).query(boxes, predicate="intersects").T:
        shared = boxes[a].intersection(boxes[b])
        if a < b and shared.area > 0:  # not only an edge in common
            x0, y0, x1, y1 = shared.bounds
            raise InputError(f"{placed[b][0]}: overlaps {Path(placed[a][0]).name} by "
                             f"{x1 - x0:g} x {y1 - y0:g} px; --mosaic takes adjacent tiles "
                             f"that do not overlap: crop them, {alternative}.")


def predict_tile(model, mosaic: Mosaic, path, options, indexes: list[int],
                 progress: bool = False, clock=None
                 ) -> Iterator[tuple[Window, np.ndarray, np.ndarray]]:
    """Like :func:`geotile.predict.predict_blocks` for one tile of ``mosaic``: yields
    ``(window, probabilities (K, rows, width), valid (rows, width))`` of bands of rows on
    the tile's grid, predicted with the windows of the whole mosaic. ``clock``: a
    :class:`~geotile.stage_clock.StageClock` for the time of each stage."""
    from rasterio.windows import Window

    from geotile.blending import WeightWindows
    from geotile.predict import (
        BatchBuffer,
        batch_size_for,
        blend_outputs,
        far_margin,
        output_geometry,
        prepare_band,
        repeat_edges,
        resolve_tiling,
        row_batch_size,
        run_row,
        say_windows,
        window_grid,
        without_far_margin,
    )
    from geotile.progress import progress_bar
    from geotile.streaming import BandRows

    clock = clock or StageClock()
    tile = mosaic.tile(path)
    size, overlap = resolve_tiling(model, options, quiet=True)
    per_run = batch_size_for(model, size, options)
    geometry = output_geometry(model, size, per_run)
    offset, out = geometry.offset, geometry.out
    beyond = far_margin(geometry, size)
    cells = getattr(geometry, "scale", 1) > 1  # a downscaling model's
    grid = window_grid(mosaic.width, mosaic.height, size, overlap, geometry)
    say_windows(model, tile.path.name, grid.shape, size, overlap, per_run, options,
                " of the mosaic")
    windows = WeightWindows(options.blend, out, geometry.margin)
    last_row, last_col = grid.shape[0] - 1, grid.shape[1] - 1
    steady = getattr(model, "steady_batches", False)
    batch_size = row_batch_size(model, grid.shape[1], per_run)

    def touching(offsets, start, length):  # windows whose output reaches [start, start+length)
        return [i for i, o in enumerate(offsets)
                if o + offset < start + length and o + offset + out > start]

    rows = touching(grid.row_offsets, tile.row, tile.height)
    cols = touching(grid.col_offsets, tile.col, tile.width)
    x0 = grid.col_offsets[cols[0]]
    region_width = grid.col_offsets[cols[-1]] + size - x0
    # a band of `out` rows of the tile: rows above the next grid row's output are final
    band, batches = _Band(model.num_classes, out, tile.width), BatchBuffer()
    bar = progress_bar(enabled=progress, total=len(rows) * len(cols), desc=tile.path.name,
                       unit="patch")
    with contextlib.ExitStack() as stack:
        sources: dict = {}
        stack.callback(lambda: [s.close() for s, _ in sources.values()])
        stack.callback(bar.close)

        def finished(end: int):
            top, blended = band.pop(end)
            _, valid = mosaic.read(sources, tile.col, tile.row + top, tile.width, end - top,
                                   indexes, pixels_too=False)
            valid = without_far_margin(valid, beyond, mosaic.width - tile.col,
                                       mosaic.height - tile.row - top)
            return Window(0, top, tile.width, end - top), blended, valid

        def normalised(left, top, cols, count, out):
            with clock.timing("decode"):
                pixels, valid = mosaic.read(sources, left, top, cols, count, indexes)
            with clock.timing("normalise"):
                band = prepare_band(model, pixels, valid, out)
                if cells:  # no zeros in cells past the edge
                    repeat_edges(band, left, top, mosaic.width, mosaic.height)
                return band, valid

        band_rows = BandRows(normalised, size)
        for r in rows:
            y = grid.row_offsets[r]
            if y + offset - tile.row > band.top:
                yield finished(min(y + offset - tile.row, tile.height))
            # rows shared with the previous row of windows are kept, not read again
            pixels, valid = band_rows.band(x0, y, region_width)
            patches = [grid.patch(r, c) for c in cols]
            runs = run_row(model, patches, pixels, valid, x0, size, batch_size, steady,
                           options.tta, batches)
            while True:
                with clock.timing("model"):  # stacking the batch, then running it
                    item = next(runs, None)
                if item is None:
                    break
                with clock.timing("blend"):
                    blend_outputs(model, windows, (last_row, last_col), *item, valid, x0,
                                  offset, lambda output, weights, patch: band.add(
                                      output, weights, patch.x_off + offset - tile.col,
                                      patch.y_off + offset - tile.row))
            bar.update(len(patches))
        if band.top < tile.height:
            yield finished(tile.height)


class _Band:
    """Weighted sums of a band of rows of one tile (tile coordinates); windows are clipped
    to the tile and the band."""

    def __init__(self, classes: int, height: int, width: int) -> None:
        self.sums = np.zeros((classes, height, width), np.float32)
        self.weights = np.zeros((height, width), np.float32)
        self.top = 0

    def add(self, output: np.ndarray, weights: np.ndarray, x: int, y: int) -> None:
        _add_clipped(self.sums, self.weights, output, weights, x, y - self.top)

    def pop(self, end: int) -> tuple[int, np.ndarray]:
        """(top, blended rows [top, end) as (K, rows, width)); NaN where nothing was added
        (rows past the band: a valid-convolution model's unpredicted margin)."""
        top, n = self.top, end - self.top
        k = min(n, self.weights.shape[0])
        blended = np.full((self.sums.shape[0], n, self.sums.shape[2]), np.nan, np.float32)
        weights = self.weights[:k]
        with np.errstate(invalid="ignore", divide="ignore"):
            blended[:, :k] = self.sums[:, :k] / weights
        blended[:, :k][:, weights == 0] = np.nan
        self.sums[:, : self.sums.shape[1] - k] = self.sums[:, k:].copy()
        self.sums[:, self.sums.shape[1] - k :] = 0
        self.weights[: self.weights.shape[0] - k] = self.weights[k:].copy()
        self.weights[self.weights.shape[0] - k :] = 0
        self.top = end
        return top, blended


def _add_clipped(sums, weights_sum, output, weights, x: int, y: int) -> None:
    """Add a weighted window at offset (x, y) of ``sums``, clipped to it."""
    height, width = weights_sum.shape
    size_y, size_x = weights.shape
    top, left = max(0, -y), max(0, -x)
    bottom, right = min(size_y, height - y), min(size_x, width - x)
    if top >= bottom or left >= right:
        return
    w = weights[top:bottom, left:right]
    region = sums[:, y + top : y + bottom, x + left : x + right]
    region += output[:, top:bottom, left:right] * w
    weights_sum[y + top : y + bottom, x + left : x + right] += w


def _same_but_spelled(crs, ref_crs, path) -> str:
    """The way out where ``crs`` is the reference's code spelled loosely (the same
    pixels): assign the code, nothing to resample."""
    if crs is None or ref_crs is None or (code := exact_code(ref_crs)) is None:
        return ""
    from pyproj import CRS

    near = CRS.from_wkt(crs.to_wkt()).to_authority(min_confidence=70)
    if near is None or ":".join(near) != code:
        return ""
    return f"if it is {code}, say so (gdal_edit.py -a_srs {code} {Path(path).name}), else "


def _srs_argument(crs, path) -> str:
    """gdalwarp's -t_srs for ``crs`` (of ``path``): its code, else a WKT file."""
    if crs is None:
        return "EPSG:..."
    return exact_code(crs) or f"{Path(path).name}.wkt"


def _target_srs(crs, path) -> str:
    """What writes the WKT file :func:`_srs_argument` names, where it names one."""
    if crs is None or exact_code(crs):
        return ""
    name = Path(path).name
    return f"gdalsrsinfo -o wkt {name} > {name}.wkt, then "
