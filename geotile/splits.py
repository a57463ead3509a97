"""Train/val/test splits by spatial blocks, with a gap between splits, and the warning
when images overlap on the ground (their common ground may then land in two splits)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geotile.errors import GeotileWarning
from geotile.grid import Grid, Patch
from geotile.quiet_warnings import is_valid
from geotile.user_warnings import warn

SPLIT_NAMES = ("train", "val", "test")
#: split planning: blocks wanted for the smallest split, the weight of keeping a block's
#: patches (joining its neighbours' split) against the split's deficit, and the passes that
#: move single blocks to even the proportions out; chosen on 900 to 6000 px rasters for
#: proportions within a few patches with the fewest patches in the gaps
SPLIT_BLOCKS_WANTED = 6
SPLIT_CLUSTER = 2.0
SPLIT_PASSES = 4


def _unit(seed: int, *key) -> float:
    """A deterministic number in [0, 1) from the seed and a key."""
    text = "/".join(str(k) for k in (seed, *key))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


@dataclass
class SplitPlan:
    """Train/val/test by spatial blocks with a gap between splits.

    Each image's grid is cut into blocks of ``per_block`` x ``per_block`` patch positions
    (blocks share no pixel). Every block gets one split; a patch belongs to its block's
    split when every block its window covers has that split, else it lies in the gap and
    is left out. So no patch of one split shares a pixel with a patch of another.

    Blocks are assigned from the bottom-right corner backwards, so the patches each
    choice keeps are known exactly; each block goes to the split furthest below its
    fraction (kept patches so far), favouring the split that keeps most of the block's
    patches (that of its neighbours: fewer gaps), with a seeded random nudge. Then single
    blocks move, in the seed's order, where that evens the proportions out by more than it
    leaves in the gap (:func:`_even_out`). Only kept patches count (``kept``: the
    filtering). The same seed gives the same splits, in whatever order the images come
    (they are planned in the order of their keys).
    """

    fractions: tuple[float, ...]
    per_block: int
    grids: list[Grid]
    blocks: list[dict[tuple[int, int], int]]
    ranges: list[tuple[list[range], list[range]]]

    @classmethod
    def make(cls, grids: Sequence[Grid], keys: Sequence[str], fractions: Sequence[float],
             seed: int, kept=None) -> SplitPlan:
        """Plan the splits of ``grids`` (one per image; ``keys`` name them for the seed).
        ``kept``: per grid, a boolean array of its shape, the patches filtering keeps
        (None: all); the proportions are those of the kept patches."""
        fractions = tuple(fractions)
        active = [i for i, f in enumerate(fractions) if f > 0]
        per_block = _block_size(grids, min(fractions[i] for i in active))
        ranges = [grid.block_ranges(per_block) for grid in grids]
        kept = [np.ones(g.shape, bool) if k is None else k
                for g, k in zip(grids, kept or [None] * len(grids), strict=True)]
        patches = sum(int(k.sum()) for k in kept)
        blocks_total = sum(math.prod(g.block_shape(per_block)) for g in grids)
        nudge = patches / max(1, blocks_total)
        assigned = [0] * len(fractions)
        plan_blocks: list[dict[tuple[int, int], int]] = [{} for _ in grids]
        # in the order of the keys, not of the command line: the same images, same splits
        for image in sorted(range(len(grids)), key=lambda i: (keys[i], i)):
            grid, key, mine, (row_ranges, col_ranges) = (grids[image], keys[image],
                                                         kept[image], ranges[image])
            blocks = plan_blocks[image]
            n_rows, n_cols = grid.shape
            block_rows, block_cols = grid.block_shape(per_block)
            for br in reversed(range(block_rows)):
                for bc in reversed(range(block_cols)):
                    counts = [0] * len(fractions)
                    for row in range(br * per_block, min(n_rows, (br + 1) * per_block)):
                        for col in range(bc * per_block, min(n_cols, (bc + 1) * per_block)):
                            if not mine[row, col]:
                                continue
                            others = {blocks[(r, c)] for r in row_ranges[row]
                                      for c in col_ranges[col] if (r, c) != (br, bc)}
                            for s in active:
                                counts[s] += others <= {s}
                    total = sum(assigned)
                    candidates = [s for s in active if counts[s]] or active
                    scores = {s: fractions[s] * (total + counts[s]) - assigned[s]  # below share
                              + SPLIT_CLUSTER * counts[s] + nudge * _unit(seed, key, br, bc, s)
                              for s in candidates}
                    choice = max(candidates, key=scores.__getitem__)
                    blocks[(br, bc)] = choice
                    assigned[choice] += counts[choice]
        _even_out(plan_blocks, kept, ranges, fractions, active, seed, keys)
        return cls(fractions, per_block, list(grids), plan_blocks, ranges)

    def split_of(self, image: int, patch: Patch) -> str | None:
        """The split of a patch of the ``image``-th grid; None when it lies in the gap."""
        row_ranges, col_ranges = self.ranges[image]
        blocks = self.blocks[image]
        found = {blocks[(r, c)] for r in row_ranges[patch.row] for c in col_ranges[patch.col]}
        return SPLIT_NAMES[found.pop()] if len(found) == 1 else None


def _even_out(plan_blocks, kept, ranges, fractions, active, seed, keys) -> None:
    """Move single blocks to another split, in the seed's order, while that brings the
    kept patches per split closer to the fractions by more than it leaves in the gap."""
    touched = []  # per kept patch: the (image, block) keys its window covers
    by_block: dict[tuple[int, int, int], list[int]] = {}
    for image, (mine, (row_ranges, col_ranges)) in enumerate(zip(kept, ranges, strict=True)):
        for row, col in zip(*np.nonzero(mine), strict=True):
            keys_of = [(image, r, c) for r in row_ranges[row] for c in col_ranges[col]]
            for block in keys_of:
                by_block.setdefault(block, []).append(len(touched))
            touched.append(keys_of)

    def split_of(patch: int) -> int:
        found = {plan_blocks[i][(r, c)] for i, r, c in touched[patch]}
        return found.pop() if len(found) == 1 else -1

    counts = [0] * (len(fractions) + 1)  # the last: in the gap
    for patch in range(len(touched)):
        counts[split_of(patch)] += 1

    def cost(counts) -> float:
        total = sum(counts[:-1])
        return counts[-1] + sum(abs(n - f * total)
                                for n, f in zip(counts[:-1], fractions, strict=True))

    order = sorted(by_block, key=lambda b: _unit(seed, "even", keys[b[0]], b[1], b[2]))
    for _ in range(SPLIT_PASSES):
        moved = False
        for block in order:
            image, *place = block
            place = tuple(place)
            current = plan_blocks[image][place]
            before = [split_of(p) for p in by_block[block]]
            best, best_cost = None, cost(counts)
            for split in active:
                if split == current:
                    continue
                plan_blocks[image][place] = split
                trial = list(counts)
                for p, old in zip(by_block[block], before, strict=True):
                    trial[old] -= 1
                    trial[split_of(p)] += 1
                if cost(trial) < best_cost - 1e-9:
                    best, best_cost, best_counts = split, cost(trial), trial
            plan_blocks[image][place] = current if best is None else best
            if best is not None:
                counts, moved = best_counts, True
        if not moved:
            break


def _block_size(grids: Sequence[Grid], smallest: float) -> int:
    """Patch positions per block side: as large as leaves about 6 blocks for the smallest
    split (fewer, larger blocks lose fewer patches to the gaps), and at least twice the
    number of neighbours a patch overlaps, so that most of a block's patches stay clear
    of the gap."""
    reach = max((-(-g.overlap // g.stride) for g in grids), default=0)
    low = 1 if reach == 0 else 2 * reach
    wanted = math.ceil(SPLIT_BLOCKS_WANTED / smallest)
    best = low
    for size in range(low, max(low, 16) + 1):
        if sum(math.prod(g.block_shape(size)) for g in grids) < wanted:
            break
        best = size
    return best


def warn_overlapping(images) -> None:
    """One warning when georeferenced images cover the same ground (by more than half a
    pixel): --split plans its blocks per image, so that ground may land in train and in
    val or test. Candidate pairs come from an STRtree (a city of tiles); images in other
    CRSs (two UTM zones) are compared on their outlines (:func:`_overlaps_across_crs`)."""
    import shapely

    from geotile.raster import open_raster

    groups: dict[str, list] = {}
    for image in images:
        with open_raster(image) as src:
            if src.crs is not None:
                half = 0.5 * max(abs(src.res[0]), abs(src.res[1]))
                left, bottom, right, top = src.bounds  # reversed on south-up, mirrored grids
                box = (min(left, right), min(bottom, top), max(left, right), max(bottom, top))
                groups.setdefault(src.crs.to_wkt(), []).append((image, box, half))
    pairs = []
    for members in groups.values():
        bounds = np.array([b for _, b, _ in members], dtype=float).reshape(-1, 4)
        halves = np.array([h for _, _, h in members])
        tree = shapely.STRtree(shapely.box(*bounds.T))
        left, right = tree.query(shapely.box(*bounds.T), predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        low = np.maximum(bounds[left, :2], bounds[right, :2])
        high = np.minimum(bounds[left, 2:], bounds[right, 2:])
        apart = np.maximum(halves[left], halves[right])[:, None]
        for i, j in zip(*(side[((high - low) > apart).all(axis=1)] for side in (left, right)),
                        strict=True):
            pairs.append((members[i][0], members[j][0]))
    if len(groups) > 1:
        pairs.extend(_overlaps_across_crs(groups))
    if pairs:
        more = f" (and {len(pairs) - 1} more pairs)" if len(pairs) > 1 else ""
        warn(
            f"{pairs[0][0]} and {pairs[0][1]} overlap on the ground{more}: --split keeps "
            "splits apart within an image only, so their common ground may be in train and "
            "in val or test. Tile overlapping images (other dates, collects) in one split, "
            "or cut the overlap out.", GeotileWarning)


def _overlaps_across_crs(groups: dict[str, list]) -> list[tuple]:
    """Pairs of images of different CRSs (``groups``: CRS WKT -> [(image, bounds, half
    pixel)]) whose outlines share ground wider than half a pixel: candidates by their
    lon/lat boxes, then one's densified outline in the other's CRS."""
    import shapely
    from pyproj import CRS, Transformer
    from rasterio.warp import transform_bounds

    found, boxes = [], []
    for wkt, members in groups.items():
        for image, bounds, half in members:
            try:
                lonlat = transform_bounds(wkt, "EPSG:4326", *bounds, densify_pts=21)
            except Exception:  # an outline PROJ cannot place is not compared
                continue
            if np.all(np.isfinite(lonlat)):
                found.append((wkt, image, bounds, half))
                west, south, east, north = lonlat
                # west > east: across 180 (rasterio's way), two boxes, not the rest round
                boxes.append(shapely.box(*lonlat) if west <= east else shapely.union(
                    shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)))
    pairs, transformers = [], {}
    tree = shapely.STRtree(boxes)
    for i, j in zip(*tree.query(boxes, predicate="intersects"), strict=True):
        (crs_a, a, box_a, half_a), (crs_b, b, box_b, half_b) = found[i], found[j]
        if i >= j or crs_a == crs_b:
            continue
        if (crs_b, crs_a) not in transformers:  # one per pair of CRSs, not per pair of images
            transformers[crs_b, crs_a] = Transformer.from_crs(
                CRS.from_wkt(crs_b), CRS.from_wkt(crs_a), always_xy=True)
        to_a = transformers[crs_b, crs_a]
        # in a lon/lat CRS, b's longitudes are taken within 180 degrees of a's centre, so an
        # outline across 180 does not jump to the other side of the world
        centre = (box_a[0] + box_a[2]) / 2 if to_a.target_crs.is_geographic else None
        side = max(box_b[2] - box_b[0], box_b[3] - box_b[1])
        outline = shapely.segmentize(shapely.box(*box_b), side / 64)
        outline = shapely.transform(outline, lambda xy, to=to_a, c=centre: _near(
            np.column_stack(to.transform(xy[:, 0], xy[:, 1])), c))
        if not is_valid(outline):
            continue
        # half a pixel of b in a's units: b's outline there over b's pixels
        scale = (outline.bounds[2] - outline.bounds[0]) / (box_b[2] - box_b[0])
        apart = max(half_a, half_b * abs(scale))
        shared = shapely.box(*box_a).intersection(outline)
        if not shared.buffer(-apart / 2).is_empty:  # wider than ``apart`` every way
            pairs.append((a, b))
    return pairs


def _near(xy: np.ndarray, centre: float | None) -> np.ndarray:
    """``xy`` with its longitudes (x) moved by whole turns to within 180 degrees of
    ``centre``; as they are where ``centre`` is None (a projected CRS)."""
    if centre is not None:
        xy[:, 0] = (xy[:, 0] - centre + 180) % 360 - 180 + centre
    return xy
