"""Fast writing of many same-shaped GeoTIFF patches: GDAL's own bytes, re-filled.

Creating a GeoTIFF through GDAL costs about 2 ms a file (driver, SRS and tag
set-up, file creation), which dominates cutting a 6000 px orthotile into 576
patches. For uncompressed patches of one shape, dtype, CRS and nodata, GDAL
writes the very same bytes except for the origin (the ModelTiepoint tag) and
the pixels. So GDAL writes the first patches; from them the template learns
where those two live, checks on a second patch that filling its bytes gives
exactly what GDAL wrote (byte for byte), and only then writes the remaining
patches itself. Anything it cannot confirm (another layout, a rotated
transform, compressed data) stays with GDAL.

GDAL lays out one kind of patch otherwise: a strip holding its nodata value alone
(0 where it declares none: a mask's background rows) is left unwritten until the
file closes, then written full-size at the file's end, with other strip offsets
and sizes. Such patches are GDAL's to write, and none is learnt from.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: patches GDAL writes before the template gives up on learning a layout
ATTEMPTS = 8


def _tiepoint(origin: tuple[float, float]) -> bytes:
    """ModelTiepointTag payload, little-endian: raster (0, 0, 0) -> model (x, y, 0)."""
    return struct.pack("<6d", 0.0, 0.0, 0.0, origin[0], origin[1], 0.0)


def _pixels(array: np.ndarray) -> bytes:
    """(bands, rows, cols) as pixel-interleaved little-endian bytes, as GDAL stores them."""
    return np.ascontiguousarray(array.transpose(1, 2, 0), dtype=array.dtype.newbyteorder("<")
                                ).tobytes()


def _layout(data: bytes) -> tuple[int, float | None] | None:
    """(RowsPerStrip, GDAL_NODATA) of the first directory of a little-endian TIFF or
    BigTIFF, or None when it cannot be read or is tiled; rows per strip 0: one strip."""
    try:
        if data[2:4] == b"*\x00":
            (ifd,) = struct.unpack_from("<I", data, 4)
            (count,) = struct.unpack_from("<H", data, ifd)
            entry, size, first = "<HHI", 12, ifd + 2
        elif data[2:4] == b"+\x00":
            (ifd,) = struct.unpack_from("<Q", data, 8)
            (count,) = struct.unpack_from("<Q", data, ifd)
            entry, size, first = "<HHQ", 20, ifd + 8
        else:
            return None
        rows, nodata = 0, None
        for n in range(count):
            at = first + n * size
            tag, kind, values = struct.unpack_from(entry, data, at)
            value_at = at + struct.calcsize(entry)
            if tag == 322:  # TileWidth: tiles, not strips
                return None
            if tag == 278:  # RowsPerStrip: SHORT or LONG
                (rows,) = struct.unpack_from("<H" if kind == 3 else "<I", data, value_at)
            elif tag == 42113:  # GDAL_NODATA, ASCII
                inline = values <= size - struct.calcsize(entry)
                if not inline:
                    (value_at,) = struct.unpack_from(entry[-1], data, value_at)
                nodata = float(data[value_at : value_at + values].rstrip(b"\x00"))
        return rows, nodata
    except (struct.error, ValueError):
        return None


def _empty_strip(array: np.ndarray, rows: int, nodata: float | None) -> bool:
    """Whether a strip of ``array`` (``rows`` rows a strip) holds ``nodata`` alone (0 where
    it is None), which GDAL writes at the file's close, not in place."""
    rows = rows or array.shape[1]
    value = 0 if nodata is None else nodata
    starts = array[0, ::rows, 0]  # each strip's first sample, as GDAL looks first
    candidates = np.isnan(starts) if value != value else starts == value
    for strip in np.flatnonzero(candidates):
        block = array[:, strip * rows : (strip + 1) * rows]
        if value != value:
            if np.isnan(block).all():
                return True
        elif (not block.any()) if value == 0 else (block == value).all():
            return True
    return False


def _unique(data: bytes, part: bytes) -> int:
    """Offset of ``part`` in ``data`` when it occurs exactly once, else -1."""
    first = data.find(part)
    return first if first >= 0 and data.find(part, first + 1) < 0 else -1


class TiffTemplate:
    """Writes same-shaped patches from GDAL-written bytes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "learning"  # -> "ready" or "off"
        self._bytes: bytes | None = None
        self._pixel_at = self._tie_at = -1
        self._key: tuple | None = None
        #: (key, rows per strip, nodata) of GDAL's files: one tuple, read without the lock
        self._layout: tuple | None = None
        self._tries = 0

    def write(self, path: Path, array: np.ndarray, origin: tuple[float, float],
              gdal_write: Callable[[], None]) -> None:
        """Write ``array`` whose top-left corner lies at ``origin`` to ``path``;
        ``gdal_write()`` writes the same file through GDAL."""
        if self.state == "learning":
            if self._other_layout(array):
                gdal_write()  # nothing to learn from it: no need to wait for the lock
                return
            with self._lock:
                if self.state == "learning":
                    gdal_write()
                    self._learn(path.read_bytes(), array, origin)
                    return
        # the layout is read once "ready" is: it is set before, and not changed after
        if self.state == "ready" and (array.shape, array.dtype) == self._key \
                and not self._other_layout(array):
            path.write_bytes(self._fill(array, origin))
        else:
            gdal_write()

    def _other_layout(self, array: np.ndarray) -> bool:
        """Whether GDAL lays ``array`` out otherwise (module docstring)."""
        layout = self._layout
        return layout is not None and (array.shape, array.dtype) == layout[0] \
            and _empty_strip(array, layout[1], layout[2])

    def _fill(self, array: np.ndarray, origin: tuple[float, float]) -> bytes:
        out = bytearray(self._bytes)
        tie = _tiepoint(origin)
        out[self._tie_at : self._tie_at + len(tie)] = tie
        pixels = _pixels(array)
        out[self._pixel_at : self._pixel_at + len(pixels)] = pixels
        return bytes(out)

    def _learn(self, written: bytes, array: np.ndarray, origin: tuple[float, float]) -> None:
        self._tries += 1
        key = (array.shape, array.dtype)
        if self._bytes is None and written[:2] == b"II":
            layout = _layout(written)
            if layout is not None:
                self._layout = (key, *layout)
        layout = self._layout
        if self._other_layout(array):
            self._tries -= 1  # neither learnt from nor checked: GDAL's other layout
            return
        if self._bytes is not None and key == self._key:
            # the check: GDAL's bytes for a second patch must equal the filled template
            self.state = "ready" if self._fill(array, origin) == written else "off"
            return
        if self._bytes is None and layout is not None and key == layout[0]:
            pixel_at = _unique(written, _pixels(array))
            tie_at = _unique(written, _tiepoint(origin))
            overlap = tie_at < pixel_at + array.nbytes and pixel_at < tie_at + 48
            if pixel_at >= 0 and tie_at >= 0 and not overlap:
                self._bytes, self._pixel_at, self._tie_at, self._key = (
                    written, pixel_at, tie_at, key)
                return
        if self._tries >= ATTEMPTS:
            self.state = "off"
