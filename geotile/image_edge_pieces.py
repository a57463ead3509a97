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


def cut_pieces(frame) -> tuple[int, int]:
    """(pieces, buildings): how many polygons of ``frame`` touch or overlap one of another
    ``ImageId``, and how many groups (buildings) they make; (0, 0) without that column."""
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
    return len(cut), len(np.unique(label[cut]))


def warn_if_cut(frame, path, other) -> None:
    """Warn, in one line, when ``frame`` (read from the SpaceNet CSV ``path``) holds
    buildings cut at image edges and is scored against ``other``, a file of whole ones."""
    from geotile.plurals import counted

    pieces, buildings = cut_pieces(frame)
    if pieces:
        log.warning("%s: %d of its %d polygons are pieces of %s cut at (or repeated "
                    "across) image edges, one row per ImageId as SpaceNet scores per image: "
                    "against %s each piece is scored alone. For whole buildings vectorize "
                    "the rasters (overlapping ones: their mosaic, predict --merge) to .gpkg "
                    "or .geojson; per image, score against a SpaceNet CSV truth.", path,
                    pieces, len(frame),
                    counted(buildings, "building"), other)


def cut_lines(lines, images, gap: float) -> int:
    """How many of ``lines`` have an end within ``gap`` of a line of another image
    (``images``: each line's ImageId)."""
    import shapely

    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return 0
    images = np.asarray(images).astype(str)
    tree = shapely.STRtree(lines)
    cut = set()
    for end in (0, -1):
        points = shapely.get_point(lines, end)
        one, other = tree.query(points, predicate="dwithin", distance=gap)
        apart = images[one] != images[other]
        cut.update(one[apart].tolist())
        cut.update(other[apart].tolist())
    return len(cut)


def warn_if_lines_cut(lines, images, gap: float, path, other) -> None:
    """Warn, in one line, when the road CSV ``path``'s ``lines`` (placed, with their
    ``images``) hold roads cut at image edges (ends ``gap`` apart) and APLS scores them
    against ``other``, a file of whole roads."""
    cut = cut_lines(lines, images, gap)
    if cut:
        log.warning("%s: %d of its %d lines end at image edges a pixel from another image's "
                    "line (roads cut there, one line per ImageId, as SpaceNet scores per "
                    "image): against %s APLS counts each cut as a break. For whole roads "
                    "vectorize --lines the rasters (overlapping ones: their mosaic, predict "
                    "--merge) to .gpkg or .geojson; per image, score against a SpaceNet road "
                    "CSV truth.", path, cut,
                    len(lines), other)
