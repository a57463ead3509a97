"""Supervisely's bitmap objects: ``{"data": base64, "origin": [x, y]}``, ``data`` a
zlib-compressed PNG of the object's box (older files: the PNG itself, not compressed), read
as Supervisely's ``Bitmap.base64_2_data`` reads it (OpenCV, every channel kept): the alpha
channel of a PNG with one (RGBA, grey and alpha, a palette or RGB with transparency, tRNS),
else the grey values; a PNG of colours without transparency is none of Supervisely's (it
refuses it). An older uncompressed PNG is inside where any band is not 0. Its top-left
pixel lies at ``origin`` (column, row: whole pixels, floored as Supervisely's PointLocation).

An ``alpha_mask`` object holds its ``bitmap`` so too, its PNG read grey as AlphaMask's
base64_2_data reads it (cv2.IMREAD_GRAYSCALE: a grey+alpha PNG's alpha dropped; an older
uncompressed one through PIL: grey only), the grey an opacity 0..255; its pixels are those
of opacity > 0, as its get_mask and the instance masks of Supervisely's "Export as masks"
draw it (its convert to a bitmap keeps only opacity 255; its machine masks blend class
indices). A PNG of colours or of 16 bits is refused.

The PNG's header is read first: a box reaching past the image, or a compressed stream
inflating past what a PNG of that box can hold (a zlib bomb), is refused before anything is
decoded.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.short_repr import short_repr

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: bytes of a PNG's signature and IHDR chunk (its size and colour type)
_HEAD = 33
#: bytes a PNG may hold beside its pixels (text, ICC profile...) when inflated
_SLACK = 1 << 20


def bitmap_shape(where: str, title: str, bitmap, size: tuple[int, int]):
    """The pixels of a bitmap object as polygons (their edges ``MASK_INSET`` inside) in
    the pixel coordinates of its image of ``size`` (width, height); None when it has no
    pixel. InputError in one line for one that is broken or reaches past the image."""
    return _read(where, title, "a bitmap", bitmap, size, _mask)


def alpha_mask_shape(where: str, title: str, bitmap, size: tuple[int, int]):
    """The pixels of an alpha_mask object (``bitmap`` as a bitmap's: its PNG an opacity
    0..255) of opacity > 0, as polygons as :func:`bitmap_shape`'s; None when it has none."""
    return _read(where, title, "an alpha_mask", bitmap, size, _opacity)


def _read(where: str, title: str, what: str, bitmap, size: tuple[int, int], pixels):
    """The polygons of ``bitmap`` (``what`` names its object, "a bitmap"), its PNG's
    pixels as ``pixels`` (:func:`_mask` or :func:`_opacity`) gives them; None for none."""
    if not isinstance(bitmap, dict) or not isinstance(bitmap.get("data"), str):
        raise InputError(f"{where} ({title!r}) is {what} without 'bitmap': {{'data', "
                         "'origin'}. Fix or remove it.")
    x0, y0 = _origin(where, title, bitmap.get("origin"))
    png, compressed = _png(where, title, bitmap["data"], x0, y0, size)
    return _shape(pixels(where, title, png, compressed), x0, y0)


def _shape(mask: np.ndarray, x0: int, y0: int):
    """A bitmap's pixels (``mask`` at column x0, row y0) as polygons, None for none."""
    from affine import Affine
    from rasterio.features import shapes

    from geotile.labelme_labels import MASK_INSET

    if not mask.any():
        return None
    part = mask.astype(np.uint8)
    polygons = [shapely.geometry.shape(g) for g, _ in shapes(
        part, mask=mask, transform=Affine.translation(x0, y0))]
    return shapely.buffer(shapely.union_all(polygons), -MASK_INSET, join_style="mitre")


def _origin(where: str, title: str, origin) -> tuple[int, int]:
    from geotile.labelme_labels import MOST_RADIUS

    if (not isinstance(origin, list) or len(origin) != 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in origin)
            or not all(abs(v) <= MOST_RADIUS for v in origin)):  # NaN too
        shown = short_repr(origin)
        raise InputError(f"{where} ({title!r}) is a bitmap of origin {shown}; give [x, y], "
                         "its top-left pixel's column and row (within "
                         f"{MOST_RADIUS} px). Fix or remove it.")
    return math.floor(origin[0]), math.floor(origin[1])


def _png(where: str, title: str, text: str, x0: int, y0: int,
         size: tuple[int, int]) -> tuple[bytes, bool]:
    """(the PNG's bytes, whether they were zlib-compressed), its header checked against the
    image before the rest is inflated."""
    try:
        raw = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{where} ({title!r}) is a bitmap whose data is not base64 "
                         f"({exc}). Fix or remove it.") from None
    inflater = zlib.decompressobj()
    try:
        head = inflater.decompress(raw, _HEAD)
        compressed = True
    except zlib.error:  # an older file: the PNG itself
        head, compressed = raw[:_HEAD], False
    if len(head) < _HEAD or not head.startswith(_SIGNATURE) or head[12:16] != b"IHDR":
        raise InputError(f"{where} ({title!r}) is a bitmap whose data is no PNG (nor a "
                         "zlib-compressed one). Fix or remove it.")
    width, height = struct.unpack(">II", head[16:24])
    if min(x0, y0) < 0 or width < 1 or height < 1 or x0 + width > size[0] \
            or y0 + height > size[1]:
        raise InputError(f"{where} ({title!r}) is a bitmap of {width}x{height} px at "
                         f"({x0}, {y0}), not within its image of {size[0]}x{size[1]} px. Fix "
                         "or remove it.")
    if not compressed:
        return raw, False
    most = (8 * width + 1) * height + _SLACK  # 16-bit RGBA, filter bytes, stored blocks
    try:
        rest = inflater.decompress(inflater.unconsumed_tail, most)
    except zlib.error as exc:
        raise InputError(f"{where} ({title!r}) is a bitmap whose compressed data is broken "
                         f"({exc}). Fix or remove it.") from None
    if inflater.unconsumed_tail:
        raise InputError(f"{where} ({title!r}) is a bitmap inflating past {most:,} bytes, "
                         f"more than a PNG of {width}x{height} px holds (a broken or hostile "
                         "file). Fix or remove it.")
    return head + rest, True


def png_chunks(png: bytes) -> dict[bytes, bytes]:
    """The chunks before the pixels (IHDR, PLTE, tRNS...), by type."""
    found, at = {}, len(_SIGNATURE)
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            break
        found.setdefault(kind, png[at + 8:at + 8 + length])
        at += 12 + length
    return found


def _read_bands(where: str, title: str, png: bytes) -> np.ndarray:
    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile

    from geotile.no_georef import quiet_rasterio

    try:
        with quiet_rasterio(), MemoryFile(png) as memory, memory.open() as src:
            return src.read()
    except (RasterioIOError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{where} ({title!r}) is a bitmap whose PNG does not read "
                         f"({first}). Fix or remove it.") from None


def _opacity(where: str, title: str, png: bytes, compressed: bool) -> np.ndarray:
    """An alpha mask's pixels of opacity > 0, as Supervisely's AlphaMask.base64_2_data reads
    it (compressed: cv2.IMREAD_GRAYSCALE, a grey+alpha PNG's alpha dropped; older,
    uncompressed: PIL, grey only) and its get_mask draws it (every opacity above 0). A PNG
    of colours or of 16 bits, which it would turn grey by its own rounding, is refused."""
    colour, depth = png[25], png[24]
    if colour not in ((0, 4) if compressed else (0,)) or depth > 8:
        raise InputError(f"{where} ({title!r}) is an alpha_mask whose PNG is of colour type "
                         f"{colour}, {depth} bits; Supervisely writes alpha masks as 8-bit "
                         "grey PNGs (the grey value the opacity). Fix or remove it.")
    return _read_bands(where, title, png)[0] != 0


def _mask(where: str, title: str, png: bytes, compressed: bool) -> np.ndarray:
    """The bitmap's pixels inside, as Supervisely reads them."""
    chunks = png_chunks(png)
    colour = chunks[b"IHDR"][9]
    transparency = chunks.get(b"tRNS")
    if colour == 2 and transparency is not None and len(transparency) < 6:
        transparency = None  # broken: libpng ignores it
    if compressed and colour in (2, 3) and transparency is None:
        raise InputError(f"{where} ({title!r}) is a bitmap PNG of colours without "
                         "transparency; Supervisely's bitmaps are its alpha (or one grey "
                         "band). Fix or remove it.")
    bands = _read_bands(where, title, png)
    if not compressed:  # Supervisely: numpy.any over the channels
        return bands.any(axis=0)
    if colour == 3:  # a palette: each entry's alpha (tRNS; entries past it opaque)
        alpha = np.full(256, 255, np.uint8)
        alpha[:len(transparency)] = np.frombuffer(transparency[:256], np.uint8)
        return alpha[bands[0]] != 0
    if colour == 2:  # RGB: transparent where it is tRNS' colour
        key = np.array(struct.unpack(">3H", transparency[:6]))[:, None, None]
        return ~(bands[:3] == key).all(axis=0)
    if colour in (4, 6):  # grey and alpha, RGBA: the alpha band
        return bands[-1] != 0
    return bands[0] != 0  # grey
