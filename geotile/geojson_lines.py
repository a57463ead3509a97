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
import contextlib
import gzip
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from geotile.errors import InputError
from geotile.gc_pause import gc_paused

#: bytes decompressed and split into lines at a time
BLOCK = 16 * 2**20
#: features near the regions parsed by GEOS at a time
CHUNK_FEATURES = 20_000
#: lines without their coordinates remembered a block, read once each
SEEN = 100_000


class LeftToGDAL(Exception):
    """A sequence this reader does not take (RFC 8142 record separators, text that is not
    UTF-8, a line that is no Feature): GDAL's GeoJSONSeq driver reads it."""


#: the names of GeoJSON text sequences in a zip (Microsoft's Uganda.geojsonl.zip)
SEQUENCE_SUFFIXES = (".geojsonl", ".geojsons")


def zip_sequence(path: Path) -> str | None:
    """The name of the one file of the zip ``path`` when it is a GeoJSON text sequence
    (Microsoft's older per-country Uganda.geojsonl.zip); None otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")
                     and not n.startswith("__MACOSX/")]
    except (OSError, zipfile.BadZipFile):
        return None
    if len(names) == 1 and names[0].lower().endswith(SEQUENCE_SUFFIXES):
        return names[0]
    return None


@contextlib.contextmanager
def opened(path: Path, gzipped: bool):
    """``path`` open for reading bytes: gunzipped, or the sequence a .zip holds."""
    if gzipped:
        with gzip.open(path, "rb") as handle:
            yield handle
    elif path.suffix.lower() == ".zip" and (member := zip_sequence(path)):
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            yield handle
    else:
        with open(path, "rb") as handle:
            yield handle


def line_blocks(path: Path, gzipped: bool) -> Iterator[list[str]]:
    """The lines of ``path`` (gunzipped), a block of them at a time, past a UTF-8
    byte-order mark."""
    with opened(path, gzipped) as handle:
        rest, first = b"", True
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
            yield text.split("\n")[:-1]
        if rest.strip():
            try:
                yield [rest.decode("utf-8")]
            except UnicodeDecodeError:
                raise LeftToGDAL() from None


#: a geometry's coordinates (numbers and brackets only), read apart from the rest of its line
COORDINATES = re.compile(r'"coordinates"\s*:\s*(\[[-+0-9.eE,\s\[\]]*\])')
#: a position of one number, or of three or more (x, y and z...), or an empty array
ODD_POSITION = re.compile(r"\[[^\[\],]*(?:\]|,[^\[\],]*,)")


def _positions(coordinates) -> list:
    """The positions of GeoJSON ``coordinates`` nested at any depth."""
    if not coordinates or not isinstance(coordinates[0], list):
        return [coordinates] if coordinates else []
    return [p for part in coordinates for p in _positions(part)]


def _points(geometry: dict) -> list:
    """The positions of a GeoJSON geometry (TypeError, KeyError... where it is none)."""
    if geometry["type"] == "GeometryCollection":
        return [p for part in geometry["geometries"] for p in _points(part)]
    return _positions(geometry["coordinates"])


def _box(points: list) -> tuple:
    """(minx, miny, maxx, maxy) of ``points``; NaNs for none."""
    if not points:
        return (np.nan,) * 4
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _boxes(texts: list) -> np.ndarray:
    """The boxes of coordinates ``texts`` of two numbers a position (ValueError where one
    is not)."""
    if ODD_POSITION.search(",".join(texts)):
        raise ValueError("a position of other than two numbers")
    flat = [t.replace("[", "").replace("]", "") for t in texts]
    counts = np.array([t.count(",") + 1 for t in flat]) // 2
    numbers = np.array(",".join(flat).split(","), dtype=np.float64)
    if len(numbers) != 2 * counts.sum():
        raise ValueError("numbers out of place")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    x, y = numbers[0::2], numbers[1::2]
    return np.column_stack([np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts),
                            np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts)])


def _no_constant(name: str):
    """Refuse NaN, Infinity and -Infinity, which Python's json takes and JSON has not."""
    raise ValueError(f"{name} is no JSON number")


def collection_refusal(name, number: int) -> InputError:
    """The refusal of a FeatureCollection on line ``number`` of the sequence ``name``: GDAL's
    GeoJSONSeq driver reads none of its features."""
    file = Path(str(name)).name
    split = (f"gunzip -c {file} | jq -c '.features[]'" if file.lower().endswith(".gz") else
             f"jq -c '.features[]' {file}")
    return InputError(f"{name}: line {number} is a FeatureCollection; GeoJSON lines hold one "
                      "Feature a line, and GDAL reads none of a collection's. Split it: "
                      f"{split} > features.geojsonl")


def first_collection(path: Path, gzipped: bool) -> int | None:
    """The number of the first line of ``path`` (gunzipped) that is not blank when it is a
    FeatureCollection (a sequence of them); None otherwise."""
    with opened(path, gzipped) as handle:
        for number, line in enumerate(handle, 1):
            text = line.decode("utf-8", "replace").lstrip("\ufeff\x1e").strip()
            if not text:
                continue
            if '"FeatureCollection"' not in text:
                return None
            try:
                document = json.loads(text)
            except ValueError:
                return None
            found = type(document) is dict and document.get("type") == "FeatureCollection"
            return number if found else None
    return None


class _Reader:
    """The sequence's lines a block at a time: each feature's properties and box, the
    features near the boxes kept in ``state`` (what a streamed GeoJSON keeps:
    :class:`geotile.labels._StreamState`, handed in by its reader)."""

    def __init__(self, state, boxes, class_field, name) -> None:
        self.state = state
        self.boxes, self.class_field, self.name = boxes, class_field, name
        self.scan = json.scanner.make_scanner(json.JSONDecoder(parse_constant=_no_constant))
        self.lines = self.count = 0
        self.extent = np.array([np.inf, np.inf, -np.inf, -np.inf])

    def _parse(self, text: str, number: int):
        """The JSON value ``text`` of line ``number``; InputError naming the line if it is
        none."""
        try:
            value, end = self.scan(text, 0)
            if end == len(text) or not text[end:].strip():
                return value
        except (StopIteration, ValueError):
            pass
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise InputError(f"{self.name}: line {number} is not JSON ({exc}); each line "
                             "must be one GeoJSON Feature. Fix or delete that line.") from None

    def _note(self, feature, number: int) -> None:
        """Count ``feature`` (of line ``number``: a Feature, InputError for a
        FeatureCollection, else LeftToGDAL) and note its property names and class value."""
        if type(feature) is not dict or feature.get("type") != "Feature":
            if type(feature) is dict and feature.get("type") == "FeatureCollection":
                raise collection_refusal(self.name, number)
            raise LeftToGDAL()
        properties = feature.get("properties")
        if type(properties) is dict:
            self.state.names.update(dict.fromkeys(properties))
            if self.class_field is not None:
                self.state.values[properties.get(self.class_field)] = None
        elif self.class_field is not None:
            self.state.values[None] = None

    def block(self, lines: list) -> None:
        kept, numbers, boxes = [], [], []  # of the block's features
        coordinates, placed = [], []  # read apart, for _boxes; their features' places
        unknown = []  # places of features whose geometry GEOS is to read (or refuse)
        search, parse, scan, note = COORDINATES.search, self._parse, self.scan, self._note
        seen = {}  # each line without its coordinates already read: whether it has them
        for number, line in enumerate(lines, self.lines + 1):
            found = search(line)
            if found:  # the line without its coordinates: a short parse
                start, end = found.span(1)
                rest = line[:start] + "0" + line[end:]
                placeable = seen.get(rest)
                if placeable is None:  # (Microsoft's: a few hundred apart a block)
                    try:
                        feature, stop = scan(rest, 0)
                    except (StopIteration, ValueError):
                        stop = -1
                    if stop != len(rest):
                        feature = parse(rest, number)
                    note(feature, number)
                    geometry = feature.get("geometry")
                    placeable = type(geometry) is dict and \
                        type(geometry.get("coordinates")) is int
                    if len(seen) < SEEN:
                        seen[rest] = placeable
                if placeable:
                    coordinates.append(line[start:end])
                    placed.append(len(kept))
                    kept.append(line)
                    numbers.append(number)
                    boxes.append(None)
                    continue
            elif not line.strip():
                continue
            feature = parse(line, number)  # e.g. GeometryCollection, coordinates elsewhere
            self._note(feature, number)
            geometry = feature.get("geometry")
            try:
                box = (np.nan,) * 4 if geometry is None else _box(_points(geometry))
            except (TypeError, KeyError, IndexError, ValueError, AttributeError):
                box = (np.nan,) * 4
                unknown.append(len(kept))
            kept.append(line)
            numbers.append(number)
            boxes.append(box)
        self.lines += len(lines)
        if not kept:
            return
        if coordinates:
            try:
                found = _boxes(coordinates)
            except ValueError:  # each apart: json says which is broken
                found = []
                for place, text in zip(placed, coordinates, strict=True):
                    try:
                        found.append(_box(_positions(parse(text, numbers[place]))))
                    except (TypeError, IndexError, ValueError, AttributeError):
                        found.append((np.nan,) * 4)
                        unknown.append(place)
            for place, box in zip(placed, found, strict=True):
                boxes[place] = box
        self._keep(kept, numbers, np.array(boxes, dtype=np.float64).reshape(-1, 4), unknown)

    def _keep(self, lines: list, numbers: list, boxes: np.ndarray, unknown: list) -> None:
        """Note the block's extent; keep its features near the boxes (or unknown)."""
        from geotile.quiet_warnings import hidden

        with hidden(RuntimeWarning):  # all-NaN: no geometry
            self.extent = np.concatenate([np.fmin(self.extent[:2], np.nanmin(boxes[:, :2], 0)),
                                          np.fmax(self.extent[2:], np.nanmax(boxes[:, 2:], 0))])
        if self.boxes is None:
            near = np.ones(len(boxes), dtype=bool)
        else:
            near = np.zeros(len(boxes), dtype=bool)
            for x0, y0, x1, y1 in self.boxes:
                near |= (boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1) & \
                    (boxes[:, 3] >= y0)
        near[unknown] = True
        places = np.flatnonzero(near)
        for at in range(0, len(places), CHUNK_FEATURES):
            chosen = places[at:at + CHUNK_FEATURES]
            texts = [lines[i] for i in chosen]
            features = [self._parse(t, numbers[i]) for t, i in zip(texts, chosen, strict=True)]
            self.state.keep(features, texts, [self.count + int(i) for i in chosen],
                            self.boxes, self.name)
        self.count += len(lines)


def read_near(state, path: Path, gzipped: bool, boxes: list | None, crs,
              class_field: str | None, name) -> object:
    """Labels of the features of the sequence ``path`` whose box meets one of ``boxes``
    (None: all), in ``crs``, kept in ``state`` (a fresh :class:`geotile.labels._StreamState`);
    ``name`` is the file as the user gave it (for messages). InputError naming the line for
    a line that is no JSON; LeftToGDAL for what GDAL reads instead."""
    reader = _Reader(state, boxes, class_field, name)
    with gc_paused():  # many small lists and floats, none in a cycle
        for lines in line_blocks(path, gzipped):
            reader.block(lines)
    reader.state.count = reader.count
    reader.state.bounds = [float(v) for v in reader.extent]
    return reader.state.labels(crs, class_field)
