"""SpaceNet's CSV formats: label/proposal files in, proposal files out.

A SpaceNet CSV holds one row per building: ``ImageId, BuildingId, PolygonWKT_Pix``
(pixel coordinates: x = column, y = row, from the image's top-left corner) and/or
``PolygonWKT_Geo`` (map coordinates, lon/lat in SpaceNet's releases), and ``Confidence``
in proposals. A ``POLYGON EMPTY`` row says that an image holds no building; it is not a
feature. Rows belong to images by ImageId = the image's stem without SpaceNet's product
prefix (``RGB-PanSharpen_AOI_2_Vegas_img12`` -> ``AOI_2_Vegas_img12``; also ``3band_``,
``8band_``, ``PAN_``, ``MUL_``, ``MS_``, ``Pan-Sharpen_``, ``PS-RGB_``, ``PS-MS_``...), as the
challenges' scoring matched them: the public release's
``SN2_buildings_train_AOI_2_Vegas_PS-RGB_img1`` -> ``AOI_2_Vegas_img1``, SpaceNet 6's
``SN6_Train_AOI_11_Rotterdam_SAR-Intensity_<rest>`` -> ``<rest>``, SpaceNet 4's label
``spacenet-buildings_732701_3730939`` -> ``732701_3730939``; SpaceNet 7 and 8 names stay
whole.

SpaceNet's road CSVs (SpaceNet 3 and 5) hold one line per row: ``ImageId, WKT_Pix``
(``LINESTRING EMPTY`` for an image without roads), SpaceNet 5's also ``length_m`` and
``travel_time_s``; SpaceNet 8's reference CSV ``ImageId, Object, Wkt_Pix, Flooded, length_m,
travel_time_s`` holds its roads and buildings. They are read as the building CSVs are, each
row's geometry as it is (lines; SpaceNet 8's building polygons beside them).
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputError, Interrupted, UsageError
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

PROPOSAL_COLUMNS = ("ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo", "Confidence")
#: SpaceNet's image product prefixes, longest first
PREFIXES = ("RGB-PanSharpen", "MUL-PanSharpen", "Pan-Sharpen", "PS-RGBNIR", "PS-RGB", "PS-MS",
            "SAR-Intensity", "RGBNIR", "3band", "8band", "PAN", "MUL", "RGB", "MS")
#: SpaceNet 4's label files, spacenet-buildings_<tile>.geojson: the prefix of a label product
SN4_LABELS = "spacenet-buildings"
_PRODUCT = "(?:" + "|".join(map(re.escape, (*PREFIXES, SN4_LABELS))) + ")_"
#: a product prefix, after SpaceNet 6's "SN6_Train_AOI_11_Rotterdam_" too (its truth's ImageId
#: is the rest, e.g. 20190822070610_20190822070846_tile_3721)
_PREFIX = re.compile(r"^(?:SN\d+_(?:Train|Test)(?:_Public)?_AOI_\d+_[A-Za-z_]+?_)?" + _PRODUCT,
                     re.IGNORECASE)
#: the public release's label folders, which name its label files as products name images
LABEL_PRODUCTS = ("geojson_buildings", "geojson_roads_speed", "geojson_roads")
#: the public release's "SN5_roads_train_AOI_7_Moscow_PS-MS_chip0" (and its labels'
#: "SN2_buildings_train_AOI_2_Vegas_geojson_buildings_img1"): the ImageId keeps the AOI
#: (group 1) and the rest (AOI_7_Moscow_chip0)
_RELEASE = re.compile(r"^SN\d+_[a-z]+_(?:train|test)(?:_public)?_(AOI_\d+_[A-Za-z_]+?_)(?:"
                      + _PRODUCT + "|(?:" + "|".join(LABEL_PRODUCTS) + ")_)", re.IGNORECASE)
#: the pixel and map WKT columns of building CSVs, and of road CSVs (SpaceNet 3 and 5:
#: WKT_Pix; SpaceNet 8: Wkt_Pix)
PIXEL_COLUMNS = ("PolygonWKT_Pix", "WKT_Pix", "Wkt_Pix")
GEO_COLUMNS = ("PolygonWKT_Geo", "WKT_Geo", "Wkt_Geo")
#: road CSVs' columns kept as fields (SpaceNet 5's and 8's)
ROAD_FIELDS = ("Object", "Flooded", "length_m", "travel_time_s")
#: SpaceNet's default CRS of PolygonWKT_Geo
GEO_CRS = "EPSG:4326"
#: PolygonWKT_Geo's decimals move no pixel edge by more than this share of a pixel
GEO_EDGE = 1e-3


def image_id(name: str | os.PathLike) -> str:
    """SpaceNet ImageId of an image file or stem: the stem without the product prefix."""
    from geotile.input_paths import input_path

    stem = input_path(name).name  # a URL's ?query is no part of it
    for suffix in (".tif", ".tiff", ".png", ".jpg", ".vrt", ".npy", ".csv"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    release = _RELEASE.match(stem)
    if release:
        return release.group(1) + stem[release.end():]
    return _PREFIX.sub("", stem, count=1)


def match_image(name: str | os.PathLike, ids) -> str | None:
    """The ImageId among ``ids`` that an image belongs to: its stem, its stem without the
    product prefix, else the longest id the stem ends with after an underscore; compared
    in NFC (:func:`geotile.dataset_names.name_key`: macOS names files decomposed), an id
    listed in both forms taken as the file spells it."""
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key

    raw = input_path(name).stem
    keys: dict[str, list] = {}
    for i in sorted(ids, key=str):
        keys.setdefault(name_key(i), []).append(i)

    def spelled(key: str) -> str:  # of ids listed in both forms, the one of this file's
        return next((i for i in keys[key] if raw.endswith(i)), keys[key][0])

    stem = name_key(raw)
    for candidate in (stem, name_key(image_id(name))):
        if candidate in keys:
            return spelled(candidate)
    ends = [spelled(key) for key in keys if stem.endswith("_" + key)]
    return max(ends, key=len) if ends else None


def id_spelling(image, found: str) -> str | None:
    """``image``'s file name as ImageId ``found`` (its stem, or its stem's end after a product
    prefix, in NFC) spells it, Unicode form included: RGB-PanSharpen_Zu\u0308rich_1.tif for
    ``Zu\u0308rich_1``; None for a GDAL virtual path or an id that is not its stem's end."""
    from pathlib import Path

    from geotile.input_paths import input_path
    from geotile.name_keys import name_key

    source = input_path(image)
    if not isinstance(source, Path):
        return None
    stem, key = source.stem, name_key(found)
    head = next((stem[:i] for i in range(len(stem) + 1) if name_key(stem[i:]) == key), None)
    return None if head is None else head + found + source.suffix


def refuse_other_spelling(labels, found: str, image) -> None:
    """InputError where ImageId ``found`` names ``image`` in NFC only and spells another file
    beside it (:func:`geotile.name_keys.refuse_other_spelling`)."""
    from geotile.name_keys import refuse_other_spelling as refuse

    spelled = id_spelling(image, found)
    if spelled is not None:
        refuse(image, spelled, labels)


#: cell separators of SpaceNet CSVs: commas as published; semicolons or tabs where Excel
#: saved one in a locale whose decimal mark is a comma (German, French...)
_SEPARATORS = (",", ";", "\t")


def _separator(header: str) -> str | None:
    """The separator that splits the ``header`` line into ImageId and a WKT column
    (:data:`PIXEL_COLUMNS`, :data:`GEO_COLUMNS`), or None when none does."""
    for separator in _SEPARATORS:
        names = {h.strip() for h in next(csv.reader([header], delimiter=separator), [])}
        if "ImageId" in names and {*PIXEL_COLUMNS, *GEO_COLUMNS} & names:
            return separator
    return None


def _encoding(path: Path) -> str:
    """The text encoding of a CSV: UTF-16 or UTF-32 as Excel's 'Unicode Text' saves it (a
    byte-order mark, or the zero bytes of its first ASCII character), else UTF-8 (a mark
    left out)."""
    import json

    with open(path, "rb") as handle:
        encoding = json.detect_encoding(handle.read(4))
    return "utf-8-sig" if encoding.startswith("utf-8") else encoding


def _header(path: str | os.PathLike) -> list[str] | None:
    """The column names of a SpaceNet CSV (building or road), else None."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return None
    with open(path, newline="", encoding=_encoding(path), errors="replace") as handle:
        header = handle.readline()
    separator = _separator(header)
    if separator is None:
        return None
    return [h.strip() for h in next(csv.reader([header], delimiter=separator), [])]


def is_spacenet_csv(path: str | os.PathLike) -> bool:
    """A CSV whose header has ImageId and a WKT column: PolygonWKT_Pix or PolygonWKT_Geo
    (buildings), WKT_Pix or Wkt_Pix (roads)."""
    return _header(path) is not None


def is_road_csv(path: str | os.PathLike) -> bool:
    """A SpaceNet road CSV: ImageId and WKT_Pix (SpaceNet 3, 5) or Wkt_Pix (SpaceNet 8),
    without the building CSVs' PolygonWKT_Pix."""
    names = _header(path)
    return names is not None and not {"PolygonWKT_Pix", "PolygonWKT_Geo"} & set(names)


@dataclass
class SpaceNetTable:
    """The rows of a SpaceNet CSV that are buildings, and every ImageId it names (images with
    only ``POLYGON EMPTY`` rows included)."""

    image_ids: np.ndarray  # per building, str
    building_ids: np.ndarray  # per building, int
    pixel: np.ndarray  # shapely geometries (None when the file has no pixel WKT)
    geo: np.ndarray  # shapely geometries (None where the Geo WKT is absent or not WKT)
    confidence: np.ndarray  # float, NaN where absent
    images: list[str] = field(default_factory=list)
    geo_column: bool = True  # the header has PolygonWKT_Geo
    no_geo: tuple[int, str] | None = None  # (line, cell) of the first building without Geo WKT
    roads: bool = False  # a road CSV (WKT_Pix): rows are lines
    extra: dict = field(default_factory=dict)  # road CSVs' ROAD_FIELDS, per row

    def __len__(self) -> int:
        return len(self.image_ids)

    def rows_of(self, image: str) -> np.ndarray:
        return np.flatnonzero(self.image_ids == image)

    @property
    def has_geo(self) -> bool:
        return len(self) > 0 and all(g is not None for g in self.geo)

    @property
    def has_pixel(self) -> bool:
        return len(self) > 0 and all(g is not None for g in self.pixel)

    def geo_problem(self, name: str) -> str | None:
        """Why the buildings of this table (file ``name``) have no PolygonWKT_Geo polygon
        each, or None when they do."""
        if not len(self) or self.has_geo:
            return None
        if not self.geo_column:
            return f"{name} has no PolygonWKT_Geo"
        line, cell = self.no_geo
        if (polygon := _parse_wkt(cell)) is not None and polygon.is_empty:
            return f"{name}'s PolygonWKT_Geo is POLYGON EMPTY on buildings (line {line})"
        return f"{name}'s PolygonWKT_Geo is not WKT (line {line}: {cell!r})"


def _parse_wkt(text: str):
    import shapely

    text = (text or "").strip()
    if not text:
        return None
    try:
        return shapely.from_wkt(text)
    except Exception:
        return None


def read_csv(path: str | os.PathLike) -> SpaceNetTable:
    """Read a SpaceNet label or proposal CSV (InputError naming the line when it is bad)."""
    limit = csv.field_size_limit(2**31 - 1)  # a large building's WKT passes csv's 128 KB
    try:
        return _read_csv(Path(path))
    except UnicodeDecodeError as exc:  # Excel's 'CSV (Comma delimited)': the code page
        name, encoding = Path(path).name, exc.encoding.upper().removesuffix("-SIG")
        fix = (f"save it as 'CSV UTF-8', or convert it: iconv -f CP1252 -t UTF-8 {name} > "
               f"utf8_{name} (CP1252: Excel's on Windows in Western Europe and the Americas)"
               if encoding == "UTF-8" else "cut short? Save it again as 'CSV UTF-8'")
        raise InputError(f"{path}: not {encoding} text (byte 0x{exc.object[exc.start]:02X}): "
                         f"{fix}.") from None
    finally:
        csv.field_size_limit(limit)


def _read_csv(path: Path) -> SpaceNetTable:
    if not path.exists():
        raise InputError(f"{path}: no such file. Check the path.")
    with open(path, newline="", encoding=_encoding(path)) as handle:
        header = handle.readline()
        reader = csv.DictReader(itertools.chain([header], handle),
                                delimiter=_separator(header) or ",",
                                skipinitialspace=True)  # 'img1, "POLYGON ((...))"'
        fields = [f.strip() for f in reader.fieldnames or []]
        reader.fieldnames = fields
        pix_column = next((c for c in PIXEL_COLUMNS if c in fields), None)
        geo_column = next((c for c in GEO_COLUMNS if c in fields), None)
        if "ImageId" not in fields or not (pix_column or geo_column):
            raise InputError(f"{path}: not a SpaceNet CSV (the header needs ImageId and "
                             "PolygonWKT_Pix or PolygonWKT_Geo for buildings, WKT_Pix for "
                             "roads).")
        roads = not (pix_column or geo_column).startswith("Polygon")
        kept = [c for c in ROAD_FIELDS if roads and c in fields]
        images: dict[str, None] = {}
        ids, buildings, pixel, geo, confidence = [], [], [], [], []
        extra: dict[str, list] = {c: [] for c in kept}
        no_geo = None
        for line, row in enumerate(reader, start=2):
            image = (row.get("ImageId") or "").strip()
            if not image:
                continue
            images.setdefault(image)
            pix = _parse_wkt(row.get(pix_column, "")) if pix_column else None
            if pix_column and pix is None:
                raise InputError(f"{path}, line {line}: {pix_column} {row[pix_column]!r}"
                                 " is not WKT. Fix or remove the row.")
            geo_shape = _parse_wkt(row.get(geo_column, "")) if geo_column else None
            if pix is None and geo_shape is None:
                raise InputError(f"{path}, line {line}: {geo_column} "
                                 f"{row.get(geo_column)!r} is not WKT. Fix or remove "
                                 "the row.")
            if (pix if pix is not None else geo_shape).is_empty:
                continue  # POLYGON / LINESTRING EMPTY: an image without buildings (roads)
            ids.append(image)
            buildings.append(line - 2 if roads else
                             _number(row.get("BuildingId"), int, len(buildings)))
            pixel.append(pix)
            geo.append(geo_shape if geo_shape is not None and not geo_shape.is_empty else None)
            if geo[-1] is None and no_geo is None:
                no_geo = line, row.get(geo_column) or ""
            confidence.append(_confidence(row.get("Confidence"), path, line))
            for column in kept:
                extra[column].append(_road_field(column, row.get(column)))
    return SpaceNetTable(np.array(ids, dtype=object), np.array(buildings, np.int64),
                         _objects(pixel), _objects(geo), np.array(confidence, np.float64),
                         list(images), geo_column is not None, no_geo, roads,
                         {c: np.array(v, dtype=np.float64 if c in ("length_m", "travel_time_s")
                                      else object) for c, v in extra.items()})


def _road_field(column: str, text):
    """A road CSV's cell: length_m and travel_time_s as numbers (NaN when empty, 'Null' as
    SpaceNet 8 writes on buildings, or no number), Object and Flooded as text."""
    text = (text or "").strip()
    if column in ("length_m", "travel_time_s"):
        return _number(text, float, math.nan)
    return text


def _number(text, kind, default):
    try:
        return kind(float(text)) if kind is int else kind(text)
    except (TypeError, ValueError):
        return default


def _confidence(text, path: Path, line: int) -> float:
    """A Confidence cell as a number (a decimal comma too: 0,95), NaN when empty or absent;
    InputError naming the row otherwise (text scored as NaN would reorder the proposals)."""
    text = (text or "").strip()
    if not text:
        return math.nan
    try:
        return float(text if "." in text else text.replace(",", ".", 1))
    except ValueError:
        pass
    raise InputError(f"{path}, line {line}: Confidence {text!r} is not a number. Fix the cell "
                     "or leave it empty.")


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def pixel_to_map(geometries, transform):
    """Pixel-coordinate geometries (x = column, y = row) in the image's map coordinates."""
    import shapely

    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, \
        transform.f
    return shapely.transform(np.asarray(geometries, dtype=object), lambda xy: np.column_stack(
        (a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f)))


#: pixel coordinates may reach past their image by this share of its size (rounding, a
#: line drawn to its edge) before they are taken for the pixels of another image of the
#: ImageId (SpaceNet's PAN or PS-RGB beside MUL, 4x finer): SpaceNet clips them to the image
PAST_IMAGE = 0.1
#: ... and by this many pixels, whatever the image's size (a 16 px chip's line 2 px past)
PAST_PIXELS = 4


def check_in_image(path, image_id: str, geometries, image, width: int, height: int) -> None:
    """InputError in one line where the pixel ``geometries`` of ``image_id`` (rows of CSV
    ``path``) reach far past ``image``, ``width`` x ``height`` px: they are the pixels of
    another image of that ImageId, and would be placed at another scale."""
    import shapely

    if not len(geometries):
        return
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geometries, dtype=object))
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return
    past_x = max(PAST_IMAGE * width, PAST_PIXELS)
    past_y = max(PAST_IMAGE * height, PAST_PIXELS)
    x = maxx if maxx > width + past_x else minx
    y = maxy if maxy > height + past_y else miny
    if -past_x <= x <= width + past_x and -past_y <= y <= height + past_y:
        return
    raise InputError(f"{path}: ImageId {image_id!r} reaches pixel ({x:.0f}, {y:.0f}), far "
                     f"past {Path(os.fspath(image)).name} ({width}x{height} px): its pixel "
                     "coordinates are another image's of that ImageId (PAN's or PS-RGB's "
                     "beside MUL's?). Give the images whose pixels the CSV is in.")


def map_to_pixel(geometries, transform):
    """Map-coordinate geometries as pixel coordinates of the image (its inverse transform)."""
    return pixel_to_map(geometries, ~transform)


def read_labels(path: str | os.PathLike, labels_crs: str | None = None,
                images: Sequence[str | os.PathLike] | None = None):
    """A SpaceNet CSV as :class:`geotile.label_set.Labels` (fields ImageId, BuildingId,
    Confidence; a road CSV's ImageId, RoadId (its row) and those of :data:`ROAD_FIELDS` it
    has).

    With ``images``, each image takes the rows of its ImageId, placed by the image's
    transform (pixel WKT; Geo WKT when the file has no pixel WKT) in the first image's CRS;
    rows of other images are left out. Without, the Geo WKT is used (in ``labels_crs``, else
    EPSG:4326).
    """
    from geotile.label_set import Labels, parse_crs, to_crs

    path = Path(path)
    table = read_csv(path)
    if images:
        return _labels_on_images(path, table, images, labels_crs)
    if len(table) and not table.has_geo and table.roads:
        raise InputError(f"{path}: the SpaceNet road CSV has pixel coordinates only "
                         "(WKT_Pix): commands given its images place it (make-masks, tile "
                         "--labels); evaluate places it with --image FOLDER (the images its "
                         "ImageIds name).")
    if len(table) and not table.has_geo:
        raise InputError(f"{path}: the SpaceNet CSV has pixel coordinates only (no map "
                         "coordinates, PolygonWKT_Geo): commands given its images place it "
                         "(make-masks, tile --labels); to score it, give a SpaceNet CSV of the "
                         "same images as the other file (they match in pixels).")
    crs = parse_crs(labels_crs or GEO_CRS, "--labels-crs" if labels_crs else "SpaceNet")
    labels = Labels(table.geo, _fields(table, np.arange(len(table))), crs)
    return to_crs(labels, crs, path)


def _fields(table: SpaceNetTable, rows: np.ndarray) -> dict[str, np.ndarray]:
    if table.roads:  # ImageId, the row's number and SpaceNet 5's and 8's columns
        return {"ImageId": table.image_ids[rows], "RoadId": table.building_ids[rows],
                **{k: v[rows] for k, v in table.extra.items()}}
    return {"ImageId": table.image_ids[rows], "BuildingId": table.building_ids[rows],
            "Confidence": table.confidence[rows]}


def _labels_on_images(path, table: SpaceNetTable, images, labels_crs):
    from geotile.label_set import Labels, parse_crs, to_crs
    from geotile.no_georef import raster_crs
    from geotile.raster import open_raster

    ids = set(table.images)
    parts, crs, matched, placed = [], None, [], {}
    for image in images:
        with open_raster(image) as src:  # quietly: for a photo the caller warns
            transform, image_crs = src.transform, raster_crs(src)
            size = src.width, src.height
        placed.setdefault(image_crs is None, image)
        if len(placed) == 2:  # one table holds one CRS, or none
            other = placed[image_crs is not None]
            plain, mapped = (image, other) if image_crs is None else (other, image)
            raise InputError(f"{path}: {mapped} has a CRS and {plain} none (no "
                             "georeferencing); one run places a SpaceNet CSV on images of "
                             "either kind, not both. Run make-masks once for each kind.")
        found = match_image(image, ids)
        if found is None:
            continue
        refuse_other_spelling(path, found, image)
        crs = crs if crs is not None else image_crs
        rows = table.rows_of(found)
        matched.append(found)
        if table.has_pixel:
            check_in_image(path, found, table.pixel[rows], image, *size)
            geometries = pixel_to_map(table.pixel[rows], transform)
            part = Labels(geometries, _fields(table, rows), image_crs)
        else:
            geo_crs = parse_crs(labels_crs or GEO_CRS, "--labels-crs")
            part = to_crs(Labels(table.geo[rows], _fields(table, rows), geo_crs), image_crs,
                          path)
        parts.append(part if part.crs == crs or len(part) == 0 else to_crs(part, crs, path))
    if not matched:
        example = ", ".join(sorted(ids)[:3]) or "none"
        names = ", ".join(Path(i).stem for i in list(images)[:3])
        raise InputError(f"{path}: no ImageId matches the images ({names}); the file names "
                         f"e.g. {example}. SpaceNet matches ImageId to the image name without "
                         "its product prefix (RGB-PanSharpen_AOI_2_Vegas_img12 -> "
                         "AOI_2_Vegas_img12).")
    log.info("%s: %d %s on %d images", path, sum(len(p) for p in parts),
             "lines" if table.roads else "buildings", len(matched))
    geometries = np.concatenate([p.geometries for p in parts]) if parts else _objects([])
    fields = {k: np.concatenate([p.fields[k] for p in parts]) for k in parts[0].fields}
    # every ImageId of the file, those with only a "no building" row too
    return Labels(geometries, fields, crs, values={"ImageId": sorted(ids)})


def proposal_rows(frame, transform, image: str, geo_crs=GEO_CRS,
                  decimals: int = -1) -> list[tuple]:
    """SpaceNet proposal rows of one image from its polygons (``frame`` in the raster's CRS,
    with a ``score`` column when known): pixel WKT via the image transform, Geo WKT in
    ``geo_crs`` ("source": the frame's CRS; ``POLYGON EMPTY`` for a frame without a CRS)
    with ``decimals`` (-1: every digit of each double).
    An image without polygons gets one ``POLYGON EMPTY`` row (BuildingId -1)."""
    import shapely

    if len(frame) == 0:
        return [(image, -1, "POLYGON EMPTY", "POLYGON EMPTY", 1)]
    pixel = map_to_pixel(frame.geometry.values, transform)
    pixel_wkt = shapely.to_wkt(pixel, rounding_precision=6, trim=True)
    if geo_crs == "source" or frame.crs is not None:
        from geotile.ground_scale import to_crs

        geo = frame if geo_crs == "source" else to_crs(frame, geo_crs)
        geo_wkt = shapely.to_wkt(np.asarray(geo.geometry.values, dtype=object),
                                 rounding_precision=decimals, trim=True)
    else:  # no CRS: its own coordinates are not ``geo_crs``'s
        geo_wkt = ["POLYGON EMPTY"] * len(frame)
    scores = frame["score"].to_numpy(dtype=np.float64) if "score" in frame else \
        np.ones(len(frame))
    return [(image, number, p, g, 1.0 if math.isnan(s) else round(float(s), 4))
            for number, (p, g, s) in enumerate(zip(pixel_wkt, geo_wkt, scores, strict=True))]


def write_csv(rows: Sequence[tuple], output: str | os.PathLike, overwrite: bool = False,
              columns: Sequence[str] = PROPOSAL_COLUMNS) -> None:
    """Write rows atomically under the header ``columns`` (default: proposals' ImageId,
    BuildingId, PolygonWKT_Pix, PolygonWKT_Geo, Confidence)."""
    from geotile.output_files import atomic_output

    with atomic_output(output, overwrite) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def _temporary_write_failed(output, polygons: Path, exc: BaseException) -> InputError:
    """The line for the GeoPackage of a CSV's polygons failing in the temporary folder (a
    full TMPDIR): named as the CSV, with that folder and what frees it."""
    from geotile.output_files import failed_write_advice

    cause = exc.__cause__ or exc
    reason = getattr(cause, "strerror", None) or str(cause).splitlines()[0]
    folder = polygons.parent.parent
    advice = failed_write_advice(cause, "Free space there, or set TMPDIR to a folder with "
                                 "room.", polygons.parent)
    return InputError(f"{output}: its polygons could not be written in the temporary folder "
                      f"{folder} ({reason}); nothing was written under that name. {advice}")


def check_image_ids(paths: Sequence, rows: str = "proposals") -> None:
    """An InputError for two rasters of one ImageId: their ``rows`` would be one image's."""
    named: dict[str, object] = {}
    for path in paths:
        other = named.setdefault(image_id(path), path)
        if other != path:
            raise InputError(f"{other} and {path} have the same SpaceNet ImageId "
                             f"{image_id(path)!r}: their {rows} would be one image's. "
                             "Write one CSV per folder, or rename one of them.")


def _check_crs(paths: list, option) -> None:
    """Rasters without a CRS: refused with ``--crs`` (``option``) to reproject to; else one
    warning (PolygonWKT_Geo left POLYGON EMPTY, or in their own coordinates for "source")."""
    from geotile.no_georef import raster_crs
    from geotile.output_crs import check_missing_crs
    from geotile.raster import open_raster

    missing = []
    for path in paths:
        with open_raster(path) as src:
            if raster_crs(src) is None:
                missing.append(path)
    if not missing:
        return
    if option is not None:
        check_missing_crs(missing, None, option, "CSV")
        return
    more = f" (and {len(missing) - 1} other rasters)" if len(missing) > 1 else ""
    warn(f"{missing[0]}: the raster has no CRS{more}, so its PolygonWKT_Geo "
         f"({GEO_CRS}) is written POLYGON EMPTY; PolygonWKT_Pix holds its buildings. "
         "Assign one with `gdal_edit.py -a_srs EPSG:xxxx`, or give --crs source for "
         "its own coordinates.", GeotileWarning)


def _check_local_crs(paths: list, option) -> None:
    """Before any work: an InputError naming a raster in a local CRS (a site grid, tied to
    no place on the earth) whose PolygonWKT_Geo would be in another CRS (EPSG:4326 by
    default), which PROJ cannot reach from it."""
    from geotile.ground_scale import local_unit, on_earth, transformable
    from geotile.no_georef import raster_crs
    from geotile.output_crs import check_transformable, parse_crs
    from geotile.proj_grids import crs_name
    from geotile.raster import open_raster

    target = parse_crs(option or GEO_CRS)
    if target == "source":
        return
    for path in paths:
        with open_raster(path) as src:
            crs = raster_crs(src)
        elsewhere = crs is not None and not on_earth(crs)  # the Moon's, Mars'
        if crs is not None and (local_unit(crs) is not None or elsewhere) and \
                not transformable(crs, target):
            kind = "a CRS of another body than the earth" if elsewhere else "a local CRS"
            raise InputError(f"{path}: the raster is in {kind} ({crs_name(crs)}), tied "
                             f"to no place on the earth, which PROJ cannot convert to "
                             f"PolygonWKT_Geo's {crs_name(target)}: give --crs source (Geo "
                             "WKT in the raster's coordinates), or georeference the raster.")
        check_transformable(crs, target, option)


def _several_classes(path, classes: list[str], rows: str = "building proposals"
                     ) -> InputError:
    """The error for a raster of several ``classes`` written to a SpaceNet CSV as ``rows``."""
    from geotile.regularize import is_building_class

    wanted = is_building_class if rows != "roads" else (lambda c: "road" in c.lower())
    pick = next((c for c in classes if wanted(c)), classes[0])
    return InputError(f"{path}: its classes {', '.join(classes)} would all be written as "
                      f"{rows}, and a SpaceNet CSV holds one class with no class "
                      f"column. Give --classes {pick} (one class), or write .gpkg to keep "
                      "every class.")


def _instance_ids(frame, dtype: str) -> bool:
    """Whether the polygons of a raster of unnamed ids may be an instance-id mask's: eight
    ids or more, or of a type wider than 8 bits (skimage's labels, a tile of 3 buildings);
    a few uint8 classes, building, road and water, stay classes. Each id must then be one
    piece (:func:`_scattered_id`)."""
    return frame["class_id"].nunique() >= 8 or np.dtype(dtype).itemsize > 1


def _scattered_id(frame, cell: float) -> tuple[int, int] | None:
    """(id, regions) of the first id whose regions are not one piece: each within a pixel
    (``cell``) of another (8-connected, as skimage labels; cut by a nodata line), else
    None."""
    import pandas as pd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    several = frame[frame["class_id"].duplicated(keep=False)]
    if not len(several):
        return None
    ids = several["class_id"].to_numpy()
    left, right = shapely.STRtree(several.geometry.values).query(
        several.geometry.values, predicate="dwithin", distance=1.01 * cell)
    same = ids[left] == ids[right]
    graph = coo_matrix((np.ones(int(same.sum())), (left[same], right[same])),
                       shape=(len(ids), len(ids)))
    pieces = pd.Series(connected_components(graph, directed=False)[1]).groupby(ids).nunique()
    apart = pieces[pieces > 1]
    if not len(apart):
        return None
    return int(apart.index[0]), int((ids == apart.index[0]).sum())


def _one_row_per_id(frame):
    """``frame`` with the regions of each id as one (Multi)Polygon, its score their
    area-weighted mean."""
    import shapely

    if not frame["class_id"].duplicated().any():
        return frame
    groups = frame.groupby("class_id", sort=False)
    first = groups.head(1).set_index("class_id")
    geometries = groups.geometry.apply(lambda g: shapely.union_all(g.values))
    first = first.set_geometry(geometries.reindex(first.index).values, crs=frame.crs)
    if "score" in frame:
        area = frame.geometry.area
        weighted = (frame["score"] * area).groupby(frame["class_id"]).sum()
        first["score"] = (weighted / area.groupby(frame["class_id"]).sum()).reindex(
            first.index).values
    return first.reset_index()


def _scattered_ids(path, found: tuple[int, int], count: int) -> InputError:
    """The error for unnamed ids of a raster written to a SpaceNet CSV whose ``found``
    (id, regions) lies apart: neither one class nor one building per id."""
    class_id, regions = found
    return InputError(f"{path}: its {count} ids are no instance-id mask (id {class_id} lies "
                      f"in {regions} regions apart) nor one class, and a SpaceNet CSV holds "
                      "building proposals of one class. Label each building with one id, "
                      "give --classes ID to keep one class of a class raster, or write .gpkg "
                      "to keep every region.")


def check_one_class(paths: list, options, rows: str = "building proposals") -> None:
    """A SpaceNet CSV holds ``rows`` of one class: --classes of several is a UsageError, a
    raster naming several classes without --classes an InputError (before any work)."""
    from geotile.class_keys import class_key
    from geotile.raster import open_raster
    from geotile.raster_kinds import plain_bands, raster_kind

    if options.classes:
        if len({class_key(c) for c in options.classes}) > 1:
            raise UsageError(f"--classes {','.join(options.classes)}: a SpaceNet CSV holds "
                             f"{rows} of one class, with no class column; keep one class, "
                             "or write .gpkg to keep them apart.")
        return
    for path in paths:
        with open_raster(path) as src:
            _, kind = plain_bands(src, raster_kind(src))
        classes = [n for i, n in enumerate(kind.names or []) if i or kind.zero_class]
        if len(classes) > 1:
            raise _several_classes(path, classes, rows)


def _geo_crs(paths: list, option) -> str | None:
    """The CRS of PolygonWKT_Geo (--json's crs): ``option``'s, the rasters' one CRS for
    "source", None where no raster has a CRS (or, for "source", they differ)."""
    from geotile.no_georef import raster_crs
    from geotile.output_crs import parse_crs
    from geotile.raster import open_raster

    found = set()
    for path in paths:
        with open_raster(path) as src:
            if (crs := raster_crs(src)) is not None:
                found.add(crs.to_string())
    target = parse_crs(option or GEO_CRS)
    if not found or (target == "source" and len(found) > 1):
        return None
    return next(iter(found)) if target == "source" else target.to_string()


def vectorize_to_csv(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    instance_options=None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Polygonize each raster on its own (ImageId from its name) into a SpaceNet proposal
    CSV. ``options``: VectorizeOptions (threshold, cleaning; ``crs`` is the CRS of
    PolygonWKT_Geo). ``instance_options``: split touching buildings (geotile.instances).
    The CSV holds one class: a raster of several needs ``options.classes`` to keep one."""
    import dataclasses
    import tempfile

    import geopandas as gpd

    from geotile.input_paths import ogr_path
    from geotile.output_crs import NO_CRS_SAID
    from geotile.output_files import check_output
    from geotile.raster import open_raster
    from geotile.vector_output import coordinate_decimals
    from geotile.vectorize import VectorizeOptions, vectorize_polygons
    from geotile.vectorize_inputs import check_given_once

    options = options or VectorizeOptions()
    check_output(output, overwrite)
    paths = check_given_once(paths)
    _check_crs(paths, options.crs)
    _check_local_crs(paths, options.crs)
    keep = None
    if instance_options is None:  # instances are buildings (geotile.instances checks)
        check_one_class(paths, options)
    elif paths:  # their one class, building: --classes building (1) keeps them
        from geotile.instances import INSTANCE_CLASSES
        from geotile.vectorize import kept_class_ids

        keep = kept_class_ids(options, INSTANCE_CLASSES, paths[0])
    check_image_ids(paths)
    source = dataclasses.replace(options, crs="source")
    geo_crs = options.crs or GEO_CRS
    decimals = coordinate_decimals(paths, geo_crs, GEO_EDGE)
    rows: list[tuple] = []
    per_class: dict[str, int] = {}
    for path in paths:
        path = Path(path)
        said = NO_CRS_SAID.set(True)  # _check_crs said it once
        try:
            with open_raster(path) as src:
                transform, dtype = src.transform, src.dtypes[0]
                cell = float(np.sqrt(abs(src.transform.determinant)))
            if instance_options is not None:
                from geotile.instances import finish_frame, instance_frame

                frame = instance_frame([path], threshold=options.threshold,
                                       options=instance_options, collar=source.regularize)
                if keep is not None and 1 not in keep:
                    frame = frame.iloc[:0]
                frame = finish_frame(frame, source, frame.attrs.get("cell", 1.0))
            else:
                with tempfile.TemporaryDirectory(prefix="geotile-") as folder:
                    polygons = Path(folder) / "polygons.gpkg"
                    try:
                        vectorize_polygons([path], polygons, options=source,
                                           progress=progress)
                    except Interrupted:  # of our own GeoPackage: name the CSV
                        raise Interrupted(f"{output}: interrupted; nothing was written "
                                          "under that name (the temporary files were "
                                          "removed).") from None
                    except InputError as exc:  # a full TMPDIR: name the CSV and it
                        if not str(exc).startswith(f"{polygons}:"):
                            raise
                        raise _temporary_write_failed(output, polygons, exc) from exc
                    frame = gpd.read_file(ogr_path(polygons), engine="pyogrio")
        finally:
            NO_CRS_SAID.reset(said)
        classes = frame.drop_duplicates("class_id").sort_values("class_id")["class"]
        if len(classes) > 1 and _instance_ids(frame, dtype):  # each building its own id
            scattered = _scattered_id(frame, cell)
            if scattered is not None:
                raise _scattered_ids(path, scattered, len(classes))
            frame = _one_row_per_id(frame).assign(**{"class": "building"})
        elif len(classes) > 1:  # unnamed ids (named ones were refused before any work)
            raise _several_classes(path, [str(c) for c in classes])
        for name, count in frame["class"].astype(str).value_counts().items():
            per_class[name] = per_class.get(name, 0) + count
        rows += proposal_rows(frame, transform, image_id(path), geo_crs,
                              -1 if decimals is None else decimals)
    write_csv(rows, output, overwrite)
    buildings = sum(1 for r in rows if r[1] != -1)
    log.info("%s: %d proposals on %d images", os.fspath(output), buildings, len(paths))
    return {"output": os.fspath(output), "features": buildings, "per_class": per_class,
            "crs": _geo_crs(paths, options.crs), "sources": [Path(p).name for p in paths]}
