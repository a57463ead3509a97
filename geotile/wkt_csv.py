"""The box of each row's WKT in a large CSV (Google Open Buildings), without parsing it.

GDAL's CSV driver parses every row's WKT before its spatial filter, twice (the extent,
then the features near a tile): 1M footprints, ~8 s. Here pyarrow reads the WKT column
alone, in blocks, and each row's box is taken from the numbers of its text: for 2D
POLYGON, MULTIPOLYGON, LINESTRING and MULTILINESTRING text whose numbers are two a
position (a position per comma, plus one). Any other row (Z, M, EMPTY, curves, broken
text) is "unknown": its box is for GDAL to find, so none is ever guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: a number as GDAL's WKT reader takes it (a '-', never a '+', before it) and pyarrow casts
_N = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_W = r"[ \t\r\n]*"
#: positions between brackets ("(x y, x y)"), and brackets of such lists, GDAL's nesting
_LIST = rf"\({_W}{_N}[ \t\r\n]+{_N}(?:{_W},{_W}{_N}[ \t\r\n]+{_N})*{_W}\)"
_LISTS = rf"\({_W}{_LIST}(?:{_W},{_W}{_LIST})*{_W}\)"
_POLYGONS = rf"\({_W}{_LISTS}(?:{_W},{_W}{_LISTS})*{_W}\)"
#: the WKT this module takes the box of: 2D polygons or lines, brackets nested as their
#: kind's (GDAL refuses others), numbers two a position
SHAPE = (rf"^{_W}(?:LINESTRING{_W}{_LIST}|(?:POLYGON|MULTILINESTRING){_W}{_LISTS}"
         rf"|MULTIPOLYGON{_W}{_POLYGONS}){_W}$")
#: values GDAL's typed (AUTODETECT_TYPE) columns read without a warning: integers, reals
TYPED = {"integer": r"^(?:-?[0-9]{1,9})?$", "integer64": r"^(?:-?[0-9]{1,18})?$",
         "real": rf"^(?:{_N})?$"}
#: bytes of CSV parsed at a time
BLOCK = 16 * 2**20

_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789.")] = True
_NUMBER = _DIGIT.copy()
_NUMBER[list(b"+-")] = True


class Unread(Exception):
    """A CSV pyarrow does not read as GDAL would (GDAL reads it then)."""


#: bytes of whole lines from the top kept for GDAL (which types columns from the first
#: 100,000: AUTODETECT_SIZE_LIMIT) when it reads the rows near the regions
HEAD = 2**20


@dataclass
class Near:
    """A CSV's rows near some boxes: ``rows`` (0-based), their ``boxes`` (NaN where
    ``unknown``), the ``extent`` of the rows' known boxes, ``count`` rows in all, the
    column ``names``; ``head`` (bytes: the header and the whole lines of about
    :data:`HEAD` bytes, ``head_rows`` rows) and the ``lines`` of the rows past it, None
    where lines are not rows one to one (quoted line breaks, blank lines)."""

    names: list
    rows: np.ndarray
    boxes: np.ndarray
    unknown: np.ndarray
    extent: np.ndarray
    count: int
    head: bytes
    head_rows: int
    lines: list | None


def rows_near(local: Path, gzipped: bool, column: str, regions: list,
              typed: dict | None = None) -> Near:
    """The rows of the CSV ``local`` (``gzipped``) whose WKT in ``column`` has a box
    meeting one of ``regions`` (boxes: minx, miny, maxx, maxy), or an unknown box (text
    other than 2D polygons or lines of the form :data:`SHAPE` says, or numbers out of
    place); empty text is no geometry. Unread for what pyarrow cannot read (text that is
    not UTF-8, a row of another number of columns...), or a value of the columns ``typed``
    (name: a key of :data:`TYPED`) GDAL would warn of, a row of its own."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from geotile.geojson_lines import opened

    rows, boxes, unknown, lines = [], [], [], []
    extent = np.array([np.inf, np.inf, -np.inf, -np.inf])
    names, head, head_rows, count, rest, aligned = None, b"", 0, 0, b"", True
    import pyarrow.compute as pc

    typed = typed or {}
    included = [column, *typed]
    convert = pcsv.ConvertOptions(include_columns=included,
                                  column_types={name: pa.string() for name in included})
    try:
        with opened(local, gzipped) as handle:
            while True:
                data = handle.read(BLOCK)
                block = rest + data
                cut = block.rfind(b"\n") + 1 if data else len(block)
                block, rest = block[:cut], block[cut:]
                if not block:
                    if data:
                        continue
                    break
                ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n")) + 1
                ends = ends if block.endswith(b"\n") else np.append(ends, len(block))
                starts = np.concatenate([[0], ends[:-1]])
                skip = 0
                if names is None:  # the header: the first line
                    names = pcsv.read_csv(pa.py_buffer(block[:ends[0]])).schema.names
                    top = int(np.searchsorted(ends, HEAD)) + 1
                    head, head_rows, skip = block[:ends[min(top, len(ends)) - 1]], \
                        min(top, len(ends)) - 1, 1
                table = pcsv.read_csv(pa.py_buffer(block), read_options=pcsv.ReadOptions(
                    column_names=names, skip_rows=skip), convert_options=convert)
                text = table.column(column).combine_chunks()
                for name, kind in typed.items():
                    values = table.column(name)
                    if len(values) and not pc.all(pc.match_substring_regex(
                            values, TYPED[kind])).as_py():
                        raise Unread(f"a value of {name} GDAL reads with a warning")
                aligned &= len(text) == len(ends) - skip
                found, odd = _boxes(text)
                close = odd.copy()
                for x0, y0, x1, y1 in regions:
                    close |= (found[:, 0] <= x1) & (found[:, 2] >= x0) & \
                        (found[:, 1] <= y1) & (found[:, 3] >= y0)
                if (~np.isnan(found[:, 0])).any():
                    extent = np.concatenate([np.fmin(extent[:2], np.nanmin(found[:, :2], 0)),
                                             np.fmax(extent[2:], np.nanmax(found[:, 2:], 0))])
                chosen = np.flatnonzero(close)
                rows.append(chosen + count)
                boxes.append(found[chosen])
                unknown.append(odd[chosen])
                if aligned:
                    lines += [block[starts[i]:ends[i]] for i in (chosen + skip).tolist()]
                count += len(text)
                if not data:
                    break
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise Unread(str(exc)) from None
    if names is None:
        raise Unread("no header")
    rows = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    boxes = np.concatenate(boxes) if boxes else np.empty((0, 4))
    unknown = np.concatenate(unknown) if unknown else np.empty(0, dtype=bool)
    return Near(list(names), rows, boxes, unknown, extent, count, head, head_rows,
                lines if aligned else None)


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
