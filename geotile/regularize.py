"""Building outlines squared (--regularize): each outline redrawn along its dominant wall
direction with right angles and straight walls, a coverage's buildings kept off each
other and joined along the walls they share; which classes count as buildings."""

from __future__ import annotations

import numpy as np

from geotile.class_keys import class_key
from geotile.coverage import components
from geotile.errors import InputError, check_range
from geotile.quiet_warnings import is_valid


def regularize_polygon(polygon, cell: float):
    """Orthogonal outline along the polygon's dominant direction, holes kept.

    The outline (:func:`_regularize_outline`) and each hole (regularised the same way,
    as a polygon of its own) are done apart; the holes are then cut out of the outline,
    so a courtyard stays a courtyard. Should a regularised hole cut the building in
    two, the holes are cut as they were.
    """
    import shapely

    if not isinstance(polygon, shapely.Geometry):
        raise InputError(f"regularize_polygon: {type(polygon).__name__} is no geometry; give "
                         "a shapely Polygon.")
    check_range("cell", cell, 0, low_open=True, required=True)
    if polygon.is_empty or polygon.area == 0 or polygon.geom_type != "Polygon":
        return polygon
    outline = _regularize_outline(shapely.Polygon(polygon.exterior), cell)
    if not polygon.interiors:
        return outline
    for holes in ([_regularize_outline(shapely.Polygon(ring), cell)
                   for ring in polygon.interiors],
                  [shapely.Polygon(ring) for ring in polygon.interiors]):
        cut = outline.difference(shapely.union_all(holes))
        if cut.geom_type == "Polygon" and is_valid(cut) and not cut.is_empty:
            return cut
    parts = list(shapely.get_parts(cut))
    return max(parts, key=lambda part: part.area) if parts else outline


def _regularize_outline(polygon, cell: float):
    """:func:`regularize_polygon` of a polygon without holes.

    A polygon of four corners that fills most of its minimum rotated rectangle (and is not
    thin) is that rectangle (walls moved in to keep the area). Others are re-drawn with
    every edge parallel or perpendicular to their :func:`dominant_direction` (a long thin
    building's pixel staircase biases it by a degree or two: its rectangle's sides are
    tried too) and keep the rectangle unless that outline matches them clearly better.
    """
    if polygon.is_empty or polygon.area == 0:
        return polygon
    rectangle = polygon.minimum_rotated_rectangle
    if rectangle.geom_type != "Polygon":
        return polygon
    fitted = _fit_rectangle(rectangle, polygon.area)
    fill = polygon.area / rectangle.area
    if fill >= 1 - RECTANGLE_MARGIN:  # it is its rectangle: no outline can match it better
        return fitted  # by the margin
    import shapely

    corners = np.asarray(rectangle.exterior.coords)
    sides = np.hypot(*np.diff(corners[:3], axis=0).T)
    thin = max(sides) >= 4 * min(sides)
    simple = shapely.simplify(polygon, cell)  # the outline squared: its staircase gone
    if simple.geom_type != "Polygon" or simple.is_empty:
        return fitted
    if fill >= 0.85 and not thin and \
            len(shapely.simplify(simple, 2 * cell).exterior.coords) <= 6:
        return fitted  # four corners (five with one cut), not thin: no L or T to keep
    dominant = dominant_direction(polygon, cell)
    best, best_iou = fitted, _iou(fitted, polygon) + RECTANGLE_MARGIN
    angles = [dominant]
    if thin:  # its staircase biases the walls' mean direction: its rectangle's sides too
        side = np.degrees(np.arctan2(*(corners[1] - corners[0])[::-1]))
        along_sides = (side + 45) % 90 - 45
        if abs((dominant - along_sides + 45) % 90 - 45) >= ANGLE_TOLERANCE:
            angles.append(along_sides)
    for angle in angles:
        shape = _rectilinear_at(simple, angle)
        iou = _iou(shape, polygon) if shape is not None else 0.0
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


#: directions closer than this (degrees) give the same squared outline: one is tried
ANGLE_TOLERANCE = 0.5

#: how much better than its rectangle a rectilinear outline must match a polygon (IoU) to
#: be kept instead: a rectangle's pixel outline squared keeps a jog or two of its staircase
RECTANGLE_MARGIN = 0.03


def _iou(a, b) -> float:
    common = a.intersection(b).area
    union = a.area + b.area - common
    return common / union if union > 0 else 0.0


def _rectilinear_at(simple, angle: float):
    """The outline ``simple`` (simplified by a cell) re-drawn with every edge parallel or
    perpendicular to ``angle`` (degrees); None when that fails or matches it poorly."""
    from shapely import affinity

    centre = simple.centroid
    upright = affinity.rotate(simple, -angle, origin=centre)
    rectilinear = _snap_rectilinear(np.asarray(upright.exterior.coords))
    if rectilinear is None or not is_valid(rectilinear) or _iou(rectilinear, upright) < 0.7:
        return None
    return affinity.rotate(rectilinear, angle, origin=centre)


def _snap_rectilinear(ring: np.ndarray):
    """A polygon whose edges are all horizontal or vertical, from a ring in the upright frame.

    Each edge is classed horizontal or vertical by its direction; consecutive edges of one
    class become one wall at their length-weighted mean position; corners are where
    consecutive walls meet.
    """
    import shapely

    edges = np.diff(ring, axis=0)
    lengths = np.hypot(*edges.T)
    keep = lengths > 0
    edges, lengths, starts = edges[keep], lengths[keep], ring[:-1][keep]
    middles = starts + edges / 2
    horizontal = np.abs(edges[:, 0]) >= np.abs(edges[:, 1])
    walls: list[list] = []  # [is_horizontal, weighted position sum, total length]
    for is_h, middle, length in zip(horizontal, middles, lengths, strict=True):
        position = middle[1] if is_h else middle[0]
        if walls and walls[-1][0] == is_h:
            walls[-1][1] += position * length
            walls[-1][2] += length
        else:
            walls.append([is_h, position * length, length])
    if len(walls) > 1 and walls[0][0] == walls[-1][0]:
        first = walls.pop(0)
        walls[-1][1] += first[1]
        walls[-1][2] += first[2]
    if len(walls) < 4 or len(walls) % 2:
        return None
    lines = [(is_h, total / length) for is_h, total, length in walls]
    corners = []
    for (is_h, value), (_, following) in zip(lines, lines[1:] + lines[:1], strict=True):
        corners.append((following, value) if is_h else (value, following))
    return shapely.Polygon(corners)


def dominant_direction(polygon, cell: float) -> float:
    """Main wall direction in degrees, in [-45, 45): the length-weighted mean of the edge
    directions modulo 90 (averaged as 4 * angle on the circle), measured on the outline
    simplified by one cell so that pixel staircases do not vote for the pixel axes."""
    import shapely

    outline = np.asarray(shapely.simplify(polygon, cell).exterior.coords)
    edges = np.diff(outline, axis=0)
    lengths = np.hypot(*edges.T)
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    weights = lengths**2  # long walls decide, short remnants of steps hardly count
    mean = np.arctan2((weights * np.sin(4 * angles)).sum(), (weights * np.cos(4 * angles)).sum())
    return float(np.degrees(mean / 4))


def _fit_rectangle(rectangle, area: float):
    """Move every side of ``rectangle`` in by the same d so that its area becomes ``area``.

    The minimum rotated rectangle of a pixel outline encloses the outermost pixel
    corners; solving (L - 2d)(W - 2d) = area brings the walls back to where the
    pixel area says they are.
    """
    corners = np.asarray(rectangle.exterior.coords)[:3]
    length, width = np.hypot(*np.diff(corners, axis=0).T)
    root = (length + width) ** 2 - 4 * (length * width - area)
    d = ((length + width) - np.sqrt(max(root, 0.0))) / 4
    if d <= 0 or 2 * d >= min(length, width):
        return rectangle
    return rectangle.buffer(-d, join_style="mitre")


#: words that make a class a building for --regularize: a class whose name (as
#: :func:`class_key` gives it) has one of them as a word, such as house, Garages or
#: residential_building, is squared; others (road, tree, water, '1') keep their outlines
BUILDING_CLASSES = frozenset({"building", "buildings", "bldg", "house", "houses", "roof", "roofs",
                              "rooftop", "rooftops", "footprint", "footprints", "garage",
                              "garages", "shed", "sheds", "barn", "barns", "warehouse",
                              "warehouses", "hangar", "hangars", "dwelling", "dwellings"})


def is_building_class(name) -> bool:
    """Whether --regularize squares the polygons of class ``name`` (:data:`BUILDING_CLASSES`),
    whatever other classes there are."""
    return any(word in BUILDING_CLASSES for word in class_key(name).split("_"))


def building_rows(frame) -> np.ndarray:
    """The rows --regularize squares: those of building classes (:func:`is_building_class`;
    an unnamed raster's class 1 is "building", and so is predict's class_1 of a model
    without class names)."""
    if "class" not in frame:
        return np.ones(len(frame), bool)
    ids = frame["class_id"].to_numpy() if "class_id" in frame else np.zeros(len(frame), int)
    return np.array([is_building_class(n) or (i == 1 and class_key(n) == "class_1")
                     for n, i in zip(frame["class"].astype(str), ids, strict=True)], bool)


def regularize_coverage(geometries: np.ndarray, rows: np.ndarray, cell: float) -> np.ndarray:
    """:func:`regularize_polygon` of the polygons at ``rows``, each kept off the others: off
    their pixels (the other polygons as they were), then off the larger regularised ones. A
    polygon left in pieces keeps its largest; one that no longer matches its outline (IoU
    below 0.7: a triangle squared, half of it given up to a neighbour), whose area changed
    by more than :data:`REGULARIZE_AREA_CHANGE`, or is invalid, keeps its outline as it was
    (which no other polygon covers). Buildings sharing walls (a terrace) are kept off each
    other's squared shapes, not pixels, and the slits squaring opens between them go to
    the neighbour along them (:func:`_close_party_walls`), so they keep sharing the walls."""
    import shapely

    regular = {i: regularize_polygon(geometries[i], cell) for i in np.flatnonzero(rows)
               if geometries[i] is not None}
    originals = shapely.STRtree(geometries)
    mates = _terraces(geometries, list(regular))
    for i, shape in regular.items():  # never onto another polygon's pixels
        hits = [j for j in originals.query(shape, predicate="intersects")
                if j != i and mates.get(j, -1) != mates.get(i)]
        if hits:
            regular[i] = shape.difference(shapely.union_all(geometries[hits]))
    order = sorted(regular, key=lambda i: -geometries[i].area)  # larger ones first
    shapes = shapely.STRtree([regular[i] for i in order])
    out = geometries.copy()
    for rank, i in enumerate(order):
        hits = [order[k] for k in shapes.query(regular[i], predicate="intersects") if k < rank]
        shape = regular[i].difference(shapely.union_all(out[hits])) if hits else regular[i]
        shape = largest_polygon(shape)
        area = geometries[i].area
        if shape is not None and is_valid(shape) and \
                shape.intersection(geometries[i]).area >= 0.7 * shape.union(geometries[i]).area \
                and abs(shape.area - area) <= REGULARIZE_AREA_CHANGE * area:
            out[i] = shape
        elif i in mates:  # its pixels, less what larger neighbours squared over
            near = [j for j in order[:rank] if mates.get(j) == mates[i]
                    and shapely.intersects(out[j], geometries[i])]
            kept = largest_polygon(geometries[i].difference(shapely.union_all(out[near])))
            if kept is not None:
                out[i] = kept
    return _close_party_walls(out, geometries, mates, cell) if mates else out


def close_class_walls(out: np.ndarray, geometries: np.ndarray, rows: np.ndarray,
                       cell: float, extent=None) -> np.ndarray:
    """Each strip a squared building gave up that polygons enclose (a wall moved off its
    staircase along a tree or road: pixels of no class), given to the polygon of another
    class it shares the longest edge with; strips open to the background stay squared away,
    and slivers of the overlays' round-off (under a hundredth of a pixel) stay as they are.
    ``extent`` (the rasters' surface) closes strips along its edge too, and those beside
    buildings only there go back to the building (cut by the edge, not walled); squared
    polygons are clipped to it. Returns ``out`` itself where nothing changed (a copy
    otherwise)."""
    import shapely

    others = np.flatnonzero(~rows & ~shapely.is_missing(geometries))
    buildings = np.flatnonzero(rows & ~shapely.is_missing(geometries))
    if not len(others) or not len(buildings):
        return out
    out = clipped(out, extent)  # first: strips are snapped onto the walls at the edge
    near = np.unique(shapely.STRtree(geometries[others]).query(
        geometries[buildings], predicate="intersects")[0])
    if not len(near):
        return out
    pixels = shapely.union_all(geometries[buildings[near]])  # of buildings beside others
    around = shapely.STRtree(geometries).query(pixels, predicate="intersects")
    strips = shapely.get_parts(pixels.difference(shapely.union_all(out[around])))
    current, given = shapely.STRtree(out), np.array(out, dtype=object)
    width = 1e-3 * cell  # a band this wide round each strip: what lies beside it
    for strip in strips[shapely.area(strips) > 0.01 * cell**2]:  # not an overlay's sliver
        beside = strip.buffer(width, join_style="mitre").difference(strip)
        # the rasters' edge closes a strip: beyond it lies no background, the land goes on
        edge = extent is not None and not extent.contains(beside)
        if edge:
            beside = beside.intersection(extent)
        hits = current.query(beside, predicate="intersects")
        shared = shapely.area(shapely.intersection(given[hits], beside))
        # an edge beside nothing, or a hundredth of a pixel of it: the strip opens onto the
        # background (diagonal edges overlaid leave no common line to measure, a band does)
        if beside.area - shared.sum() > 0.01 * cell * width:
            continue
        if not edge or (~rows[hits] & (shared > 0.01 * cell * width)).any():
            shared[rows[hits]] = 0
        if shared.max(initial=0) <= 0.01 * cell * width:
            continue  # along buildings only (another class at a corner at most)
        k = hits[int(np.argmax(shared))]
        # snapped onto it first: along a slanted (simplified) edge the overlays leave the
        # strip a round-off off the polygon, and the union two parts
        joined = largest_polygon(shapely.union(given[k], shapely.snap(strip, given[k], width)))
        if joined is not None and is_valid(joined):
            given[k] = joined
    return clipped(out if all(a is b for a, b in zip(given, out, strict=True)) else given,
                    extent)


def clipped(out: np.ndarray, extent) -> np.ndarray:
    """``out`` cut to ``extent`` (None: as it is): a building tilted by squaring reached
    2.7 cm past the rasters' edge (and neighbours matched to its vertices a round-off).
    ``out`` itself where all lie within (a copy otherwise). ``extent`` is prepared (a drone
    ortho's ragged valid area: tens of thousands of vertices, tested once per polygon)."""
    import shapely

    if extent is None:
        return out
    shapely.prepare(extent)
    outside = np.flatnonzero(~shapely.is_missing(out))
    outside = outside[~shapely.covers(extent, out[outside])]
    if not len(outside):
        return out
    out = out.copy()
    out[outside] = [largest_polygon(shape) or shape for shape in
                    shapely.intersection(out[outside], extent)]
    return out


def largest_polygon(shape):
    """``shape`` if a Polygon, else its largest polygon (None without one)."""
    import shapely

    if shape.geom_type == "Polygon":
        return shape
    parts = [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area) if parts else None


def _terraces(geometries: np.ndarray, buildings: list[int]) -> dict[int, int]:
    """Buildings that share a wall (an edge of positive length) with another: index ->
    the first index of its terrace (those touching no other building are left out)."""
    import shapely

    if len(buildings) < 2:
        return {}
    polygons = geometries[buildings]
    left, right = shapely.STRtree(polygons).query(polygons, predicate="touches")
    walls = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True)
             if a < b and shapely.length(shapely.intersection(polygons[a], polygons[b])) > 0]
    if not walls:
        return {}
    one, other = np.array(walls).T
    terrace = components(one, other, len(polygons))
    first = np.full(len(polygons), len(polygons))
    np.minimum.at(first, terrace, np.arange(len(polygons)))  # each terrace's least index
    return {buildings[k]: buildings[first[terrace[k]]]
            for k in dict.fromkeys(k for wall in walls for k in wall)}


def _close_party_walls(out: np.ndarray, geometries: np.ndarray, mates: dict[int, int],
                       cell: float) -> np.ndarray:
    """Each slit narrower than a pixel between squared buildings of one terrace (walls moved
    apart when each was fitted on its own), where no other polygon lies, given to the
    building it shares the longest edge with."""
    import shapely

    terraces: dict[int, list[int]] = {}
    for i, first in mates.items():
        terraces.setdefault(first, []).append(i)
    others = shapely.STRtree(geometries)
    width = 0.45 * cell
    for members in terraces.values():
        union = shapely.union_all(out[members])
        closed = union.buffer(width, join_style="mitre").buffer(-width, join_style="mitre")
        slits = closed.difference(union)
        near = [j for j in others.query(slits, predicate="intersects") if j not in mates
                or mates[j] != mates[members[0]]]
        if near:
            slits = slits.difference(shapely.union_all(geometries[near]))
        # the members a slit touches: of a tree of them as they were, or grown since
        current = out[members]
        walls, grown = shapely.STRtree(current), np.zeros(len(members), bool)
        for slit in shapely.get_parts(slits):
            near = np.union1d(walls.query(slit), np.flatnonzero(grown))
            near = near[shapely.intersects(current[near], slit)]
            shared = np.zeros(len(members))
            shared[near] = shapely.length(shapely.intersection(
                slit.boundary, shapely.boundary(current[near])))
            if (shared > 0).sum() < 2:
                continue  # a notch of one building's outline: squared away, as alone
            k = members[int(np.argmax(shared))]
            joined = largest_polygon(shapely.simplify(shapely.union(out[k], slit), 0))
            if joined is not None:  # the overlay's round-off: a wall out and back
                joined = _without_spikes(joined, cell * 1e-6)
            if joined is not None and is_valid(joined):
                out[k] = current[members.index(k)] = joined
                grown[members.index(k)] = True
    return out


def _without_spikes(polygon, tolerance: float):
    """``polygon`` without spikes: a vertex whose two edges leave it the same way (one end
    within ``tolerance`` of the other edge's line: a closed slit's edge along a neighbour's
    wall, out and back) goes, as does a vertex within ``tolerance`` of the one before; None
    where the outline collapses."""
    import shapely

    rings = []
    for ring in [polygon.exterior, *polygon.interiors]:
        points = np.asarray(ring.coords)[:-1]
        spike = True
        while spike and len(points) > 3:
            before, after = np.roll(points, 1, 0) - points, np.roll(points, -1, 0) - points
            short, long = np.sort([np.hypot(*before.T), np.hypot(*after.T)], axis=0)
            cross = np.abs(before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0])
            spikes = (short <= tolerance) | (((before * after).sum(1) > 0) &
                                             (cross <= tolerance * long))
            spike = bool(spikes.any())
            points = np.delete(points, np.argmax(spikes), 0) if spike else points
        rings.append(points)
    if len(rings[0]) < 3:
        return None
    return shapely.Polygon(rings[0], [ring for ring in rings[1:] if len(ring) >= 3])


#: how much --regularize may change a polygon's area (a fraction) before it keeps its pixels'
#: outline: a squared outline losing a notch a neighbour holds would otherwise shrink twice
#: and leave a gap no polygon covers
REGULARIZE_AREA_CHANGE = 0.05
