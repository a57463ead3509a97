"""Relaxed precision and recall of two road masks (Mnih & Hinton 2010, "Learning to detect
roads in high-resolution aerial images"; the Massachusetts Roads benchmark's, DeepGlobe's
and SpaceNet road masks' usual pixel score).

A predicted road pixel is correct when a true road pixel lies within rho pixels of it
(precision, "correctness"); a true road pixel is found when a predicted road pixel lies
within rho of it (recall, "completeness"); F1 is their harmonic mean and quality
TP / (TP + FP + FN) counts the correct predicted pixels, the wrong ones and the true
pixels not found, as the line scores' quality does lengths (:mod:`geotile.line_metrics`).

Within rho: the Euclidean distance between the pixels' centres on the ground is at most
``buffer`` (distance == buffer included), so the footprint is a disk of radius rho =
buffer / pixel size (an ellipse on a grid of pixels that are not square on the ground,
such as a lon/lat one). ``buffer`` is in ground metres where the rasters carry a CRS,
else in their coordinates' units: pixels for an image without georeference
(Massachusetts Roads' and DeepGlobe's tiles), as line scores measure lines of such an
image.

Streams by blocks (:func:`geotile.streaming.blocks`) read with a halo of ceil(rho) pixels:
each side's road mask is dilated (scipy.ndimage.binary_dilation with the disk; a wide disk
on a grid whose rows and columns are perpendicular: a Euclidean distance transform with the
pixel's ground size, the same pixels in a time rho does not set) to test the other side's
pixels, counting only the block's own pixels, so memory depends on the block and halo size
alone. Pixels that are nodata in either raster, or the truth's ignore value 255 (or
ids named no data), are left out on both sides, as pixel scores leave them out: they are
neither counted nor road for the other side. A mask's declared nodata 0 is read as pixel
scores read it (:func:`geotile.raster_kinds.zero_nodata`): the background of a 0/1 or 0/255
mask (gdal_rasterize -a_nodata 0), with a warning.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field

import numpy as np

from geotile.buffer_measures import BufferMeasures
from geotile.errors import InputError, check_range
from geotile.gdal_settings import with_read_settings
from geotile.user_warnings import warn

#: relative slack on the radius, so that a distance equal to rho (3 px at 0.5 m and 1.5 m)
#: is within it despite rounding
RADIUS_SLACK = 1e-9
#: the widest footprint scored (px a side)
MAX_FOOTPRINT = 1001
#: footprints this wide (px a side) or wider are tested by a distance transform where the
#: grid's rows and columns are perpendicular on the ground (its cost does not grow with rho;
#: a dilation's grows with the footprint's pixels: 51 s for rho 60 px on 2000 x 2000 px)
DISTANCE_FROM = 15


@dataclass(frozen=True)
class RelaxedScores(BufferMeasures):
    """Road pixels predicted and true, and how many of each lie within ``buffer``."""

    buffer: float
    #: rho in pixels along the raster's columns (x) and rows (y): equal for square pixels
    rho_px: tuple[float, float]
    predicted_pixels: int
    true_pixels: int
    matched_predicted_pixels: int
    matched_true_pixels: int
    #: pixels scored (valid in both rasters)
    pixels: int = 0
    #: buffer in ground metres (the rasters carry a CRS); else in their coordinates' units
    metres: bool = True
    #: the road class: its id, or None for a binary mask's class 1 (0/255: 255)
    road_class: str | None = None
    mode: str = "relaxed"

    def amounts(self) -> tuple[int, int, int, int]:
        """Pixels within rho and in all, predicted then true."""
        return (self.matched_predicted_pixels, self.predicted_pixels,
                self.matched_true_pixels, self.true_pixels)

    @property
    def within(self) -> str:
        x, y = self.rho_px
        rho = f"{x:g} px" if math.isclose(x, y, rel_tol=1e-6) else f"{x:g} x {y:g} px"
        unit = "m" if self.metres else "coordinate units (no CRS)"
        return f"{self.buffer:g} {unit}, rho {rho}"

    def as_dict(self) -> dict:
        x, y = self.rho_px
        return {"mode": "relaxed", "buffer_m": self.buffer,
                "units": "m" if self.metres else "coordinates",
                "rho_px": round(x, 6), "rho_px_rows": round(y, 6),
                "road_class": self.road_class,
                "precision": round(self.precision, 6), "recall": round(self.recall, 6),
                "f1": round(self.f1, 6), "quality": round(self.quality, 6),
                "predicted_pixels": self.predicted_pixels, "true_pixels": self.true_pixels,
                "matched_predicted_pixels": self.matched_predicted_pixels,
                "matched_true_pixels": self.matched_true_pixels, "pixels": self.pixels}

    def table(self) -> str:
        road = f" (class {self.road_class})" if self.road_class is not None else ""
        return "\n".join([
            f"Road pixels{road}, relaxed (within {self.within}): {self.predicted_pixels} "
            f"predicted, {self.true_pixels} true, of {self.pixels} scored",
            self.scores_line(),
        ])


def footprint(column: tuple[float, float], row: tuple[float, float],
              buffer: float) -> np.ndarray:
    """The offsets (rows, columns) within ``buffer`` of a pixel, as a bool array of odd
    sides centred on it: |j column + i row| <= buffer, ``column`` and ``row`` the ground
    vectors of one column and one row of the grid (a disk on square pixels, distance ==
    buffer included)."""
    m = np.array([column, row], float).T  # columns of m: a column step, a row step
    smallest = np.linalg.svd(m, compute_uv=False).min()
    if not smallest > 0:
        raise InputError("the rasters' pixels have no area (a degenerate geotransform); "
                         "fix their georeference.")
    reach = math.floor(buffer / smallest * (1 + RADIUS_SLACK))
    if 2 * reach + 1 > MAX_FOOTPRINT:
        raise InputError(f"--buffer {buffer:g} is {reach} pixels or more: give a buffer of "
                         f"at most {MAX_FOOTPRINT // 2} pixels (rho is a few pixels, 3 in "
                         "Mnih's scores).")
    i, j = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    x = j * m[0, 0] + i * m[0, 1]
    y = j * m[1, 0] + i * m[1, 1]
    disk = x * x + y * y <= (buffer * (1 + RADIUS_SLACK)) ** 2
    rows, cols = np.flatnonzero(disk.any(axis=1)), np.flatnonzero(disk.any(axis=0))
    a, b = min(rows[0], 2 * reach - rows[-1]), min(cols[0], 2 * reach - cols[-1])
    return disk[a:disk.shape[0] - a, b:disk.shape[1] - b]


def relaxed_counts(prediction: np.ndarray, truth: np.ndarray, disk: np.ndarray,
                   core: tuple[slice, slice] | None = None,
                   spacing: tuple[float, float, float] | None = None
                   ) -> tuple[int, int, int, int]:
    """(predicted, true, matched predicted, matched true) road pixels of two bool road
    masks (pixels left out already False on both), within ``core`` (the block's own pixels
    of masks read with a halo of at least the ``disk``'s radius). ``spacing``: (row step,
    column step, buffer) on the ground of a grid whose rows and columns are perpendicular,
    for the distance transform of wide disks (the same pixels as the disk)."""
    core = core or (slice(None), slice(None))
    p, t = prediction[core], truth[core]
    near_truth = _near(truth, disk, spacing)[core] if p.any() else p
    near_prediction = _near(prediction, disk, spacing)[core] if t.any() else t
    return (int(p.sum()), int(t.sum()), int((p & near_truth).sum()),
            int((t & near_prediction).sum()))


def _near(mask: np.ndarray, disk: np.ndarray, spacing) -> np.ndarray:
    """The pixels within ``disk`` of a True pixel of ``mask``: a dilation, or for a wide
    disk where ``spacing`` is given, a Euclidean distance transform."""
    from scipy.ndimage import binary_dilation, distance_transform_edt

    if spacing is None or max(disk.shape) < DISTANCE_FROM:
        return binary_dilation(mask, structure=disk)
    if not mask.any():
        return np.zeros_like(mask)
    rows, cols, buffer = spacing
    return distance_transform_edt(~mask, sampling=(rows, cols)) <= buffer * (1 + RADIUS_SLACK)


def perpendicular(column, row) -> bool:
    """Whether ground vectors ``column`` and ``row`` are perpendicular (a north-up, rotated
    or flipped grid; not a sheared one)."""
    dot = column[0] * row[0] + column[1] * row[1]
    return abs(dot) <= 1e-12 * math.hypot(*column) * math.hypot(*row)


def ground_steps(src) -> tuple[tuple[float, float], tuple[float, float], bool]:
    """(the ground vector of one column, of one row, in metres; whether in metres) of a
    raster's grid: its CRS's units where they are ground metres, else scaled at the
    raster's centre (degrees, feet, Web Mercator); in its coordinates' units without a
    CRS."""
    from geotile.no_georef import raster_crs

    t = src.transform
    column, row = (t.a, t.d), (t.b, t.e)
    crs = raster_crs(src)  # GDAL's placeholder of none too
    if crs is None:
        return column, row, False
    from geotile.ground_scale import centre_scales, in_ground_metres

    corners = [(c, r) for c in (0, src.width) for r in (0, src.height)]
    xs = [t.c + t.a * c + t.b * r for c, r in corners]
    ys = [t.f + t.d * c + t.e * r for c, r in corners]
    bounds = (min(xs), min(ys), max(xs), max(ys))  # (src.bounds warns on a rotated grid)
    if in_ground_metres(crs, bounds):
        return column, row, True
    sx, sy = centre_scales(crs, bounds)
    if not (math.isfinite(sx) and math.isfinite(sy)):
        raise InputError(f"{src.name}: its CRS cannot be measured in metres where it lies; "
                         "reproject it (gdalwarp -t_srs EPSG:<UTM zone>).")
    return (t.a * sx, t.d * sy), (t.b * sx, t.e * sy), True


def _road_id(road_class, kind, path, truth_id: int | None = None) -> int | None:
    """The id of ``road_class`` (an id, or a name of the raster's classes) in a raster read
    as ``kind``; None when no class is given (a binary mask's class 1). A prediction naming
    no classes takes the truth's id of that name (``truth_id``): ids pair by id, as in
    pixel scores."""
    if road_class is None:
        return None
    text = str(road_class).strip()
    if text.isdigit():
        return int(text)
    from geotile.class_keys import class_key

    if truth_id is not None and not kind.names:
        return truth_id
    names = kind.names or []
    for i, name in enumerate(names):
        if class_key(name) == class_key(text):
            return i
    said = f"its classes are {', '.join(map(repr, names))}" if names else "it names no classes"
    raise InputError(f"{path}: no class {text!r} ({said}). Give --class the road class's id "
                     "or one of its names.")


def _check_rasters(*paths) -> None:
    """An InputError naming an input that is missing or no raster."""
    from geotile.evaluate import is_raster
    from geotile.input_paths import input_exists

    for path in paths:
        if not input_exists(path):
            raise InputError(f"{path}: no such file. Check the path.")
        if not is_raster(path):
            raise InputError(f"{path} is no raster: relaxed scores (--buffer on rasters) "
                             "take two road masks on one grid; two line files get line "
                             "scores.")


class _Side:
    """How one raster's blocks become a road mask."""

    def __init__(self, src, path, kind, indexes, threshold, road, truth: bool) -> None:
        from geotile.raster_kinds import binary_mask_kind, may_ignore_255, no_data_ids

        if kind.kind == "class" and road is None:
            kind = binary_mask_kind(src, kind)
        self.src, self.path, self.kind, self.indexes = src, path, kind, indexes
        self.threshold, self.road, self.truth = threshold, road, truth
        self.ignore = truth and may_ignore_255(src, kind) and road != 255
        self.no_data = no_data_ids(kind.names) if truth else []

    def masks(self, values, valid) -> tuple[np.ndarray, np.ndarray]:
        """(road, scored) of a block: scored False where the truth leaves pixels out."""
        from geotile.evaluate import band_class_ids

        # class ids as pixel scores read them; probabilities thresholded or argmaxed
        ids = band_class_ids(values, valid, self.kind, self.threshold, self.path)
        scored = valid.copy()
        if self.kind.binary_255:  # a 0/255 mask: 255 (strays from 128 up) is road
            return valid & (ids >= 128), scored
        if self.ignore:
            scored &= ids != 255
        if self.no_data:
            scored &= ~np.isin(ids, self.no_data)
        if self.road is not None:
            return scored & (ids == self.road), scored
        others = ids[scored & (ids > 1)]
        if others.size:
            raise InputError(
                f"{self.path}: holds class id {int(others.max())} besides 0 and 1: relaxed "
                "scores take one road class. Give --class ID|NAME (the road class of a class "
                "raster), or binary road masks (0/1 or 0/255).")
        return scored & (ids == 1), scored


@with_read_settings
def evaluate_relaxed(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     buffer: float = 3.0, road_class: str | int | None = None,
                     threshold: float | None = None, progress: bool = False,
                     block_size: int | None = None,
                     zeros_seen: list | None = None,
                     lost_255: list | None = None) -> RelaxedScores:
    """Relaxed precision, recall, F1 and quality of road masks (Mnih & Hinton 2010): two
    rasters on the same grid, road pixels within ``buffer`` (ground metres, or the
    coordinates' units, pixels, for rasters without a CRS) of each other. The road class:
    ``road_class`` (an id, or a class name of each raster), else class 1 of binary masks
    (0/1, or 0/255: 255). A probability prediction is thresholded (``threshold``, else its
    tag, else 0.5) or argmaxed. Streams by ``block_size`` px blocks (default evaluate's).
    ``zeros_seen``: a list that gathers (path, what its nodata 0 means) for one warning
    over many pairs, instead of a warning of this pair; ``lost_255`` likewise (path, pixels
    its nodata 255 left out) of 0/255 masks without road."""
    from geotile.evaluate import PIXEL_BLOCK_SIZE, check_same_grid
    from geotile.progress import progress_bar
    from geotile.raster import has_nodata, open_raster, read_block
    from geotile.raster_kinds import (
        plain_bands,
        raster_kind,
        reads_nodata,
        warn_zero_nodata,
        zero_nodata,
    )
    from geotile.streaming import background, blocks

    check_range("--buffer", buffer, 0, low_open=True, required=True)
    check_range("--threshold", threshold, 0, 1)
    _check_rasters(prediction, truth)
    block_size = block_size or PIXEL_BLOCK_SIZE
    with open_raster(prediction) as pred, open_raster(truth) as true:
        check_same_grid(pred, true, prediction, truth)
        p_indexes, p_kind = plain_bands(pred, raster_kind(
            pred, threshold_given=threshold is not None))
        t_indexes, t_kind = plain_bands(true, raster_kind(true, truth=True))
        t_indexes = t_indexes or (None if t_kind.kind == "probability" else [1])
        if threshold is None:
            threshold = p_kind.threshold if p_kind.threshold is not None else 0.5
        t_threshold = t_kind.threshold if t_kind.threshold is not None else 0.5
        true_road = _road_id(road_class, t_kind, truth)
        sides = (_Side(pred, prediction, p_kind, p_indexes, threshold,
                       _road_id(road_class, p_kind, prediction, true_road), False),
                 _Side(true, truth, t_kind, t_indexes, t_threshold, true_road, True))
        column, row, metres = ground_steps(true)
        disk = footprint(column, row, buffer)
        spacing = (math.hypot(*row), math.hypot(*column), buffer) \
            if perpendicular(column, row) else None
        hr, hc = disk.shape[0] // 2, disk.shape[1] // 2
        # a mask's declared nodata 0 may be its background (gdal_rasterize -a_nodata 0), as
        # pixel scores read it
        zeros = tuple(zero_nodata(src) if kind.kind == "class" else None
                      for src, kind in ((pred, p_kind), (true, t_kind)))
        checks = tuple(reads and not (zero and zero.background) for reads, zero in zip(
            (reads_nodata(pred, p_kind), has_nodata(true)), zeros, strict=True))
        if zeros_seen is None:
            warn_zero_nodata([prediction, truth], zeros)
        else:
            zeros_seen += zip((prediction, truth), zeros, strict=True)

        def read(parts):
            for left, top, cols, rows in parts:
                yield left, top, cols, rows, tuple(
                    read_block(side.src, left - hc, top - hr, cols + 2 * hc, rows + 2 * hr,
                               side.indexes, check,
                               band_nodata_values=side.kind.kind != "probability")
                    for side, check in zip(sides, checks, strict=True))

        parts = list(blocks(pred.width, pred.height, block_size))
        totals = np.zeros(5, np.int64)
        nodata_255 = [0, 0]  # pixels of each side's declared nodata 255 (its roads?)
        with contextlib.closing(background(read(parts))) as read_parts:
            for _, _, cols, rows, ((p_values, p_valid), (t_values, t_valid)) in progress_bar(
                    read_parts, progress, total=len(parts), unit="block", desc="evaluate"):
                p_road, _ = sides[0].masks(p_values, p_valid & t_valid)
                t_road, scored = sides[1].masks(t_values, p_valid & t_valid)
                p_road &= scored  # the truth's ignored pixels: left out on both sides
                core = (slice(hr, hr + rows), slice(hc, hc + cols))
                totals[:4] += relaxed_counts(p_road, t_road, disk, core, spacing)
                totals[4] += int(scored[core].sum())
                for i, (values, valid) in enumerate(((p_values, p_valid),
                                                     (t_values, t_valid))):
                    if sides[i].src.nodata == 255:
                        nodata_255[i] += int(((values[0] == 255) & ~valid)[core].sum())
        lost = _nodata_255_lost(sides, nodata_255, (totals[0], totals[1]))
        if lost_255 is None:
            _warn_nodata_255(lost)
        else:
            lost_255 += lost
    rho = (buffer / math.hypot(*column), buffer / math.hypot(*row))
    return RelaxedScores(buffer, rho, *(int(v) for v in totals[:4]), pixels=int(totals[4]),
                         metres=metres,
                         road_class=None if road_class is None else str(road_class))


def _nodata_255_lost(sides, nodata: list[int], roads) -> list[tuple[str, int]]:
    """(path, pixels) of each side without road pixels whose declared nodata 255 left
    ``nodata`` pixels out: a 0/255 road mask whose roads are its nodata?"""
    from geotile.raster_kinds import may_be_0_255

    return [(str(side.path), lost) for side, lost, road in zip(sides, nodata, roads,
                                                                strict=True)
            if lost and not road and may_be_0_255(side.src, side.kind)]


def _warn_nodata_255(lost: list[tuple[str, int]]) -> None:
    """One warning for the masks ``lost`` (:func:`_nodata_255_lost`), the first named (as
    pixel scores warn of a truth's)."""

    from geotile.errors import GeotileWarning

    if not lost:
        return
    first = lost[0][0]
    name = os.path.basename(first)
    pixels = sum(n for _, n in lost)
    if len(lost) == 1:
        said = (f"{first}: its nodata value 255 is {pixels} pixels and it holds no road: if "
                "it is a 0/255 road mask (255 road, not no data), unset its nodata "
                f"(gdal_edit.py -unsetnodata {name})")
    else:
        said = (f"{first} and {len(lost) - 1} other rasters: their nodata value 255 is "
                f"{pixels} pixels and they hold no road: if they are 0/255 road masks (255 "
                "road, not no data), unset their nodata (gdal_edit.py -unsetnodata on each, "
                f"e.g. {name})")
    warn(f"{said}; they are left out on both sides.", GeotileWarning)


@dataclass
class ManyRelaxedScores:
    """Relaxed scores of many images: ``per_image`` {image: RelaxedScores} and their sum
    (the pixels counted over every image, as one mosaic of them would count)."""

    per_image: dict[str, RelaxedScores]
    files: dict[str, tuple[str, str]]
    buffer: float
    unpaired: dict[str, list[str]] = field(default_factory=dict)
    mode: str = "relaxed"

    @property
    def scores(self) -> RelaxedScores:
        parts = list(self.per_image.values())
        rhos = {p.rho_px for p in parts}
        rho = rhos.pop() if len(rhos) == 1 else (math.nan, math.nan)
        return RelaxedScores(
            self.buffer, rho, *(sum(getattr(p, k) for p in parts) for k in (
                "predicted_pixels", "true_pixels", "matched_predicted_pixels",
                "matched_true_pixels")),
            pixels=sum(p.pixels for p in parts), metres=all(p.metres for p in parts),
            road_class=parts[0].road_class if parts else None)

    def rows(self) -> dict[str, dict]:
        return {name: {"prediction": self.files[name][0], "truth": self.files[name][1],
                       **{k: v for k, v in part.as_dict().items()
                          if k not in ("mode", "buffer_m", "units", "road_class")}}
                for name, part in self.per_image.items()}

    def as_dict(self) -> dict:
        total = self.scores.as_dict()
        if len({p.rho_px for p in self.per_image.values()}) > 1:  # grids of other sizes
            total["rho_px"] = total["rho_px_rows"] = None
        return {**total, "images": len(self.per_image), "per_image": self.rows(),
                "unpaired": self.unpaired}

    def table(self) -> str:
        from geotile.plurals import counted
        from geotile.score_tables import name_width

        s, n = self.scores, name_width(self.per_image)
        within = s.within if not math.isnan(s.rho_px[0]) else (
            f"{s.buffer:g} {'m' if s.metres else 'coordinate units (no CRS)'}")
        lines = [f"Road pixels, relaxed (within {within}): "
                 f"{counted(len(self.per_image), 'image')}, {s.predicted_pixels} predicted, "
                 f"{s.true_pixels} true",
                 s.scores_line(),
                 f"  {'image':<{n}}{'pred. px':>12}{'true px':>12}"
                 f"{'prec.':>8}{'recall':>8}{'F1':>8}{'quality':>8}"]
        for name, part in self.per_image.items():
            lines.append(f"  {name:<{n}}{part.predicted_pixels:>12}{part.true_pixels:>12}"
                         f"{part.precision:>8.4f}{part.recall:>8.4f}{part.f1:>8.4f}"
                         f"{part.quality:>8.4f}")
        if self.unpaired.get("prediction") or self.unpaired.get("truth"):
            lines.append(f"  left out (no partner): "
                         f"{counted(len(self.unpaired['prediction']), 'prediction')}, "
                         f"{counted(len(self.unpaired['truth']), 'truth')}")
        return "\n".join(lines)

    def dumps(self) -> str:
        from geotile.json_text import scores_json

        return scores_json(self.as_dict())


def evaluate_relaxed_folders(pairs, *, buffer: float = 3.0,
                             road_class: str | int | None = None,
                             threshold: float | None = None,
                             progress: bool = False) -> ManyRelaxedScores:
    """Relaxed scores of each pair of rasters of ``pairs``
    (:class:`geotile.folder_pairs.FilePairs`) and in total (summed pixel counts)."""
    from geotile.progress import progress_bar

    if pairs.kind != "raster":
        raise InputError("relaxed scores (--buffer on rasters) pair folders of road rasters; "
                         f"these hold {pairs.kind} files (lines: give line files).")
    from geotile.raster_kinds import warn_zero_nodata

    per_image, zeros, lost = {}, [], []
    for name, (pred, true) in progress_bar(pairs.pairs.items(), progress, unit="image",
                                           desc="evaluate"):
        per_image[name] = evaluate_relaxed(pred, true, buffer=buffer, road_class=road_class,
                                           threshold=threshold, zeros_seen=zeros,
                                           lost_255=lost)
    warn_zero_nodata([p for p, _ in zeros], [m for _, m in zeros])
    _warn_nodata_255(lost)
    files = {name: (str(p), str(t)) for name, (p, t) in pairs.pairs.items()}
    unpaired = {"prediction": [str(p) for p in pairs.unpaired_prediction],
                "truth": [str(t) for t in pairs.unpaired_truth]}
    return ManyRelaxedScores(per_image, files, buffer, unpaired)


__all__ = ["ManyRelaxedScores", "RelaxedScores", "evaluate_relaxed",
           "evaluate_relaxed_folders", "footprint", "relaxed_counts"]
