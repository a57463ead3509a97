"""The box of each row's WKT in a large CSV (Google Open Buildings), without parsing it.

GDAL's CSV driver parses every row's WKT before its spatial filter, twice (the extent,
then the features near a tile): 1M footprints, ~8 s. Here pyarrow reads the WKT column
alone, in blocks, and each row's box is taken from the numbers of its text: for 2D
POLYGON, MULTIPOLYGON, LINESTRING and MULTILINESTRING text whose numbers are two a
position (a position per comma, plus one). Any other row (Z, M, EMPTY, curves, broken
text) is "unknown": its box is for GDAL to find, so none is ever guessed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the WKT this module takes the box of: 2D polygons or lines, numbers and brackets only
SHAPE = r"^\s*(MULTI)?(POLYGON|LINESTRING)\s*\(\s*[-+0-9.eE,()\s]*\)\s*$"
#: bytes of CSV parsed at a time
BLOCK = 16 * 2**20

_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789.")] = True
_NUMBER = _DIGIT.copy()
_NUMBER[list(b"+-")] = True


class Unread(Exception):
    """A CSV pyarrow does not read as GDAL would (GDAL reads it then)."""


def wkt_boxes(local: Path, gzipped: bool, column: str) -> tuple[list, np.ndarray, np.ndarray]:
    """The column names of the CSV ``local`` (``gzipped``), and for each row the box
    (minx, miny, maxx, maxy) of its WKT in ``column`` (NaN: none, or unknown) and whether
    it is unknown (text other than 2D polygons or lines of the form :data:`SHAPE` says, or
    numbers out of place); empty text is no geometry. Unread for what pyarrow cannot read
    (text that is not UTF-8, a row of another number of columns...)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    boxes, unknown = [], []
    compression = "gzip" if gzipped else None
    try:
        with pa.input_stream(str(local), compression=compression) as stream:
            names = list(pcsv.open_csv(stream, read_options=pcsv.ReadOptions(
                block_size=2**20, use_threads=False)).schema.names)
        with pa.input_stream(str(local), compression=compression) as stream:
            reader = pcsv.open_csv(
                stream, read_options=pcsv.ReadOptions(block_size=BLOCK),
                convert_options=pcsv.ConvertOptions(include_columns=[column],
                                                    column_types={column: pa.string()}))
            for batch in reader:
                found, odd = _boxes(batch.column(0))
                boxes.append(found)
                unknown.append(odd)
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise Unread(str(exc)) from None
    if not boxes:
        return names, np.empty((0, 4)), np.empty(0, dtype=bool)
    return names, np.concatenate(boxes), np.concatenate(unknown)


def _boxes(column) -> tuple[np.ndarray, np.ndarray]:
    """The boxes of a block's WKT ``column`` (a pyarrow StringArray) and which are
    unknown: its bytes scanned by numpy, the numbers cast by pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    boxes = np.full((n, 4), np.nan)
    if n == 0:
        return boxes, np.zeros(0, dtype=bool)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset:column.offset + n + 1].astype(np.int64)
    data_buffer = column.buffers()[2]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.empty(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
    offsets -= offsets[0]
    lengths = np.diff(offsets)
    shaped = pc.fill_null(pc.match_substring_regex(column, SHAPE), False).to_numpy(
        zero_copy_only=False)
    # a number's bytes: digits, '.', signs, and e/E after a digit or '.' (not LINESTRING's)
    number = _NUMBER[data]
    after_digit = np.concatenate([[False], _DIGIT[data[:-1]]])
    number |= ((data == ord("e")) | (data == ord("E"))) & after_digit
    first = number.copy()
    first[1:] &= ~number[:-1]
    starts = offsets[:-1][lengths > 0]
    first[starts] = number[starts]  # a row's first byte begins its first number
    counts = _per_row(first, offsets)
    commas = _per_row(data == ord(","), offsets)
    good = shaped & (counts == 2 * (commas + 1))
    unknown = ~good & (lengths > 0)
    if not good.any():
        return boxes, unknown
    kept = number & np.repeat(good, lengths)
    text = data[kept]
    begins = np.flatnonzero(first[kept])
    bounds = np.concatenate([begins, [len(text)]]).astype(np.int32)
    numbers = pa.StringArray.from_buffers(len(begins), pa.py_buffer(bounds),
                                          pa.py_buffer(text.tobytes()))
    try:
        values = pc.cast(numbers, pa.float64()).to_numpy()
    except pa.ArrowInvalid:  # "1.2.3", "5-": GDAL says what such text is
        raise Unread("a number pyarrow cannot read") from None
    x, y = values[0::2], values[1::2]
    positions = counts[good] // 2
    at = np.concatenate([[0], np.cumsum(positions)[:-1]])
    boxes[good] = np.column_stack([np.minimum.reduceat(x, at), np.minimum.reduceat(y, at),
                                   np.maximum.reduceat(x, at), np.maximum.reduceat(y, at)])
    return boxes, unknown


def _per_row(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many of ``flags`` each row (between ``offsets``) holds."""
    return np.diff(np.searchsorted(np.flatnonzero(flags), offsets))
