"""APLS (Average Path Length Similarity; Van Etten et al. 2018), SpaceNet 3 and 5's road
metric: how alike the shortest paths of two road graphs are.

Each side's lines become a graph (nodes at line ends and at vertices lines share, as
apls.py's graphs are built: lines crossing without a shared vertex are a bridge, not a
junction; where lines meet end to end they run on) whose edges get control points every
``spacing`` metres (one at the middle of an edge 37.5 to 50 m long, none on shorter ones),
as CosmiQ's apls.py (``create_graph_midpoints``, ``--linestring_delta 50``) injects them.
Ground truth to proposal: every control point of the truth is snapped onto the nearest
proposal edge within ``snap`` metres (4 m); for each ordered pair of the truth's control
points joined by a path of length L > 0, the proposal's path between their snapped places,
of length L', costs min(1, |L - L'| / L), and 1 where either point did not snap or the
proposal joins them by no path. One minus the mean cost is the score; proposal to truth is
the same with the sides swapped, and APLS their harmonic mean (0 where either is 0). A
truth without lines has no APLS (None: apls.py skips such images); a proposal without
lines scores 0. Pieces of either graph whose longest path is under 5 m are left out, as
apls.py leaves them out (``_clean_sub_graphs``). Shortest paths by
:func:`scipy.sparse.csgraph.dijkstra`, O(n^2) over the n control points, in blocks of
sources. Not APLS_time (SpaceNet 5's travel times): files carrying them are told so.

Where apls.py differs: a line's vertex within 0.1 mm of another line joins it (there too),
where apls.py joins equal vertices only (a T drawn without a vertex at its junction: two
roads there, 0.615 against the T drawn with one; 1.0 here); a ring hanging at a node (a
cul-de-sac loop) and a road drawn twice are kept, where apls.py's reading of GeoJSON
(``create_edge_linestrings``) drops every copy of an edge drawn twice, such a ring
included (SpaceNet's Vegas img999 truth against OSM: 0.425 there, 0.406 here; a T with a
ring against the T alone: 1.0 there); edges are measured in the truth's CRS or its UTM
zone, where apls.py weights paths by osmnx's great-circle lengths on a sphere (up to 0.2 %
apart: APLS within 0.001 on Vegas); a ring alone is one node and its control points
(apls.py keeps each of its vertices, osmnx simplifying no ring without an end); of edges
equally near a control point (on a bridge's crossing) it snaps onto the one running most
nearly along its own road; control points snapping onto one node are all kept here, where
apls.py renames that node for each in turn, so that only the last counts and the others'
paths all cost 1; it samples 500 nodes of a truth of 500 or more (``make_graphs_yuge``);
here all are scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: metres between control points along an edge, and the distance control points snap
#: onto the other graph within (apls.py's --linestring_delta and --max_snap_dist)
SPACING = 50.0
SNAP = 4.0
#: paths shorter than this (metres) are not scored (apls.py's --min_path_length)
MIN_PATH = 0.001
#: control points within this along an edge are one node
SAME_PLACE = 1e-9
#: metres within which a line's vertex joins another line: a junction's end a hair off the
#: road it meets, as reprojection leaves it (1e-9 m), would cut the road from the network;
#: larger gaps are gaps, as apls.py (lines joined by equal vertices) takes them
JOIN = 1e-4
#: pieces of a graph whose longest path is shorter (metres) are left out, as apls.py's
#: _clean_sub_graphs (min_subgraph_length 5) drops them; pieces of more nodes are kept
FRAGMENT = 5.0
FRAGMENT_NODES = 100
#: sources per block of shortest paths (a block: this many rows of n distances)
BLOCK = 256
#: control points of one side above which APLS is said to take minutes before it starts
#: (all pairs of paths: 11,000 points of a 6 km grid of 100 m blocks took 52 s of CPU)
LARGE = 10_000


#: fields of SpaceNet 5's speeds and travel times (GeoJSON truth, road CSVs)
SPEED_FIELDS = ("inferred_speed_mps", "inferred_speed_mph", "travel_time_s")


def say_if_timed(frames) -> None:
    """Warn where one of ``frames`` ((file, its fields: a GeoDataFrame, a road CSV's extra
    columns)) carries SpaceNet 5's speeds or travel times: APLS here weights paths by length
    (APLS_length), not by travel time."""

    from geotile.errors import GeotileWarning

    for path, frame in frames:
        fields = [c for c in SPEED_FIELDS if c in frame and np.isfinite(
            np.asarray(frame[c], dtype=float)).any()]
        if fields:
            warn(f"{path} carries {fields[0]}: APLS here weighs paths by length "
                 "(SpaceNet 3's APLS, apls.py's APLS_length), not by travel time "
                 "(SpaceNet 5's APLS_time, which geotile does not compute).",
                 GeotileWarning)
            return


@dataclass(frozen=True)
class AplsScore:
    """APLS of one image and its two directions (None: the truth has no road of 5 m or more)."""

    apls: float | None
    gt_onto_prop: float | None
    prop_onto_gt: float | None
    #: control points of the truth and of the proposal
    gt_points: int = 0
    prop_points: int = 0

    def as_dict(self) -> dict:
        def shown(v):
            return None if v is None else round(v, 6)

        return {"apls": shown(self.apls), "apls_gt_onto_prop": shown(self.gt_onto_prop),
                "apls_prop_onto_gt": shown(self.prop_onto_gt)}

    def table(self) -> str:
        """The tables' line of APLS."""
        if self.apls is None:
            return "  APLS none (no true road of 5 m or more)"
        return (f"  APLS {self.apls:.4f} (truth onto prediction {self.gt_onto_prop:.4f}, "
                f"prediction onto truth {self.prop_onto_gt:.4f})")


def mean_apls(scores) -> tuple[float | None, int]:
    """(mean APLS, images scored) of ``scores`` (AplsScore or None), as SpaceNet totals
    images: those whose truth has no road of 5 m or more are left out; None where none is left."""
    values = [s.apls for s in scores if s is not None and s.apls is not None]
    return (float(np.mean(values)) if values else None), len(values)


@dataclass
class _Graph:
    """Nodes (x, y), edges (u, v), their lines and lengths."""

    nodes: np.ndarray
    edges: np.ndarray
    lines: np.ndarray
    lengths: np.ndarray


def road_graph(lines) -> _Graph:
    """The graph of ``lines`` (shapely lines in metres): nodes where lines end or share a
    vertex, edges between them, as apls.py builds its graphs (equal vertices are one node):
    lines crossing without a shared vertex (a bridge) are not joined. A stretch drawn twice
    is one edge; vertices within :data:`JOIN` of another line join it
    (:func:`geotile.line_snapping.snapped_lines`)."""
    import shapely

    lines = np.asarray(list(lines), dtype=object)
    if len(lines):
        lines = lines[~shapely.is_missing(lines)]
        lines = lines[~shapely.is_empty(lines)] if len(lines) else lines
    merged = _segments_merged(lines) if len(lines) else lines
    if not len(merged):
        return _Graph(np.empty((0, 2)), np.empty((0, 2), dtype=np.intp),
                      np.empty(0, dtype=object), np.empty(0))
    ends = np.stack([shapely.get_coordinates(shapely.get_point(merged, i)) for i in (0, -1)],
                    axis=1)  # (edges, 2 ends, xy)
    nodes, index = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    return _Graph(nodes, index.reshape(-1, 2), merged, shapely.length(merged))


def _segments_merged(lines: np.ndarray) -> np.ndarray:
    """``lines`` cut into their segments (each once, whichever line or direction drew it),
    merged again through vertices that two segments alone share: lines between ends and
    shared vertices."""
    import shapely

    from geotile.line_snapping import snapped_lines

    parts = shapely.get_parts(lines)
    while (shapely.get_type_id(parts) > 3).any():  # collections of multi-lines
        parts = shapely.get_parts(parts)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if not len(parts):
        return parts
    snapped = snapped_lines(parts, JOIN)
    if not len(snapped):
        return snapped
    xy, part = shapely.get_coordinates(snapped, return_index=True)
    same = part[1:] == part[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    a[flip], b[flip] = b[flip], a[flip].copy()
    segments = np.unique(np.hstack([a, b]), axis=0)
    segments = segments[(segments[:, 0] != segments[:, 2]) | (segments[:, 1] != segments[:, 3])]
    if not len(segments):
        return np.empty(0, dtype=object)
    pieces = shapely.linestrings(segments.reshape(-1, 2, 2))
    merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces)))
    return merged[shapely.length(merged) > 0]


def without_fragments(graph: _Graph, shortest: float = FRAGMENT) -> _Graph:
    """``graph`` without its connected pieces (of up to :data:`FRAGMENT_NODES` nodes) whose
    longest shortest path between nodes (and halfway round a ring) is under ``shortest``
    metres."""
    from scipy.sparse.csgraph import connected_components, dijkstra

    if not len(graph.edges):
        return graph
    loops = np.flatnonzero(graph.edges[:, 0] == graph.edges[:, 1])  # rings: a node halfway
    matrix, _ = _split(graph, loops, graph.lengths[loops] / 2)
    count, label = connected_components(matrix, directed=False)
    sizes = np.bincount(label, minlength=count)
    dropped = np.zeros(count, dtype=bool)
    for piece in np.flatnonzero(sizes <= FRAGMENT_NODES):
        nodes = np.flatnonzero(label == piece)
        lengths = dijkstra(matrix[nodes][:, nodes], directed=False)
        dropped[piece] = lengths[np.isfinite(lengths)].max() < shortest
    if not dropped.any():
        return graph
    keep = ~dropped[label[graph.edges[:, 0]]]
    nodes = np.unique(graph.edges[keep])
    renumber = np.full(len(graph.nodes), -1, dtype=np.intp)
    renumber[nodes] = np.arange(len(nodes))
    return _Graph(graph.nodes[nodes], renumber[graph.edges[keep]], graph.lines[keep],
                  graph.lengths[keep])


def control_points(graph: _Graph, spacing: float = SPACING) -> tuple[np.ndarray, np.ndarray]:
    """(edge, distance along it) of the control points inside ``graph``'s edges:
    apls.py's midpoints, every ``spacing`` (n - 1 equal steps, n = ceil(L / spacing) + 1),
    one at the middle of an edge 0.75..1 ``spacing`` long, none on shorter ones."""
    edge, along = [], []
    for i, length in enumerate(graph.lengths):
        if length < 0.75 * spacing:
            continue
        if length <= spacing:
            steps = np.array([length / 2])
        else:
            count = len(np.arange(0, length, spacing)) + 1
            steps = np.linspace(0, length, count)[1:-1]
        edge.extend([i] * len(steps))
        along.extend(steps)
    return np.asarray(edge, dtype=np.intp), np.asarray(along, dtype=float)


def _split(graph: _Graph, edge: np.ndarray, along: np.ndarray):
    """(sparse adjacency, node of each inserted point) of ``graph`` with points inserted at
    ``along`` metres of edges ``edge``; points at one place (or at an end) are one node."""
    from scipy.sparse import coo_matrix

    n = len(graph.nodes)
    place = np.empty(len(edge), dtype=np.intp)
    rows, cols, weights = [], [], []
    order = np.lexsort((along, edge))
    starts = np.searchsorted(edge[order], np.arange(len(graph.edges) + 1))
    for i, (u, v) in enumerate(graph.edges):
        length = graph.lengths[i]
        picked = order[starts[i]:starts[i + 1]]
        stops, ids = [0.0], [u]
        for k in picked:
            t = min(max(along[k], 0.0), length)
            if t - stops[-1] <= SAME_PLACE:
                place[k] = ids[-1]
            elif length - t <= SAME_PLACE:
                place[k] = -1 - i  # at v: set below
            else:
                stops.append(t)
                ids.append(n)
                place[k] = n
                n += 1
        stops.append(length)
        ids.append(v)
        for k in picked:
            if place[k] == -1 - i:
                place[k] = v
        steps = np.diff(stops)
        rows.extend(ids[:-1])
        cols.extend(ids[1:])
        weights.extend(steps)
    rows, cols, weights = (np.asarray(a) for a in (rows, cols, weights))
    keep = rows != cols  # a ring's closing edge of one piece joins nothing
    rows, cols, weights = rows[keep], cols[keep], weights[keep]
    low, high = np.minimum(rows, cols), np.maximum(rows, cols)
    first = np.lexsort((weights, high, low))  # parallel edges: the shortest
    low, high, weights = low[first], high[first], weights[first]
    unique = np.r_[True, (np.diff(low) != 0) | (np.diff(high) != 0)] if len(low) else low
    low, high, weights = low[unique], high[unique], weights[unique]
    matrix = coo_matrix((np.maximum(weights, SAME_PLACE), (low, high)), shape=(n, n)).tocsr()
    return matrix, place


def _snapped(points: np.ndarray, graph: _Graph, snap: float, heading=None):
    """(edge, distance along it) of each of ``points`` (x, y) on the nearest edge of
    ``graph`` within ``snap``; edge -1 where none. Of edges at equal distance (a point on a
    bridge's crossing) the one running most nearly along ``heading`` (unit vectors, the
    point's own road's; zero: none), else the first."""
    import shapely

    edge = np.full(len(points), -1, dtype=np.intp)
    along = np.zeros(len(points))
    if not len(points) or not len(graph.lines):
        return edge, along
    geoms = shapely.points(points)
    point, near = shapely.STRtree(graph.lines).query_nearest(
        geoms, max_distance=snap, all_matches=True)  # every edge at the least distance
    spot = shapely.line_locate_point(graph.lines[near], geoms[point])
    turn = np.zeros(len(point))
    if heading is not None and len(point):
        turn = -np.abs(np.einsum("ij,ij->i", _heading(graph.lines[near], spot), heading[point]))
    first = np.lexsort((near, turn, point))
    point, near, spot = point[first], near[first], spot[first]
    hit = np.r_[True, point[1:] != point[:-1]] if len(point) else point.astype(bool)
    edge[point[hit]] = near[hit]
    along[point[hit]] = spot[hit]
    if heading is not None:  # a line crossing itself: which pass (line_locate_point: the first)
        for i in np.flatnonzero((edge >= 0) & ~shapely.is_simple(
                graph.lines[np.maximum(edge, 0)])):
            along[i] = _pass_along(graph.lines[edge[i]], points[i], heading[i], along[i])
    return edge, along


def _pass_along(line, point: np.ndarray, heading: np.ndarray, first: float) -> float:
    """The distance along ``line`` of its nearest point to ``point`` on the pass running most
    nearly along ``heading`` (of the passes at the least distance; ``first`` where one)."""
    import shapely

    xy = shapely.get_coordinates(line)
    a, d = xy[:-1], np.diff(xy, axis=0)
    lengths = np.hypot(*d.T)
    ok = lengths > 0
    a, d, start = a[ok], d[ok], np.r_[0.0, np.cumsum(lengths)][:-1][ok]
    lengths = lengths[ok]
    t = np.clip(np.einsum("ij,ij->i", point - a, d) / lengths ** 2, 0.0, 1.0)
    gap = np.hypot(*(a + t[:, None] * d - point).T)
    nearest = np.flatnonzero(gap <= gap.min() + SAME_PLACE)
    if len(nearest) < 2 or not heading.any():
        return first
    turn = np.abs(d[nearest] @ heading) / lengths[nearest]
    k = nearest[np.argmax(turn)]
    return float(start[k] + t[k] * lengths[k])


def _heading(lines: np.ndarray, along: np.ndarray, step: float = 0.01) -> np.ndarray:
    """Unit vectors along ``lines`` at ``along`` metres (between points ``step`` apart)."""
    import shapely

    length = shapely.length(lines)
    a = shapely.line_interpolate_point(lines, np.clip(along - step, 0, length))
    b = shapely.line_interpolate_point(lines, np.clip(along + step, 0, length))
    d = shapely.get_coordinates(b) - shapely.get_coordinates(a)
    norm = np.hypot(*d.T)
    return np.divide(d, norm[:, None], out=np.zeros_like(d), where=norm[:, None] > 0)


def one_way(truth: _Graph, proposal: _Graph, spacing: float = SPACING,
            snap: float = SNAP) -> tuple[float, int]:
    """(score, control points) of ``truth``'s paths found in ``proposal``
    (apls.py's C_gt_onto_prop; swapped: C_prop_onto_gt)."""
    from scipy.sparse.csgraph import dijkstra

    edge, along = control_points(truth, spacing)
    native, inserted = _split(truth, edge, along)
    points = np.r_[np.arange(len(truth.nodes)), inserted]
    points = np.unique(points)
    if not len(points):
        return 0.0, 0
    xy = _coordinates(truth, edge, along, inserted, native.shape[0])[points]
    heading = np.zeros((native.shape[0], 2))  # nodes: none (their roads all meet there)
    if len(edge):
        heading[inserted] = _heading(truth.lines[edge], along)
    near_edge, near_along = _snapped(xy, proposal, snap, heading[points])
    found = near_edge >= 0
    prime, placed = _split(proposal, near_edge[found], near_along[found])
    there = np.full(len(points), -1, dtype=np.intp)
    there[found] = placed
    total, count = 0.0, 0
    for start in range(0, len(points), BLOCK):
        rows = slice(start, start + BLOCK)
        lengths = dijkstra(native, directed=False, indices=points[rows])[:, points]
        scored = np.isfinite(lengths) & (lengths >= MIN_PATH)
        cost = np.ones_like(lengths)
        src = there[rows]
        if found[rows].any() and found.any():
            other = dijkstra(prime, directed=False, indices=src[found[rows]])
            other = other[:, there[found]]
            part = np.ones((len(src), len(points)))
            part[np.ix_(found[rows], found)] = other
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = np.abs(lengths - part) / lengths
            cost = np.where(np.isfinite(part), np.minimum(diff, 1.0), 1.0)
            cost[~found[rows], :] = 1.0
            cost[:, ~found] = 1.0
        total += float(cost[scored].sum())
        count += int(scored.sum())
    return (1.0 - total / count if count else 0.0), len(points)


def _coordinates(graph: _Graph, edge, along, inserted, n: int) -> np.ndarray:
    """(x, y) of the ``n`` nodes of ``graph`` split at the points ``inserted``."""
    import shapely

    xy = np.zeros((n, 2))
    xy[:len(graph.nodes)] = graph.nodes
    if len(edge):
        xy[inserted] = shapely.get_coordinates(
            shapely.line_interpolate_point(graph.lines[edge], along))
    return xy


def apls(predicted, truth, spacing: float = SPACING, snap: float = SNAP) -> AplsScore:
    """:class:`AplsScore` of two sequences of shapely lines in metres (a projected CRS)."""
    gt, prop = (without_fragments(road_graph(lines)) for lines in (truth, predicted))
    for graph, side in ((prop, "predicted"), (gt, "true")):
        _say_bridges(graph, side)
    if not len(gt.edges):
        return AplsScore(None, None, None, 0, len(prop.nodes))
    if not len(prop.edges):
        gt_points = len(gt.nodes) + len(control_points(gt, spacing)[0])
        return AplsScore(0.0, 0.0, 0.0, gt_points, 0)
    _say_if_large(gt, prop, spacing)
    forward, gt_points = one_way(gt, prop, spacing, snap)
    backward, prop_points = one_way(prop, gt, spacing, snap)
    both = 0.0 if forward <= 0 or backward <= 0 else 2 / (1 / forward + 1 / backward)
    return AplsScore(both, forward, backward, gt_points, prop_points)


def _say_if_large(gt: _Graph, prop: _Graph, spacing: float) -> None:
    """Log, before scoring, that graphs of more than :data:`LARGE` control points take
    minutes (a warning would be said when the command ends)."""
    sides = {side: len(g.nodes) + len(control_points(g, spacing)[0])
             for side, g in (("truth", gt), ("prediction", prop))}
    side, n = max(sides.items(), key=lambda kv: kv[1])
    if n > LARGE:
        log.warning("APLS: the %s has %s control points, whose %s pairs of paths are all "
                    "compared: this takes minutes (52 s of CPU for 11,000; apls.py samples 500 "
                    "of a truth this large). Score tiles of the area (SpaceNet's images: 400 "
                    "m) to be quicker.", side, f"{n:,}", f"{n * (n - 1):,}")


def _say_bridges(graph: _Graph, side: str) -> None:
    """Warn where edges of ``graph`` cross without a node: bridges, or roads at grade drawn
    without a common vertex (hand-drawn lines), which the graph does not join."""

    import shapely

    from geotile.errors import GeotileWarning
    from geotile.plurals import counted

    if len(graph.lines) < 2:
        return
    pairs = shapely.STRtree(graph.lines).query(graph.lines, predicate="crosses")
    n = int((pairs[0] < pairs[1]).sum())
    if n:
        it, has = ("it", "has") if n == 1 else ("them", "have")
        warn(f"APLS: {counted(n, 'crossing')} of the {side} lines {has} no vertex of "
             f"both: scored as {'a bridge' if n == 1 else 'bridges'} (no turn there), "
             f"as apls.py scores {it}; where roads meet, give both lines a vertex "
             "there.", GeotileWarning)
