"""GeoJSON text sequences (one Feature a line) near some regions, in one streaming pass.

Microsoft's building footprints ship as .csv.gz files of GeoJSON lines, millions of
footprints a file. GDAL's GeoJSONSeq driver reads such a file whole at every open (its
extent, then the tile's features: two passes; every feature into memory for several
tiles). Here each line is parsed by ``json``, its box taken from its coordinates, and only
the features whose box meets a region's box are parsed by GEOS and kept, in file order (the
later feature on top), with the extent, field names and class values of the whole file.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from geotile.errors import InputError
from geotile.gc_pause import gc_paused

#: bytes decompressed and split into lines at a time
BLOCK = 16 * 2**20
#: features near the regions parsed by GEOS at a time
CHUNK_FEATURES = 20_000


class LeftToGDAL(Exception):
    """A sequence this reader does not take (RFC 8142 record separators, text that is not
    UTF-8, a line that is no Feature): GDAL's GeoJSONSeq driver reads it."""


def numbered_lines(path: Path, gzipped: bool) -> Iterator[tuple[int, str]]:
    """(line number from 1, text) of each line of ``path`` (gunzipped), past a UTF-8
    byte-order mark."""
    with (gzip.open if gzipped else open)(path, "rb") as handle:
        rest, number, first = b"", 0, True
        while data := handle.read(BLOCK):
            if first:
                data, first = data.removeprefix(codecs.BOM_UTF8), False
                if data.lstrip()[:1] == b"\x1e":
                    raise LeftToGDAL()
            data = rest + data if rest else data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            try:
                text = data[:cut].decode("utf-8")
            except UnicodeDecodeError:
                raise LeftToGDAL() from None
            for line in text.split("\n")[:-1]:
                number += 1
                yield number, line
        if rest.strip():
            try:
                yield number + 1, rest.decode("utf-8")
            except UnicodeDecodeError:
                raise LeftToGDAL() from None


def _points(geometry: dict) -> list:
    """The positions of a GeoJSON geometry (TypeError, KeyError... where it is no
    geometry)."""
    kind, coordinates = geometry["type"], geometry.get("coordinates")
    if kind == "Polygon" or kind == "MultiLineString":
        return [p for ring in coordinates for p in ring]
    if kind == "MultiPolygon":
        return [p for polygon in coordinates for ring in polygon for p in ring]
    if kind == "LineString" or kind == "MultiPoint":
        return list(coordinates)
    if kind == "Point":
        return [coordinates] if coordinates else []
    if kind == "GeometryCollection":
        return [p for part in geometry["geometries"] for p in _points(part)]
    raise ValueError(kind)


def read_near(path: Path, gzipped: bool, boxes: list | None, crs, class_field: str | None,
              name) -> object:
    """Labels of the features of the sequence ``path`` whose box meets one of ``boxes``
    (None: all), in ``crs``; ``name`` is the file as the user gave it (for messages).
    InputError naming the line for a line that is no JSON; LeftToGDAL for what GDAL reads
    instead."""
    from geotile.labels import _StreamState

    state = _StreamState(class_field)
    names, values = state.names, state.values
    x0 = y0 = float("inf")
    x1 = y1 = float("-inf")
    features: list = []
    texts: list = []
    numbers: list = []
    index = 0
    loads = json.loads
    with gc_paused():  # millions of lists and floats, none in a cycle
        for number, line in numbered_lines(path, gzipped):
            try:
                feature = loads(line)
            except ValueError as exc:
                if not line.strip():
                    continue
                raise InputError(f"{name}: line {number} is not JSON ({exc}); each line must "
                                 "be one GeoJSON Feature. Fix or delete that line.") from None
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise LeftToGDAL()
            properties = feature.get("properties")
            if isinstance(properties, dict):
                names.update(dict.fromkeys(properties))
                if class_field is not None:
                    values[properties.get(class_field)] = None
            elif class_field is not None:
                values[None] = None
            geometry = feature.get("geometry")
            near = False
            if geometry is not None:
                try:
                    points = _points(geometry)
                    xs = [p[0] for p in points]
                    ys = [p[1] for p in points]
                    if xs:
                        bx0, by0, bx1, by1 = (float(min(xs)), float(min(ys)), float(max(xs)),
                                              float(max(ys)))
                        x0, y0 = min(x0, bx0), min(y0, by0)
                        x1, y1 = max(x1, bx1), max(y1, by1)
                        near = boxes is None or any(
                            bx0 <= b[2] and bx1 >= b[0] and by0 <= b[3] and by1 >= b[1]
                            for b in boxes)
                except (TypeError, KeyError, IndexError, ValueError, AttributeError):
                    near = True  # GEOS reads it, or says why it cannot
            if near:
                features.append(feature)
                texts.append(line)
                numbers.append(index)
                if len(features) >= CHUNK_FEATURES:
                    state.keep(features, texts, numbers, boxes, name)
                    features, texts, numbers = [], [], []
            index += 1
        state.keep(features, texts, numbers, boxes, name)
    state.count = index
    state.bounds = [x0, y0, x1, y1]
    return state.labels(crs, class_field)
