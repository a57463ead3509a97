"""Vector labels: read, repair, reproject and select footprints.

Labels are read into :class:`Labels`, a small columnar table (shapely
geometries, field arrays, a CRS) that needs neither pandas nor
geopandas: GeoJSON, the usual label format, is parsed by ``json`` and GEOS;
other formats (GeoPackage, Shapefile, FlatGeobuf...) by pyogrio's raw reader,
GeoParquet by geopandas. ``Labels.to_frame()`` gives a GeoDataFrame to callers
that want one. Every function raises :class:`InputError` with the file name
for problems a user can fix.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geotile.class_keys import class_key, names_background
from geotile.crs_names import crs_labels
from geotile.errors import GeotileWarning, InputError
from geotile.gc_pause import gc_paused
from geotile.gdal_settings import with_read_settings
from geotile.label_set import (
    Labels,
    class_map_names,
    cut_name_hint,
    field_column,
    grid_envelope,
    header_crs,
    parse_crs,
    property_fields,
)
from geotile.parquet_datasets import (
    PARQUET_SUFFIXES,
    dataset_files,
    dataset_schema,
    files_of,
    first_file,
    partitioning,
)
from geotile.quiet_warnings import MEASURED, hidden
from geotile.user_warnings import warn

# GeoParquet files (PARQUET_SUFFIXES) are read through pyarrow (GDAL reads them only with
# its ADBC driver); a folder of them written as one dataset (Overture's release) as one file
POLYGONAL = ("Polygon", "MultiPolygon")
GEOJSON_SUFFIXES = (".geojson", ".json")
#: the CRS of GeoJSON without a ``crs`` member (RFC 7946), as GDAL reads it
GEOJSON_DEFAULT_CRS = "EPSG:4326"
#: why a CSV's or a Parquet file's CRS (without 'geo' metadata) is assumed, not declared
CSV_ASSUMED = "read as lon/lat (EPSG:4326) as a CSV names no CRS"
PARQUET_ASSUMED = ("read as lon/lat (OGC:CRS84) as a Parquet file without GeoParquet "
                   "metadata names no CRS")
#: the largest class id of a mask: 255 is the ignore value (nodata) of masks
MAX_CLASS_ID = 254
#: GeoJSON files larger than this are streamed in chunks when only some regions are needed;
#: CSVs of WKT larger than this have their rows near the regions found by pyarrow
STREAM_BYTES = 16 * 2**20
#: features per chunk of a streamed GeoJSON
CHUNK_FEATURES = 20_000


def _gzipped(path) -> bool:
    """Whether ``path`` is a local gzip file (labels.geojson.gz), which GDAL reads only
    through /vsigzip/."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except (OSError, TypeError):
        return False


@with_read_settings  # a remote file's HTTP limits in pyogrio's GDAL: no hang
def read_labels(path: str | os.PathLike, labels_crs: str | None = None,
                layer: str | None = None, images=None, regions=None,
                class_field: str | None = None, empty_ok: bool = False,
                crs_option: str | None = "labels_crs=", whole_values: list | None = None,
                where: str | None = None) -> Labels:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet...).

    ``labels_crs`` overrides a missing or wrong CRS declared by the file (the
    coordinates are reinterpreted, not transformed); ``"pixels"``
    (:data:`geotile.pixel_labels.PIXELS`): they are each image's pixel coordinates, read
    whole with no CRS for the caller to place (:func:`geotile.pixel_labels.placed_on`).
    ``layer`` names the layer of a multi-layer file; without it the file's one
    polygon/line layer is read.
    Raises InputError when the file is missing, not vector data, has no
    geometry column or no features, or when the layer is unknown or ambiguous.
    A SpaceNet CSV is read by :func:`geotile.spacenet.read_labels` (``images``:
    the images its ImageIds name, to place pixel coordinates); another CSV of one WKT column
    (Google Open Buildings' ``geometry``) by GDAL, in lon/lat unless ``labels_crs`` says.

    ``regions`` (a list of ``(crs, (minx, miny, maxx, maxy))``, e.g. the images' extents
    from :func:`image_regions`) reads only the features near them (a superset of those
    intersecting them): nearby regions are grouped and each group's box, in the labels'
    CRS, is pushed down to the format's spatial index (GeoPackage R-tree, FlatGeobuf,
    Shapefile .qix, GeoParquet bbox covering); a large GeoJSON is streamed in chunks.
    The result then has ``extent`` (the whole file's) and, for ``class_field``, ``values``
    (``whole_values``: those :func:`whole_class_values` read before, not read again).
    ``empty_ok``: a file of no features (SpaceNet's for a tile without buildings), or of
    features without geometry, is read as such, not refused. Coordinates that cannot be
    the lon/lat the file declares get a GeotileWarning naming ``crs_option`` (None: not
    checked here; make_masks, tile and evaluate refuse them).
    ``where``: an OGR SQL WHERE expression over the file's fields
    (:mod:`geotile.label_filter`): only the features it selects are kept, and ``values`` are
    those of the features it selects in the whole file.
    """
    from geotile.curves import linearise
    from geotile.input_paths import input_exists, input_path
    from geotile.pixel_labels import OPTION, is_pixels

    path = input_path(path)
    if not input_exists(path):
        raise InputError(f"{path}: no such file. Check the path.")
    pixels = is_pixels(labels_crs)
    if pixels:  # each image's pixel coordinates: no CRS, read whole, placed by the caller
        labels_crs, regions = None, None
    sequence = None  # the GeoJSON lines a zip holds (Microsoft's Uganda.geojsonl.zip)
    if isinstance(path, Path) and path.suffix.lower() == ".zip":
        from geotile.geojson_lines import zip_sequence

        sequence = zip_sequence(path)
        path = path if sequence else _zip_member(path)
    given = path
    if isinstance(path, Path) and _gzipped(path):  # Microsoft's part-000xx.csv.gz...
        path = input_path(f"/vsigzip/{path}")  # what it holds is sniffed: _sequence_source
    if path.suffix.lower() == ".csv":
        from geotile import spacenet
        from geotile.via_csv import is_via_csv

        if is_via_csv(path):  # each image's own pixels: placed by make-masks only
            raise InputError(f"{path}: VGG Image Annotator (VIA) regions, in the pixels of "
                             "each image they list: make-masks takes them (geotile make-masks "
                             f"{path.name} IMAGE... -o masks/); give vector labels here.")

        if (index := _footprint_index(path)) is not None:
            raise InputError(f"{path}: {index}")
        if spacenet.is_spacenet_csv(path):
            if pixels:
                raise InputError(f"{path}: a SpaceNet CSV places its pixel coordinates "
                                 "(PolygonWKT_Pix) on each image it names itself; leave out "
                                 f"{OPTION}.")
            from geotile.label_filter import filter_labels

            return _lonlat_checked(filter_labels(spacenet.read_labels(path, labels_crs, images),
                                                 where, path), path, crs_option)
    if isinstance(path, Path) and path.suffix.lower() == ".xml":
        from geotile.label_documents import is_cvat_file

        if is_cvat_file(path):  # each image's own pixels: placed by make-masks only
            raise InputError(f"{path}: CVAT annotations, in the pixels of each image they "
                             "list: make-masks takes them (geotile make-masks "
                             f"{path.name} IMAGE... -o masks/); give vector labels here.")
    if isinstance(path, Path) and path.suffix.lower() in (".ndjson", ".jsonl", ".json"):
        from geotile.label_documents import is_labelbox_file

        if is_labelbox_file(path):  # each image's own pixels: placed by make-masks only
            raise InputError(f"{path}: a Labelbox export, in the pixels of each data row's "
                             "image: make-masks takes it (geotile make-masks "
                             f"{path.name} IMAGE... -o masks/); give vector labels here.")
    override = parse_crs(labels_crs, "--labels-crs") if labels_crs is not None else None
    geojson = False  # read by geotile's GeoJSON reader
    try:
        suffix = Path(path).suffix.lower()
        if isinstance(path, Path) and dataset_files(path):  # Overture's theme=buildings/...
            suffix = PARQUET_SUFFIXES[0]
        if isinstance(path, Path) and (suffix in GEOJSON_SUFFIXES or suffix in PARQUET_SUFFIXES):
            streamed = regions is not None and path.is_file() and \
                path.stat().st_size > STREAM_BYTES
            if suffix in PARQUET_SUFFIXES or streamed:
                _one_layer(path, layer)
            if suffix in PARQUET_SUFFIXES:
                labels = _read_parquet(path, regions, override, class_field, where)
            elif _geojson_sequence(path):  # GDAL's GeoJSONSeq driver reads it
                labels = _read_sequence(path, False, _without_bom(path), layer, regions,
                                        override, class_field, where=where)
            else:  # geotile's own reader, with or without --where (its fields typed for
                try:  # the expression as GDAL's GeoJSON driver types them: below)
                    with gc_paused():  # millions of lists and floats, none in a cycle
                        labels = (_stream_geojson(path, regions, override, class_field, where)
                                  if streamed else _read_geojson(path, override, layer))
                    geojson = True
                except _OtherJSON as other:  # Esri JSON, TopoJSON: GDAL's drivers read them
                    try:
                        labels = _read_ogr(path, layer, regions, override, class_field,
                                           where=where)
                    except (InputError, Warning):  # a warning made an error: itself
                        raise
                    except Exception:
                        raise other from None
        elif isinstance(path, Path) and suffix in (".geojsonl", ".geojsons"):
            labels = _read_sequence(path, False, _without_bom(path), layer, regions,
                                    override, class_field, where=where)
        elif sequence is not None:  # one streaming pass; GDAL's driver reads it per open
            from geotile.input_paths import VirtualPath

            labels = _read_sequence(path, False, VirtualPath(
                f"GeoJSONSeq:/vsizip/{path}/{sequence}"), layer, regions, override,
                class_field, where=where)
        else:
            source = _sequence_source(path)
            if os.fspath(source).startswith("GeoJSONSeq:"):  # a local file: sniffed
                text = os.fspath(path)
                labels = _read_sequence(Path(text.removeprefix("/vsigzip/")),
                                        text.startswith("/vsigzip/"), source, layer, regions,
                                        override, class_field, name=given,
                                        whole_values=whole_values, where=where)
            else:
                labels = _read_ogr(source, layer, regions, override, class_field,
                                   whole_values, where)
    except (InputError, Warning):  # a warning made an error (-W error) says itself
        raise
    except Exception as exc:  # json, GEOS, pyogrio and GDAL raise many types
        from geotile.label_rasters import is_label_raster

        # GDAL's advice to prefix the path with '<DRIVER>:' does not apply to these
        if isinstance(path, Path) and path.is_dir():
            from geotile.dota_files import is_dota_labels
            from geotile.yolo_labels import is_yolo_labels

            if is_dota_labels(path):  # in each image's pixels: placed by make-masks only
                raise InputError(f"{path}: DOTA's labelTxt, in each image's pixels: "
                                 "make-masks takes them (geotile make-masks "
                                 f"{path} IMAGE... -o masks/); give vector labels here.") \
                    from exc
            if is_yolo_labels(path):  # in each image's pixels: placed by make-masks only
                raise InputError(f"{path}: YOLO labels, in fractions of each image's size: "
                                 "make-masks takes them (geotile make-masks "
                                 f"{path} IMAGE... -o masks/); give vector labels here.") \
                    from exc
            from geotile.class_folders import class_folders

            if class_folders([path]) is not None:  # labels/<class>/<image>.png: masks already
                raise InputError(f"{path}: one folder of binary masks per class (Agriculture-"
                                 "Vision's labels/<class>/<image>.png), masks already: tile "
                                 f"reads them (geotile tile IMAGE... --masks {path} -o "
                                 "patches/), evaluate scores against them.") from exc
            from geotile.parquet_datasets import other_files
            from geotile.plurals import counted

            if others := other_files(path):  # pyarrow would read them as parts
                names = ", ".join(str(f.relative_to(path)) for f in others[:3])
                one = len(others) == 1
                raise InputError(f"{path}: a folder of Parquet part files (one dataset), "
                                 f"but {counted(len(others), 'file')} in it "
                                 f"{'is' if one else 'are'} not Parquet ({names}). Move "
                                 f"{'it' if one else 'them'} out of the folder.") from exc
            from geotile.parquet_datasets import unreadable_part

            if broken := unreadable_part(path):  # a part left empty or cut short
                raise InputError(broken) from exc
            raise InputError(f"{path} is a folder, not vector data GDAL can read. Give a "
                             "vector file: GeoJSON, GeoPackage, Shapefile or GeoParquet.") \
                from exc
        if is_label_raster(path):
            raise InputError(f"{path} is a raster, not vector labels. Give GeoJSON, "
                             "GeoPackage, Shapefile or GeoParquet.") from exc
        if not isinstance(path, Path) and path.suffix.lower() in PARQUET_SUFFIXES:
            raise InputError(f"{path}: GeoParquet is read from a local file only (GDAL here "
                             "reads no Parquet). Download or unzip it and give that file.") \
                from exc
        from geotile.failed_downloads import failed_download, remote_failure
        from geotile.input_paths import is_virtual_path

        download = failed_download(path, "vector data")
        if download is None and is_virtual_path(path):
            download = remote_failure(path, str(exc))
        if download:
            raise InputError(download) from exc
        if isinstance(path, Path) and path.suffix.lower() == ".shp" and not any(
                path.with_suffix(ext).exists() for ext in (".shx", ".SHX")):
            raise InputError(f"{path}: its index {path.with_suffix('.shx').name} is missing (a "
                             "Shapefile is .shp, .shx, .dbf and .prj). Copy it beside the .shp, "
                             f"or rebuild it: ogrinfo --config SHAPE_RESTORE_SHX YES {path}") \
                from exc
        if os.fspath(path).startswith("/vsigzip/"):
            raise InputError(_not_gzipped_labels(given)) from exc
        unread = _bzip2_labels(path) or _unread_osm_format(path)
        if unread:
            raise InputError(f"{path}: {unread}") from exc
        if (surfaces := _surface_layer(exc, path)) is not None:
            raise InputError(surfaces) from exc
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        from geotile.gdal_settings import is_remote

        if is_remote(path) and not os.fspath(path).startswith(("zip:", "tar:", "file:")):
            # GDAL reads what a dropped or stalled download gave as all there is
            raise InputError(
                f"{path}: unreadable as downloaded ({reason}): its download was cut short "
                "(a dropped or too slow connection), or it is no vector data. Check the URL "
                "and try again, or download it first (curl -O, or gdal vsi copy) and give "
                "the local file.") from exc
        raise InputError(
            f"{path}: not vector data GDAL can read ({reason}). "
            "Give GeoJSON, GeoPackage, Shapefile or GeoParquet."
        ) from exc
    if labels is None and os.fspath(path).startswith("/vsigzip/"):
        raise InputError(_not_gzipped_labels(given))  # CSV without geometries: noise, text
    if labels is None:
        raise InputError(f"{path}: the file has no geometries. Give a file of polygons.")
    if len(labels) == 0 and labels.extent is None and not empty_ok:
        raise InputError(f"{path}: the file holds no features. Check that it is the right file.")
    if len(labels) and shapely.is_missing(labels.geometries).all() and not empty_ok:
        raise InputError(f"{path}: no feature has a geometry. Give a file of polygons.")
    if where is not None and labels.where is None:  # a streamed GeoJSON's is, as read
        from geotile.label_filter import filter_labels

        labels = filter_labels(labels, where, given, geojson)
    if labels_crs is not None:
        labels.crs = parse_crs(labels_crs, "--labels-crs")
        extent = labels.extent if labels.extent is not None else labels.total_bounds
        if np.isfinite(extent).all():  # the option says lon/lat, not the file
            check_geographic_coordinates(labels, path, why=f"although --labels-crs "
                                         f"{labels_crs} says they are")
    linearise(labels.geometries)  # arcs in GeometryCollections: GDAL left them
    _drop_measures(labels.geometries)
    if where is None and class_field is None:
        from geotile.osm_kinds import several_kinds, several_subtypes

        mixed = several_kinds(labels, given, layer) if _osm_file(given) else \
            several_subtypes(labels, given)
        if mixed is not None:
            warn(mixed)
    if pixels:  # whatever the file declares: the option says pixels (what it says kept)
        from geotile.pixel_labels import declared_crs

        return Labels(labels.geometries, labels.fields, None, labels.extent, labels.values,
                      declared=declared_crs(labels.crs, given))
    return _lonlat_checked(labels, path, crs_option)


def _surface_layer(exc: Exception, path) -> str | None:
    """What to say of a layer of 3D surfaces (PolyhedralSurface, TIN, Triangle: WKB types
    15, 16, 17), which pyogrio refuses to read (``exc``); None for another error."""
    found = re.search(r"Geometry type is not supported: (\d+)", str(exc))
    kind = (int(found[1]) & 0x7FFFFFFF) % 1000 if found else None  # Z, M: 1015, 3016...
    if kind not in (15, 16, 17):
        return None
    name = {15: "PolyhedralSurface", 16: "TIN", 17: "Triangle"}[kind]
    return (f"{path}: a layer of {name} geometries (3D surfaces: CityGML, an ArcGIS "
            "multipatch), which geotile cannot read. Make them polygons (their faces) "
            f"first: ogr2ogr -nlt MULTIPOLYGON polygons.gpkg {path}")


def _not_gzipped_labels(path) -> str:
    """What to say of a gzip file ``path`` whose content is no vector data GDAL reads."""
    return (f"{path}: gzip-compressed, and what it holds is not vector data GDAL can read "
            "(GeoJSON, GeoJSON lines, CSV with a geometry column). Check that it is the right "
            "file.")


def _bzip2_labels(path) -> str | None:
    """What to say of the local bzip2 file ``path`` (Geofabrik's and the planet's .osm.bz2),
    which GDAL does not read; None for other files."""
    if not isinstance(path, Path) or not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(4)
    if head[:3] != b"BZh" or head[3:4] not in b"123456789":
        return None
    unpacked = path.with_suffix("") if path.suffix.lower() in (".bz2", ".bz") else path
    return (f"bzip2-compressed, which GDAL does not read (gzip it does). Unpack it, bunzip2 "
            f"-k {path}, and give {unpacked.name}" + (" (or the extract's .osm.pbf)" if
                                                     unpacked.suffix.lower() == ".osm" else "")
            + ".")


def _unread_osm_format(path) -> str | None:
    """What to say of an OpenStreetMap download GDAL does not read (Overpass API JSON, an
    osmnx GraphML graph), from the start of the local file ``path``; None for other files."""
    if not isinstance(path, Path) or not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(65536).decode("utf-8", "replace")
    if path.suffix.lower() == ".graphml" or "<graphml" in head:
        return ("a GraphML graph (osmnx), not vector data GDAL can read. Save it as a "
                "GeoPackage, ox.save_graph_geopackage(G, 'roads.gpkg'), and give that file "
                "(its lines are the 'edges' layer).")
    if re.search(r'"elements"\s*:\s*\[', head) and '"FeatureCollection"' not in head:
        return ("Overpass API JSON (OSM elements), not GeoJSON. Convert it: "
                f"osmtogeojson {path.name} > {path.stem}.geojson, or query Overpass with "
                "[out:xml] and give the .osm file (GDAL reads it: --layer lines or "
                "multipolygons).")
    return None


def _footprint_index(path) -> str | None:
    """What to say of Microsoft's dataset-links.csv (Location, QuadKey, Url, Size: the
    index of its footprint files, no footprint) given as labels; None for other files."""
    import csv

    if not isinstance(path, Path) or not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        rows = csv.reader(handle)
        try:  # (a field over csv's 128 KB limit: not the index)
            header = [name.strip().lower() for name in next(rows, [])]
            if header[:4] != ["location", "quadkey", "url", "size"]:
                return None
            first = next(rows, None)
        except csv.Error:
            return None
    example = f" (its first: {first[2]})" if first and len(first) > 2 else ""
    return ("Microsoft's list of building-footprint files, not footprints. Download the "
            "file(s) of the rows whose QuadKey (a level-9 Bing tile) holds the images"
            f"{example} and give that .csv.gz.")


def _drop_measures(geometries: np.ndarray) -> None:
    """Drop the M values of ``geometries`` in place, keeping Z (as GDAL reads GeoJSON's
    [x, y, z, m]): XYZM moved to pixels by shapely.transform becomes X Y NaN NaN."""
    measured = shapely.has_m(geometries)
    if not measured.any():
        return
    raised = measured & shapely.has_z(geometries)
    geometries[raised] = shapely.from_wkb(shapely.to_wkb(geometries[raised],
                                                         output_dimension=3))
    geometries[measured & ~raised] = shapely.force_2d(geometries[measured & ~raised])


def _zip_member(path: Path):
    """``path``, a zip; or the /vsizip/ path of the vector file in a folder of it when none
    lies at its top level, the only one GDAL looks at (Mac's __MACOSX/ copies aside).
    InputError naming them when several do."""
    import zipfile

    from geotile.input_files import VECTOR_SUFFIXES
    from geotile.input_paths import input_path

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return path  # GDAL says what is wrong with it
    names = [n for n in names if not n.startswith("__MACOSX/")
             and not n.rpartition("/")[2].startswith("._")]
    found = [n for n in names if n.lower().endswith(VECTOR_SUFFIXES)]
    found = [n for n in found if not n.lower().endswith(".json")] or found  # metadata
    if not found or any("/" not in n for n in found):
        return path
    if len(found) > 1:
        raise InputError(f"{path}: the zip holds {len(found)} vector files in folders "
                         f"({', '.join(found[:5])}{', ...' if len(found) > 5 else ''}). "
                         f"Give one as /vsizip/{path}/{found[0]}.")
    return input_path(f"/vsizip/{path}/{found[0]}")


def _lonlat_checked(labels: Labels, path, crs_option: str | None) -> Labels:
    """``labels``, with a warning where :func:`check_geographic_coordinates` refuses them
    (``crs_option`` None: not checked; non-finite coordinates are left to the callers that
    drop them)."""
    extent = labels.extent if labels.extent is not None else labels.total_bounds
    if crs_option is not None and np.isfinite(extent).all():
        try:
            check_geographic_coordinates(labels, path, crs_option)
        except InputError as exc:
            warn(str(exc))
    return labels


class _OtherJSON(ValueError):
    """JSON that is no GeoJSON object (Esri JSON, TopoJSON...)."""


def _geojson_sequence(path: Path, opener=None) -> bool:
    """Whether a .geojson/.json file is a GeoJSON text sequence: one Feature a line
    (GeoJSONL, Microsoft's footprints) or RFC 8142's record-separated texts.
    ``opener``: opens ``path`` for reading bytes (``gzip.open``)."""
    with (opener or Path.open)(path, "rb") as handle:
        first = handle.readline(2**20).decode("utf-8-sig", "replace").strip()
        rest = handle.read(4096).strip()
    if first.startswith("\x1e"):
        return True
    if not rest:
        return False
    try:
        document = json.loads(first)
    except ValueError:  # a FeatureCollection spread over lines (or a longer line)
        return False
    return isinstance(document, dict) and document.get("type") == "Feature"


def _sequence_source(path):
    """``path``, or, when it is a GeoJSON text sequence under another name (Microsoft's
    footprints ship as .csv.gz: read as /vsigzip/, or gunzipped to .csv, GDAL's CSV driver
    finds no geometry in it), the same file opened by GDAL's GeoJSONSeq driver."""
    import gzip

    from geotile.input_paths import VirtualPath

    text = os.fspath(path)
    local = Path(text.removeprefix("/vsigzip/"))
    opener = gzip.open if text.startswith("/vsigzip/") else None
    if opener is None and (not isinstance(path, Path) or local.suffix.lower() != ".csv"):
        return path  # (a GeoPackage, a Shapefile... is no text to sniff)
    if not local.is_file():
        return path
    try:
        sequence = _geojson_sequence(local, opener)
        if not sequence:  # one line, or a document: GDAL picks the CSV driver by the name
            with (opener or Path.open)(local, "rb") as handle:
                head = handle.read(2**20).decode("utf-8-sig", "replace").lstrip()
            if head.startswith("{"):
                first = head.partition("\n")[0].strip()
                # a part of one footprint, as GeoJSONSeq; or Features after a broken line 1
                sequence = _one_feature(first) or _features_after_first(head) or \
                    _collection_lines(head)
                if not sequence:
                    return VirtualPath(f"GeoJSON:{text}")  # a FeatureCollection (.csv.gz)
        if sequence:  # past a UTF-8 byte-order mark, which makes GeoJSONSeq drop a feature
            with (opener or Path.open)(local, "rb") as handle:
                if handle.read(3) == codecs.BOM_UTF8:
                    text = f"/vsisubfile/3_,{text}"
    except (OSError, EOFError):  # not gzip after all: GDAL says what it is
        return path
    return VirtualPath(f"GeoJSONSeq:{text}") if sequence else path


def _read_sequence(local: Path, gzipped: bool, source, layer, regions, override,
                   class_field, name=None, whole_values=None, where=None) -> Labels | None:
    """The GeoJSON text sequence ``local`` (``gzipped``): the features near ``regions`` in
    one streaming pass of :mod:`geotile.geojson_lines`; GDAL's GeoJSONSeq driver reads
    ``source`` for all of them, a --layer, a ``where`` (its fields typed as GDAL types
    them), or what that module leaves to it. InputError for a sequence of FeatureCollections
    (GDAL reads none of their features)."""
    from geotile.geojson_lines import collection_refusal, first_collection

    if (number := first_collection(local, gzipped)) is not None:
        raise collection_refusal(name or local, number)
    if regions is not None and layer is None and where is None:
        from geotile.geojson_lines import LeftToGDAL, read_near

        crs = override or _geojson_crs(_NO_MEMBER, local)
        try:
            return read_near(_StreamState(class_field), local, gzipped,
                             region_boxes(regions, crs), crs, class_field, name or local)
        except LeftToGDAL:
            pass
    return _read_ogr(source, layer, regions, override, class_field, whole_values, where)


def _one_feature(line: str, kind: str = "Feature") -> bool:
    """Whether ``line`` is one GeoJSON Feature (or other object of type ``kind``)."""
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("type") == kind


def _features_after_first(head: str) -> bool:
    """Whether the complete lines of ``head`` after its first (up to 20) are all GeoJSON
    Features: a sequence whose first line is broken (cut short...), which the reader of
    GeoJSON lines then names as line 1."""
    lines = [line for line in head.split("\n")[1:-1] if line.strip()][:20]
    return bool(lines) and all(_one_feature(line) for line in lines)


def _collection_lines(head: str) -> bool:
    """Whether the complete lines of ``head`` (up to 20) are two or more FeatureCollections,
    one a line: a sequence of them, which :func:`_read_sequence` refuses by name."""
    lines = [line for line in head.split("\n")[:-1] if line.strip()][:20]
    return len(lines) > 1 and all(_one_feature(line, "FeatureCollection") for line in lines)


def _without_bom(path: Path):
    """The GeoJSON text sequence ``path`` as GDAL's GeoJSONSeq driver opens it (named:
    GDAL's GeoJSON driver claims a sequence whose first line begins {"geometry": ... and
    reads its first feature alone), past its UTF-8 byte-order mark (which makes the
    GeoJSONSeq reader drop the first feature)."""
    from geotile.input_paths import VirtualPath

    with path.open("rb") as handle:
        bom = handle.read(3) == codecs.BOM_UTF8
    return VirtualPath(f"GeoJSONSeq:/vsisubfile/3_,{path}" if bom else f"GeoJSONSeq:{path}")


def wide_encoding(head: bytes) -> str | None:
    """The UTF-16 or UTF-32 encoding of a JSON text beginning with ``head`` (its first 4
    bytes: a byte-order mark, as Windows PowerShell's Out-File writes, or the zero bytes of
    its first ASCII character), None for UTF-8."""
    encoding = json.detect_encoding(head)
    return None if encoding.startswith("utf-8") else encoding


def _say_wide(path: Path, encoding: str) -> None:
    warn(f"{path}: {encoding.upper()}, not UTF-8 as GeoJSON must be (RFC 7946); read it as "
         f"{encoding.upper()}. Save it as UTF-8 for other tools (GDAL cannot open it).")


def _cut_short(path: Path, encoding: str) -> InputError:
    return InputError(f"{path}: begins as {encoding.upper()} text but is not {encoding.upper()} "
                      "throughout (cut short?). Save it again as UTF-8.")


def _one_layer(path: Path, layer: str | None) -> None:
    """InputError unless ``layer`` is None or the one layer of a GeoJSON/GeoParquet file."""
    if layer is not None and layer != path.stem:
        raise InputError(f"{path}: no layer {layer!r}; the file holds one layer, "
                         f"{path.stem!r}. Leave out --layer.")


def _refuse_code_page_annotations(path: Path, document) -> None:
    """InputError for an annotation tool's JSON (in an image's pixels) that is not UTF-8:
    saved in Windows' code page (Labelme before 4.5: cp1252, or GBK on Chinese Windows,
    wkentaro/labelme#299), which its own reader refuses and which is no GeoJSON either."""
    from geotile.label_documents import (
        is_coco,
        is_darwin,
        is_datumaro,
        is_labelme,
        is_labelstudio,
        is_via,
    )

    kinds = ((is_labelme, "Labelme shapes"), (is_coco, "COCO annotations"),
             (is_labelstudio, "a Label Studio export"), (is_via, "VIA regions"),
             (is_darwin, "V7's Darwin JSON"), (is_datumaro, "Datumaro JSON"))
    kind = next((name for test, name in kinds if test(document)), None)
    if kind is not None:
        raise InputError(f"{path}: {kind}, but not UTF-8 (saved in a Windows code page, as "
                         "Labelme before 4.5 did). Convert it to UTF-8 and give that: "
                         f"iconv -f CP1252 -t UTF-8 {path.name} > utf8/{path.name} (GBK "
                         "for Chinese Windows).")


def _read_geojson(path: Path, override=None, layer: str | None = None) -> Labels | None:
    """GeoJSON (or an xBD label file: :mod:`geotile.xbd`) as Labels."""
    raw = path.read_bytes()
    wide = wide_encoding(raw[:4])
    latin = False
    try:
        text = raw.decode(wide or "utf-8-sig")
    except UnicodeDecodeError:  # GDAL reads such files too; names may show odd letters
        if wide:
            raise _cut_short(path, wide) from None
        text = raw.decode("latin-1").translate(WINDOWS_1252)
        latin = True
    if wide:
        _say_wide(path, wide)
    from geotile.json_text import loads

    document = loads(text)
    if latin:
        _refuse_code_page_annotations(path, document)
        warn(f"{path}: not UTF-8, as GeoJSON must be (RFC 7946); read it as Latin-1. "
             "Check text fields with accents.")
    from geotile.stac_labels import is_stac, labels_refusal

    if is_stac(document):  # an item's footprint is no label (make_masks reads its asset)
        raise InputError(labels_refusal(document, path))
    from geotile.xbd import is_xbd, read_xbd

    if is_xbd(document):
        return read_xbd(document, path, layer, override)
    from geotile.label_documents import (
        is_coco,
        is_coco_results,
        is_darwin,
        is_datumaro,
        is_labelme,
        is_labelstudio,
    )

    if is_labelstudio(document):  # each image's own pixels (percent): placed by make-masks
        raise InputError(f"{path}: a Label Studio export, in percent of each task's image: "
                         f"make-masks takes it (geotile make-masks {path.name} IMAGE... -o "
                         "masks/); give vector labels here.")
    if is_darwin(document):  # one image's own pixels: placed by make-masks only
        raise InputError(f"{path}: V7's Darwin JSON, in the pixels of the image it "
                         "annotates: make-masks takes it (geotile make-masks "
                         f"{path.name} IMAGE -o mask.tif); give vector labels here.")
    if is_datumaro(document):  # each item's image's own pixels: placed by make-masks only
        raise InputError(f"{path}: Datumaro JSON, in the pixels of the images it "
                         "annotates: make-masks takes it (geotile make-masks "
                         f"{path.name} IMAGE... -o masks/); give vector labels here.")
    if is_coco_results(document):
        raise InputError(f"{path}: COCO results (detections with scores, no images or "
                         "categories), not an instances file: give the annotations file "
                         "(images, annotations, categories) these were scored against, or "
                         "vectorize the model's output.")
    if is_coco(document):  # each image's own pixels: placed by make-masks only
        raise InputError(f"{path}: COCO instance annotations, in the pixels of each image "
                         "they list: make-masks takes them (geotile make-masks "
                         f"{path.name} IMAGE... -o masks/); give vector labels here.")
    if is_labelme(document):  # one image's own pixels: placed by make-masks only
        raise InputError(f"{path}: Labelme shapes, in the pixels of the image they were drawn "
                         "on: make-masks takes them (geotile make-masks "
                         f"{path.parent.name or '.'}/ IMAGE... -o masks/); give vector labels "
                         "here.")
    from geotile.label_documents import is_via

    if is_via(document):  # each image's own pixels: placed by make-masks only
        raise InputError(f"{path}: VGG Image Annotator (VIA) regions, in the pixels of each "
                         "image they list: make-masks takes them (geotile make-masks "
                         f"{path.name} IMAGE... -o masks/); give vector labels here.")
    _one_layer(path, layer)
    kind = document.get("type") if isinstance(document, dict) else None
    if kind == "FeatureCollection":
        features = document.get("features") or []
    elif kind == "Feature":
        features = [document]
    elif kind in ("Polygon", "MultiPolygon", "GeometryCollection", "Point", "LineString",
                  "MultiPoint", "MultiLineString"):
        features = [{"type": "Feature", "properties": {}, "geometry": document}]
    else:
        raise _OtherJSON(f"a GeoJSON object of type {kind!r} holds no features")
    features = [f if isinstance(f, dict) else {} for f in features]
    shapes = [f.get("geometry") for f in features]
    geometries = np.empty(len(features), dtype=object)
    polygons = _polygons(shapes) if kind == "FeatureCollection" else None
    if polygons is not None:  # every feature a 2D Polygon: built without parsing twice
        geometries[:] = list(polygons)
        shapes = None
    elif kind == "FeatureCollection" and all(s is not None for s in shapes):
        try:
            parts = shapely.get_parts(shapely.from_geojson(text)) if features else []
        except shapely.errors.GEOSException:  # a broken feature: read them one by one
            parts = []
        if len(parts) == len(features):  # GEOS read the whole collection in one pass
            geometries[:] = list(parts)
            shapes = None
    if shapes is not None:
        _geojson_geometries(shapes, features, geometries, path)
    properties = [f.get("properties") if isinstance(f.get("properties"), dict) else {}
                  for f in features]
    return Labels(geometries, property_fields(properties),
                  override or _geojson_crs(document.get("crs", _NO_MEMBER), path))


def _polygons(shapes: list) -> np.ndarray | None:
    """Shapely Polygons from parsed GeoJSON geometries, built from one coordinate array;
    None unless every geometry is a 2D Polygon whose rings are closed, of numbers (GEOS reads,
    closes or skips the others, with warnings: coordinates of JSON text, "-84.4", are none
    to GEOS and GDAL, as to the reader of GeoJSON lines)."""
    sizes, counts, points = [], [], []
    try:
        for shape in shapes:
            if shape.get("type") != "Polygon":
                return None
            rings = shape["coordinates"]
            counts.append(len(rings))
            for ring in rings:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    return None
                sizes.append(len(ring))
                points.extend(ring)
        coords = np.array(points)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if not shapes or coords.ndim != 2 or coords.shape[1] != 2 or coords.dtype.kind not in "fi":
        return None
    coords = coords.astype(np.float64, copy=False)
    offsets = (np.cumsum([0, *sizes]), np.cumsum([0, *counts]))
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, offsets)


def _geojson_geometries(shapes: list, features: list, out: np.ndarray, path: Path,
                        offset: int = 0, numbers: list | None = None) -> None:
    """Parse each feature's geometry into ``out``: unclosed rings are closed, geometries
    GEOS cannot read are left None; one warning names the features of each kind
    (numbered from ``offset``: the chunk's first feature in the file; or ``numbers``,
    each feature's own)."""
    present = [i for i, s in enumerate(shapes) if s is not None]
    if not present:
        return
    out[present] = shapely.from_geojson([json.dumps(shapes[i]) for i in present],
                                        on_invalid="ignore")
    closed, trimmed, skipped, reason = [], [], [], ""
    for i in present:
        if out[i] is not None:
            continue
        shape, cut = _xyz_positions(shapes[i])
        fixed = _close_rings(shape) or (shape if cut else None)
        geom = None if fixed is None else shapely.from_geojson(json.dumps(fixed),
                                                               on_invalid="ignore")
        if geom is not None:
            out[i] = geom
            if cut:
                trimmed.append(i)
            if fixed is not shape:  # its rings closed
                closed.append(i)
            continue
        skipped.append(i)
        if not reason:
            try:
                shapely.from_geojson(json.dumps(fixed if fixed is not None else shapes[i]))
                reason = "not a geometry"
            except Exception as exc:  # GEOS's parse or ring errors
                reason = str(exc).splitlines()[0]

    def label(i: int) -> str:
        fid = features[i].get("id")
        number = i + offset if numbers is None else numbers[i]
        return f"feature {number}" + (f" (id {fid!r})" if fid is not None else "")

    # each with a count-free advice: tasks reading the features near their own tiles (make-masks
    # --workers) say it once in full, then once for the other images (the CLI's digest)
    if trimmed:
        warn(GeotileWarning(
            f"{path}: {count_features(trimmed)} had positions of more than three numbers (an M "
            f"value?), read as x, y, z as GDAL does: {_names(trimmed, label)} (numbered from "
            "0, as ogrinfo does).", about=str(path), advice=f"{path}: features near "
            "them had positions of more than three numbers (an M value?), read as x, y, z as "
            "GDAL does."))
    if closed:
        warn(GeotileWarning(
            f"{path}: {count_features(closed)} had rings that were not closed and were closed: "
            f"{_names(closed, label)} (numbered from 0, as ogrinfo does).",
            about=str(path), advice=f"{path}: features near them had rings that were "
            "not closed and were closed."))
    if skipped:
        warn(GeotileWarning(
            f"{path}: {count_features(skipped)} with a geometry that cannot be read "
            f"{'was' if len(skipped) == 1 else 'were'} skipped: "
            f"{_names(skipped, label)} (numbered from 0, as ogrinfo does; {reason}).",
            about=str(path), advice=f"{path}: features near them with a geometry that "
            f"cannot be read were skipped ({reason})."))


def _xyz_positions(shape):
    """(``shape`` with positions of more than three numbers cut to x, y, z, whether any was):
    GEOS refuses [x, y, z, m], GDAL reads x, y, z."""
    cut = False

    def trim(value):
        nonlocal cut
        if isinstance(value, list) and value and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            cut |= len(value) > 3
            return value[:3]
        return [trim(v) for v in value] if isinstance(value, list) else value

    if not isinstance(shape, dict):
        return shape, False
    if isinstance(shape.get("geometries"), list):
        parts = [_xyz_positions(g) for g in shape["geometries"]]
        if any(c for _, c in parts):
            return {**shape, "geometries": [g for g, _ in parts]}, True
        return shape, False
    coords = trim(shape.get("coordinates"))
    return ({**shape, "coordinates": coords}, True) if cut else (shape, False)


def _close_rings(shape):
    """A Polygon/MultiPolygon GeoJSON geometry with each ring closed, or None when it is
    not one or nothing was open."""
    def close(ring):
        if not isinstance(ring, list) or len(ring) < 3 or ring[0] == ring[-1]:
            return ring, False
        return [*ring, ring[0]], True

    try:
        kind, coords = shape.get("type"), shape.get("coordinates")
        polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
        if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
            return None
        rings = [[close(r) for r in polygon] for polygon in polygons]
    except (AttributeError, TypeError):
        return None
    if not any(changed for polygon in rings for _, changed in polygon):
        return None
    fixed = [[r for r, _ in polygon] for polygon in rings]
    return {"type": kind, "coordinates": fixed[0] if kind == "Polygon" else fixed}


def count_features(indices: list) -> str:
    return f"{len(indices)} feature{'s' if len(indices) != 1 else ''}"


def _names(indices: list, label, limit: int = 5) -> str:
    shown = ", ".join(label(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


#: a GeoJSON object without a ``crs`` member (``"crs": null`` is one: no CRS)
_NO_MEMBER = object()


def _geojson_crs(member, path):
    """The CRS named by a (pre-RFC 7946) ``crs`` member; EPSG:4326 without one (``member``
    :data:`_NO_MEMBER`); None for ``"crs": null``, GeoJSON 2008's "no CRS can be assumed",
    which vectorize writes for coordinates in no CRS (an image's pixels: :func:`no_crs`).
    InputError naming ``path`` and --labels-crs (which replaces the member) when it names
    none."""
    if member is None:
        return None
    if member is _NO_MEMBER or not member:
        return parse_crs(GEOJSON_DEFAULT_CRS, "GeoJSON")
    fix = "Pass --labels-crs EPSG:xxxx with the CRS of its coordinates."
    properties = member.get("properties") if isinstance(member, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    if isinstance(member, dict) and member.get("type") == "link":
        raise InputError(f"{path}: the GeoJSON crs member is a link "
                         f"({properties.get('href', 'no href')}), which geotile does not "
                         f"follow. {fix}")
    try:
        if isinstance(member, dict) and member.get("type") == "EPSG" and "code" in properties:
            return parse_crs(f"EPSG:{int(properties['code'])}", "the GeoJSON crs member")
        name = properties.get("name")
        if name:
            return parse_crs(name, "the GeoJSON crs member")
    except (InputError, TypeError, ValueError):
        raise InputError(f"{path}: the GeoJSON crs member {json.dumps(member)} names no CRS "
                         f"GDAL knows. {fix}") from None
    raise InputError(f"{path}: the GeoJSON crs member {json.dumps(member)} names no CRS. {fix}")


#: a GeoJSON text's top-level members before its ``"crs": null`` (:func:`no_crs`)
_NULL_CRS = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*(?:"[^"\\]*"\s*:\s*(?:"[^"\\]*"|[-+.\w]+)\s*,'
                       rb'\s*)*"crs"\s*:\s*null\s*[,}]')


def no_crs(path) -> bool:
    """Whether ``path`` is a GeoJSON file that says ``"crs": null`` (GeoJSON 2008: no CRS
    can be assumed) before its features, as vectorize writes coordinates in no CRS (an
    image's pixels) and geotile reads them: GDAL reads such a file as lon/lat."""
    if Path(str(path)).suffix.lower() not in GEOJSON_SUFFIXES:
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return _NULL_CRS.match(head) is not None


#: the layers GDAL's OSM driver reads from an .osm or .pbf file
OSM_LAYERS = ("points", "lines", "multilinestrings", "multipolygons", "other_relations")


def choose_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read: ``layer`` when the file has it, else the file's only layer of
    polygons or lines (None: GDAL's first layer); InputError listing the layers otherwise."""
    from pyogrio import list_layers

    from geotile.input_paths import given_file, ogr_path

    with hidden(UserWarning, message=MEASURED):
        listed = list_layers(ogr_path(path))
    layers = [(str(name), str(kind)) for name, kind in listed]
    names = ", ".join(name for name, _ in layers)
    if layer is not None:
        if layer not in {name for name, _ in layers}:
            raise InputError(f"{given_file(path)}: no layer {layer!r}. Layers: {names}.")
        return layer
    if len(layers) < 2:
        return None
    shaped = [name for name, kind in layers
              if any(word in kind for word in ("Polygon", "LineString", "Surface", "Curve",
                                                 "Unknown", "Geometry"))]
    if len(shaped) > 1:  # a GPX file's routes and tracks, one of them empty
        shaped = [name for name in shaped if _holds_features(path, name)] or shaped
    if len(shaped) > 1:
        osm = set(OSM_LAYERS) <= {name for name, _ in layers}  # GDAL's OSM driver's
        raise InputError(
            f"{given_file(path)}: the file holds {len(shaped)} layers of polygons or lines "
            f"({', '.join(shaped)}). Choose one with --layer NAME"
            + (": OpenStreetMap's roads are --layer lines, its buildings and other areas "
               "--layer multipolygons." if osm else ".")
        )
    return shaped[0] if shaped else None


def _holds_features(path: Path, layer: str) -> bool:
    """Whether ``layer`` of ``path`` may hold features: False only when it surely holds none
    (counted where the driver does not know; never for OSM, whose count is a pass over
    the whole file, every layer)."""
    from pyogrio import read_info

    from geotile.input_paths import ogr_path

    info = read_info(ogr_path(path), layer=layer)
    if info.get("features", -1) < 0 and info.get("driver") != "OSM":
        info = read_info(ogr_path(path), layer=layer, force_feature_count=True)
    return info.get("features", -1) != 0


#: Latin-1's C1 controls (U+0080..U+009F) as Windows-1252 has those bytes (€ – ’ Œ ...):
#: text read as Latin-1 (a Shapefile without .cpg, as ArcGIS writes them) is 1252 in practice
WINDOWS_1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0)
                if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _ogr_read(path: Path, layer: str | None, **kwargs):
    """pyogrio's raw read (meta, fids, wkb, fields), retried as Latin-1 (with a warning)
    when text fields are not UTF-8; text read as Latin-1 is read as Windows-1252, or as
    UTF-8 where all valid UTF-8 and no .cpg declares the code page."""
    from pyogrio.raw import read as pyogrio_read

    from geotile.input_paths import ogr_path

    def read(*args, **options):
        with hidden(UserWarning, message=MEASURED):  # M dropped here: _drop_measures
            return pyogrio_read(*args, **options)

    if (code_page := _overridden_code_page(path)) is not None:
        kwargs = {**kwargs, "encoding": code_page}
    try:
        meta, fids, wkb, fields = read(ogr_path(path), layer=layer, return_fids=True,
                                       **kwargs)
        latin = str(meta.get("encoding", "")).upper() in ("ISO-8859-1", "LATIN1")
    except UnicodeDecodeError:  # text fields in another encoding, as GDAL would show them
        # GDAL's name for Latin-1 (a Shapefile's .cpg is overridden by it): "latin-1" it
        # does not know, and hands the bytes back undecoded
        meta, fids, wkb, fields = read(ogr_path(path), layer=layer, return_fids=True,
                                       encoding="ISO-8859-1", **kwargs)
        warn(f"{path}: text fields are not UTF-8; read them as Latin-1 (Windows-1252). "
             "Check text fields with accents.")
        latin = True
    if latin:
        guessed = None if _has_cpg(path) else _as_utf8(fields)
        fields = guessed or [column if column.dtype != object else np.array(
            [v.translate(WINDOWS_1252) if isinstance(v, str) else v for v in column],
            dtype=object) for column in fields]
    return meta, fids, wkb, fields


def _overridden_code_page(path) -> str | None:
    """The code page the .cpg of the Shapefile at ``path`` declares (a Python codec name)
    where the user's SHAPE_ENCODING would override it, else None: GDAL then decoded a UTF-8
    .dbf as Latin-1 ('bâtiment' read 'bÃ¢timent', class names and all, exit 0)."""
    import codecs

    import pyogrio

    if (cpg := _cpg_file(path)) is None or ("SHAPE_ENCODING" not in os.environ and
                                            pyogrio.get_gdal_config_option("SHAPE_ENCODING")
                                            is None):
        return None
    try:
        name = cpg.read_text(encoding="ascii").strip().upper().removeprefix("ANSI ")
    except (OSError, UnicodeError):
        return None
    if name.isdigit():  # GDAL's numeric code pages: 1252, 65001, 88591
        name = "utf-8" if name == "65001" else f"iso-8859-{name[4:]}" \
            if name.startswith("8859") else f"cp{name}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _has_cpg(path) -> bool:
    """Whether the Shapefile at ``path`` declares its code page in a .cpg (LDID/87 is read
    as Latin-1 by GDAL, not guessed at as UTF-8)."""
    return _cpg_file(path) is not None


def _cpg_file(path) -> Path | None:
    """The .cpg (or .CPG) of the Shapefile at ``path``, None where it has none."""
    if not isinstance(path, Path) or path.suffix.lower() not in (".shp", ".dbf"):
        return None
    return next((cpg for suffix in (".cpg", ".CPG")
                 if (cpg := path.with_suffix(suffix)).is_file()), None)


def _as_utf8(fields) -> list | None:
    """Text fields read as Latin-1 decoded as UTF-8 when every one of their non-ASCII values
    is UTF-8 (a UTF-8 .dbf without its .cpg: 'StraÃ\u0178e' is 'Straße'; Latin-1 text is
    valid UTF-8 only by chance: 'é' alone is not); None when some is not, or none is
    non-ASCII."""
    decoded, changed = [], False
    for column in fields:
        if column.dtype != object:
            decoded.append(column)
            continue
        values = []
        for v in column:
            if isinstance(v, str) and not v.isascii():
                try:
                    v = v.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    return None
                changed = True
            values.append(v)
        decoded.append(np.array(values, dtype=object))
    return decoded if changed else None


def _read_ogr(path: Path, layer: str | None = None, regions=None, override=None,
              class_field: str | None = None, whole_values: list | None = None,
              where: str | None = None) -> Labels | None:
    """``path`` read by GDAL (pyogrio); ``where`` is applied by the caller, and to
    ``values`` here (the SQLite reader of a GeoPackage is then not used: its field types
    are SQLite's, not GDAL's); ``whole_values`` (read once for a run's tasks, of no
    ``where``) stand for the file's class values."""
    if regions is not None and isinstance(path, Path) and path.suffix.lower() == ".gpkg" \
            and where is None:
        labels = _read_gpkg_boxes(path, layer, regions, override, class_field)
        if labels is not None:
            return labels
    # GDAL's GeoJSONSeq driver reads the whole file at each open (its fields): one layer,
    # no CSV, so no opens to ask (a 2M-footprint .csv.gz: ~12 s each)
    sequence = os.fspath(path).startswith(("GeoJSONSeq:", "GeoJSON:")) or \
        os.fspath(path).lower().endswith((".geojsonl", ".geojsons"))
    options = {} if sequence else _wkt_csv_options(path, where)
    chosen = None if sequence and layer is None else choose_layer(path, layer)
    boxes, info, near = None, None, None
    if regions is not None and "GEOM_POSSIBLE_NAMES" in options:  # Google Open Buildings
        boxes, info, near = _wkt_csv_near(path, chosen, regions, override, options)
    if regions is not None and near is None:
        from pyogrio import read_info

        from geotile.input_paths import ogr_path

        # GDAL's OSM driver counts features by a pass over the whole file (1M buildings:
        # 7.5 s, 1.2 GB): it has none to tell an empty layer by, its extent may be unknown
        osm = _osm_file(path)
        with hidden(UserWarning, message=MEASURED):
            info = read_info(ogr_path(path), layer=chosen, force_feature_count=not osm,
                             force_total_bounds=True, **options)
        file_crs = override or header_crs(info.get("crs"), path)
        if options and file_crs is None:
            file_crs = parse_crs(GEOJSON_DEFAULT_CRS, "CSV")
        bounds = info.get("total_bounds")
        # an extent of one point: no geometry at all (GDAL says 0, 0, 0, 0), read whole
        flat = bounds is not None and bounds[0] == bounds[2] and bounds[1] == bounds[3]
        if info.get("geometry_type") is not None and not flat and (
                bounds is not None or osm):
            boxes = region_boxes(regions, file_crs)
    if near is not None:
        meta, fids, wkb, field_data = near
    elif boxes is None:
        meta, fids, wkb, field_data = _ogr_read(path, chosen, **options)
    else:
        meta, fids, wkb, field_data = _read_boxes(path, chosen, boxes, info.get("driver"),
                                                  options)
    fields = {name: np.asarray(data)
              for name, data in zip(meta["fields"], field_data, strict=True)}
    if wkb is None or meta.get("geometry_type") is None:
        return None
    crs = header_crs(meta.get("crs"), path)
    if options and crs is None:  # WKT in a CSV, which names no CRS: lon/lat (checked later)
        crs = parse_crs(GEOJSON_DEFAULT_CRS, "CSV")
    extent, values = None, {}
    if boxes is not None:
        if info.get("total_bounds") is None:  # an OSM file without <bounds>: its extent
            extent = None if len(wkb) else _streamed_extent(path, chosen)  # (for the word)
        elif info["features"] or len(wkb):
            extent = tuple(float(v) for v in info["total_bounds"])
        if class_field is not None and class_field in fields:
            values[class_field] = (list(whole_values) if whole_values is not None
                                   and where is None
                                   else _distinct(path, chosen, class_field, options, where))
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    broken = np.array([i for i, (g, w) in enumerate(zip(geometries, wkb, strict=True))
                       if g is None and w is not None], dtype=np.int64)
    if len(broken):
        fixed = shapely.from_wkb(wkb[broken], on_invalid="fix")
        geometries[broken] = fixed
        repaired = [int(i) for i, g in zip(broken, fixed, strict=True) if g is not None]
        skipped = [int(i) for i, g in zip(broken, fixed, strict=True) if g is None]

        def label(i: int) -> str:
            return f"FID {fids[i]}" if fids is not None else f"feature {i}"

        if repaired:
            warn(f"{path}: {count_features(repaired)} with geometry GEOS cannot read as it is "
                 f"(e.g. unclosed rings) {'was' if len(repaired) == 1 else 'were'} "
                 f"repaired: {_names(repaired, label)}.")
        if skipped:
            warn(f"{path}: {count_features(skipped)} with a geometry that cannot be read "
                 f"{'was' if len(skipped) == 1 else 'were'} skipped: "
                 f"{_names(skipped, label)}.")
    return Labels(geometries, fields, crs, extent, values,
                  assumed=CSV_ASSUMED if options and header_crs(meta.get("crs"), path) is None
                  else None)


#: bytes of a GeoPackage geometry header's envelope, by its envelope indicator
_GPKG_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _read_gpkg_boxes(path: Path, layer: str | None, regions, override,
                     class_field: str | None) -> Labels | None:
    """The features of a one-layer GeoPackage near ``regions``, straight from SQLite through
    its R-tree (no GDAL to load: the whole command then costs what gdal_rasterize does).
    None when the file is anything else (several layers, no R-tree, extended or curved
    geometries, text that is not UTF-8...): pyogrio reads it then."""
    import sqlite3

    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return _gpkg_query(db, path, layer, regions, override, class_field)
    except (sqlite3.Error, ValueError, KeyError, IndexError, NotImplementedError,
            shapely.errors.GEOSException):  # GEOS reads no arcs: GDAL linearises them
        return None
    finally:
        db.close()


def _gpkg_query(db, path: Path, layer, regions, override, class_field) -> Labels | None:
    contents = db.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall()
    if len(contents) != 1 or contents[0][1] != "features" or layer not in (None, contents[0][0]):
        return None
    table = contents[0][0]
    column, srs_id = db.execute("SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE "
                                "table_name = ?", (table,)).fetchone()
    rtree = f"rtree_{table}_{column}"
    if not db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (rtree,)).fetchone()[0]:
        return None
    crs = None
    if srs_id not in (0, -1):
        org, code, definition = db.execute(
            "SELECT organization, organization_coordsys_id, definition FROM "
            "gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
        crs = parse_crs(f"EPSG:{code}" if str(org).upper() == "EPSG" else definition, str(path))
    boxes = region_boxes(regions, override or crs)
    if boxes is None:
        return None
    columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()
    pk = next(c[1] for c in columns if c[5] == 1)
    names = [c[1] for c in columns if c[1] not in (pk, column)]
    where = " OR ".join(["(minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"] * len(boxes))
    selected = ", ".join(f'"{n}"' for n in [pk, column, *names])
    rows = db.execute(f'SELECT {selected} FROM "{table}" WHERE "{pk}" IN (SELECT id FROM '
                      f'"{rtree}" WHERE {where}) ORDER BY "{pk}"',
                      [v for b in boxes for v in (b[2], b[0], b[3], b[1])]).fetchall()
    wkb = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        blob = row[1]
        if blob is None:
            wkb[i] = None
            continue
        flags = blob[3]
        if blob[:2] != b"GP" or flags & 0x20:  # not a GeoPackage blob, or an extended type
            return None
        wkb[i] = bytes(blob[8 + _GPKG_ENVELOPE[(flags >> 1) & 7]:])
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    if any(g is None and w is not None for g, w in zip(geometries, wkb, strict=True)):
        return None  # broken or curved geometries: GDAL's reader repairs and names them
    # BOOLEAN columns hold 0/1 in SQLite; GDAL (so every other format) gives False/True
    flags = {c[1] for c in columns if str(c[2]).upper() == "BOOLEAN"}
    fields = {name: field_column([_sqlite_value(row[2 + j], name in flags) for row in rows])
              for j, name in enumerate(names)}
    if not rows and db.execute(f'SELECT NOT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:
        return Labels(np.empty(0, dtype=object), {}, crs)
    # the extent GDAL reports (gpkg_contents), else the R-tree's (a scan of its leaves)
    bounds = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE "
                        "table_name = ?", (table,)).fetchone()
    if any(v is None for v in bounds):
        bounds = db.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM '
                            f'"{rtree}"').fetchone()
    if all(v is None for v in bounds):  # rows, none with a geometry: GDAL's reader reads
        return None  # them all, for read_labels to tell
    extent = tuple(np.nan if v is None else float(v) for v in bounds)
    values = {}
    if class_field is not None and class_field in names:
        values[class_field] = [_sqlite_value(r[0], class_field in flags) for r in db.execute(
            f'SELECT DISTINCT "{class_field}" FROM "{table}"') if r[0] is not None]
    return Labels(geometries, fields, crs, extent, values)


def _sqlite_value(value, boolean: bool):
    """A GeoPackage field value as GDAL reads it: a BOOLEAN column's 0/1 as False/True."""
    return bool(value) if boolean and value is not None else value


#: drivers whose FIDs number the features in file order (row ids, record numbers): a
#: filtered read comes back in index order (a GeoPackage's R-tree) and is sorted by FID.
#: Others (GeoJSON: FID = the "id" member) keep GDAL's order, which is the file's.
_FID_IN_FILE_ORDER = {"GPKG", "SQLite", "ESRI Shapefile", "FlatGeobuf", "Parquet", "Arrow",
                      "OpenFileGDB", "CSV", "MapInfo File"}


def _read_boxes(path: Path, layer: str | None, boxes: list, driver: str | None = None,
                options: dict | None = None):
    """pyogrio's raw read of the features intersecting any of ``boxes`` (one spatial-index
    query per box), once each, in file order, as the later feature must win where they
    overlap. ``options``: GDAL open options."""
    options = options or {}
    if driver == "OSM" and len(boxes) > 1:  # one pass of the stream, in file order
        return _ogr_read(path, layer, mask=shapely.MultiPolygon(
            [shapely.box(*box) for box in boxes]), **options)
    if driver not in _FID_IN_FILE_ORDER and len(boxes) > 1:
        # FIDs tell no file order to merge the boxes' reads by: read once, keep those near
        meta, fids, wkb, columns = _ogr_read(path, layer, **options)
        shapes = shapely.from_wkb(wkb, on_invalid="fix")
        near = shapely.intersects(shapes, shapely.MultiPolygon(
            [shapely.box(*box) for box in boxes]))
        near |= np.array([g is None and w is not None for g, w in zip(shapes, wkb, strict=True)],
                         dtype=bool)  # unreadable: named later
        return meta, fids[near], wkb[near], [column[near] for column in columns]
    with _without_gdb_index(driver):
        parts = [_ogr_read(path, layer, bbox=tuple(box), **options) for box in boxes]
    meta = parts[0][0]
    fids = np.concatenate([part[1] for part in parts])
    if len(parts) > 1:
        _, first = np.unique(fids, return_index=True)  # sorted by FID, each once
    elif driver in _FID_IN_FILE_ORDER:
        first = np.argsort(fids, kind="stable")
    else:
        first = np.arange(len(fids))
    wkb = np.concatenate([part[2] for part in parts])[first]
    columns = [np.concatenate([part[3][i] for part in parts])[first]
               for i in range(len(meta["fields"]))]
    return meta, fids[first], wkb, columns


def _osm_file(path) -> bool:
    """Whether ``path`` is an OpenStreetMap extract (.osm XML, .pbf; .osm.gz, through
    /vsigzip/), read by GDAL's OSM driver as a stream: no feature count or extent but by a
    pass over the whole file."""
    return os.fspath(path).lower().removesuffix(".gz").endswith((".osm", ".pbf"))


def _streamed_extent(path, layer: str | None) -> tuple | None:
    """The extent of ``layer`` of ``path`` from one pass over its geometries in batches
    (memory of a batch, not of the file); None when it holds no geometry."""
    from pyogrio.raw import open_arrow

    from geotile.input_paths import ogr_path

    extent = np.array([np.inf, np.inf, -np.inf, -np.inf])
    with open_arrow(ogr_path(path), layer=layer, columns=[], batch_size=65_536,
                    use_pyarrow=True) as (meta, reader):
        column = meta["geometry_name"] or "wkb_geometry"
        for batch in reader:
            wkb = batch.column(column).to_numpy(zero_copy_only=False)
            bounds = shapely.bounds(shapely.from_wkb(wkb, on_invalid="ignore"))
            if len(bounds) and not np.isnan(bounds).all():
                extent = np.concatenate([np.minimum(extent[:2], np.nanmin(bounds[:, :2], 0)),
                                         np.maximum(extent[2:], np.nanmax(bounds[:, 2:], 0))])
    return tuple(float(v) for v in extent) if np.isfinite(extent).all() else None


@contextlib.contextmanager
def _without_gdb_index(driver: str | None):
    """A File Geodatabase's features filtered by a scan of their envelopes, not through its
    .spx spatial index: GDAL trusts an index that does not match the features (as GDAL 3.6
    writes them for newer GDAL, a stale one from ArcGIS) and finds none near the image. The
    user's own OPENFILEGDB_USE_SPATIAL_INDEX wins."""
    from geotile.gdal_settings import pyogrio_settings

    key = "OPENFILEGDB_USE_SPATIAL_INDEX"
    if driver != "OpenFileGDB" or key in os.environ:
        yield
        return
    with pyogrio_settings({key: "NO"}):
        yield


#: files whose class values beside a region's features are one column read (:func:`_distinct`)
_COLUMN_READ = (".fgb", ".shp")


def whole_class_values(path, class_field: str, layer: str | None = None) -> list | None:
    """The distinct values of ``class_field`` over the whole of the local FlatGeobuf or
    Shapefile ``path``, as :func:`read_labels` of a region reads them: for runs that mask
    each image in a task of its own to read them once, not once per image. None for other
    files (read otherwise, or cheaply) or where they cannot be read (the tasks say why)."""
    import pyogrio

    from geotile.input_paths import input_path

    path = input_path(path)
    if not isinstance(path, Path) or path.suffix.lower() not in _COLUMN_READ \
            or not path.is_file():
        return None
    try:
        chosen = choose_layer(path, layer)
        if class_field not in pyogrio.read_info(path, layer=chosen)["fields"]:
            return None
        return _distinct(path, chosen, class_field)
    except (InputError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None


def _distinct(path: Path, layer: str | None, name: str, options: dict | None = None,
              where: str | None = None) -> list:
    """The distinct values of field ``name`` over the whole file (one column read; with
    ``where``, of the features it selects: the whole file read)."""
    if where is None:
        _, _, _, (column,) = _ogr_read(path, layer, columns=[name], read_geometry=False,
                                       **(options or {}))
    else:
        from geotile.label_filter import selected

        meta, _, wkb, columns = _ogr_read(path, layer, **(options or {}))
        fields = dict(zip(meta["fields"], columns, strict=True))
        keep = selected(fields, shapely.from_wkb(wkb, on_invalid="ignore"), where, path)
        column = fields[name][keep]
    return list(dict.fromkeys(v for v in column.tolist() if v is not None))


def image_regions(images, margin: int = 0, reach: float = 0.0) -> list[tuple]:
    """``(crs, (minx, miny, maxx, maxy))`` of each raster (all four corners, grown by
    ``margin`` px and ``reach`` ground metres: lines widened later), for
    :func:`read_labels`' ``regions``."""
    from geotile.input_paths import input_path
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    regions = []
    for image in images:  # the caller warns of an image without georeferencing
        with open_raster(input_path(image)) as src:  # pixels: no CRS
            crs = map_crs(src)
            bounds = grid_envelope(src.transform, src.width + 2 * margin,
                                   src.height + 2 * margin, -margin, -margin)
        if reach > 0:
            grow = _units_for(crs, bounds, reach)
            bounds = (bounds[0] - grow, bounds[1] - grow, bounds[2] + grow, bounds[3] + grow)
        regions.append((crs, bounds))
    return regions


def _units_for(crs, bounds, metres: float) -> float:
    """``metres`` of ground in units of ``crs`` anywhere in ``bounds`` (its smallest scale
    at the centre and corners, 2 % over); the labels' own units without a CRS."""
    from geotile.ground_scale import ground_scales

    if crs is None:
        return metres
    x0, y0, x1, y1 = bounds
    places = [((x0 + x1) / 2, (y0 + y1) / 2), (x0, y0), (x0, y1), (x1, y0), (x1, y1)]
    scale = min(min(ground_scales(crs, x, y)) for x, y in places)
    if not scale > 0:  # outside the projection's domain (NaN): no filter there
        return np.inf
    return 1.02 * metres / scale


def region_boxes(regions, crs, margin: float = 0.01) -> list | None:
    """Boxes in ``crs`` that cover ``regions`` (each grown by ``margin`` of its size, as
    densified edges are curves in another CRS), nearby ones grouped into one box: the
    bbox filters to push down. None (read everything) when a CRS is missing."""
    boxes = []
    for region_crs, bounds in regions:
        if (region_crs is None) != (crs is None):
            return None
        if region_crs is not None and parse_crs(region_crs, "the raster's CRS") != crs:
            from rasterio.warp import transform_bounds

            if not crs.is_geographic and _at_antimeridian(region_crs, bounds):
                return None  # e.g. Web Mercator x past 20037508 m (lon 180): read it all

            try:
                bounds = transform_bounds(region_crs, crs, *bounds, densify_pts=21)
            except Exception:  # outside the CRS' area of use: do not filter
                return None
        if not np.all(np.isfinite(bounds)):
            return None
        minx, miny, maxx, maxy = bounds
        across = minx > maxx  # lon/lat across the antimeridian: minx east of 180, maxx west
        maxx += 360.0 if across else 0.0
        grow_x = (maxx - minx) * margin + 1e-9 * max(1.0, abs(minx), abs(maxx))
        grow_y = (maxy - miny) * margin + 1e-9 * max(1.0, abs(miny), abs(maxy))
        box = [minx - grow_x, miny - grow_y, maxx + grow_x, maxy + grow_y]
        boxes.append(box)
        # the same box 360 degrees off where it reaches past 180 or -180, as files write
        # longitudes either way (RFC 7946's parts split at 180 too)
        if crs is not None and crs.is_geographic and (box[2] > 180 or box[0] < -180):
            shift = -360.0 if box[2] > 180 else 360.0
            boxes.append([box[0] + shift, box[1], box[2] + shift, box[3]])
    return group_boxes(boxes) if boxes else None


def _at_antimeridian(crs, bounds) -> bool:
    """Whether lon/lat ``bounds`` in ``crs`` reach lon 180 or -180 (or cross it)."""
    from rasterio.crs import CRS

    minx, _, maxx, _ = bounds
    return CRS.from_user_input(crs).is_geographic and (minx <= -180 or maxx >= 180
                                                       or minx > maxx)


def group_boxes(boxes: list) -> list:
    """Merge boxes that overlap or lie within half their size of each other (repeatedly,
    so chains of neighbouring tiles become one box); returns the merged boxes."""
    merged = [list(map(float, box)) for box in boxes]
    changed = True
    while changed and len(merged) > 1:
        changed = False
        tree = shapely.STRtree([shapely.box(*_grown(box)) for box in merged])
        parent = list(range(len(merged)))

        left, right = tree.query([shapely.box(*_grown(box)) for box in merged],
                                 predicate="intersects")
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            ra, rb = _root(parent, a), _root(parent, b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
                changed = True
        groups: dict[int, list] = {}
        for i, box in enumerate(merged):
            group = groups.setdefault(_root(parent, i), list(box))
            group[:] = [min(group[0], box[0]), min(group[1], box[1]),
                        max(group[2], box[2]), max(group[3], box[3])]
        merged = list(groups.values())
    return merged


def _root(parent: list, i: int) -> int:
    """Union-find: the representative of ``i`` (paths halved on the way)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _grown(box) -> tuple:
    """``box`` grown by a quarter of its size on each side (two such boxes meet when their
    gap is under half their mean size)."""
    minx, miny, maxx, maxy = box
    dx, dy = (maxx - minx) / 4, (maxy - miny) / 4
    return minx - dx, miny - dy, maxx + dx, maxy + dy


def _stream_geojson(path: Path, regions, override, class_field: str | None,
                    where: str | None = None) -> Labels | None:
    """The features of a (large) GeoJSON FeatureCollection near ``regions``, read in chunks
    of CHUNK_FEATURES so that the file is never held whole; same results, repairs and
    warnings as :func:`_read_geojson`, numbered over the whole file. ``where``: those it
    selects (:func:`geotile.label_filter.filter_labels`, over the whole file's properties,
    typed as GDAL types them), ``class_field``'s values those of the selected features."""
    with open(path, "rb") as handle:
        wide = wide_encoding(handle.read(4))
    if wide:
        _say_wide(path, wide)
    reader = _GeoJSONStream(path, wide or "utf-8-sig")
    try:
        return reader.read(regions, override, class_field, where)
    except _NotUTF8:
        if wide:
            raise _cut_short(path, wide) from None
        warn(f"{path}: not UTF-8, as GeoJSON must be (RFC 7946); read it as Latin-1. "
             "Check text fields with accents.")
        return _GeoJSONStream(path, "latin-1").read(regions, override, class_field, where)


class _NotUTF8(Exception):
    pass


class _GeoJSONStream:
    """A FeatureCollection read member by member, features one by one (json's C scanner),
    from a text buffer refilled from the file."""

    BLOCK = 4 * 2**20

    def __init__(self, path: Path, encoding: str = "utf-8-sig") -> None:
        import codecs
        import re

        self.path, self.encoding = path, encoding
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.json = json.JSONDecoder()
        self.space = re.compile(r"[ \t\n\r]*")
        self.buffer, self.pos, self.eof = "", 0, False

    def _fill(self) -> bool:
        """Read another block onto the buffer (dropping what was consumed); False at EOF."""
        if self.eof:
            return False
        data = self.handle.read(self.BLOCK)
        try:
            text = self.decoder.decode(data, final=not data)
            if self.encoding == "latin-1":
                text = text.translate(WINDOWS_1252)
        except UnicodeDecodeError as exc:
            raise _NotUTF8() from exc
        self.buffer = self.buffer[self.pos:] + text
        self.pos = 0
        self.eof = not data
        return True

    def _skip(self) -> str:
        """Skip whitespace; the next character ('' at the end)."""
        while True:
            self.pos = self.space.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer) or not self._fill():
                return self.buffer[self.pos:self.pos + 1]

    def _value(self):
        """The next JSON value, reading more of the file until it is complete."""
        self._skip()
        while True:
            try:
                value, end = self.json.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise
            if end == len(self.buffer) and not self.eof and not isinstance(value, (dict, list,
                                                                                      str)):
                self._fill()  # a number may continue in the next block
                continue
            self.start, self.pos = self.pos, end
            return value

    def _expect(self, chars: str) -> str:
        char = self._skip()
        if not char or char not in chars:
            raise ValueError(f"expected {' or '.join(repr(c) for c in chars)} at character "
                             f"{self.pos} of the GeoJSON text")
        self.pos += 1
        return char

    def read(self, regions, override, class_field, where=None) -> Labels | None:
        with open(self.path, "rb") as self.handle:
            members: dict = {}
            state = _StreamState(class_field, where)
            self._expect("{")
            if self._skip() != "}":
                while True:
                    key = self._value()
                    self._expect(":")
                    if key == "features" and members.get("type", "FeatureCollection") == \
                            "FeatureCollection" and self._skip() == "[":
                        crs = override or _geojson_crs(members.get("crs", _NO_MEMBER),
                                                       self.path)
                        boxes = region_boxes(regions, crs)
                        if "crs" not in members and boxes is not None:
                            state.deferred = True  # a crs member may still follow
                        self._features(state, boxes)
                        members[key] = None
                    else:
                        members[key] = self._value()
                    if self._expect(",}") == "}":
                        break
        if members.get("type") != "FeatureCollection" or "features" not in members:
            return _read_geojson(self.path, override)  # a lone Feature or geometry: small
        if state.deferred and "crs" in members and override is None:
            return _read_geojson(self.path, override)  # the CRS came after the features
        return state.labels(override or _geojson_crs(members.get("crs", _NO_MEMBER),
                                                     self.path),
                            class_field, self.path)

    def _features(self, state, boxes) -> None:
        self._expect("[")
        if self._skip() == "]":
            self.pos += 1
            return
        chunk: list = []
        texts: list = []
        while True:
            chunk.append(self._value())
            texts.append(self.buffer[self.start:self.pos])
            if len(chunk) >= CHUNK_FEATURES:
                state.add(chunk, boxes, self.path, texts)
                chunk, texts = [], []
            if self._expect(",]") == "]":
                break
        state.add(chunk, boxes, self.path, texts)


def _chunk_geometries(chunk: list, features: list, texts: list, path, offset: int = 0,
                      numbers: list | None = None) -> np.ndarray:
    """The geometries of a chunk of parsed GeoJSON features (``chunk``; ``features``: the
    same as dicts), ``texts`` their text: GEOS reads them as one collection, or one by one
    (with repairs and warnings) where one is broken."""
    shapes = [f.get("geometry") for f in features]
    geometries = np.empty(len(features), dtype=object)
    parts: Any = []
    if all(s is not None for s in shapes) and all(isinstance(f, dict) for f in chunk):
        try:  # GEOS reads the chunk's text as one collection, as _read_geojson does
            parts = shapely.get_parts(shapely.from_geojson(
                '{"type": "FeatureCollection", "features": [' + ",".join(texts) + "]}"))
        except shapely.errors.GEOSException:  # a broken feature: one by one
            parts = []
    if len(parts) == len(features):
        geometries[:] = list(parts)
    elif any(s is not None for s in shapes):
        _geojson_geometries(shapes, features, geometries, path, offset, numbers)
    return geometries


class _StreamState:
    """What a streamed GeoJSON keeps: the features near the boxes, field names and
    ``class_field`` values over all, the total bounds, the count."""

    def __init__(self, class_field: str | None, where: str | None = None) -> None:
        self.class_field, self.where = class_field, where
        # --where: every feature's properties (and its geometry where the expression may
        # ask of it: OGR_GEOM_AREA...), whether it is near the boxes; selected at the end
        self.everything: list = []
        self.near: list = []
        self.count, self.deferred = 0, False
        self.geometries: list = []
        self.properties: list = []
        self.names: dict = {}
        self.values: dict = {}
        self.bounds = [np.inf, np.inf, -np.inf, -np.inf]

    def add(self, chunk: list, boxes, path: Path, texts: list) -> None:
        features = [f if isinstance(f, dict) else {} for f in chunk]
        geometries = _chunk_geometries(chunk, features, texts, path, offset=self.count)
        properties = [f.get("properties") if isinstance(f.get("properties"), dict) else {}
                      for f in features]
        for p in properties:
            self.names.update(dict.fromkeys(p))
            if self.class_field is not None and self.where is None:
                self.values[p.get(self.class_field)] = None
        bounds = shapely.bounds(geometries)
        if len(bounds):
            from geotile.quiet_warnings import hidden

            with hidden(RuntimeWarning):  # all-NaN: no geometry
                self.bounds = [min(self.bounds[0], np.nanmin(bounds[:, 0], initial=np.inf)),
                               min(self.bounds[1], np.nanmin(bounds[:, 1], initial=np.inf)),
                               max(self.bounds[2], np.nanmax(bounds[:, 2], initial=-np.inf)),
                               max(self.bounds[3], np.nanmax(bounds[:, 3], initial=-np.inf))]
        if boxes is None:
            keep = np.ones(len(features), dtype=bool)
        else:
            keep = np.zeros(len(features), dtype=bool)
            for box in boxes:
                keep |= shapely.intersects(geometries, shapely.box(*box))
        self.count += len(features)
        if self.where is not None:
            self.everything.extend(properties)
            self.near.extend(keep.tolist())
            if "OGR_" not in self.where.upper():  # only the near ones' are needed
                geometries = np.where(keep, geometries, None)
            self.geometries.extend(geometries.tolist())
            return
        self.geometries.extend(geometries[keep].tolist())
        self.properties.extend(p for p, k in zip(properties, keep, strict=True) if k)

    def keep(self, features: list, texts: list, numbers: list, boxes, path) -> None:
        """Keep those of ``features`` (dicts, their ``texts``, numbered ``numbers`` in the
        file) that meet ``boxes``, and those near them whose geometry GEOS cannot read (None,
        as :func:`_read_geojson` keeps them: none read is refused); the caller counts them all
        and notes their names, values and bounds (:mod:`geotile.geojson_lines`)."""
        if not features:
            return
        geometries = _chunk_geometries(features, features, texts, path, numbers=numbers)
        unread = np.array([g is None and f.get("geometry") is not None
                           for g, f in zip(geometries, features, strict=True)], dtype=bool)
        keep = np.ones(len(features), dtype=bool) if boxes is None else unread
        for box in boxes or ():
            keep |= shapely.intersects(geometries, shapely.box(*box))
        self.geometries.extend(geometries[keep].tolist())
        self.properties.extend(
            f.get("properties") if isinstance(f.get("properties"), dict) else {}
            for f, k in zip(features, keep, strict=True) if k)

    def labels(self, crs, class_field, path=None) -> Labels | None:
        if not self.count:
            return Labels(np.empty(0, dtype=object), {}, crs)
        geometries = np.empty(len(self.geometries), dtype=object)
        geometries[:] = self.geometries
        properties = self.properties if self.where is None else self.everything
        fields = {name: field_column([p.get(name) for p in properties]) for name in self.names}
        extent = tuple(float(v) for v in self.bounds) if self.count else None
        values = {}
        if self.where is not None:  # selected over the whole file, its near ones kept
            from geotile.label_filter import selected

            chosen = selected(fields, geometries, self.where, path, geojson=True)
            if class_field is not None and class_field in self.names:
                self.values = dict.fromkeys(v for v in fields[class_field][chosen].tolist()
                                            if not (isinstance(v, float) and np.isnan(v)))
            kept = Labels(geometries, fields, crs, extent).take(
                chosen & np.asarray(self.near, dtype=bool))
            geometries, fields, kept.where = kept.geometries, kept.fields, (self.where,
                                                                          self.count)
        if class_field is not None and class_field in self.names:
            values[class_field] = [v for v in self.values if v is not None]
        labels = Labels(geometries, fields, crs, extent, values)
        labels.where = None if self.where is None else (self.where, self.count)
        return labels



def _wkt_csv_near(path, layer: str | None, regions, override, options: dict) -> tuple:
    """(boxes, info, read) for the local CSV of WKT ``path`` near ``regions``: what
    :func:`_read_ogr` gets from GDAL's extent and spatial filter (a parse of each row's WKT,
    twice), from the rows whose box (:mod:`geotile.wkt_csv`) meets a region's, or whose box
    is unknown, read by GDAL (:func:`_csv_rows`) and kept where GEOS says they intersect a
    region's box, as GDAL's filter does. (None, None, None) where GDAL must read it all (a
    CSV pyarrow reads otherwise than GDAL, WKT that GEOS cannot read, a box GDAL sees
    otherwise)."""
    from pyogrio.raw import read as pyogrio_read

    from geotile.input_paths import ogr_path
    from geotile.wkt_csv import Unread, rows_near

    none = None, None, None
    text = os.fspath(path)
    local = Path(text.removeprefix("/vsigzip/"))
    if not (isinstance(path, Path) or text.startswith("/vsigzip/")) or not local.is_file() \
            or local.stat().st_size <= STREAM_BYTES:  # a small one: GDAL's passes are quick
        return none
    column = options["GEOM_POSSIBLE_NAMES"]
    try:
        with hidden(UserWarning, message=MEASURED):
            meta = pyogrio_read(ogr_path(path), layer=layer, max_features=1, **options)[0]
        crs = override or header_crs(meta.get("crs"), path) or \
            parse_crs(GEOJSON_DEFAULT_CRS, "CSV")
        boxes = region_boxes(regions, crs)
        if boxes is None:
            return none
        kinds = {"int32": "integer", "int64": "integer64", "float64": "real"}
        typed = {name: kinds.get(str(dtype)) for name, dtype
                 in zip(meta["fields"], meta["dtypes"], strict=True) if str(dtype) != "object"}
        if None in typed.values():  # dates...: GDAL's read says what it warns of
            return none
        near = rows_near(local, text.startswith("/vsigzip/"), column, boxes, typed)
    except (Unread, UnicodeDecodeError):  # GDAL's own read says what is wrong
        return none
    if [n for n in near.names if n != column] != list(meta["fields"]) or \
            len(near.names) != len(meta["fields"]) + 1:  # another separator...
        return none
    read = _csv_rows(path, local, layer, near, options)
    if read is None:
        return none
    meta, fids, wkb, field_data = read
    with np.errstate(invalid="ignore"):  # (NaN numbers: GDAL's whole read names them)
        shapes = shapely.from_wkb(wkb, on_invalid="ignore")
    if len(fids) != len(near.rows) or any(g is None and w is not None
                                          for g, w in zip(shapes, wkb, strict=True)):
        return none  # GDAL names and repairs what GEOS cannot read
    known = ~near.unknown
    if any(w is None for w in wkb[~known]):  # WKT GDAL cannot read: its filtered read
        return none  # refuses the file, as it did before
    seen = shapely.bounds(shapes)
    if not np.array_equal(seen[known], near.boxes[known], equal_nan=True):
        return none  # GDAL's rows are not pyarrow's (a quoted line break...)
    extent = near.extent
    if (~known).any() and not np.isnan(seen[~known, 0]).all():
        extent = np.concatenate([np.fmin(extent[:2], np.nanmin(seen[~known, :2], 0)),
                                 np.fmax(extent[2:], np.nanmax(seen[~known, 2:], 0))])
    if not np.isfinite(extent).all() or (extent[0] == extent[2] and extent[1] == extent[3]):
        return none  # no geometry, or one point: GDAL's reader reads it whole
    hit = np.zeros(len(near.rows), dtype=bool)
    for box in boxes:
        hit |= shapely.intersects(shapes, shapely.box(*box))
    info = {"total_bounds": tuple(float(v) for v in extent), "features": near.count}
    return boxes, info, (meta, fids[hit], wkb[hit], [data[hit] for data in field_data])


def _csv_rows(path, local: Path, layer: str | None, near, options: dict) -> tuple | None:
    """pyogrio's raw read of the CSV's rows ``near.rows`` (:class:`geotile.wkt_csv.Near`),
    FIDs as the whole file's: from a copy of its head (GDAL types columns by it) and those
    rows' lines, not by GDAL reading its way through the file to each; by FID from the file
    itself where lines are not rows, where a .csvt or .prj beside it says more, or where
    the copy is not read as UTF-8. None where GDAL's read is refused: the whole file's read
    says why."""
    name = local.name.removesuffix(".gz").removesuffix(".GZ")
    beside = [local.with_name(f"{Path(name).stem}{ext}") for ext in (".csvt", ".prj")]
    if near.lines is not None and not any(p.exists() for p in beside):
        try:
            read = _copied_rows(name, layer, near, options)
        except Exception:  # GDAL's or the disk's: the file itself, by FID, says what
            read = None
        if read is not None:
            return read
    try:
        return _ogr_read(path, layer, fids=near.rows + 1, **options)
    except UnicodeDecodeError:
        return None


def _copied_rows(name: str, layer: str | None, near, options: dict) -> tuple | None:
    """:func:`_csv_rows` from a copy named ``name``; None for text not read as UTF-8."""
    import tempfile

    from pyogrio.raw import read as pyogrio_read

    after = near.rows >= near.head_rows
    fids = np.where(after, near.head_rows + np.cumsum(after), near.rows + 1)
    with tempfile.TemporaryDirectory(prefix="geotile-") as folder:
        copy = Path(folder) / name
        with open(copy, "wb") as handle:
            handle.write(near.head if near.head.endswith(b"\n") else near.head + b"\n")
            handle.writelines(line if line.endswith(b"\n") else line + b"\n"
                              for line, later in zip(near.lines, after, strict=True) if later)
        with hidden(UserWarning, message=MEASURED):
            meta, _, wkb, field_data = pyogrio_read(copy, layer=layer, fids=fids, **options)
    if str(meta.get("encoding", "")).upper() in ("ISO-8859-1", "LATIN1"):
        return None
    return meta, near.rows + 1, wkb, field_data


def _wkt_csv_options(path, where: str | None = None) -> dict:
    """GDAL open options that read a CSV's geometry from its one WKT column (Google Open
    Buildings' ``geometry``, lon/lat polygons beside latitude/longitude points: the polygons
    are the labels), which GDAL reads only when told its name; {} for other files (GDAL
    reads them as they are). InputError from :func:`_wkt_column` for a CSV it cannot read
    so. ``where``: the columns are typed (AUTODETECT_TYPE=YES) for it to compare numbers
    (Google Open Buildings' confidence >= 0.75), as ogr2ogr -oo AUTODETECT_TYPE=YES does."""
    if not os.fspath(path).lower().endswith((".csv", ".csv.gz")):
        return {}
    typed = {} if where is None else {"AUTODETECT_TYPE": "YES"}
    try:
        meta, _, wkb, field_data = _ogr_read(path, None, max_features=100)
    except Exception:  # not a CSV GDAL reads: the full read says why
        return {}
    if wkb is not None and meta.get("geometry_type") is not None:
        return typed
    fields = {name: np.asarray(data) for name, data in zip(meta["fields"], field_data,
                                                            strict=True)}
    column = _wkt_column(path, fields)
    return typed if column is None else {"GEOM_POSSIBLE_NAMES": column,
                                         "KEEP_GEOM_COLUMNS": "NO", **typed}


def _wkt_column(path: Path, fields: dict) -> str | None:
    """The one column of WKT text of a CSV (SpaceNet's PolygonWKT_Geo is read by
    :mod:`geotile.spacenet`), None when it has none. Pixel coordinates (SpaceNet's road
    CSVs) cannot take a map CRS, so InputError says what to give instead; several WKT
    columns, which GDAL open option reads the one meant."""
    def first(values) -> str:
        return next((v for v in values if isinstance(v, str) and v.strip()), "").lstrip()

    shapes = ("POLYGON", "MULTIPOLYGON", "LINESTRING", "MULTILINESTRING")
    columns = [name for name, values in fields.items()
               if "wkt" in name.lower() or first(values).upper().startswith(shapes)]
    if not columns:
        _say_points(path, fields)
        return
    column = next((c for c in columns if "geo" in c.lower()), columns[0])
    kind = "lines" if first(fields[column]).upper().startswith(shapes[2:]) else "polygons"
    held = (f"{path}: the {kind} are WKT text in column{'s' if len(columns) > 1 else ''} "
            f"{', '.join(columns)}")
    if "pix" in column.lower() or column.lower().endswith("_px"):
        raise InputError(
            f"{held}, in pixel coordinates of each image, which no CRS places: geotile reads "
            "SpaceNet building CSVs (ImageId, PolygonWKT_Pix), not this one. Give the "
            f"{kind} as a vector file in map coordinates"
            + (" (SpaceNet's geojson_roads; make-masks burns them with --line-width)."
               if kind == "lines"
               else "."))
    if len(columns) == 1:
        return column
    names = {name.lower(): name for name in fields}
    # Google Open Buildings: lon/lat WKT beside latitude/longitude columns, and a confidence
    lonlat = column == "PolygonWKT_Geo" or {"latitude", "longitude"} <= set(names)
    crs = " -a_srs EPSG:4326" if lonlat else " -a_srs EPSG:xxxx"
    confidence = names.get("confidence")
    where = (f' -oo AUTODETECT_TYPE=YES -where "{confidence} >= 0.7"' if confidence else "")
    raise InputError(
        f"{held}, which GDAL reads only when told which one (open option "
        f"GEOM_POSSIBLE_NAMES={column}). Convert it: ogr2ogr -oo GEOM_POSSIBLE_NAMES={column} "
        f"-oo KEEP_GEOM_COLUMNS=NO{where}{crs} labels.gpkg {path}"
        + (" (PolygonWKT_Pix is in pixels, PolygonWKT_Geo in lon/lat)." if column ==
           "PolygonWKT_Geo" else
           " (-where keeps footprints of that confidence and up; drop it to keep all)."
           if confidence else ".")
    )


#: column names of points' coordinates in a CSV (x first), as GDAL's X/Y_POSSIBLE_NAMES
POINT_COLUMNS = ({"lon", "lng", "long", "longitude", "x", "easting"},
                 {"lat", "latitude", "y", "northing"})


def _say_points(path: Path, fields: dict) -> None:
    """InputError for a CSV of points (a column of x and one of y: lon, lat): points have
    no area to burn."""
    found = [next((name for name in fields if name.lower() in names), None)
             for names in POINT_COLUMNS]
    if None not in found:
        raise InputError(f"{path}: points (columns {found[0]}, {found[1]}), which have no area "
                         "to burn. Give the footprints as polygons (GeoJSON, GeoPackage, or a "
                         "CSV with a WKT column).")


def _read_parquet(path: Path, regions=None, override=None,
                  class_field: str | None = None, where: str | None = None) -> Labels | None:
    import geopandas as gpd


    geo = _geo_metadata(path)  # refused in one line before geopandas' own message
    _one_crs(path)

    def read(filters=None):  # geopandas reads no file without its 'geo' metadata
        if geo.get("plain"):
            from geotile.parquet_batches import read_frame

            with _wkb_named(path, geo):
                return read_frame(path, geo, filters, partitioning(path), schema)
        return gpd.read_parquet(path, filters=filters, partitioning=partitioning(path),
                                schema=schema)

    boxes = None if regions is None else region_boxes(regions, override or _parquet_crs(path))
    schema = dataset_schema(path)  # all the parts' fields (pyarrow's: the first part's)
    frame = None
    covering = None if boxes is None else _bbox_columns(path)
    if covering is not None:
        import pyarrow as pa

        try:  # only the rows whose bbox meets a box; row groups outside them are skipped
            frame = read(_boxes_filter(covering, boxes))
        except (ValueError, TypeError, pa.ArrowException):  # bbox fields not numbers...:
            frame = None  # read it all, select below
    streamed = None  # the bounds of all the geometries of a file read in batches
    if frame is None:
        from geotile.parquet_batches import rows_near

        try:  # no bbox column: decoded a batch at a time, the rows near the boxes kept
            if boxes is None:
                frame = read()
            else:
                with _wkb_named(path, geo):
                    frame, streamed = rows_near(path, _geo_metadata(path), boxes,
                                                partitioning(path), schema)
        except InputError:
            raise
        except Exception as exc:  # pyarrow's: parts that type a field apart, named
            if (unlike := _field_typed_apart(path)) is not None:
                raise InputError(unlike) from exc
            raise
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        return None
    _points_beside_shapes(frame, path)
    extent, values = None, {}
    if boxes is not None:
        import pyarrow.parquet as pq

        wholes = [pq.ParquetFile(f) for f in files_of(path)]
        extents = [_file_extent(f, w, covering and _bbox_columns(f, checked=False))
                   for f, w in zip(files_of(path), wholes, strict=True)
                   if w.metadata.num_rows]
        if extents:
            extent = ((streamed or tuple(frame.total_bounds)) if None in extents else
                      (*np.min([e[:2] for e in extents], 0).tolist(),
                       *np.max([e[2:] for e in extents], 0).tolist()))
        if extent is not None and not np.isfinite(np.asarray(extent, float)).any():  # rows,
            return _read_parquet(path, None, override, class_field, where)  # none shaped
        if class_field is not None and class_field in frame.columns and where is not None:
            values[class_field] = _parquet_values(path, class_field, where, schema)
        elif class_field is not None and class_field in frame.columns:
            import pyarrow.dataset as pads

            # a dataset's column, a Hive partition key (type=building) too, as geopandas
            column = pads.dataset(path, format="parquet", partitioning=partitioning(path),
                                  schema=schema).to_table(
                columns=[class_field]).column(0).to_pylist()
            values[class_field] = list(dict.fromkeys(  # (nested ones are refused in class_ids)
                v for v in column if v is not None and not nested_value(v)))
        keep = np.zeros(len(frame), dtype=bool)
        for box in boxes:
            keep |= np.asarray(frame.geometry.intersects(shapely.box(*box)))
        frame = frame[keep]
    geometries = np.empty(len(frame), dtype=object)
    geometries[:] = list(frame.geometry.values)
    from geotile.wkb_parquet import lonlat_assumed, mixed_srids

    if geo.get("plain") and override is None and (srids := mixed_srids(geometries)):
        raise InputError(f"{path}: its column {geo['primary_column']!r} holds EWKB of SRID "
                         f"{srids[0]} and of SRID {srids[1]}, which cannot be read in one "
                         "CRS. Write it in one (ST_Transform), or pass --labels-crs.")
    fields = {str(name): _parquet_column(frame[name]) for name in frame.columns
              if name != frame.geometry.name}
    labels = Labels(geometries, fields, parse_crs(frame.crs, str(path)) if frame.crs else None,
                    extent, values)
    extent = labels.extent if labels.extent is not None else labels.total_bounds
    if lonlat_assumed(geo) and override is None:
        labels.assumed = PARQUET_ASSUMED
    # none near the regions read: the caller says where they lie (make-masks refuses them)
    if labels.assumed and np.isfinite(extent).all() and (regions is None or len(labels)):
        with contextlib.suppress(InputError):  # not lon/lat: refused, saying so, instead
            check_geographic_coordinates(labels, path)
            warn(lonlat_note(path, geo["primary_column"]))
    return labels


@contextlib.contextmanager
def _wkb_named(path: Path, geo: dict):
    """InputError naming the column and ST_AsWKB where the geometry column of a Parquet
    file without 'geo' metadata (``geo``: the one assumed for it) holds no WKB (DuckDB
    spatial's own GEOMETRY serialisation, copied as it is)."""
    try:
        yield
    except shapely.errors.GEOSException as exc:
        if not geo.get("plain"):
            raise
        name = geo["primary_column"]
        raise InputError(
            f"{path}: its column {name!r} holds no WKB ({str(exc).splitlines()[0]}) and the "
            f"file has no GeoParquet metadata. Write it again as WKB: in DuckDB COPY (SELECT "
            f"* REPLACE (ST_AsWKB({name}) AS {name}) FROM ...) TO '{Path(path).name}', or "
            "as GeoParquet with the spatial extension loaded.") from exc


def _points_beside_shapes(frame, path: Path) -> None:
    """InputError when ``frame``'s geometry column holds points only while another of its
    geometry columns (GeoParquet may have several) holds polygons or lines."""
    if not len(frame) or not np.isin(shapely.get_type_id(frame.geometry.values),
                                     [-1, 0, 4]).all():  # none, Point, MultiPoint
        return
    primary = frame.geometry.name
    for name in _geo_metadata(path).get("columns", {}):
        if name == primary or name not in frame.columns:
            continue
        column = frame[name].values  # WKB where read a batch at a time
        shapes = column if str(frame[name].dtype) == "geometry" else shapely.from_wkb(
            np.asarray(column, dtype=object), on_invalid="ignore")
        if np.isin(shapely.get_type_id(shapes), [1, 2, 3, 5, 6]).any():
            raise InputError(
                f"{path}: its geometry column {primary!r} holds points, but its column "
                f"{name!r} polygons or lines. Make that the geometry column: ogr2ogr -sql "
                f'"SELECT {name}, * FROM {Path(path).stem}" labels.gpkg {path} (or '
                f"geopandas: read_parquet, set_geometry({name!r}), to_parquet).")


def _file_extent(path: Path, whole, covering) -> tuple | None:
    """One GeoParquet file's extent: its 'geo' metadata's bbox, else its bbox ``covering``
    columns' (a read of those alone); None with neither (a dataset's part without them)."""
    meta = _geo_metadata(path)
    bbox = meta["columns"][meta["primary_column"]].get("bbox")
    if bbox:
        return tuple(bbox)
    return _bbox_extent(whole, covering) if covering is not None else None


def _parquet_values(path: Path, name: str, where: str, schema=None) -> list:
    """The distinct values of field ``name`` of the features ``where`` selects in the whole
    GeoParquet file ``path`` (a dataset folder read with ``schema``)."""
    from geotile.label_filter import selected
    from geotile.parquet_batches import frames

    found: dict = {}  # batch by batch: memory holds one
    for frame in frames(path, _geo_metadata(path), partitioning(path), schema):
        fields = {str(c): _parquet_column(frame[c]) for c in frame.columns
                  if c != frame.geometry.name}
        geometries = np.empty(len(frame), dtype=object)
        geometries[:] = list(frame.geometry.values)
        column = fields[name][selected(fields, geometries, where, path)]
        found.update(dict.fromkeys(v for v in column.tolist() if v is not None
                                   and not nested_value(v)))
    return list(found)


def field_schema(path, layer: str | None = None) -> dict | None:
    """The fields of the vector file ``path`` (name -> NumPy dtype, as its reader types
    them: a CSV's as read with --where), from its header, no feature read; None where GDAL
    cannot tell them (xBD's JSON, a SpaceNet CSV: read whole) or it holds no features (no
    fields to check an expression against: SpaceNet's file of a tile without buildings)."""
    from pyogrio import read_info

    from geotile.input_paths import input_path, ogr_path

    path = input_path(path)
    try:
        suffix = Path(path).suffix.lower()
        if isinstance(path, Path) and (suffix in PARQUET_SUFFIXES or dataset_files(path)):
            import pyarrow.parquet as pq

            primary = _geo_metadata(path)["primary_column"]
            if not sum(pq.ParquetFile(f).metadata.num_rows for f in files_of(path)):
                return None
            schema = dataset_schema(path) or pq.read_schema(first_file(path))
            return {f.name: _arrow_dtype(f.type) for f in schema if f.name != primary}
        if isinstance(path, Path) and _gzipped(path):
            path = input_path(f"/vsigzip/{path}")
        if isinstance(path, Path) and (suffix in (".geojsonl", ".geojsons") or (
                suffix in GEOJSON_SUFFIXES and _geojson_sequence(path))):
            source = _without_bom(path)
        else:
            source = _sequence_source(path)
        sequence = os.fspath(source).startswith(("GeoJSONSeq:", "GeoJSON:")) or \
            os.fspath(source).lower().endswith((".geojsonl", ".geojsons"))
        options = {} if sequence else _wkt_csv_options(source, "where")
        chosen = None if sequence and layer is None else choose_layer(source, layer)
        info = read_info(ogr_path(source), layer=chosen, **options)
    except InputError:
        raise
    except Exception:  # GDAL reads it not (xBD...): checked as it is read
        return None
    if info.get("features") == 0:
        return None
    return {str(n): np.dtype(t) for n, t in zip(info["fields"], info["dtypes"], strict=True)}


def _arrow_dtype(kind) -> np.dtype:
    """The NumPy dtype a GeoParquet column of arrow type ``kind`` is read as (a field of
    its type for --where)."""
    import pyarrow as pa

    if pa.types.is_integer(kind):
        return np.dtype(np.int64)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.dtype(np.float64)
    if pa.types.is_boolean(kind):
        return np.dtype(bool)
    if pa.types.is_timestamp(kind):
        return np.dtype("datetime64[ms]")
    return np.dtype(object)


#: names of the fields of a bbox struct column (Overture's, VIDA's), in the order xmin,
#: ymin, xmax, ymax (Overture's releases before 2024-04: minX, minY, maxX, maxY)
_BBOX_FIELDS = (("xmin", "ymin", "xmax", "ymax"), ("minx", "miny", "maxx", "maxy"))


def _bbox_columns(path: Path, checked: bool = True) -> tuple | None:
    """The columns of a GeoParquet file's per-row bounding boxes (xmin, ymin, xmax, ymax),
    each a tuple of names (("bbox", "xmin")): its GeoParquet 1.1 covering, else a struct
    column ``bbox`` of those fields (Overture's files without the covering metadata) that
    holds its rows' bounds (a lon/lat one left beside reprojected rows does not, in any of a
    dataset's parts; not ``checked``: taken as it is, a part of a dataset checked whole).
    None when it has neither."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = _geo_metadata(path)
    covering = (meta["columns"][meta["primary_column"]].get("covering") or {}).get("bbox")
    if isinstance(covering, dict):
        try:
            return tuple(tuple(covering[k]) for k in _BBOX_FIELDS[0])
        except (KeyError, TypeError):
            return None
    schema = pq.read_schema(first_file(path))
    if "bbox" not in schema.names or not pa.types.is_struct(schema.field("bbox").type):
        return None
    kind = schema.field("bbox").type
    names = {kind.field(i).name.lower(): kind.field(i).name for i in range(kind.num_fields)}
    for fields in _BBOX_FIELDS:
        if all(f in names for f in fields):
            from geotile.parquet_batches import bbox_holds_bounds

            columns = tuple(("bbox", names[f]) for f in fields)
            # each part holding rows that tell (a geometry and its bbox): a part written
            # apart (reprojected, its lon/lat bbox kept) may be stale where the first is not
            parts = [f for f in files_of(path) if pq.ParquetFile(f).metadata.num_rows] \
                if checked else []
            stale = any(bbox_holds_bounds(part, meta, columns) is False for part in parts)
            return None if stale else columns
    return None


def _bbox_extent(whole, columns: tuple) -> tuple:
    """The whole file's extent, from its bbox ``columns`` (a read of those alone)."""
    import pyarrow.compute as pc

    table = whole.read(columns=list(dict.fromkeys(c[0] for c in columns)))
    extent = []
    for i, column in enumerate(columns):
        values = pc.struct_field(table.column(column[0]), list(column[1:])) \
            if len(column) > 1 else table.column(column[0])
        value = (pc.min(values) if i < 2 else pc.max(values)).as_py()
        extent.append(np.nan if value is None else float(value))
    return tuple(extent)


def _boxes_filter(columns: tuple, boxes: list):
    """A pyarrow filter keeping the rows whose bbox ``columns`` meet any of ``boxes``, and
    those without a bbox (null: their geometry is tested after the read)."""
    import pyarrow.compute as pc

    xmin, ymin, xmax, ymax = (pc.field(*c) for c in columns)
    keep = xmin.is_null() | ymin.is_null() | xmax.is_null() | ymax.is_null()
    for box in boxes:  # grown by a float32 step: Overture's bbox is float32, rounded to
        x0, y0, x1, y1 = _float32_grown(box)  # nearest (~0.7 m at lon 84)
        keep = keep | ((xmin <= x1) & (xmax >= x0) & (ymin <= y1) & (ymax >= y0))
    return keep


def _float32_grown(box) -> list:
    """``box`` grown by the float32 step at its coordinates: a bbox column written as
    float32 may have each bound rounded that far inwards."""
    step = np.spacing(np.abs(np.asarray(box, dtype=np.float32))).astype(np.float64)
    grow_x, grow_y = float(step[[0, 2]].max()), float(step[[1, 3]].max())
    return [box[0] - grow_x, box[1] - grow_y, box[2] + grow_x, box[3] + grow_y]


def _parquet_column(series) -> np.ndarray:
    """A GeoParquet column as a field array, its nulls None as GDAL gives them: pandas'
    nullable dtypes ('string', 'boolean') hold pd.NA, which no check for a missing value
    knows (it was a class named '<NA>')."""
    column = series.to_numpy()
    if column.dtype == object:
        missing = series.isna().to_numpy()
        if missing.any():
            column = column.copy()
            column[missing] = None
    return column


def _geo_metadata(path: Path) -> dict:
    """A GeoParquet file's 'geo' metadata; InputError for a Parquet file without it (a WKB
    column as pyarrow or DuckDB write one: no geometry column named, no CRS)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(first_file(path))
    meta = schema.metadata or {}
    if b"geo" not in meta:
        from geotile.wkb_parquet import (
            GEOMETRY_NAMES,
            assumed_geo,
            first_srid,
            geometry_column,
        )

        stored = pq.ParquetFile(first_file(path)).schema  # Parquet's own column types
        if (name := geometry_column(schema, stored)) is not None:  # DuckDB's copy of...
            return assumed_geo(schema, name, stored, first_srid(first_file(path), name))
        raise InputError(f"{path}: a Parquet file without GeoParquet metadata ('geo': which "
                         "column is the geometry, in which CRS) nor a WKB column named "
                         f"{' or '.join(GEOMETRY_NAMES)}. Write it as GeoParquet, e.g. "
                         "with geopandas' GeoDataFrame.to_parquet, or as GeoPackage.")
    return json.loads(meta[b"geo"])


def _one_crs(path: Path) -> None:
    """InputError naming two part files of the dataset folder ``path`` that declare other
    CRSs (geopandas reads them all in the first one's)."""
    found: dict = {}  # the 'crs' member as written (of most parts the same) -> a part
    for part in files_of(path):
        meta = _geo_metadata(part)
        found.setdefault(json.dumps(meta["columns"][meta["primary_column"]].get(
            "crs", "absent"), sort_keys=True), part)
    if len(found) < 2:
        return
    from pyproj import CRS

    (first, crs), *others = ((p, _parquet_crs(p)) for p in found.values())
    for part, other in others:  # GeoParquet is x/y, lon/lat, whatever the axis order
        if (crs is None) != (other is None) or (crs is not None and not CRS(
                crs.to_wkt()).equals(CRS(other.to_wkt()), ignore_axis_order=True)):
            a, b = crs_labels(crs, other)
            raise InputError(
                f"{path}: its part files are in other CRSs ({first.name}: {a}, "
                f"{part.name}: {b}), read as one dataset in one CRS. Write every part in "
                "one CRS (e.g. geopandas' to_crs, then to_parquet).")


def _field_typed_apart(path: Path) -> str | None:
    """What to say of the dataset folder ``path`` whose parts encode their geometries apart
    or give a field other types (the first such field, the first two parts); None when
    they agree."""
    import pyarrow.parquet as pq

    encodings: dict = {}  # the geometry's encoding -> the first part of it
    for part in files_of(path):
        meta = _geo_metadata(part)
        encoding = meta["columns"][meta["primary_column"]].get("encoding", "WKB")
        encodings.setdefault(encoding if encoding.upper() == "WKB" else
                             f"GeoArrow {encoding}", part)
    if len(encodings) > 1:  # geopandas' geoarrow: a part's encoding by its shapes
        named = ", ".join(f"{part.name}: {kind}" for kind, part in list(encodings.items())[:2])
        return (f"{path}: its part files encode their geometries apart ({named}), which "
                "cannot be read as one dataset. Write every part as WKB (geopandas' "
                "to_parquet default: leave out geometry_encoding='geoarrow').")
    seen: dict = {}  # field name -> (its type, the part)
    for part in files_of(path):
        for field in pq.read_schema(part):
            kind, first = seen.setdefault(field.name, (field.type, part))
            if kind != field.type:
                return (f"{path}: its part files give field '{field.name}' other types "
                        f"({first.name}: {kind}, {part.name}: {field.type}), which cannot "
                        "be read as one dataset. Write every part with the same schema.")
    return None


def _parquet_crs(path: Path):
    """The CRS of a GeoParquet file's primary geometry column, from its metadata: PROJJSON,
    or text (WKT in GeoParquet before 0.4, as geopandas 0.8-0.10 wrote it; 'EPSG:xxxx')."""
    meta = _geo_metadata(path)
    column = meta["columns"][meta["primary_column"]]
    if "crs" in column and column["crs"] is None:
        return None
    if "crs" not in column:
        return parse_crs("OGC:CRS84", str(path))
    if isinstance(column["crs"], str):
        return parse_crs(column["crs"], str(path))
    from pyproj import CRS

    return parse_crs(CRS.from_json_dict(column["crs"]).to_wkt(), str(path))


def point_features(geometries: np.ndarray) -> int:
    """How many features are points or hold some (MultiPoint, in a GeometryCollection):
    points have no area to burn."""
    kinds = shapely.get_type_id(geometries)
    count = int(np.count_nonzero(np.isin(kinds, [0, 4]) & ~shapely.is_empty(geometries)))
    for geometry in geometries[kinds == 7]:
        parts = [geometry]
        while parts:
            part = parts.pop()
            kind = shapely.get_type_id(part)
            if kind in (0, 4) and not part.is_empty:
                count += 1
                break
            if kind == 7:
                parts.extend(shapely.get_parts(part).tolist())
    return count


def check_geographic_coordinates(labels, source: str | os.PathLike,
                                 option: str = "--labels-crs", why: str | None = None,
                                 hint=None) -> None:
    """Refuse lon/lat labels whose coordinates cannot be degrees.

    GeoJSON without a ``crs`` member is read as EPSG:4326, so projected
    coordinates written without a CRS arrive here claiming to be degrees.
    ``labels`` is a Labels or a GeoDataFrame; ``why``: who says they are degrees, where
    not the file (an option); ``hint``: called for a sentence to add (the CRS they may be
    in), '' for none.
    """
    if labels.crs is None or not labels.crs.is_geographic:
        return
    extent = getattr(labels, "extent", None)
    minx, miny, maxx, maxy = extent if extent is not None else labels.total_bounds
    if min(minx, miny) < -180.5 or maxx > 360.5 or maxy > 90.5:
        if why is None:
            why = ("read as EPSG:4326 (a CSV names no CRS; Google Open Buildings' and "
                   "SpaceNet's PolygonWKT_Geo are lon/lat)") \
                if str(source).lower().endswith((".csv", ".csv.gz")) else \
                ("read as lon/lat (a Parquet file without GeoParquet metadata names no CRS; "
                 "Overture's are lon/lat)") if _assumed_lonlat(source) else \
                f"although its column {srid[0]!r} carries SRID {srid[1]} (EWKB)" \
                if (srid := _ewkb_srid(source)) else \
                f"although the file declares {labels.crs.to_string()} (GeoJSON's default)"
        raise InputError(
            f"{source}: coordinates like ({minx:.0f}, {miny:.0f}) are not longitude/latitude, "
            f"{why}. Pass {option} with the CRS they are really in (EPSG:xxxx or WKT)."
            + (hint() if hint is not None else "")
        )


def _ewkb_srid(source) -> tuple[str, int] | None:
    """(column, SRID) of a local Parquet file (or dataset folder) without GeoParquet
    metadata whose CRS is its EWKB's SRID; None otherwise."""
    path = Path(os.fspath(source))
    if path.suffix.lower() not in PARQUET_SUFFIXES and not dataset_files(path):
        return None
    try:
        geo = _geo_metadata(path)
    except (InputError, OSError, ValueError):
        return None
    return (geo["primary_column"], geo["srid"]) if geo.get("srid") else None


def lonlat_note(path, column: str, option: str = "--labels-crs") -> str:
    """The warning that a Parquet file without GeoParquet metadata is read as lon/lat."""
    return (f"{path}: no GeoParquet metadata (a WKB column copied by DuckDB or pyarrow): its "
            f"column {column!r} read as lon/lat (OGC:CRS84, Overture's CRS). If it is in "
            f"another CRS, pass {option} EPSG:xxxx.")


def assumed_crs(source) -> tuple[str, str | None] | None:
    """(why, the WKB column its lon/lat note names, or None) where the CRS of a
    local labels file is assumed, not declared: a Parquet file (or dataset) without
    GeoParquet metadata naming one (:data:`PARQUET_ASSUMED`), a CSV of a WKT column
    (:data:`CSV_ASSUMED`; SpaceNet's name theirs); None otherwise."""
    from geotile.spacenet import is_spacenet_csv

    if _assumed_lonlat(source):
        return PARQUET_ASSUMED, _geo_metadata(Path(os.fspath(source)))["primary_column"]
    name = os.fspath(source).lower()
    if name.endswith(".csv") and not is_spacenet_csv(source) and \
            _wkt_csv_options(Path(os.fspath(source))):  # its WKT column read as lon/lat
        return CSV_ASSUMED, None
    return None


def _assumed_lonlat(source) -> bool:
    """Whether ``source`` is a local Parquet file (or dataset folder) without GeoParquet
    metadata, whose WKB column is read as lon/lat."""
    path = Path(os.fspath(source))
    if path.suffix.lower() not in PARQUET_SUFFIXES and not dataset_files(path):
        return False
    from geotile.wkb_parquet import lonlat_assumed

    try:
        return lonlat_assumed(_geo_metadata(path))
    except (InputError, OSError, ValueError):
        return False


def missing_field(source, class_field: str, fields) -> InputError:
    """The one-line refusal of a --class-field that ``source``'s ``fields`` lack."""
    from geotile.xbd import pre_disaster_hint

    return InputError(f"{source}: no field {class_field!r}. "
                      f"Fields: {', '.join(fields) or 'none'}."
                      + cut_name_hint(class_field, fields, "--class-field")
                      + pre_disaster_hint(source, class_field))


def class_ids(
    labels: Labels,
    class_field: str | None,
    class_map: dict[str, int] | None,
    source: str | os.PathLike,
) -> tuple[list[int], dict[int, str]]:
    """The class id (1..254; 255 is the masks' ignore value) of every feature, and the
    names of the ids.

    Without ``class_field`` every feature is class 1 ("building"). A field of
    numbers, or of text that reads as numbers ("1", "10", "2.0"), is used as
    ids; a field of names is mapped by ``class_map``, or, without a map, names
    get ids 1..N in sorted order (xBD's damage names their challenge's ids:
    :data:`geotile.xbd.DAMAGE_IDS`). Names compare by :func:`class_key`; those of
    background in so many words (:func:`~geotile.class_keys.names_background`) that the map
    does not name are id 0.
    """
    if class_field is None:
        return [1] * len(labels), {1: "building"}
    if class_field not in labels.fields:
        raise missing_field(source, class_field, labels.fields)
    values = list(labels.fields[class_field])
    held = next((v for v in [*values, *labels.values.get(class_field, [])]
                 if nested_value(v)), None)
    if held is not None:
        shown = _plain(held.tolist() if isinstance(held, np.ndarray) else held)
        shown = repr(shown) if len(repr(shown)) <= 60 else repr(shown)[:57] + "..."
        raise InputError(
            f"{source}: field {class_field!r} holds nested values (objects or lists, e.g. "
            f"{shown}), not class names or ids. Give --class-field a field of text or "
            "numbers, or copy the part that is the class into a field of its own.")
    if class_map is None:  # xBD damage names: the challenge's ids in every file
        from geotile.xbd import damage_map

        class_map = damage_map([*values, *labels.values.get(class_field, [])])
    if class_map is not None:
        class_map = check_class_map(class_map, "--class-map")
    # an empty text value is no value (as in a Shapefile), unless the class map names it:
    # then a null is that value too (SpaceNet 8's 'flooded': 'yes' or null)
    maps_empty = class_map is not None and "" in {class_value_text(k) for k in class_map}

    def null(v) -> bool:
        return v is None or (isinstance(v, (float, np.floating)) and np.isnan(v))

    def absent(v) -> bool:
        return not maps_empty and (null(v) or (isinstance(v, str) and not v.strip()))

    if maps_empty:
        values = ["" if null(v) else v for v in values]
    missing_values = sum(map(absent, values))
    if missing_values:
        many = missing_values != 1
        raise InputError(
            f"{source}: {missing_values} feature{'s have' if many else ' has'} no "
            f"{class_field!r} value (null or empty). Fill {'them' if many else 'it'}, "
            f"remove {'those features' if many else 'that feature'}, or give \"\" an id in "
            "the --class-map (no value as a class of its own)."
        )
    # only part of the file was read: ids from the names of the whole file, as a full read
    everything = values + ["" if null(v) else v for v in labels.values.get(class_field, [])
                           if not absent(v)]
    numbers = [as_number(v) for v in values]
    if class_map is None:
        _refuse_ids_mixed_with_names(values, everything, class_field, source)
    if class_map is None and all(as_number(v) is not None for v in everything):
        fractional = next((v for v, n in zip(values, numbers, strict=True)
                           if not float(n).is_integer()), None)
        if fractional is not None:
            raise InputError(
                f"{source}: class value {_plain(fractional)!r} of field {class_field!r} is not "
                "a whole class id 1..254. Map the classes with --class-map."
            )
        ids = [int(n) for n in numbers]
        every = {int(n) for n in map(as_number, everything) if float(n).is_integer()}
        names = {i: str(i) for i in sorted(set(ids) | every)}
        positive = ids
    else:
        # names compare by class_key ('Building' is 'building'); named as first spelt in
        # the whole file or run (values read beside these: one name in every mask), then here
        spelling: dict[str, str] = {}
        for v in [*everything[len(values):], *values]:
            spelling.setdefault(class_key(class_value_text(v)), class_value_text(v))
        keys = [class_key(class_value_text(v)) for v in values]
        given = {class_key(k): i for k, i in (class_map or {}).items()}
        # names of background ('Clutter/background') that the map does not name: id 0
        background = {k for k in spelling if k not in given and names_background(k)}
        mapping = given or {name: i + 1 for i, name in
                            enumerate(sorted(set(spelling) - background))}
        missing = sorted(set(keys) - set(mapping) - background)
        if missing:
            raise InputError(
                f"{source}: class {spelling[missing[0]]!r} of field {class_field!r} is not in "
                "the class map. Add it to the --class-map file."
            )
        ids = [mapping.get(k, 0) for k in keys]
        names = (class_map_names(class_map) if class_map else
                 {i: spelling[k] for k, i in mapping.items()})
        positive = [i for i in ids if i]
        _say_background([spelling[k] for k in keys if k in background], class_field, source)
    bad = sorted({i for i in positive if not 1 <= i <= MAX_CLASS_ID})
    if bad and class_map is None and not all(as_number(v) is not None for v in everything):
        raise InputError(  # ids 1..N given to the names: N is too many
            f"{source}: field {class_field!r} holds {len(mapping)} class names; a mask holds at "
            f"most {MAX_CLASS_ID} classes (ids 1..{MAX_CLASS_ID}). Merge them with a "
            "--class-map (a JSON file {\"name\": id, ...}).")
    if bad:
        raise InputError(
            f"{source}: class id {bad[0]} is outside 1..{MAX_CLASS_ID} (0 is background, 255 "
            "the ignore value that training and evaluate skip). Map the classes with "
            "--class-map."
        )
    return ids, names


def nested_value(value) -> bool:
    """Whether a field value is nested (a GeoJSON object or array, a GeoParquet struct, list
    or map, read as dict, list or NumPy array): no class name or id."""
    return isinstance(value, dict | list | tuple | np.ndarray)


def _say_background(named: list[str], class_field: str, source) -> None:
    """Warn that the features whose class names background (``named``) are burnt as 0."""
    if not named:
        return
    shown = ", ".join(repr(k) for k in list(dict.fromkeys(named))[:5])
    warn(
        f"{source}: {count_features(named)} of field {class_field!r} "
        f"{'name' if len(named) > 1 else 'names'} background ({shown}): burnt as background "
        "(0). To make them a class, name them in a --class-map.",
        GeotileWarning)


def _refuse_ids_mixed_with_names(values: list, everything: list, class_field: str,
                                 source) -> None:
    """InputError when a field of class ids holds some names too ('n/a'): read as names
    sorted as text, every id would move (2 burnt as 3, 10 as 2)."""
    from collections import Counter

    names = [v for v in everything if as_number(v) is None]
    if not names or len(names) == len(everything):
        return
    counts = Counter(str(v) for v in values if as_number(v) is None)
    seen = list(dict.fromkeys(str(v) for v in names))
    shown = ", ".join(f"{v!r} ({counts[v]} feature{'s' if counts[v] != 1 else ''})"
                      if counts[v] else repr(v) for v in seen[:5])
    more = f" and {len(seen) - 5} more" if len(seen) > 5 else ""
    ids = [class_value_text(n)
           for n in sorted({n for n in map(as_number, everything) if n is not None})]
    raise InputError(
        f"{source}: field {class_field!r} holds class ids ({', '.join(ids[:5])}"
        f"{'...' if len(ids) > 5 else ''}) and values that are not numbers: {shown}{more}. "
        "Fix or remove those values, or give a --class-map naming every value."
    )


def read_class_map(path: str | os.PathLike, *, zero: bool = False, merges: bool = False
                   ) -> dict[str, int]:
    """A JSON class map {"building": 1, ...} from ``path``, checked (see check_class_map;
    ``zero``: it may name id 0, as a label raster's; ``merges``: a list of ids names them
    one class, {"other": [13, 14]}, as evaluate reads a truth's)."""
    from geotile.json_text import decoded
    from geotile.label_rasters import no_twice

    path = Path(path)
    twice: list[str] = []
    try:
        raw = path.read_bytes()
        try:  # UTF-8, with or without a BOM, or UTF-16/32 (PowerShell's `>`): json detects it
            text = decoded(raw)
        except UnicodeDecodeError:  # "ANSI", as Notepad and Excel save it
            text = raw.decode("cp1252")
            warn(f"{path}: not UTF-8; read it as Windows-1252. Check the class names with "
                 "accents.")
        mapping = json.loads(text, object_pairs_hook=lambda pairs: no_twice(pairs, twice))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f'{path}: not a JSON object of class names to ids, like {{"building": 1}}.'
        ) from exc
    if twice:  # JSON keeps the last id: the first was silently lost
        raise InputError(f"{path}: class {twice[0]!r} is named twice; give each class one "
                         "id, once.")
    return check_class_map(mapping, path, zero=zero, merges=merges)


def check_class_map(mapping, source: str | os.PathLike, *, zero: bool = False,
                    merges: bool = False) -> dict[str, int]:
    """``mapping`` (name -> id) with integer ids 1..254 (0..254 with ``zero``: the ids of a
    label raster, whose 0 may be a class); a name that says background given 0 (FloodNet's
    map of its ids, as evaluate takes it) is left out: such labels are 0 anyway. Keys that
    read as numbers ("01", 2.0) become their canonical text ("1", "2"); keys of one
    class_key and one id, one key. With ``merges`` a name may have a non-empty list of ids,
    none of them another name's: a tuple of ids (:func:`geotile.evaluate.merged_ids`).
    InputError naming ``source`` otherwise."""

    if not isinstance(mapping, dict) or not mapping:
        raise InputError(
            f'{source}: not a JSON object of class names to ids, like {{"building": 1}}.'
        )
    checked: dict[str, int] = {}
    keys: dict[str, str] = {}  # class_key -> the name as the map spells it
    listed: dict[int, str] = {}  # an id of a list -> its name
    low = 0 if zero else 1
    for name, value in mapping.items():
        values = value if merges and isinstance(value, list) and value else [value]
        numbers = [None if isinstance(v, str) else as_number(v) for v in values]
        if not zero and not isinstance(value, list) and numbers[0] == 0 \
                and names_background(name):
            continue
        if any(number is None or not float(number).is_integer()
               or not low <= number <= MAX_CLASS_ID for number in numbers):
            why = "255 the ignore value" if zero else "0 is background, 255 the ignore value"
            lists = " or a list of them" if merges else ""
            raise InputError(
                f"{source}: class {str(name)!r} has id {json.dumps(value, default=str)}; "
                f"ids are integers {low}..{MAX_CLASS_ID}{lists} ({why})."
            )
        if len(values) > 1 or value is not values[0]:  # a list: one class of these ids
            ids = tuple(dict.fromkeys(int(n) for n in numbers))
            for i in ids:
                if listed.setdefault(i, str(name)) != str(name) or i in checked.values():
                    raise InputError(f"{source}: id {i} is in the ids of {str(name)!r} and "
                                     "of another class; give each id one class.")
            number = ids if len(ids) > 1 else ids[0]
        else:
            number = numbers[0]
            if int(number) in listed:
                raise InputError(f"{source}: id {int(number)} is in the ids of "
                                 f"{listed[int(number)]!r} and of {str(name)!r}; give each "
                                 "id one class.")
        key, spelt = class_key(class_value_text(name)), class_value_text(name)
        if not isinstance(number, tuple):
            number = int(number)
        if key in keys and checked[keys[key]] != number:
            raise InputError(
                f"{source}: {keys[key]!r} and {str(name)!r} are one class (names compare "
                "without case, spaces or hyphens) but have different ids. Give it one id."
            )
        if key not in keys:
            keys[key] = spelt
            checked[spelt] = number
    if not checked:  # every name said background, left out: nothing is mapped
        raise InputError(
            f"{source}: names only background ({', '.join(map(repr, map(str, mapping)))} as "
            "0, which unlabelled pixels are anyway); give the classes their ids 1.."
            f'{MAX_CLASS_ID} too, like {{"background": 0, "building": 1}}.')
    return checked


def _plain(value):
    """A NumPy scalar as the Python number it holds (for messages: 1.5, not np.float64(1.5))."""
    return value.item() if isinstance(value, np.generic) else value


def as_number(value) -> float | int | None:
    """``value`` as a finite number when it is one or is text that reads as one; else None."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, str):
        if "_" in value:  # float() reads '1_1' as 11: a code of its own, not a number
            return None
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if np.isfinite(number) else None
    return None


def class_value_text(value) -> str:
    """The text a class value is looked up by: whole numbers as "1" (also 1.0 and "01"),
    text without the spaces around it."""
    number = as_number(value)
    if number is not None and float(number).is_integer():
        return str(int(number))
    return str(value).strip()
