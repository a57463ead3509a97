"""Simplify polygons that tile together (a coverage: the regions of a class raster, every
class at once) so that the edges they share stay shared: no gaps, no overlaps.

``shapely.coverage_simplify`` (shapely >= 2.1, GEOS >= 3.12) simplifies every edge once,
for the polygons on both sides, by Visvalingam-Whyatt: it removes the corners whose triangle
(with their two neighbours) has an area under tolerance squared, so the tolerance is
roughly the square root of the area taken off or added at a corner. (``shapely.simplify``,
Douglas-Peucker, drops vertices within tolerance of the line kept: along long walls it
removes more than coverage simplification does with the same number.)

Polygons from GDAL's polygonizer are not edge-matched where three regions meet (a vertex
of one lies on a straight edge of another): the neighbours' vertices are snapped in first.
Where shapely lacks coverage simplification, or the polygons still do not form a coverage
(e.g. regularised outlines that overlap), each polygon is simplified on its own
(topology-preserving Douglas-Peucker), as before.
"""

from __future__ import annotations

import numpy as np

from geotile.quiet_warnings import is_valid


def simplify_coverage(polygons, tolerances, cell: float, noded: bool = False) -> np.ndarray:
    """``polygons`` simplified, each by its tolerance (0: left as it is); ``cell`` is the
    pixel size in the polygons' units (vertices closer than a thousandth of it are one);
    ``noded``: the polygons are :func:`edge_matched` already.

    One tolerance for all: one coverage simplification. Several (per class): the
    tolerances are taken in ascending order; each pass simplifies, with the background
    around them, only the polygons whose tolerance reaches it, and only the edges among
    those, so an edge between two classes is simplified by the smaller tolerance."""
    import shapely

    polygons = np.asarray(polygons, dtype=object)
    tolerances = np.broadcast_to(np.asarray(tolerances, float), polygons.shape)
    some = tolerances > 0
    if not some.any():
        return polygons
    if hasattr(shapely, "coverage_simplify"):
        matched = polygons if noded else edge_matched(polygons, cell * 1e-3)
        if shapely.coverage_is_valid(matched):
            steps = np.unique(tolerances[some])
            if len(steps) == 1 and some.all():
                return _simplify_by_clusters(matched, float(steps[0]))
            result = _simplify_in_steps(matched, tolerances, steps, cell)
            if result is not None:
                return result
    return _each(polygons, tolerances)


CLUSTER_BATCH = 1000  # polygons a coverage_simplify call (GEOS's time grows as n^1.6)


def _simplify_by_clusters(polygons: np.ndarray, tolerance: float) -> np.ndarray:
    """``shapely.coverage_simplify(polygons, tolerance)``, in :func:`cluster_batches` (one
    call for 160,000 buildings took 10x the time of 40,000)."""
    import shapely

    simplified = polygons.copy()
    for part in cluster_batches(polygons):
        simplified[part] = shapely.coverage_simplify(polygons[part], tolerance)
    return simplified


def cluster_batches(polygons: np.ndarray) -> list[np.ndarray]:
    """Indices of ``polygons`` in batches of about CLUSTER_BATCH, each of whole clusters
    (polygons whose envelopes meet, transitively). A corner removed by Visvalingam-Whyatt
    spans a triangle within its edge's envelope, so a polygon of another cluster can never
    hold it back: simplifying batch by batch gives the polygons one call gives."""
    import shapely

    if len(polygons) <= CLUSTER_BATCH:
        return [np.arange(len(polygons))]
    one, other = shapely.STRtree(polygons).query(polygons)  # the envelopes that meet
    return whole_groups(components(one, other, len(polygons)), CLUSTER_BATCH)


def whole_groups(cluster: np.ndarray, size: int) -> list[np.ndarray]:
    """Indices into ``cluster`` (a group number each) in batches of about ``size``, each
    batch of whole groups, by group number."""
    order = np.argsort(cluster, kind="stable")
    first = np.r_[True, cluster[order][1:] != cluster[order][:-1]]
    batch = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0)) // size
    return np.split(order, np.flatnonzero(np.diff(batch)) + 1)


def components(one: np.ndarray, other: np.ndarray, count: int) -> np.ndarray:
    """The connected component of each of ``count`` nodes joined by the edges ``one[k]`` -
    ``other[k]``: a graph search, linear, where propagating the least index a neighbour a
    round took n^2 along a chain (40,000 terraced houses round a U-shaped street: 7 s)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(one), bool), (one, other)), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def _each(polygons: np.ndarray, tolerances: np.ndarray) -> np.ndarray:
    """Every polygon simplified on its own (topology-preserving Douglas-Peucker)."""
    import shapely

    simplified = polygons.copy()
    some = tolerances > 0
    simplified[some] = shapely.simplify(polygons[some], tolerances[some],
                                        preserve_topology=True)
    return simplified


def edge_matched(polygons, tolerance: float, exact: bool = False) -> np.ndarray:
    """``polygons`` with the vertices of the polygons they touch (within ``tolerance``)
    inserted into their edges: GDAL's polygonizer leaves a straight edge without the vertex
    where two other regions meet on it (a T-junction), which no coverage tool accepts.
    ``exact``: the polygons are the polygonizer's own coordinates (not reprojected), whose
    T-junction vertices lie exactly on the edges: found by intersection, 2.4x faster than
    by distance."""
    import shapely

    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        return polygons
    # only polygons that meet another can lack its vertices: those whose boxes meet, and
    # where they are few (buildings, not land cover) those that touch (or, by distance, lie
    # a round-off apart: on a rotated grid two pixels' shared edge may not intersect)
    near, other = shapely.STRtree(polygons).query(polygons)
    near, other = near[near != other], other[near != other]
    if len(np.unique(near)) < len(polygons) / 2:
        meet = (shapely.intersects(polygons[near], polygons[other]) if exact else
                shapely.dwithin(polygons[near], polygons[other], tolerance))
        near, other = near[meet], other[meet]
    meeting = np.unique(near)
    if not len(meeting):
        return polygons
    matched = polygons.copy()
    # by batches of whole groups that meet (no vertex is shared beyond its group): the
    # segments, points and trees of all 100,000 buildings at once took 1.45 GB
    # (one batch: no graph search, whose scipy.sparse import alone is ~140 ms and 27 MB)
    batches = [np.arange(len(meeting))] if len(meeting) <= MATCH_BATCH else \
        whole_groups(components(near, other, len(polygons))[meeting], MATCH_BATCH)
    for batch in batches:
        some = meeting[np.sort(batch)]
        near = polygons[some] if exact else _vertices_merged(polygons[some], tolerance)
        matched[some] = _vertices_shared(near, tolerance, exact)
    return matched


MATCH_BATCH = 5000  # polygons whose vertices edge_matched shares at once (~14 KB each)


def _vertices_merged(polygons: np.ndarray, tolerance: float) -> np.ndarray:
    """``polygons`` with vertices closer than ``tolerance`` made one (the least): an
    overlay (--regularize) leaves a vertex 1e-9 from a neighbour's, and snapping each
    polygon to the other's would move them past each other. A polygon that this would
    make invalid is left as it is."""
    import shapely

    coords, owner = shapely.get_coordinates(polygons, return_index=True)
    if not len(coords):
        return polygons
    xy = np.ascontiguousarray(coords).view(np.complex128).ravel()
    vertices, vertex = np.unique(xy, return_inverse=True)
    points = shapely.points(vertices.real, vertices.imag)
    one, other = shapely.STRtree(points).query(points, predicate="dwithin", distance=tolerance)
    if not (one != other).any():
        return polygons
    least = np.arange(len(vertices))
    np.minimum.at(least, one, other)
    while (least[least] != least).any():  # chains of close vertices: all to the least
        least = least[least]
    moved = vertices[least][vertex.ravel()]
    changed = np.unique(owner[moved != xy])
    merged = polygons.copy()
    merged[changed] = shapely.set_coordinates(
        polygons[changed].copy(),
        np.column_stack([moved.real, moved.imag])[np.isin(owner, changed)])
    return np.where(is_valid(merged), merged, polygons)


def _vertices_shared(polygons: np.ndarray, tolerance: float, exact: bool) -> np.ndarray:
    """:func:`edge_matched` of ``polygons`` that all meet another."""
    import shapely

    coords, owner = shapely.get_coordinates(polygons, return_index=True)
    if not len(coords):
        return polygons
    xy = np.ascontiguousarray(coords).view(np.complex128).ravel()  # one value a vertex
    vertices, vertex = np.unique(xy, return_inverse=True)
    # a tree of the outlines' segments, not of whole outlines: each vertex was tested
    # against every segment of an outline whose box holds it (a city's road network, one
    # polygon with thousands of holes: 13 s for 16 MP, n^2)
    segments, polygon_of, start = _segments(polygons)
    tree = shapely.STRtree(segments)
    points = shapely.points(vertices.real, vertices.imag)
    on, segment = (tree.query(points, predicate="intersects") if exact else
                   tree.query(points, predicate="dwithin", distance=tolerance))
    own = np.sort(owner.astype(np.int64) * len(vertices) + vertex.ravel())  # (polygon, vertex)
    wanted = np.unique(polygon_of[segment] * len(vertices) + on)  # by polygon, then vertex
    missing = own[np.searchsorted(own, wanted).clip(0, len(own) - 1)] != wanted
    if not missing.any():
        return polygons
    missed = wanted[missing]
    polygon, on = np.divmod(missed, len(vertices))
    into = _segment_to_insert_into(missed, points, segments, polygon_of, coords[start],
                                   coords[start + 1], tree, tolerance)
    which, group = np.unique(polygon, return_inverse=True)
    easy = np.ones(len(which), bool)
    np.logical_and.at(easy, group, into >= 0)
    easy &= (shapely.get_type_id(polygons[which]) == 3) & ~shapely.has_z(polygons[which])
    matched = polygons.copy()
    if easy.any():
        # GEOS's snapping (shapely.snap) takes a polygon's vertices x its points (one
        # region of 55,000 vertices, 6,800 holes: 9 s); where it would only insert, the
        # points are inserted here
        insert = easy[group]
        matched[which[easy]] = _with_inserted(polygons, coords, owner, which[easy],
                                              start[into[insert]], vertices[on[insert]])
    if not easy.all():
        hard = ~easy[group]
        _, group = np.unique(group[hard], return_inverse=True)
        points = np.column_stack([vertices[on[hard]].real, vertices[on[hard]].imag])
        matched[which[~easy]] = shapely.snap(polygons[which[~easy]],
                                             shapely.multipoints(points, indices=group),
                                             tolerance)
    return matched


def _segment_to_insert_into(missed: np.ndarray, points: np.ndarray, segments: np.ndarray,
                            polygon_of: np.ndarray, first: np.ndarray, second: np.ndarray,
                            tree, tolerance: float) -> np.ndarray:
    """The segment (an index into ``segments``, whose ends are ``first`` and ``second``)
    that GEOS's snapping (``shapely.snap``) would insert each point of ``missed`` (polygon
    * len(points) + point, sorted) into, and do nothing else; -1 where it may do more.

    GEOS snaps every ring of a polygon to each of its snap points: the ring's nearest
    vertex closer than the tolerance moves onto it; else the point is inserted into the
    nearest segment closer than the tolerance (of the ring as snapped so far), or, where
    it lies beyond that segment's end, the end moves onto it. A point within a quarter of
    the tolerance of a segment, more than twice the tolerance from every other segment of
    its polygon (so from its vertices) and, along the segment, from the other points
    inserted into it, is inserted into that segment alone, between the points before and
    after it along the segment, whatever their order."""
    import shapely

    count = len(points)
    vertex = missed % count
    near = np.unique(vertex)
    one, segment = tree.query(points[near], predicate="dwithin", distance=2 * tolerance)
    key = polygon_of[segment] * count + near[one]
    pair = np.searchsorted(missed, key).clip(0, len(missed) - 1)
    mine = missed[pair] == key  # the segments of the point's own polygon
    pair, segment = pair[mine], segment[mine]
    alone = np.flatnonzero(np.bincount(pair, minlength=len(missed)) == 1)
    into = np.full(len(missed), -1)
    into[pair] = segment
    some = alone[shapely.distance(points[vertex[alone]], segments[into[alone]]) < tolerance / 4]
    on = into[some]
    a, b = first[on], second[on]
    xy = shapely.get_coordinates(points[vertex[some]])
    along = ((xy - a) * (b - a)).sum(axis=1) / ((b - a) ** 2).sum(axis=1)
    order = np.lexsort((along, on))
    gap = np.diff(along[order]) * np.hypot(*(b - a)[order][1:].T)
    close = (on[order][1:] == on[order][:-1]) & ~(gap > 2 * tolerance)
    crowded = ~((along > 0) & (along < 1))
    crowded[order[1:][close]] = crowded[order[:-1][close]] = True
    result = np.full(len(missed), -1)
    result[some[~crowded]] = on[~crowded]
    return result


def _with_inserted(polygons: np.ndarray, coords: np.ndarray, owner: np.ndarray,
                   which: np.ndarray, after: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``polygons[which]`` (Polygons; ``coords``, ``owner``: the coordinates of all
    ``polygons``, and the polygon of each) with the ``points`` (complex) inserted, each
    after the coordinate ``after`` (an index into ``coords``), those after one coordinate
    in their order along its segment; the rings, their orientation and first vertices as
    they were."""
    import shapely

    kept = np.isin(owner, which)
    local = np.cumsum(kept) - 1  # the index of each coordinate among those kept
    rings, ring_of = shapely.get_rings(polygons[which], return_index=True)
    ring = np.repeat(np.arange(len(rings)), shapely.get_num_coordinates(rings))
    xy = np.column_stack([points.real, points.imag])
    a, b = coords[after], coords[after + 1]
    along = ((xy - a) * (b - a)).sum(axis=1) / ((b - a) ** 2).sum(axis=1)
    order = np.lexsort((along, after))
    at = local[after[order]] + 1
    ring = np.insert(ring, at, ring[at - 1])
    rings = shapely.linearrings(np.insert(coords[kept], at, xy[order], axis=0), indices=ring)
    return shapely.polygons(rings, indices=ring_of)


def _segments(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments (two-point lines) of ``polygons``' outlines, the polygon (int64 index)
    of each, and the index of its first point in ``shapely.get_coordinates(polygons)``."""
    import shapely

    rings, ring_of = shapely.get_parts(shapely.boundary(polygons), return_index=True)
    coords, index = shapely.get_coordinates(rings, return_index=True)
    same = index[1:] == index[:-1]  # consecutive vertices of one ring
    ends = np.stack([coords[:-1][same], coords[1:][same]], axis=1)
    return (shapely.linestrings(ends), ring_of[index[:-1][same]].astype(np.int64),
            np.flatnonzero(same))


def _simplify_in_steps(polygons: np.ndarray, tolerances: np.ndarray, steps,
                       cell: float) -> np.ndarray | None:
    """Per-class tolerances (:func:`simplify_coverage`), by :func:`cluster_batches`; None
    when the background cannot be made part of the coverage."""
    simplified = polygons.copy()
    for part in cluster_batches(polygons):
        done = _steps_of_batch(polygons[part], tolerances[part], steps, cell)
        if done is None:
            return None
        simplified[part] = done
    return simplified


FEW_HOLES = 100  # holes in the frame's background that GEOS checks quickly (n^2)


def _steps_of_batch(polygons: np.ndarray, tolerances: np.ndarray, steps,
                    cell: float) -> np.ndarray | None:
    """:func:`_simplify_in_steps` of one batch of clusters. The background is what the
    polygons' envelopes (a quarter pixel wider) leave: pieces of a few holes each (one
    background of the whole frame, with every polygon a hole in it, took GEOS's validity
    check n^2: 35 s for 10,000 buildings). Where the polygons cover their frame, with few
    holes left (land cover), the frame's background is taken: the union of 100,000
    envelopes took 2.2 s and made the validity check 2x slower."""
    import shapely

    margin = np.array([-1, -1, 1, 1]) * cell / 4
    whole = shapely.union_all(polygons)
    background = shapely.get_parts(shapely.box(*shapely.total_bounds(polygons) + margin)
                                   .difference(whole))
    if shapely.get_num_interior_rings(background).sum() > FEW_HOLES:
        boxes = shapely.box(*(shapely.bounds(polygons) + margin).T)
        background = shapely.get_parts(shapely.union_all(boxes).difference(whole))
    cover = np.concatenate([polygons, background])
    if not shapely.coverage_is_valid(cover):
        return None
    reach = np.concatenate([tolerances, np.full(len(background), np.inf)])
    for step in steps:
        active = np.flatnonzero(reach >= step)
        cover[active] = shapely.coverage_simplify(cover[active], float(step),
                                                  simplify_boundary=False)
    return cover[: len(polygons)]
