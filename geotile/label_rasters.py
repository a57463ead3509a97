"""Label rasters (class indices or colour-coded RGB) as masks on each image's grid.

A label raster is either

- **class indices**: one integer band, 0 background, 1..254 class ids; 255, the
  raster's nodata and the ids past 0 its names call no data (CORINE's 48 'NODATA':
  :func:`~geotile.nodata_names.names_no_data`, as evaluate leaves them out) are the
  ignore value, with a warning for the latter, but a declared nodata 0 is background where the
  raster holds one class id besides (a 0/1 mask of gdal_rasterize -burn 1 -a_nodata 0),
  with a warning (:func:`~geotile.raster_kinds.zero_nodata`). Names come from a class map given
  {"building": 1, ...}, else the raster's GEOTILE_CLASS_NAMES tag, else the ids
  (every mask of a run names every id found under any of its images); the same band
  three times (R = G = B, a grey PNG saved as RGB) is read as that band;
- **a 0/255 binary mask** (INRIA, Massachusetts, DeepGlobe roads; one band, with a colour
  table or not, or the same band three times, uint8): 255 is class 1, as tile and
  evaluate read it; a few strays of other values (resampling, JPEG; under 1 %, fewer than
  the 255s, some of them 128 or more) are read as 1 from 128 up, with a warning; an alpha
  band or nodata marks pixels to ignore, but a declared nodata 0 is the mask's background
  (gdal_rasterize -a_nodata 0), with a warning, as for class ids;
- **colour-coded** (3 or 4 bands, uint8) with a palette {"name": [r, g, b], ...}: the
  k-th entry is class id k (1..K, in the palette's order); an entry named
  ``background`` is id 0 and does not take a number. ``potsdam`` is the ISPRS Potsdam
  / Vaihingen palette (:data:`geotile.palettes.POTSDAM`): impervious_surfaces 1, building 2,
  low_vegetation 3, tree 4, car 5, clutter 6 (clutter/background, red). An entry
  named ``ignore`` (or ``nodata``, ``void``) marks a colour to ignore (255) silently,
  as ``potsdam`` and ``vaihingen`` do black in ISPRS's "noBoundary" label files (by name):
  the eroded class boundaries, which its benchmark leaves unscored. ``deepglobe``,
  ``uavid``, ``dronedeploy``, ``isaid`` and ``second`` are those datasets' palettes
  (:data:`geotile.palettes.PALETTES`).

A colour within :data:`NEAR` (16) in every band of one palette colour takes its class
(JPEG shifts colours), with a warning counting such pixels; one within 16 of two palette
colours (less than 32 apart) could be either and is not snapped. Colours further off are
reported in one warning with their pixel counts and written as ``IGNORE`` (255), as are
pixels where the image or the label raster is nodata, or that the label raster does not
cover; 255 is declared as the mask's nodata.

A label product in tiles (WorldCover's 3x3 degree tiles) is one raster: a VRT of them
(gdalbuildvrt); a tile given as an image (of the label raster's type and colour table, on
its grid beside it) is refused before any mask. Ids a mask cannot hold (uint16 codes past
255: CORINE's 311, Urban Atlas') are refused under every image first; a band named 'label'
among others (a Dynamic World export) is named, not read as band 1.

Alignment: on the image's own grid (same CRS, pixel size and an origin a whole number
of pixels away, the common case) pixels are copied exactly; otherwise each image pixel
takes the label pixel under its centre (nearest neighbour; a centre on a pixel edge, as
on a grid half a pixel off or under labels 2x finer, takes the pixel right of and below
it; in another CRS each centre is transformed exactly by PROJ, not GDAL's warper's
0.125 px approximation). Colours are looked up after sampling, so no colour is ever
blended. Work goes by row bands of the image: memory does not grow with its size.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import numpy as np

from geotile.affine_math import apply
from geotile.class_keys import zero_is_background
from geotile.crs_identity import one_crs
from geotile.errors import GeotileWarning, InputError
from geotile.nodata_classes import refuse_nodata_class
from geotile.palettes import (
    NEAR,
    PALETTES,
    isprs_boundaries,
    near_colours,
    palette_advice,
    sampled_colours,
)
from geotile.quiet_warnings import hidden, quietly
from geotile.raster_kinds import (
    alpha_bands,
    counts_0_255,
    kind_0_255,
    refuse_noisy_grey,
    value_text,
    warn_if_lossy_ids,
    warn_zero_nodata,
    zero_nodata,
)
from geotile.streaming import DEFAULT_BAND_ROWS, BackgroundWriter
from geotile.streaming import band_rows as streamed_band_rows
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

IGNORE = 255
#: palette names whose colour marks pixels to ignore (IGNORE, no warning)
IGNORE_NAMES = ("ignore", "nodata", "void")
#: file name endings read as rasters without opening them (anything else: GDAL decides)
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png", ".jpg", ".jpeg", ".bmp",
                   ".gif", ".webp")
VECTOR_SUFFIXES = (".geojson", ".json", ".shp", ".parquet", ".geoparquet", ".fgb",
                   ".kml", ".gml", ".csv")
#: endings of rasters and vector data alike (a raster GeoPackage, a zipped GeoTIFF or
#: Shapefile): vector when it holds vector layers, else raster when GDAL opens it as one
EITHER_SUFFIXES = (".gpkg", ".zip")


def is_label_raster(path: str | os.PathLike) -> bool:
    """True when ``path`` is a raster (by its ending, else by whether GDAL opens it as one;
    a GeoPackage or .zip holding vector layers is vector data)."""
    suffix = Path(str(path)).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return True
    if suffix in VECTOR_SUFFIXES:
        return False
    if suffix in EITHER_SUFFIXES:
        return not _has_vector_layers(path) and label_raster_source(path) is not None
    return _opens_as_raster(path)


def refuse_raster_folder(path: str | os.PathLike) -> None:
    """InputError for a folder of rasters given as LABELS (Potsdam's 5_Labels_all/): one
    label raster is read. A folder GDAL reads as vector data (Shapefiles) passes."""
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        return
    import shlex

    from geotile.input_files import raster_files

    rasters = raster_files(p for p in folder.iterdir()
                           if p.is_file() and not p.name.startswith("."))
    if not rasters or _has_vector_layers(folder):
        return
    if len(rasters) == 1:
        raise InputError(f"{path} is a folder; LABELS is one label raster (or one vector "
                         f"file). Give the raster it holds: {rasters[0]}")
    said = (f"{path} is a folder of {len(rasters)} rasters; LABELS is one label raster (or one "
            "vector file). Give each image's label raster in a run of its own")
    if any(_plain(r) for r in rasters):  # gdalbuildvrt skips ungeoreferenced images
        raise InputError(f"{said}: they hold no georeferencing, so no mosaic places them. "
                         "Masks on their images' pixels (FloodNet's 6467_lab.png) need no "
                         "make-masks: tile --masks and evaluate take the folder as it is.")
    raise InputError(f"{said}, or mosaic them into one: gdalbuildvrt labels.vrt "
                     f"{shlex.quote(str(folder))}/*{rasters[0].suffix}")


def _plain(path: Path) -> bool:
    """Whether the raster ``path`` has no georeferencing (:func:`geotile.no_georef.unplaced`;
    unreadable: not said here)."""
    from geotile.no_georef import unplaced
    from geotile.raster import open_raster

    try:
        with open_raster(path) as src:
            return unplaced(src)
    except InputError:
        return False


def label_raster_source(path: str | os.PathLike) -> str | None:
    """The path GDAL opens the label raster ``path`` by: ``path`` itself, or for a .zip the
    /vsizip/ path of it (or of the one raster it holds); None when none opens as a raster."""
    text = os.fspath(path)
    candidates = [text]
    if Path(text).suffix.lower() == ".zip":
        local = text[len("/vsizip/"):] if text.startswith("/vsizip/") else text
        archive = f"/vsizip/{Path(local).resolve() if Path(local).is_file() else local}"
        candidates.append(archive)
        candidates += [f"{archive}/{member}" for member in _zipped_rasters(local)]
    return next((c for c in dict.fromkeys(candidates) if _opens_as_raster(c)), None)


def _zipped_rasters(path: str) -> list[str]:
    """The one raster (by its ending) a local .zip holds, as a list; [] when none or many."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if Path(n).suffix.lower() in RASTER_SUFFIXES]
    except (OSError, zipfile.BadZipFile):
        return []
    return names if len(names) == 1 else []


def _opens_as_raster(path: str | os.PathLike) -> bool:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    try:
        with hidden(NotGeoreferencedWarning), rasterio.open(path):
            return True
    except Exception:
        return False


def _has_vector_layers(path: str | os.PathLike) -> bool:
    try:
        from pyogrio import list_layers

        from geotile.input_paths import ogr_path

        # GDAL's notes on a file it cannot read; pyogrio's on a layer of M (PolygonM)
        with hidden(RuntimeWarning, UserWarning):
            return len(list_layers(ogr_path(path))) > 0
    except Exception:
        return False


def read_palette(palette: str | os.PathLike | dict) -> dict[str, int]:
    """A palette as ``{name: colour code}`` (code = r << 16 | g << 8 | b), in class order.

    ``palette``: a built-in name (``potsdam``), a JSON file {"name": [r, g, b] or
    "#rrggbb", ...} or such a dict. InputError naming the file otherwise.
    """
    source = palette
    if isinstance(palette, (str, os.PathLike)) and str(palette).lower() in PALETTES:
        if Path(palette).is_file():  # the user's own palette saved under a built-in's name
            raise InputError(f"--palette {palette}: names both a built-in palette and the "
                             f"file {palette} in this folder. Give ./{palette} for the file, "
                             "or rename the file for the built-in one.")
        palette = PALETTES[str(palette).lower()]
    elif isinstance(palette, (str, os.PathLike)):
        path = Path(palette)
        if not path.exists():
            raise InputError(f"--palette {palette}: no such file, and not a built-in palette "
                             f"({', '.join(PALETTES)}). Give a JSON file "
                             '{"building": [0, 0, 255], ...}.')
        twice: list[str] = []
        try:
            from geotile.json_text import decoded

            palette = json.loads(decoded(path.read_bytes()),
                                 object_pairs_hook=lambda pairs: no_twice(pairs, twice))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f'{path}: not a JSON palette like {{"building": [0, 0, 255]}} '
                             f"({exc}).") from exc
        if twice:  # JSON keeps the last: the first colour was then "not in the palette"
            raise InputError(f"{path}: class {twice[0]!r} is named twice; give each class "
                             "one colour, once.")
    if not isinstance(palette, dict) or not palette:
        raise InputError(f'{source}: a palette is a JSON object {{"building": [0, 0, 255], '
                         "...}, one colour per class.")
    codes: dict[str, int] = {}
    for name, colour in palette.items():
        rgb = _rgb(colour)
        if rgb is None:
            raise InputError(f"{source}: class {name!r} has colour {colour!r}; give [r, g, b] "
                             "with integers 0..255, or \"#rrggbb\".")
        code = rgb[0] << 16 | rgb[1] << 8 | rgb[2]
        if code in codes.values():
            other = next(n for n, c in codes.items() if c == code)
            raise InputError(f"{source}: classes {other!r} and {name!r} have the same colour "
                             f"{list(rgb)}; each class needs its own colour.")
        codes[str(name)] = code
    ids = _palette_ids(list(codes))
    if max((i for i in ids.values() if i != IGNORE), default=0) >= IGNORE:
        raise InputError(f"{source}: {len(codes)} classes; a mask holds ids 1..{IGNORE - 1}.")
    return codes


def no_twice(pairs: list[tuple[str, object]], twice: list[str]) -> dict:
    """A JSON object as a dict, adding to ``twice`` the keys it names more than once."""
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            twice.append(key)
        seen[key] = value
    return seen


def _rgb(colour) -> tuple[int, int, int] | None:
    if isinstance(colour, str) and colour.startswith("#") and len(colour) == 7:
        try:
            return tuple(int(colour[i: i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return None
    if isinstance(colour, (list, tuple)) and len(colour) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in colour):
        return tuple(colour)  # type: ignore[return-value]
    return None


def _palette_ids(names: list[str]) -> dict[str, int]:
    """Class ids of palette names: 1..K in order; ``background`` is 0 and ``ignore``
    (or ``nodata``, ``void``, any name that says no data: GID's 'unknown', 'unlabeled',
    :func:`~geotile.nodata_names.names_no_data`) is IGNORE, neither taking a number."""
    from geotile.nodata_names import names_no_data

    ids, k = {}, 0
    for name in names:
        if name.lower() == "background":
            ids[name] = 0
        elif name.lower() in IGNORE_NAMES or names_no_data(name, 1):
            ids[name] = IGNORE
        else:
            k += 1
            ids[name] = k
    return ids


def palette_class_names(codes: dict[str, int]) -> list[str]:
    """Names indexed by class id (0 background) for a palette from :func:`read_palette`."""
    ids = {n: i for n, i in _palette_ids(list(codes)).items() if i != IGNORE}
    names = ["background"] * (max(ids.values(), default=0) + 1)
    for name, class_id in ids.items():
        names[class_id] = name
    return names


def ignored_colours(codes: dict[str, int]) -> list[int]:
    """Colour codes the palette itself names ``ignore`` (written as IGNORE, no warning)."""
    return [codes[n] for n, i in _palette_ids(list(codes)).items() if i == IGNORE]


#: palettes up to this many colours are matched colour by colour, larger ones by a table
FEW_COLOURS = 24


def colour_lookup(codes: dict[str, int]) -> dict[int, int] | np.ndarray:
    """Colour code -> class id: a dict for a few colours, else a 2**24 table (IGNORE for
    colours outside the palette)."""
    ids = _palette_ids(list(codes))
    if len(codes) <= FEW_COLOURS:
        return {codes[name]: class_id for name, class_id in ids.items()}
    table = np.full(1 << 24, IGNORE, np.uint8)
    for name, class_id in ids.items():
        table[codes[name]] = class_id
    return table


def colours_to_ids(rgb: np.ndarray, table) -> tuple[np.ndarray, np.ndarray]:
    """(ids, colour codes) of a (3, ...) uint8 array through :func:`colour_lookup`'s
    mapping; colours outside the palette are IGNORE."""
    code = rgb[0].astype(np.uint32)
    code <<= 8
    code |= rgb[1]
    code <<= 8
    code |= rgb[2]
    if isinstance(table, np.ndarray):
        return np.take(table, code), code
    ids = np.full(code.shape, IGNORE, np.uint8)
    for colour, class_id in table.items():  # a few compares beat a random-access table
        np.copyto(ids, np.uint8(class_id), where=code == colour)
    return ids, code


class _Snap:
    """Colours off the palette by at most NEAR in every band (JPEG, antialiasing) take the
    class of that palette colour when no other one is within NEAR (else they stay IGNORE: a
    shift of up to NEAR makes them either); counts the pixels so read."""

    def __init__(self, codes: dict[str, int], table):
        self.codes = np.array(list(codes.values()), np.int64)
        self.rgb = np.stack([self.codes >> 16, self.codes >> 8 & 255, self.codes & 255], 1)
        self.ids = colours_to_ids(self.rgb.T.astype(np.uint8), table)[0]
        self.pixels = 0

    def __call__(self, ids: np.ndarray, code: np.ndarray, where: np.ndarray | None) -> None:
        """Snap in place the pixels of ``ids`` (IGNORE) and ``code`` of no palette colour
        (only ``where``, when given: pixels with data)."""
        off = ids == IGNORE  # unknown colours (and the palette's ignore ones)
        if where is not None:
            off &= where
        off = np.nonzero(off)
        if not off[0].size:
            return
        found, inverse = np.unique(code[off], return_inverse=True)
        rgb = np.stack([found >> 16, found >> 8 & 255, found & 255], 1).astype(np.int64)
        best = np.full(found.size, NEAR + 1, np.int64)
        nearest = np.zeros(found.size, np.int64)
        near = np.zeros(found.size, np.int64)  # palette colours within NEAR
        for k, colour in enumerate(self.rgb):  # Chebyshev distance
            distance = np.abs(rgb - colour).max(axis=1)
            near += distance <= NEAR
            closer = distance < best
            best[closer], nearest[closer] = distance[closer], k
        snap = (best > 0) & (near == 1)
        if not snap.any():
            return
        hit = snap[inverse.ravel()]
        where = tuple(axis[hit] for axis in off)
        ids[where] = self.ids[nearest[inverse.ravel()[hit]]]
        code[where] = self.codes[nearest[inverse.ravel()[hit]]]
        self.pixels += int(hit.sum())


# ----------------------------------------------------------------------------- alignment


def check_placeable(labels_path, image_paths) -> None:
    """InputError for the first image the label raster cannot be placed on
    (:func:`placement_refusal`, headers only), before any mask is written."""
    from geotile.input_paths import input_path
    from geotile.raster import open_raster

    with open_raster(input_path(label_raster_source(labels_path) or labels_path)) as label:
        _check_placeable(label, labels_path, image_paths)


def _check_placeable(label, labels_path, image_paths, pixels: bool = False) -> None:
    """:func:`check_placeable`; ``pixels``: a damaged or truncated image too (its first and
    last blocks read)."""
    from geotile.input_paths import input_path
    from geotile.raster import check_pixels_readable, open_raster

    for image_path in map(input_path, image_paths):
        with open_raster(image_path) as image:
            if pixels:
                check_pixels_readable(image)
            refusal = placement_refusal(label, labels_path, image, image_path) or \
                _another_tile(label, labels_path, image, image_path)
        if refusal:
            raise InputError(refusal)


def _another_tile(label, labels_path, image, image_path) -> str | None:
    """Why ``image`` looks like another tile of the label raster (given as an IMAGE:
    make-masks N45E006.tif N45E009.tif ortho.tif), or None: one band of its type, nodata
    and colour table, on its grid and beside it, not under it. Its mask was all the ignore
    value, and the images' masks lacked that tile's labels."""
    from geotile.categories import paletted

    if image.count != 1 or label.count != 1 or image.dtypes[0] != label.dtypes[0] \
            or image.nodata != label.nodata or not (paletted(image) and paletted(label)) \
            or image.colormap(1) != label.colormap(1):
        return None
    offset = _offset(label, image)
    if offset is None or (-image.height < offset[0] < label.height
                          and -image.width < offset[1] < label.width):
        return None  # another grid, or under the label raster
    return (f"{image_path}: a raster of {labels_path}'s type and colour table on its grid, "
            "beside it: another tile of the label raster, not an image? LABELS is one raster: "
            "mosaic the tiles first (gdalbuildvrt labels.vrt TILE...) and give labels.vrt.")


def _pixel_grid(label, image) -> bool:
    """Whether a label raster of the image's size placed nowhere (no CRS, or one without a
    geotransform) is read on the image's own pixel grid."""
    from geotile.no_georef import placed_nowhere

    return (label.width, label.height) == (image.width, image.height) and (
        (label.crs is None and label.transform.is_identity) or placed_nowhere(label))


def placement_refusal(label, labels_path, image, image_path) -> str | None:
    """Why the label raster cannot be placed on ``image`` (one line naming the file and the
    fix), from both headers; None when it can."""
    from geotile.no_georef import (
        orthorectify,
        placed_nowhere,
        rotated_view_refusal,
        sensor_georeferencing,
    )

    if (rotated := rotated_view_refusal(image, label, "label raster")) is not None:
        return rotated
    sizes = (label.width, label.height), (image.width, image.height)
    if label.transform.is_identity and image.transform.is_identity and sizes[0] != sizes[1]:
        return (f"{labels_path} ({sizes[0][0]} x {sizes[0][1]} px) and {image_path} "
                f"({sizes[1][0]} x {sizes[1][1]} px): neither is on a map grid, so the label "
                "raster is read on the image's pixel grid, but their sizes differ. Give a "
                "label raster of the image's size, or georeference both (gdal_edit.py -a_srs "
                "EPSG:xxxx -a_ullr).")
    if placed_nowhere(label) != placed_nowhere(image) and not _pixel_grid(label, image):
        unplaced = labels_path if placed_nowhere(label) else image_path
        return (f"{unplaced}: the raster names a CRS but has no geotransform, so the label "
                "raster cannot be placed on the image. Georeference it (gdal_translate -a_ullr "
                "or -a_gt), or give a label raster of the image's size, read on its pixel grid.")
    if (label.crs is None) != (image.crs is None) and _offset(label, image) is None and not (
            label.transform.is_identity and sizes[0] == sizes[1]):
        missing, src = (labels_path, label) if label.crs is None else (image_path, image)
        sensor = sensor_georeferencing(src)
        if sensor:  # gdal_edit.py -a_srs would only name the CRS of its GCPs
            return (f"{missing}: the raster is georeferenced by {sensor} only (not "
                    "orthorectified), so the label raster cannot be placed on the image. Warp "
                    f"it to a map grid first ({orthorectify(sensor)}), or give a label "
                    "raster on the image's pixel grid.")
        return (f"{missing}: the raster has no CRS, so the label raster cannot be placed on "
                "the image. Assign one with `gdal_edit.py -a_srs EPSG:xxxx`, or give a label "
                "raster on the image's pixel grid.")
    if label.crs is not None and image.crs is not None and not one_crs(label.crs, image.crs):
        return _untransformable(label.crs, labels_path, image.crs, image_path)
    return None


def _warn_inexact_datum(label, labels_path, image_paths) -> None:
    """The vector labels' warning (:func:`geotile.label_set.warn_inexact`) where PROJ moves
    the label raster onto an image's CRS with a less accurate transformation than the best
    (NAD27 without the NADCON grid: 14 m), once per image CRS."""
    from geotile.input_paths import input_path
    from geotile.label_set import warn_inexact
    from geotile.raster import open_raster

    if label.crs is None:
        return
    seen = []
    for image_path in map(input_path, image_paths):
        with open_raster(image_path) as image:
            crs = image.crs
        if crs is not None and not one_crs(crs, label.crs) and crs not in seen:
            seen.append(crs)
            warn_inexact(label.crs, crs, label.bounds, labels_path)


def _untransformable(label_crs, labels_path, image_crs, image_path) -> str | None:
    """Why PROJ cannot take the image's CRS to the label raster's (a local site grid and a
    map CRS share no datum), or None when it can."""
    from pyproj import Transformer
    from pyproj.exceptions import ProjError

    from geotile.proj_grids import crs_name

    try:
        Transformer.from_crs(image_crs.to_wkt(), label_crs.to_wkt(), always_xy=True)
    except ProjError:
        return (f"{labels_path}: its CRS ({crs_name(label_crs)}) cannot be transformed to "
                f"that of {image_path} ({crs_name(image_crs)}): they share no datum (a local "
                "site grid?). Give a label raster in the image's CRS, or both in one map CRS.")
    return None


def _offset(label, image) -> tuple[int, int] | None:
    """(row, col) of the image's origin in the label raster's pixels when both share a
    grid (same CRS, pixel size and axes; origins a whole number of pixels apart), else None."""
    a, b = label.transform, image.transform
    same_crs = label.crs is None or image.crs is None or one_crs(label.crs, image.crs)
    if not same_crs or (a.b, a.d, b.b, b.d) != (0, 0, 0, 0):
        return None
    if not (np.isclose(a.a, b.a, rtol=1e-9, atol=0) and np.isclose(a.e, b.e, rtol=1e-9, atol=0)):
        return None
    col, row = (b.c - a.c) / a.a, (b.f - a.f) / a.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(row), round(col)


def _copy_band(label, offset, top, rows, width, indexes,
               check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Label pixels (bands, rows, width) and their validity for image rows [top, top+rows)
    on the same grid shifted by ``offset``; outside the label raster (and label nodata when
    ``check``): invalid."""
    from rasterio.windows import Window

    from geotile.raster import dataset_valid, read_window

    row0, col0 = top + offset[0], offset[1]
    r1, r2 = max(row0, 0), min(row0 + rows, label.height)
    c1, c2 = max(col0, 0), min(col0 + width, label.width)
    values = np.zeros((len(indexes), rows, width), label.dtypes[0])
    valid = np.zeros((rows, width), bool)
    if r1 < r2 and c1 < c2:
        window = Window(c1, r1, c2 - c1, r2 - r1)
        inner = np.s_[r1 - row0: r2 - row0, c1 - col0: c2 - col0]
        values[(slice(None), *inner)] = read_window(label, window, indexes)
        valid[inner] = dataset_valid(label, window) if check else True
    return values, valid


#: image pixel centres transformed at a time (bounds the temporary coordinate arrays)
CENTRES = 1 << 20


def _warp_band(label, image, top, rows, indexes,
               check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Label pixels under the centres of image rows [top, top+rows) (nearest neighbour;
    label nodata invalid when ``check``):
    each centre is transformed exactly (PROJ, point by point; GDAL's warper approximates
    the transformation to 0.125 px, which gave ~2 % of pixels a neighbouring label pixel)
    and floored to the label pixel it falls in. Only the label pixels hit are read, in one
    window per group of columns (an image astride the antimeridian hits both ends of a
    global label raster: one window spanned the globe)."""
    from geotile.raster import dataset_valid, read_window

    width = image.width
    values = np.zeros((len(indexes), rows, width), label.dtypes[0])
    valid = np.zeros((rows, width), bool)
    cols_at, rows_at = _label_pixels(label, image, top, rows)
    hit = cols_at >= 0
    if not hit.any():
        return values, valid
    cols_hit, rows_hit = cols_at[hit], rows_at[hit]
    picked = np.zeros((len(indexes), cols_hit.size), label.dtypes[0])
    picked_valid = np.zeros(cols_hit.size, bool)
    for window, group in _hit_windows(cols_hit, rows_hit):
        r, c = rows_hit[group] - window.row_off, cols_hit[group] - window.col_off
        picked[:, group] = read_window(label, window, indexes)[:, r, c]
        picked_valid[group] = dataset_valid(label, window)[r, c] if check else True
    values[:, hit] = picked
    valid[hit] = picked_valid
    return values, valid


#: label columns hit further apart than this (and than WINDOW_GAP_STEPS x their usual
#: spacing) are read in separate windows
WINDOW_GAP = 1024
WINDOW_GAP_STEPS = 16


def _hit_windows(cols: np.ndarray, rows: np.ndarray):
    """(Window, boolean selection of the hits) per group of hit label columns, groups split
    at gaps of more than WINDOW_GAP columns (and WINDOW_GAP_STEPS x the median spacing of
    the columns, so that a label raster much finer than the image is not read column by
    column)."""
    from rasterio.windows import Window

    columns = np.unique(cols)
    steps = np.diff(columns)
    gap = max(WINDOW_GAP, WINDOW_GAP_STEPS * int(np.median(steps))) if steps.size else 0
    breaks = np.flatnonzero(steps > gap)
    firsts = [int(columns[0]), *columns[breaks + 1].tolist()]
    lasts = [*columns[breaks].tolist(), int(columns[-1])]
    for c1, c2 in zip(firsts, lasts, strict=True):
        group = (cols >= c1) & (cols <= c2) if len(firsts) > 1 else np.ones(cols.size, bool)
        r1, r2 = int(rows[group].min()), int(rows[group].max())
        yield Window(c1, r1, c2 + 1 - c1, r2 + 1 - r1), group


def _label_pixels(label, image, top, rows) -> tuple[np.ndarray, np.ndarray]:
    """(columns, rows) (int32, rows x image width) of the label pixel under the centre of
    each pixel of image rows [top, top+rows); -1 where no label pixel is (outside the label
    raster, or outside the domain of its CRS's projection)."""
    from rasterio.crs import CRS

    width = image.width
    # no CRS on either side: both in the same (unnamed) coordinates
    src_crs = label.crs or image.crs or CRS.from_epsg(3857)
    dst_crs = image.crs or src_crs
    transformer = None
    if not one_crs(src_crs, dst_crs):
        from pyproj import Transformer

        transformer = Transformer.from_crs(dst_crs.to_wkt(), src_crs.to_wkt(), always_xy=True)
    west = _west_in_degrees(label)
    to_label = ~label.transform
    cols_at = np.full((rows, width), -1, np.int32)
    rows_at = np.full((rows, width), -1, np.int32)
    step = max(1, CENTRES // max(width, 1))
    for first in range(0, rows, step):
        last = min(first + step, rows)
        grid_rows, grid_cols = np.mgrid[top + first: top + last, 0:width]
        xs, ys = apply(image.transform, grid_cols + 0.5, grid_rows + 0.5)
        if transformer is not None:
            xs, ys = transformer.transform(xs, ys, errcheck=False)  # inf where it fails
        if west is not None:  # longitudes into the label's range (-180 is 180 of 179..181)
            with np.errstate(invalid="ignore"):
                xs = west + np.mod(np.asarray(xs) - west, 360.0)
        col, row = apply(to_label, np.asarray(xs), np.asarray(ys))
        col, row = _on_edges(col), _on_edges(row)
        with np.errstate(invalid="ignore"):
            inside = (col >= 0) & (col < label.width) & (row >= 0) & (row < label.height)
        cols_at[first:last][inside] = np.floor(col[inside])
        rows_at[first:last][inside] = np.floor(row[inside])
    return cols_at, rows_at


#: label pixel coordinates this close to a whole number are on a pixel edge (floating
#: point puts a centre half a pixel off, or one of labels 2x finer, a hair either side)
EDGE = 1e-6


def _on_edges(position: np.ndarray) -> np.ndarray:
    """Label pixel coordinates within EDGE of a pixel edge put on it, so that floor gives
    every such centre the pixel right of and below the edge (half-open pixels)."""
    whole = np.rint(position)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(position - whole) <= EDGE, whole, position)


def _west_in_degrees(label) -> float | None:
    """The west edge of a label raster in longitudes (degrees), else None."""
    if label.crs is None or not label.crs.is_geographic:
        return None
    from pyproj import CRS as ProjCRS

    try:
        axis = ProjCRS.from_wkt(label.crs.to_wkt()).axis_info[0]
    except Exception:
        return None
    if axis.unit_name not in ("degree", "degree (supplier to define representation)"):
        return None
    return rasterio_bounds(label.transform, label.width, label.height)[0]


def _band_rows(label, image, rows: int) -> int:
    """Image rows per band when warping, fewer where the label raster is finer than the
    image, so that a band's label pixels stay about ``rows`` x the image's width."""
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    left, bottom, right, top = rasterio_bounds(image.transform, image.width, image.height)
    src_crs = label.crs or image.crs or CRS.from_epsg(3857)
    if image.crs is not None and not one_crs(src_crs, image.crs):
        try:
            left, bottom, right, top = transform_bounds(image.crs, src_crs, left, bottom,
                                                        right, top, densify_pts=21)
        except Exception:  # bounds outside the label CRS's area: the default is fine
            return rows
        from geotile.proj_grids import check_grid_bounds

        check_grid_bounds(rasterio_bounds(image.transform, image.width, image.height),
                          (left, bottom, right, top), image.crs, src_crs, str(label.name))
        if not np.isfinite([left, bottom, right, top]).all():
            return rows
        if right < left and _west_in_degrees(label) is not None:  # astride the antimeridian
            right += 360.0
    cell = abs(label.transform.a * label.transform.e - label.transform.b * label.transform.d)
    ratio = (right - left) * (top - bottom) / cell / max(1, image.width * image.height)
    return max(1, min(rows, int(rows / max(ratio, 1e-9))))


def rasterio_bounds(transform, width: int, height: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a grid, whatever the signs of its pixel size."""
    xs = [transform.c, transform.c + transform.a * width + transform.b * height,
          transform.c + transform.a * width, transform.c + transform.b * height]
    ys = [transform.f, transform.f + transform.d * width + transform.e * height,
          transform.f + transform.d * width, transform.f + transform.e * height]
    return min(xs), min(ys), max(xs), max(ys)


# ----------------------------------------------------------------------------- masks


def label_raster_kind(label, labels_path, palette) -> tuple[list[int], str]:
    """(band indexes to read, "colour", "paletted", "binary", "one-hot" or "index"), or
    InputError saying what to give."""
    from geotile.categories import paletted
    from geotile.hls_files import refuse_fmask
    from geotile.label_band import refuse_label_band
    from geotile.landsat_mtl import refuse_qa_band
    from geotile.one_hot_labels import one_hot_value
    from geotile.raster_kinds import has_class_descriptions, refuse_mixed_types

    refuse_mixed_types(label, "label raster", "give the footprints or a class raster")
    refuse_fmask(label)
    refuse_qa_band(label)
    refuse_label_band(label, labels_path)  # Dynamic World's: not band 1
    if palette is not None:
        if label.count == 1 and label.dtypes[0] == "uint8" and paletted(label):
            return [1], "paletted"  # its colour table gives each index's colour
        if label.count == 1 and paletted(label):
            raise InputError(f"{labels_path}: a {label.dtypes[0]} raster with a colour table; "
                             "--palette reads 8-bit colour tables only. Convert it "
                             "(gdal_translate -ot Byte when its indices are 0..255, or "
                             "gdal_translate -ot Byte -expand rgb), or leave out --palette to read "
                             "its indices as class ids.")
        if label.count < 3 or label.dtypes[0] != "uint8":
            raise InputError(f"{labels_path}: --palette maps RGB colours, but the raster has "
                             f"{label.count} {label.dtypes[0]} band(s) and no colour table. "
                             "Leave out --palette for a raster of class indices.")
        _refuse_grey(label, labels_path, palette)
        _refuse_photo(label, labels_path, palette)
        return [1, 2, 3], "colour"
    if _is_binary_0_255(label, labels_path):
        return [1], "binary"
    if _is_grey(label):  # class ids in R = G = B (a "grey" PNG saved as RGB): band 1
        return [1], "index"
    if one_hot_value(label) is not None:  # DynamicEarthNet's: band k set, class k - 1
        return list(range(1, label.count + 1)), "one-hot"
    named = has_class_descriptions(label)  # bands of roles or classes, not of colours
    if label.count in (3, 4) and label.dtypes[0] == "uint8" and not named:  # RGB(A) colours
        refuse_noisy_grey(label)  # JPEG's grey labels: one band to keep, no palette
        raise InputError(f"{labels_path}: {label.count} bands look like colour-coded labels. "
                         f"Give {palette_advice(label)}.")
    if label.count != 1 and not (label.count == 2 and 2 in alpha_bands(label)):
        # SEN12MS's lc_ rasters: four unnamed schemes (IGBP first) as bands
        bands = f" ({', '.join(label.descriptions)}); give one of them (gdal_translate -b N)" \
            if named else (f"; give the one band of the classes wanted (gdal_translate -b 1 "
                           f"{Path(str(labels_path)).name} band1.tif for band 1)")
        raise InputError(f"{labels_path}: a label raster has one band of class ids, three "
                         "(RGB) with --palette, or one band per class, one class a pixel (a "
                         f"one-hot); this one has {label.count}{bands}.")
    if np.dtype(label.dtypes[0]).kind not in "uif":
        raise InputError(f"{labels_path}: class ids of type {label.dtypes[0]}; give integers.")
    return [1], "index"


#: a colour label raster has at least this share of palette colours (exact, or near:
#: within NEAR in every band; LOSSY_NEAR_SHARE for a JPEG or WebP one) among more than
#: PHOTO_COLOURS distinct colours in a sample of its pixels
PALETTE_SHARE = 0.1
NEAR_SHARE = 0.5
LOSSY_NEAR_SHARE = 0.25
PHOTO_COLOURS = 64


def _refuse_photo(label, labels_path, codes: dict[str, int]) -> None:
    """InputError when an RGB raster given with a palette looks like a photo: many colours,
    and few of its sampled pixels (below PALETTE_SHARE) of a palette colour, or near one
    (within NEAR per band, below NEAR_SHARE, or LOSSY_NEAR_SHARE for JPEG-compressed labels,
    whose message says so). LABELS and IMAGE swapped gave an all-255 mask and "add 59222
    colours to the palette"."""
    colours, counts = sampled_colours(label)
    if len(colours) <= PHOTO_COLOURS:
        return
    palette = np.array(list(codes.values()), np.int32)
    exact = counts[np.isin(colours, palette)].sum() / counts.sum()
    if exact >= PALETTE_SHARE:
        return
    from geotile.raster import lossy_codec

    close = counts[near_colours(colours, palette)].sum() / counts.sum()
    lossy = lossy_codec(label)
    if close >= (LOSSY_NEAR_SHARE if lossy else NEAR_SHARE):
        return
    if lossy:
        raise InputError(f"{labels_path}: {lossy}-compressed, and {100 * close:.1f} % of a "
                         f"sample of its pixels are within {NEAR} of a palette colour, among "
                         f"{len(colours)} distinct colours: a photo, or colour labels {lossy} "
                         "has blurred past reading. Did you swap LABELS and IMAGE (make-masks "
                         "LABELS IMAGE...)? Otherwise export the labels losslessly (PNG, or "
                         "GeoTIFF with COMPRESS=DEFLATE), or check the palette.")
    raise InputError(f"{labels_path}: {100 * exact:.1f} % of a sample of its pixels have a "
                     f"colour of the palette, among {len(colours)} distinct colours: a photo, "
                     "not colour-coded labels. Did you swap LABELS and IMAGE (make-masks LABELS "
                     "IMAGE...)? Otherwise the palette is wrong for these labels.")


def _grey_bands(label) -> list[int] | None:
    """The RGB bands of a uint8 raster of 3 bands, or 4 with an alpha last, else None."""
    from geotile.categories import paletted

    if label.dtypes[0] != "uint8" or label.count not in (3, 4) or paletted(label):
        return None
    if set(alpha_bands(label)) & {1, 2, 3} or (label.count == 4
                                                and 4 not in alpha_bands(label)):
        return None
    return [1, 2, 3]


def _is_grey(label) -> bool:
    """Whether the R, G and B bands of a uint8 raster are equal at every pixel (class ids
    saved as a grey RGB image, as PIL and OpenCV write them): band 1 is then a raster of
    class ids. Exact: read block by block, stopping at the first pixel of colour."""
    bands = _grey_bands(label)
    if bands is None:
        return False
    for _, window in label.block_windows(1):
        block = label.read(bands, window=window)
        if not ((block[0] == block[1]).all() and (block[1] == block[2]).all()):
            return False
    return True


def _refuse_grey(label, labels_path, codes: dict[str, int]) -> None:
    """InputError when an RGB raster given with a palette is grey (R = G = B in a sample of
    its pixels), not only black and white, and none of its sampled pixels has a colour of
    the palette: class ids saved as a grey image, which --palette would write all as
    unknown colours."""
    from geotile.raster import sample_pixels

    if _grey_bands(label) is None:
        return
    sample = sample_pixels(label, [1, 2, 3]).reshape(3, -1).astype(np.int32)
    if not ((sample[0] == sample[1]).all() and (sample[1] == sample[2]).all()):
        return
    if np.isin(sample[0] << 16 | sample[1] << 8 | sample[2], list(codes.values())).any() \
            or np.isin(sample[0], (0, 255)).all():  # black and white are colours too
        return
    values = np.unique(sample[0])
    shown = ", ".join(map(str, values[:8].tolist())) + (", ..." if len(values) > 8 else "")
    raise InputError(f"{labels_path}: its three bands are equal (grey values {shown}), none a "
                     "colour of the palette: a grey mask of class ids, not colour-coded labels. "
                     "Leave out --palette to read band 1 as the class ids.")


def _is_binary_0_255(label, labels_path) -> bool:
    """Whether a label raster is a 0/255 mask (INRIA's, Massachusetts', DeepGlobe's; uint8
    or wider: :func:`~geotile.raster_kinds.counts_0_255`), by the rule tile and evaluate
    use (:func:`~geotile.raster_kinds.kind_0_255`). Strays
    are read as 1 from 128 up, with one warning counting them; strays all below 128 may be
    class ids (255 then the ignore value): read so, with a warning. A declared nodata 0 is
    a mask's background (:func:`~geotile.raster_kinds.zero_nodata`)."""
    counts = counts_0_255(label)
    kind = kind_0_255(counts) if counts is not None else None
    if kind not in ("binary", "low"):
        return False
    high, others = int(counts[255]), int(counts[1:255].sum())
    ranked = np.argsort(-counts[1:255], kind="stable")[:8] + 1
    shown = ", ".join(f"{v}: {counts[v]} px" for v in ranked.tolist() if counts[v])
    if kind == "low":
        warn(f"{labels_path}: 0 and 255 but for {others} pixels of values below 128 "
             f"({shown}): read as class ids, 255 ({high} px) as the ignore value. If "
             "it is a 0/255 mask (255 the positive class), make it one first "
             f"(gdal_calc.py -A {Path(str(labels_path)).name} --outfile mask.tif "
             "--calc \"255*(A>=128)\").", GeotileWarning)
        return False
    if others:
        warn(f"{labels_path}: a 0/255 mask with {others} pixels of other values "
             f"({shown}), as resampling or JPEG leave: read as 1 from 128 up, else 0.",
             GeotileWarning)
    return True


def _zero_is_background(label) -> bool:
    """Whether the declared nodata 0 of a label raster is a class, background
    (:func:`~geotile.raster_kinds.zero_nodata`), not no data."""
    meaning = zero_nodata(label)
    return meaning is not None and meaning.background


def _colour_table(src) -> np.ndarray:
    """(256, 3) uint8: the RGB colour of each index of band 1's colour table."""
    table = np.zeros((256, 3), np.uint8)
    for index, colour in src.colormap(1).items():
        if 0 <= index < 256:
            table[index] = colour[:3]
    return table


class BadClassIds(InputError):
    """Class ids a mask cannot hold (``ids``: distinct, sorted), of one or more row bands."""

    #: bad ids named in the message, at most
    SHOWN = 6

    def __init__(self, labels_path, ids):
        self.labels_path, self.ids = labels_path, np.unique(ids)
        shown = [value_text(v) for v in self.ids[:self.SHOWN]]
        if len(self.ids) == 1:
            text = (f"class id {shown[0]} does not fit a mask (ids 0..254, 255 = ignore). If "
                    f"{shown[0]} marks no data, declare it (gdal_edit.py -a_nodata {shown[0]}).")
        else:
            more = f" and {len(self.ids) - self.SHOWN} more" if len(self.ids) > self.SHOWN \
                else ""
            text = (f"class ids {', '.join(shown)}{more} do not fit a mask (ids 0..254, 255 = "
                    "ignore). Renumber them to 1..254 (gdal_calc.py), or declare the one "
                    "that marks no data (gdal_edit.py -a_nodata) and renumber the others.")
        super().__init__(f"{labels_path}: {text}")


def _index_ids(values: np.ndarray, valid: np.ndarray, labels_path) -> np.ndarray:
    """Class ids (uint8) of an index band; 255 and invalid pixels are IGNORE."""
    band = values[0]
    if band.dtype.kind == "f":
        valid = valid & np.isfinite(band)  # NaN is no class: ignored, as declared nodata
        band = np.where(valid, band, 0)
        if not np.array_equal(band, np.round(band)):
            raise InputError(f"{labels_path}: class ids are not whole numbers. Give a raster "
                             "of integer class ids (or RGB colours with --palette).")
    seen = band[valid]  # checked before IGNORE fills the rest (it wraps to -1 in int8)
    if seen.size and (seen.min() < 0 or seen.max() > IGNORE):
        raise BadClassIds(labels_path, np.unique(seen[(seen < 0) | (seen > IGNORE)]))
    ids = np.full(band.shape, IGNORE, np.uint8)
    ids[valid] = seen
    return ids


def _check_ids_under(label, labels_path, image_paths) -> None:
    """:class:`BadClassIds` for the ids a mask cannot hold (below 0, above 255) that a label
    raster of a wider type than uint8 holds under any image (the window bounding it; where
    found there off the image's grid, under its pixel centres alone), before any mask is
    written: a run stopped at the image under CORINE's code 311 left the masks of the
    images before it."""
    from rasterio.windows import Window

    from geotile.input_paths import input_path
    from geotile.raster import dataset_valid, has_nodata, open_raster, read_window, unmasked_alpha

    if label.dtypes[0] == "uint8":
        return
    check = (has_nodata(label) or bool(unmasked_alpha(label))) and not _zero_is_background(label)
    bad = []
    for image_path in map(input_path, image_paths):
        with open_raster(image_path) as image:
            window = _window_under(label, image)
            if window is None:
                continue
            step = max(1, CENTRES // max(int(window.width), 1))
            found = []
            for top in range(0, int(window.height), step):
                part = Window(window.col_off, window.row_off + top, window.width,
                              min(step, int(window.height) - top))
                band = read_window(label, part, 1)
                valid = dataset_valid(label, part) if check else np.ones(band.shape, bool)
                found.append(_out_of_range(band, valid))
            if any(f.size for f in found) and not _pixel_grid(label, image) \
                    and _offset(label, image) is None:
                # the window bounds the footprint: only the pixels under its centres count
                found = _warped_out_of_range(label, image, check)
            bad.extend(found)
    if bad and any(b.size for b in bad):
        raise BadClassIds(labels_path, np.concatenate(bad))


def _out_of_range(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The distinct valid values of ``band`` a mask cannot hold (below 0, above 255)."""
    if band.dtype.kind == "f":
        valid = valid & np.isfinite(band)
    seen = band[valid]
    return np.unique(seen[(seen < 0) | (seen > IGNORE)])


def _warped_out_of_range(label, image, check: bool) -> list[np.ndarray]:
    """:func:`_out_of_range` of the label pixels under the image's pixel centres, read as
    its mask reads them (:func:`_warp_band`): a window bounding a footprint askew on the
    label grid reaches cells no centre falls in."""
    step = _band_rows(label, image, streamed_band_rows(image.width, DEFAULT_BAND_ROWS))
    found = []
    for top in range(0, image.height, step):
        values, valid = _warp_band(label, image, top, min(step, image.height - top), [1],
                                   check)
        found.append(_out_of_range(values[0], valid))
    return found


def _window_under(label, image):
    """The window of the label raster's pixels under ``image`` (bounding its footprint,
    clipped to the raster), or None: none, or not told cheaply (rotated grids, the
    antimeridian, bounds PROJ cannot transform)."""
    from rasterio.errors import WindowError
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    whole = Window(0, 0, label.width, label.height)
    if _pixel_grid(label, image):
        return whole
    offset = _offset(label, image)
    if offset is not None:
        window = Window(offset[1], offset[0], image.width, image.height)
    elif (label.transform.b, label.transform.d) != (0, 0):
        return None
    else:
        bounds = rasterio_bounds(image.transform, image.width, image.height)
        if image.crs is not None and label.crs is not None and not one_crs(image.crs,
                                                                           label.crs):
            try:
                moved = transform_bounds(image.crs, label.crs, *bounds, densify_pts=21)
            except Exception:
                return None
            from geotile.proj_grids import check_grid_bounds

            check_grid_bounds(bounds, moved, image.crs, label.crs, str(label.name))
            bounds = moved
        if not np.isfinite(bounds).all() or bounds[2] < bounds[0]:
            return None
        window = from_bounds(*bounds, transform=label.transform)
        window = window.round_offsets(op="floor").round_lengths(op="ceil")
    try:
        return window.intersection(whole)
    except WindowError:
        return None


def _nowhere(window) -> None:
    """No --ignore region on any window."""
    return None


def make_masks_from_raster(
    labels_path: str | os.PathLike,
    image_paths: Sequence[str | os.PathLike],
    output_paths: Sequence[str | os.PathLike],
    *,
    palette: str | os.PathLike | dict | None = None,
    class_map: dict[str, int] | None = None,
    creation_options: dict | None = None,
    overwrite: bool = False,
    progress: bool = False,
    complete: Sequence[str] | None = None,
    band_rows: int = DEFAULT_BAND_ROWS,
    ignore=None,
    region_mask=None,
) -> list[dict]:
    """One mask per image from a label raster (see the module's docstring); checked
    creation options (``mask_creation_options``) and outputs are the caller's. Returns
    one summary dict per image. ``complete``: the masks' completion tags (geotile.resume);
    ``band_rows``: image rows per band (fewer where the labels are finer); ``ignore``: each
    image's regions burnt ``IGNORE`` last (:class:`geotile.ignore_regions.IgnoreRegions`),
    by window through ``region_mask(files, image)`` (:class:`geotile.masks.RegionMask`)."""
    from geotile.input_paths import input_path
    from geotile.raster import check_pixels_readable, lossy_codec, open_raster

    if palette is not None and class_map is not None:
        raise InputError(f"{labels_path}: --class-map names the class ids of a raster of class "
                         "indices; with --palette the names come from the palette. Leave out "
                         "--class-map.")
    codes = read_palette(palette) if palette is not None else None
    with open_raster(input_path(label_raster_source(labels_path) or labels_path)) as label:
        check_pixels_readable(label)
        indexes, kind = label_raster_kind(label, labels_path, codes)
        if kind in ("index", "binary"):
            warn_zero_nodata([labels_path], [zero_nodata(label)])
        if kind == "index":
            warn_if_lossy_ids(label, labels_path, "which the masks keep")
        if kind == "binary" and class_map and 0 in class_map.values():
            raise InputError(f"{labels_path}: a 0/255 mask, whose 0 is background: the "
                             "--class-map cannot name id 0. Name its class 1 (255), e.g. "
                             '{"building": 1}.')
        names = _index_names(label, class_map) if codes is None else palette_class_names(codes)
        one_hot = None
        if kind == "one-hot":
            from geotile.one_hot_labels import one_hot_value
            from geotile.raster_kinds import has_class_descriptions

            one_hot = one_hot_value(label)
            if names is None and has_class_descriptions(label):  # band k: class k - 1
                names = list(label.descriptions)
        if codes is None:  # a nodata that is a class would burn that class as ignored
            refuse_nodata_class(label, labels_path, names, "--class-map" if class_map else "")
        table = colour_lookup(codes) if codes is not None else None
        ignore_codes = ignored_colours(codes) if codes is not None else []
        if isprs_boundaries(palette, labels_path):
            ignore_codes.append(0)  # black: ISPRS's eroded boundaries, unscored
        expand = _colour_table(label) if kind == "paletted" else None
        lossy = lossy_codec(label)
        snap = _Snap(codes, table) if codes is not None else None
        # every image before any mask; a damaged one too where there are several
        _check_placeable(label, labels_path, image_paths, pixels=len(image_paths) > 1)
        _warn_inexact_datum(label, labels_path, image_paths)
        if kind == "index":  # every image's ids before any mask (CORINE's 311 under one)
            _check_ids_under(label, labels_path, image_paths)
        unknown: dict[int, int] = {}
        left_out: dict[int, int] = {}  # pixels of ids named no data, by id
        summaries = [
            _mask_one(label, labels_path, input_path(image), Path(output), indexes,
                      (table, ignore_codes, expand, kind == "binary", snap, one_hot), names,
                      unknown,
                      creation_options, overwrite,
                      progress, tag, band_rows, left_out,
                      partial(region_mask, ignore.of(i)) if ignore else None,
                      zero_no_data=_map_names_0_no_data(class_map))
            for i, (image, output, tag) in enumerate(zip(
                image_paths, output_paths, complete or [None] * len(image_paths), strict=True))
        ]
    if snap is not None and snap.pixels:
        cause = (f"its {lossy} compression (lossy) shifted them" if lossy
                 else "antialiasing or resampling may have shifted them")
        warn(f"{labels_path}: {snap.pixels} pixels have a colour within {NEAR} of one "
             f"palette colour, not it ({cause}); they take that colour's class.",
             GeotileWarning)
    if unknown:
        _warn_unknown(labels_path, unknown, len(summaries), lossy)
    if left_out:
        _warn_no_data_ids(labels_path, left_out, names)
    _one_class_list(summaries, names, labels_path, class_map is not None)
    return summaries


def _named_ids(names: list[str] | None, top_id: int) -> list[str]:
    """Names by class id up to ``top_id`` at least: ``names``, the ids past them by number."""
    names = list(names or ["background"])
    return names + [str(i) for i in range(len(names), top_id + 1)]


#: unnamed class ids listed in the warning, at most
UNNAMED_SHOWN = 20


def _one_class_list(summaries: list[dict], names, labels_path, from_class_map: bool) -> None:
    """:func:`same_class_lists`; ids found without a name (GEOTILE_CLASS_NAMES or
    --class-map) are warned of."""
    if not summaries:
        return
    found = sorted({i for s in summaries for i, name in enumerate(s["classes"])
                    if i and s["class_pixels"].get(name)})
    unnamed = [i for i in found if i >= len(names or []) or names[i] == str(i)]
    if names and unnamed:
        source = ("--class-map" if from_class_map
                  else "its class names (GEOTILE_CLASS_NAMES tag or categories)")
        shown = ", ".join(map(str, unnamed[:UNNAMED_SHOWN])) + (
            f" and {len(unnamed) - UNNAMED_SHOWN} more" if len(unnamed) > UNNAMED_SHOWN else "")
        warn(f"{labels_path}: class ids {shown} have no name in {source}; the "
             "masks name them by number. Name every class id the raster holds.",
             GeotileWarning)
    same_class_lists(summaries)


def same_class_lists(summaries: list[dict]) -> None:
    """Give every mask of a run from one label raster the class list of all of them: it
    holds different ids under each image, and each mask names those up to its own highest
    (masks written by other workers, or skipped by --resume, included)."""
    import rasterio

    from geotile.categories import class_colours, write_categories
    from geotile.output_files import changed_in_place

    lists = [s["classes"] for s in summaries if s.get("classes")]
    every = max(lists, key=len, default=None)
    if every is None:
        return
    for summary in summaries:
        classes = summary.get("classes")
        if classes and len(classes) < len(every) and classes == every[:len(classes)]:
            with changed_in_place(summary["output"]), \
                    rasterio.open(summary["output"], "r+") as dst:
                dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(every))
            write_categories(summary["output"], every, class_colours(len(every), every))
            summary["classes"] = every


def _index_names(label, class_map) -> list[str] | None:
    """Names by class id of an index raster: the class map given, else its own
    (:func:`~geotile.raster_kinds.class_names`), else None (names are the ids found). A map
    that does not name id 0 keeps the raster's own name of it (a class: water, land cover),
    unless the map gives that name to another id; else 0 is background."""
    from geotile.class_keys import class_key
    from geotile.label_set import class_map_names
    from geotile.raster_kinds import class_names

    own = class_names(label)  # not raster_kind's: a label raster is no prediction
    if class_map:
        top = max(class_map.values())
        by_id = class_map_names(class_map)
        zero = by_id.get(0)
        if zero is None and own and class_key(own[0]) not in {class_key(n) for n in class_map}:
            zero = own[0]
        return [zero or "background"] + [by_id.get(i, str(i)) for i in range(1, top + 1)]
    return own


def _map_names_0_no_data(class_map) -> bool:
    """Whether a class map names id 0 no data itself ({"nodata": 0, ...}, LandCoverNet's
    label:classes): its 0 is written 255. A map naming no id 0 leaves the raster's own 0
    to its own rule (:func:`~geotile.raster_kinds.zero_nodata`), as without a map."""
    from geotile.label_set import class_map_names
    from geotile.nodata_names import names_no_data

    zero = class_map_names(class_map).get(0) if class_map else None
    return zero is not None and names_no_data(zero)


def _no_data_ids(names: list[str] | None, zero: bool = False) -> np.ndarray:
    """The class ids past 0 whose name says no data (CORINE's 48 'NODATA', a legend's
    'unknown'): a mask ignores them, as evaluate leaves them out; 0 keeps its own rule
    (:func:`~geotile.raster_kinds.zero_nodata`) unless ``zero``: a class map naming it no
    data (a STAC item's label:classes, LandCoverNet's "No Data")."""
    from geotile.raster_kinds import no_data_ids

    low = 0 if zero else 1
    return np.array([i for i in no_data_ids(names) if low <= i < IGNORE], np.uint8)


def _warn_no_data_ids(labels_path, left_out: dict[int, int], names: list[str]) -> None:
    pixels = sum(left_out.values())
    if len(left_out) == 1:
        (i,) = left_out
        text = f"class id {i} is named {names[i]!r} (no data): its {pixels} pixels are"
    else:
        named = ", ".join(f"{i} ({names[i]!r})" for i in sorted(left_out))
        text = f"class ids {named} are named no data: their {pixels} pixels are"
    warn(f"{labels_path}: {text} written as the ignore value {IGNORE}.",
         GeotileWarning)


def _warn_unknown(labels_path, unknown: dict[int, int], images: int,
                  lossy: str | None = None) -> None:
    total = sum(unknown.values())
    ranked = sorted(unknown.items(), key=lambda item: -item[1])
    shown = ", ".join(f"[{c >> 16}, {c >> 8 & 255}, {c & 255}]: {n} px" for c, n in ranked[:8])
    more = f" and {len(ranked) - 8} more" if len(ranked) > 8 else ""
    where = f" over {images} masks" if images > 1 else ""
    fix = (f"The label raster is {lossy}-compressed (lossy): its colours are not exact. "
           "Export the labels losslessly (PNG, or GeoTIFF with COMPRESS=DEFLATE)."
           if lossy else "Add the colours to the palette if they are classes; an entry "
           "named \"ignore\" leaves its colour out silently.")
    warn(f"{labels_path}: {total} pixels{where} have {len(ranked)} colour(s) not in "
         f"the palette ({shown}{more}); they are written as the ignore value "
         f"{IGNORE}. {fix}", GeotileWarning)


def _mask_one(label, labels_path, image_path, output_path, indexes, lookup, names, unknown,
              creation_options, overwrite, progress, complete=None,
              band_rows: int = DEFAULT_BAND_ROWS, left_out: dict | None = None,
              regions=None, zero_no_data: bool = False) -> dict:
    import rasterio
    from rasterio.windows import Window

    from geotile.categories import class_colours, write_categories
    from geotile.no_georef import copy_georeferencing
    from geotile.one_hot_labels import one_hot_ids
    from geotile.output_files import atomic_output
    from geotile.progress import progress_bar
    from geotile.raster import (
        alpha_holds_values,
        check_pixels_readable,
        has_nodata,
        may_hold_nodata,
        open_raster,
        output_profile,
        unmasked_alpha,
        valid_pixels,
    )
    from geotile.resume import completed_as

    table, ignore_codes, expand, binary, snap, one_hot = lookup
    with open_raster(image_path) as image, \
            (regions(image) if regions else nullcontext(_nowhere)) as ignored_regions:
        check_pixels_readable(image)  # placement: checked for every image up front
        pixel_grid = _pixel_grid(label, image)
        if pixel_grid:
            offset: tuple[int, int] | None = (0, 0)  # a plain mask of the image's pixels
        else:
            offset = _offset(label, image)
        image_nodata = may_hold_nodata(image)
        data_alpha = image_nodata and alpha_holds_values(image)  # RGB+NIR: NIR 0 is a value
        profile = output_profile(image, count=1, dtype="uint8", nodata=IGNORE,
                                 creation_options=creation_options)
        counts = np.zeros(256, np.int64)
        no_data = _no_data_ids(names, zero_no_data) if table is None and not binary \
            else np.zeros(0)
        dropped = np.zeros(256, np.int64)  # pixels of those ids
        seen: dict[int, int] = {}
        bad_ids = []  # class ids a mask cannot hold, named together (in their own type)
        covered = False  # whether the label raster reaches any pixel of the image
        # label nodata: a value, a mask or an alpha band (a float one GDAL's mask leaves out);
        # colours: nodata is a colour's
        check_label = (has_nodata(label) or bool(unmasked_alpha(label))) and not (
            table is None and expand is None and _zero_is_background(label))
        done = completed_as(complete) if complete else None  # by another run meanwhile
        with atomic_output(output_path, overwrite, written_meanwhile=done) as tmp:
            with quietly(rasterio.open, tmp, "w", **profile) as dst:
                copy_georeferencing(image, dst)
                # a 0/255 mask's 255 is the building; any other holds class ids
                dst.set_band_description(1, "footprint" if binary else "class")
                rows = streamed_band_rows(image.width, band_rows)
                step = rows if offset is not None else _band_rows(label, image, rows)
                # GDAL compresses and writes a band (without the GIL) while the next is read
                with BackgroundWriter() as writer:
                    for top in progress_bar(range(0, image.height, step), progress,
                                            desc=Path(image_path).name, unit="band"):
                        rows = min(step, image.height - top)
                        if offset is not None:
                            values, valid = _copy_band(label, offset, top, rows, image.width,
                                                       indexes, check_label)
                        else:
                            values, valid = _warp_band(label, image, top, rows, indexes,
                                                       check_label)
                        everywhere = bool(valid.all())
                        covered = covered or everywhere or bool(valid.any())
                        window = Window(0, top, image.width, rows)
                        # nodata, mask or alpha band; NaN of a float image
                        seeing = (valid_pixels(image, window, None, data_alpha)
                                  if image_nodata else None)
                        if expand is not None:  # colour-table indices -> their RGB colours
                            values = np.moveaxis(expand[values[0]], -1, 0)
                        if table is not None:
                            ids, code = colours_to_ids(values, table)
                            counted = valid if not everywhere else None  # label's, image's
                            if seeing is not None:
                                counted = seeing if counted is None else counted & seeing
                            snap(ids, code, counted)
                            bad = ids == IGNORE
                            for colour in ignore_codes:  # the palette's own ignore colours
                                bad &= code != colour
                            if not everywhere:
                                bad &= valid
                                ids[~valid] = IGNORE
                            if seeing is not None:  # 255 there for the image: no colour's
                                bad &= seeing
                            if bad.any():
                                found, number = np.unique(code[bad], return_counts=True)
                                for c, n in zip(found.tolist(), number.tolist(), strict=True):
                                    seen[c] = seen.get(c, 0) + n
                        elif binary:  # 255 is the positive class (strays: from 128 up)
                            if values.dtype.kind == "f":  # NaN: no class
                                valid = valid & np.isfinite(values[0])
                            ids = np.where(valid, values[0] >= 128, IGNORE).astype(np.uint8)
                        else:
                            if one_hot is not None:  # band k set: class id k - 1
                                values = one_hot_ids(values, one_hot)[np.newaxis]
                            try:
                                ids = _index_ids(values, valid, labels_path)
                            except BadClassIds as exc:  # the rest of this one read: all of them
                                bad_ids.append(exc.ids)
                                continue
                            if no_data.size:  # ids its legend calls no data: ignored
                                hit = np.isin(ids, no_data)
                                dropped += np.bincount(ids[hit], minlength=256)
                                ids[hit] = IGNORE
                        if seeing is not None:
                            ids[~seeing] = IGNORE
                        hit = ignored_regions(window)  # --ignore, over every class
                        if hit is not None:
                            ids[hit] = IGNORE
                        counts += np.bincount(ids.ravel(), minlength=256)
                        writer.submit(dst.write, ids, 1, window=window)
                if bad_ids:
                    raise BadClassIds(labels_path, np.concatenate(bad_ids))
                top_id = int(np.flatnonzero(counts[:IGNORE]).max(initial=0))
                class_names = _named_ids(names, top_id)
                dst.update_tags(GEOTILE_OUTPUT="mask",
                                GEOTILE_CLASS_NAMES=json.dumps(class_names),
                                GEOTILE_LABELS=Path(str(labels_path)).name,
                                **({"GEOTILE_COMPLETE": complete} if complete else {}))
            # the class ids named for GIS clients (gdalinfo "Categories:", QGIS)
            write_categories(tmp, class_names, class_colours(len(class_names), class_names))
        # under its extent, all no data (Chesapeake's 15 outside the watershed): no CRS wrong
        beneath = not covered and _window_under(label, image) is not None
    if beneath:
        warn(f"{labels_path} holds only no data under {Path(image_path).name}: its "
             f"mask is all the ignore value {IGNORE}.", GeotileWarning)
    elif not covered:
        warn(f"{labels_path} does not cover {Path(image_path).name}: its mask is all "
             f"the ignore value {IGNORE}. The label raster's CRS may be wrong, or it "
             "may belong to another image.", GeotileWarning)
    for c, n in seen.items():
        unknown[c] = unknown.get(c, 0) + n
    for i in np.flatnonzero(dropped).tolist() if left_out is not None else ():
        left_out[i] = left_out.get(i, 0) + int(dropped[i])
    unknown_pixels = sum(seen.values())
    positives = int(counts[0 if not zero_is_background(class_names) else 1:IGNORE].sum())
    log.info("%s: %d labelled pixels, %d ignored (%d of unknown colours) -> %s",
             Path(image_path).name, positives, int(counts[IGNORE]), unknown_pixels, output_path)
    return {"image": str(image_path), "output": str(output_path), "features": None,
            "positive_pixels": positives, "ignored_pixels": int(counts[IGNORE]),
            "unknown_pixels": unknown_pixels,
            "class_pixels": {class_names[i] if i < len(class_names) else str(i): int(counts[i])
                             for i in range(IGNORE) if counts[i]},
            "classes": class_names, "aligned": "copy" if offset is not None else "nearest"}
