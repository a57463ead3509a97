"""Buildings (and roads) a SpaceNet CSV holds cut at image edges, one piece per ImageId.

``geotile vectorize tiles/ -o proposals.csv`` writes a building that crosses the edge of two
adjacent tiles as one row per image, as SpaceNet scores it (per image, against truth clipped
to each image). Scored against a city's whole buildings, each piece is a polygon of its own:
a perfect prediction of 230 buildings, 81 of them cut into 174 pieces, scores F1 0.80. Such
pieces are polygons of different ImageIds that touch or overlap. A road CSV's lines stop at
the last pixel centre of each image: a road across two images is two lines a pixel apart,
which APLS, against the city's whole roads, scores as a break.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("geotile")


#: the share of a piece's area a polygon of the other file covers to hold it
COVERED = 0.5


def cut_pieces(frame, whole=None) -> tuple[int, int]:
    """(pieces, buildings): how many polygons of ``frame`` touch or overlap one of another
    ``ImageId``, and how many groups (buildings) they make; (0, 0) without that column.
    ``whole`` (the other file's polygons, in ``frame``'s CRS): only the buildings of which
    one of them covers pieces of two images (a whole building; per-chip pieces, as SpaceNet's
    own truth holds them, match piece by piece)."""
    import shapely

    from geotile.touching_union import groups

    if "ImageId" not in frame.columns or not len(frame):
        return 0, 0
    geometries = np.asarray(frame.geometry.values, dtype=object)
    one, other = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    images = frame["ImageId"].astype(str).to_numpy()
    apart = images[one] != images[other]
    one, other = one[apart], other[apart]
    if not len(one):
        return 0, 0
    cut = np.unique(np.concatenate([one, other]))
    label = groups(one, other, len(geometries))
    if whole is not None:
        cut = cut[np.isin(label[cut], _held_whole(geometries[cut], images[cut], label[cut],
                                                  whole))]
    return len(cut), len(np.unique(label[cut]))


def _held_whole(pieces, images, labels, whole) -> np.ndarray:
    """The ``labels`` (buildings) of ``pieces`` of which one polygon of ``whole`` covers
    :data:`COVERED` of pieces of two ``images`` or more."""
    import shapely

    whole = np.asarray(whole, dtype=object)
    if not len(whole):
        return np.array([], labels.dtype)
    piece, polygon = shapely.STRtree(pieces).query(whole, predicate="intersects")[::-1]
    try:
        shared = shapely.area(shapely.intersection(pieces[piece], whole[polygon]))
    except shapely.errors.GEOSException:  # a self-crossing polygon: cut, as before
        return np.unique(labels)
    held = shared >= COVERED * shapely.area(pieces[piece])
    piece, polygon = piece[held], polygon[held]
    spanned = [labels[piece[polygon == p]][0] for p in np.unique(polygon)
               if len(set(images[piece[polygon == p]])) > 1]
    return np.unique(np.asarray(spanned, labels.dtype))


def warn_if_cut(frame, path, other, other_frame=None, truth: bool = False) -> None:
    """Warn, in one line, when ``frame`` (read from the SpaceNet CSV ``path``, the truth
    where ``truth``) holds buildings cut at image edges and is scored against ``other``, a
    file of whole ones (``other_frame``, its polygons: those it holds whole)."""
    from geotile.plurals import counted

    whole = None
    if other_frame is not None:
        from geotile.crs_identity import one_crs

        if frame.crs is not None and other_frame.crs is not None \
                and not one_crs(other_frame.crs, frame.crs, ellipsoid_only=True):
            other_frame = other_frame.to_crs(frame.crs)
        whole = other_frame.geometry.values
    pieces, buildings = cut_pieces(frame, whole)
    if pieces and truth:  # SpaceNet's own truth: per image is the way, not whole buildings
        log.warning("%s: %d of its %d polygons are pieces of %s cut at image edges, one row "
                    "per ImageId as SpaceNet scores per image: against %s each piece is "
                    "scored alone. Score per image: give the predictions as a SpaceNet CSV "
                    "too (vectorize CHIPS/ -o proposals.csv).", path, pieces, len(frame),
                    counted(buildings, "building"), other)
    elif pieces:
        log.warning("%s: %d of its %d polygons are pieces of %s cut at (or repeated "
                    "across) image edges, one row per ImageId as SpaceNet scores per image: "
                    "against %s each piece is scored alone. For whole buildings vectorize "
                    "the rasters (overlapping ones: their mosaic, predict --merge) to .gpkg "
                    "or .geojson; per image, score against a SpaceNet CSV truth.", path,
                    pieces, len(frame),
                    counted(buildings, "building"), other)


def cut_lines(lines, images, gap: float, whole=None) -> int:
    """How many of ``lines`` have an end within ``gap`` of a line of another image
    (``images``: each line's ImageId); with ``whole`` (the other file's lines, in their
    CRS), only ends where none of those ends within 2 ``gap`` (per-chip roads, as SpaceNet's
    own truth holds them, are cut alike)."""
    import shapely

    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return 0
    images = np.asarray(images).astype(str)
    tree = shapely.STRtree(lines)
    ends = None
    if whole is not None:
        whole = np.asarray(whole, dtype=object)
        whole = whole[shapely.get_type_id(whole) == 1]  # LineStrings' ends
        ends = shapely.STRtree(np.concatenate([shapely.get_point(whole, 0),
                                               shapely.get_point(whole, -1)]))
    cut = set()
    for end in (0, -1):
        points = shapely.get_point(lines, end)
        one, other = tree.query(points, predicate="dwithin", distance=gap)
        apart = images[one] != images[other]
        one, other = one[apart], other[apart]
        if ends is not None and len(one):
            alike = np.unique(ends.query(points[one], predicate="dwithin",
                                         distance=2 * gap)[0])
            keep = ~np.isin(np.arange(len(one)), alike)
            one, other = one[keep], other[keep]
        cut.update(one.tolist())
        cut.update(other.tolist())
    return len(cut)


def warn_if_lines_cut(lines, images, gap: float, path, other, whole=None,
                      truth: bool = False) -> None:
    """Warn, in one line, when the road CSV ``path``'s ``lines`` (placed, with their
    ``images``; the truth where ``truth``) hold roads cut at image edges (ends ``gap``
    apart) and APLS scores them against ``other``, a file of whole roads (``whole``: its
    lines, in ``lines``' CRS)."""
    cut = cut_lines(lines, images, gap, whole)
    if cut and truth:  # SpaceNet's own truth: per image is the way
        log.warning("%s: %d of its %d lines end at image edges a pixel from another image's "
                    "line (roads cut there, one line per ImageId, as SpaceNet scores per "
                    "image): against %s APLS counts each cut as a break. Score per image: "
                    "give the predictions as a SpaceNet road CSV too (vectorize --lines "
                    "CHIPS/ -o proposals.csv).", path, cut, len(lines), other)
    elif cut:
        log.warning("%s: %d of its %d lines end at image edges a pixel from another image's "
                    "line (roads cut there, one line per ImageId, as SpaceNet scores per "
                    "image): against %s APLS counts each cut as a break. For whole roads "
                    "vectorize --lines the rasters (overlapping ones: their mosaic, predict "
                    "--merge) to .gpkg or .geojson; per image, score against a SpaceNet road "
                    "CSV truth.", path, cut,
                    len(lines), other)
