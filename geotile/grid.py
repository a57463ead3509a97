"""Pure window geometry: where the patches of a raster lie.

No I/O happens here. A :class:`Grid` turns a raster size, a patch size, an
overlap and an edge rule into :class:`Patch` windows, row-major.

Along one axis of length ``n`` with patch size ``k`` and stride
``s = k - overlap`` the number of patches is::

    drop:        o = floor((n - k) / s) + 1      (0 when n < k)
    shift, pad:  o = ceil((n - k) / s) + 1       (1 when n <= k)

so a 900 px SpaceNet tile at ``k = 224`` gives 4 x 4 = 16 patches with
``drop`` and 5 x 5 = 25 with ``shift``.

Edge rules, and why:

- ``shift`` (default for training patches): the last patch is moved back to
  end exactly at the raster edge. Every pixel is covered and no patch holds
  padding; the last two patches overlap more than the others.
- ``pad``: the regular stride is kept and the last patch runs past the edge;
  readers fill the outside with nodata. Inference uses this internally, so
  every patch has the same neighbourhood structure and blending weights stay
  regular.
- ``drop``: patches that would cross the edge are left out (the SpaceNet
  recipes' 4 x 4 grid); the right and bottom margins are not covered.

A raster smaller than the patch along an axis cannot hold a shifted patch;
``shift`` then pads like ``pad``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from geotile.affine_math import apply
from geotile.errors import GeotileError

EDGE_MODES = ("shift", "pad", "drop")


def axis_offsets(length: int, size: int, stride: int, edge: str) -> list[int]:
    """Offsets of the patches along one axis (see the module docstring for the rules)."""
    if length <= 0:
        return []
    if edge == "drop":
        if length < size:
            return []
        count = (length - size) // stride + 1
        return [i * stride for i in range(count)]
    count = 1 if length <= size else math.ceil((length - size) / stride) + 1
    offsets = [i * stride for i in range(count)]
    if edge == "shift" and length >= size:
        offsets[-1] = length - size
    return offsets


@dataclass(frozen=True)
class Patch:
    """One patch: its place in the grid and its pixel window in the raster.

    ``width``/``height`` are the full patch size; ``valid_width``/``valid_height``
    the part inside the raster (smaller only for padded edge patches).
    """

    row: int
    col: int
    x_off: int
    y_off: int
    width: int
    height: int
    valid_width: int
    valid_height: int

    @property
    def window(self):
        """The full patch as a rasterio Window (may extend past the raster when padded)."""
        from rasterio.windows import Window

        return Window(self.x_off, self.y_off, self.width, self.height)

    @property
    def valid_window(self):
        """The part of the patch inside the raster, as a rasterio Window."""
        from rasterio.windows import Window

        return Window(self.x_off, self.y_off, self.valid_width, self.valid_height)

    def bounds(self, transform) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy): the envelope of the patch's four corners under an affine
        ``transform``, right for south-up, rotated, sheared and pixel (identity) transforms."""
        xs, ys = [], []
        for dx in (0, self.width):
            for dy in (0, self.height):
                x, y = apply(transform, self.x_off + dx, self.y_off + dy)
                xs.append(x)
                ys.append(y)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def is_padded(self) -> bool:
        return self.valid_width < self.width or self.valid_height < self.height


@dataclass(frozen=True)
class Grid:
    """Patches of ``size`` px with ``overlap`` px between neighbours over a raster."""

    width: int
    height: int
    size: int
    overlap: int = 0
    edge: str = "shift"
    col_offsets: list[int] = field(init=False, repr=False, compare=False)
    row_offsets: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise GeotileError(f"patch size must be positive, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise GeotileError(
                f"overlap must be at least 0 and smaller than the patch size "
                f"({self.size}), got {self.overlap}"
            )
        if self.edge not in EDGE_MODES:
            raise GeotileError(f"edge must be one of {', '.join(EDGE_MODES)}, got {self.edge!r}")
        stride = self.size - self.overlap
        object.__setattr__(
            self, "col_offsets", axis_offsets(self.width, self.size, stride, self.edge)
        )
        object.__setattr__(
            self, "row_offsets", axis_offsets(self.height, self.size, stride, self.edge)
        )

    @property
    def stride(self) -> int:
        return self.size - self.overlap

    @property
    def shape(self) -> tuple[int, int]:
        """(number of patch rows, number of patch columns)."""
        return len(self.row_offsets), len(self.col_offsets)

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def patch(self, row: int, col: int) -> Patch:
        x_off, y_off = self.col_offsets[col], self.row_offsets[row]
        return Patch(
            row=row,
            col=col,
            x_off=x_off,
            y_off=y_off,
            width=self.size,
            height=self.size,
            valid_width=min(self.size, self.width - x_off),
            valid_height=min(self.size, self.height - y_off),
        )

    def row(self, row: int) -> list[Patch]:
        """The patches of one grid row, left to right."""
        return [self.patch(row, col) for col in range(len(self.col_offsets))]

    def rows(self) -> Iterator[list[Patch]]:
        """Grid rows top to bottom; each a list of patches left to right."""
        for row in range(len(self.row_offsets)):
            yield self.row(row)

    def __iter__(self) -> Iterator[Patch]:
        for patches in self.rows():
            yield from patches

    # Blocks: ``per_block`` x ``per_block`` consecutive grid positions. Block (i, j) covers
    # the pixels from the first offset of its positions to the first offset of the next
    # block (the last block runs on past the raster), so blocks never share a pixel.

    def block_shape(self, per_block: int) -> tuple[int, int]:
        """(block rows, block columns) for blocks of ``per_block`` grid positions a side."""
        rows, cols = self.shape
        return -(-rows // per_block), -(-cols // per_block)

    def block_ranges(self, per_block: int) -> tuple[list[range], list[range]]:
        """For every grid row and every grid column: the block rows (columns) its patches'
        windows cover; the first is the patch's own block."""
        return (_block_ranges(self.row_offsets, self.size, per_block),
                _block_ranges(self.col_offsets, self.size, per_block))

    def blocks_touched(self, patch: Patch, per_block: int) -> tuple[range, range]:
        """(block rows, block columns) whose pixels the patch's window covers."""
        rows, cols = self.block_ranges(per_block)
        return rows[patch.row], cols[patch.col]


def _block_ranges(offsets: list[int], size: int, per_block: int) -> list[range]:
    starts = offsets[::per_block]
    ranges = []
    for index, off in enumerate(offsets):
        home = index // per_block
        ranges.append(range(home, max(home, bisect.bisect_left(starts, off + size) - 1) + 1))
    return ranges


#: how far apart (in pixels) two grids' pixel corners may lie and still be one grid: float
#: noise of a transform written in decimal, never a real shift
GRID_TOLERANCE_PX = 1e-3
#: the same for the origins of adjacent tiles of one grid (:func:`grid_offset`): a world
#: file's 10 decimals put tiles of 0.5 m pixels in degrees 0.004 px off it
TILE_TOLERANCE_PX = 1e-2


def grid_offset(reference, t) -> tuple[int, int] | None:
    """(col, row) of the grid ``t``'s origin on the grid ``reference`` (two affine
    transforms); None when they are not one grid (another pixel size or orientation, or
    origins a fraction of a pixel apart beyond :data:`TILE_TOLERANCE_PX`)."""
    if not all(math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0) for x, y in
               zip((t.a, t.b, t.d, t.e), (reference.a, reference.b, reference.d, reference.e),
                   strict=True)):
        return None
    col, row = apply(~reference, t.c, t.f)
    if abs(col - round(col)) > TILE_TOLERANCE_PX or abs(row - round(row)) > TILE_TOLERANCE_PX:
        return None
    return round(col), round(row)


def grid_places(transforms) -> list[tuple[int, int, int]]:
    """``(grid, col, row)`` of each affine transform: ``grid`` the index of the first of
    ``transforms`` on whose pixel grid it lies (:func:`grid_offset`), (``col``, ``row``) its
    origin's pixel there. Placing pixel (x, y) at ``transforms[grid] * (col + x, row + y)``
    gives rasters of one grid bit-identical coordinates where they meet, whatever float
    rounding their origins carry. Only the grids of about the same pixel size are tried
    (:func:`_size_keys`) and, of north-up and 90-degree turned ones, only those whose origin
    lies about as far off the pixel as its own (:class:`_Phases`): trying every grid so far
    took n^2/2 :func:`grid_offset` calls for chips each of its own pixel size, or of one
    size each flown (or reprojected) on its own."""
    grids: dict[tuple, list[int]] = {}  # size key -> the grids of that key, in order
    phases: dict[tuple, _Phases] = {}  # size key -> its grids by phase (axis-aligned keys)
    origin = None  # where phases are counted from: the first finite axis-aligned origin
    places = []
    for index, t in enumerate(transforms):
        own, near = _size_keys(t)
        if origin is None and near is not None and _axis_aligned(t) \
                and math.isfinite(t.c) and math.isfinite(t.f):
            origin = t.c, t.f
        phase = _phase(t, origin) if origin is not None and near is not None \
            and _axis_aligned(t) else None
        if near is None:
            tried = sorted(g for found in grids.values() for g in found)
        elif phase is None:
            tried = sorted(g for key in near for g in grids.get(key, ()))
        else:
            tried = sorted(g for key in near if key in phases
                           for g in phases[key].near(*phase))
        for grid in tried:
            offset = grid_offset(transforms[grid], t)
            if offset is not None:
                places.append((grid, *offset))
                break
        else:
            grids.setdefault(own, []).append(index)
            if near is not None and _axis_aligned(t):
                phases.setdefault(own, _Phases()).add(index, phase)
            places.append((index, 0, 0))
    return places


def _axis_aligned(t) -> bool:
    """Whether ``t`` (finite terms) is north-up, south-up or mirrored (b = d = 0), or turned
    90 degrees (a = e = 0): each pixel axis then moves one map axis, so a raster's column
    on another grid is a difference of their :func:`_phase`."""
    return (t.b == t.d == 0 and t.a != 0 and t.e != 0) or \
        (t.a == t.e == 0 and t.b != 0 and t.d != 0)


def _phase(t, origin) -> tuple[float, float, float] | None:
    """(col, row) of ``t``'s origin counted from ``origin`` (x, y), in ``t``'s pixels, and
    the size of ``t``'s and ``origin``'s coordinates in those pixels (what float rounding
    scales with); None where one is not finite."""
    (x, y), (c, f) = origin, (t.c, t.f)
    if t.b == 0:
        col, row, pixel = (c - x) / t.a, (f - y) / t.e, min(abs(t.a), abs(t.e))
    else:
        col, row, pixel = (f - y) / t.d, (c - x) / t.b, min(abs(t.b), abs(t.d))
    span = (abs(c) + abs(f) + abs(x) + abs(y)) / pixel
    if not all(map(math.isfinite, (col, row, span))):
        return None
    return col, row, span


#: phase buckets a pixel across (a power of two: phase * _PHASES is exact)
_PHASES = 128


class _Phases:
    """The grids of one pixel-size key by the fraction of a pixel their origin lies off
    :func:`_phase`'s origin, along each axis."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[int, int], list[int]] = {}
        self.wild: list[int] = []  # no finite phase: tried by all
        self.span = 0.0  # the largest span of the grids here

    def add(self, grid: int, phase) -> None:
        if phase is None:
            self.wild.append(grid)
            return
        col, row, span = phase
        key = int(col % 1 * _PHASES) % _PHASES, int(row % 1 * _PHASES) % _PHASES
        self.buckets.setdefault(key, []).append(grid)
        self.span = max(self.span, span)

    def near(self, col: float, row: float, span: float) -> list[int]:
        """Every grid here that :func:`grid_offset` may take a raster of this phase for:
        on it, the raster's column is its col less the grid's, give or take the sizes'
        1e-9 (times col: far from the origin that is more than a hundredth of a pixel)
        and float rounding."""
        margin = (TILE_TOLERANCE_PX + max(abs(col), abs(row)) * 1.001e-9
                  + (span + self.span) * 16 * 2.0 ** -52 + 1e-9)
        found = list(self.wild)
        for i in _phase_range(col % 1, margin):
            for j in _phase_range(row % 1, margin):
                found += self.buckets.get((i, j), ())
        return found


def _phase_range(phase: float, margin: float) -> range | list[int]:
    """The phase buckets within ``margin`` of ``phase`` (in [0, 1]), wrapping at 0/1."""
    lo, hi = math.floor((phase - margin) * _PHASES), math.floor((phase + margin) * _PHASES)
    if hi - lo + 1 >= _PHASES:
        return range(_PHASES)
    return [k % _PHASES for k in range(lo, hi + 1)]


#: the width of a pixel-size bucket, in natural log: ten times grid_offset's 1e-9 relative
#: tolerance, so sizes it takes for one lie in the same or adjacent buckets
_SIZE_BUCKET = 1e-8


def _size_keys(t) -> tuple[tuple, list[tuple] | None]:
    """(the bucket of ``t``'s pixel size (a, b, d, e: sign and log bucket of each), the
    buckets of every pixel size :func:`grid_offset` may take for ``t``'s); None for those
    where a term is not finite (all are tried)."""
    own, near = [], []
    for x in (t.a, t.b, t.d, t.e):
        if not math.isfinite(x):
            return (math.nan,), None  # a key no lookup asks for
        if x == 0:  # isclose(0, y) with no absolute tolerance: y == 0
            own.append((0, 0))
            near.append(((0, 0),))
            continue
        sign, k = math.copysign(1, x), math.floor(math.log(abs(x)) / _SIZE_BUCKET)
        own.append((sign, k))
        near.append(((sign, k - 1), (sign, k), (sign, k + 1)))
    return tuple(own), list(itertools.product(*near))
