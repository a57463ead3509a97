"""What two inputs of ``evaluate`` are: two folders, two SpaceNet CSVs, two line files or two
other files (polygons or rasters); one-line errors for pairs that cannot be scored."""

from __future__ import annotations

import os
from pathlib import Path

from geotile.errors import InputError


def is_folder(path) -> bool:
    """A folder of files to pair; not a File Geodatabase (a .gdb folder is one dataset) nor
    a folder of Parquet parts (Overture's theme=buildings/: one dataset, as make-masks). A
    folder that may be either (split=val/ of t1.parquet...): :func:`are_folders` decides."""
    from geotile.input_paths import is_virtual_path
    from geotile.parquet_datasets import surely_dataset

    return (not is_virtual_path(os.fspath(path)) and Path(path).is_dir()
            and Path(path).suffix.lower() != ".gdb" and not surely_dataset(Path(path)))


def are_folders(prediction, truth, layer: str | None = None) -> bool:
    """Two folders: True; a folder and a file, or a remote folder: a one-line error. A TRUTH
    folder of Shapefiles of which --layer names one is one dataset, as GDAL reads it (an
    unzipped Geofabrik extract: gis_osm_roads_free_1)."""
    from geotile.input_files import refuse_remote_listing
    from geotile.input_paths import ARCHIVE_PREFIXES, is_virtual_path
    from geotile.parquet_datasets import dataset_files

    for path in (prediction, truth):  # a local archive (/vsizip/...) is no remote folder
        text = os.fspath(path)
        if is_virtual_path(text) and not text.startswith(ARCHIVE_PREFIXES):
            refuse_remote_listing(text)
    one_layer = layer is not None and (Path(truth) / f"{layer}.shp").is_file()
    dirs = [is_folder(prediction), is_folder(truth) and not one_layer]
    if dirs[0] != dirs[1] and dataset_files(Path(prediction if dirs[0] else truth)):
        dirs = [False, False]  # a Parquet dataset (split=val/) beside a file: one file too
    if dirs[0] and one_layer and is_folder(truth):
        raise InputError(f"{prediction} is a folder but {truth} with --layer {layer} is one "
                         f"dataset ({layer}.shp): give one PREDICTION file (merge the "
                         f"folder's: ogrmerge.py -single -o pred.gpkg {prediction}/*).")
    if dirs[0] != dirs[1]:
        folder, other = (prediction, truth) if dirs[0] else (truth, prediction)
        raise InputError(f"{folder} is a folder but {other} is not: give two folders (files "
                         "paired by name), two files or two SpaceNet CSVs.")
    return dirs[0]


def check_one_layer(path, layer: str | None, role: str) -> None:
    """A one-line error naming the layers of a vector file holding several layers of polygons
    or lines when none is chosen (``layer``: --layer, which only TRUTH takes)."""
    from geotile.evaluate import is_raster
    from geotile.input_paths import input_exists

    if layer is not None or not input_exists(path) or is_folder(path) or is_raster(path):
        return
    try:
        import pyogrio

        from geotile.input_paths import ogr_path

        layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(ogr_path(path))]
    except Exception as exc:  # not a file GDAL lists layers of: read (and refused) later
        from geotile.failed_downloads import raise_remote_failure

        raise_remote_failure(path, exc)
        return
    shaped = [name for name, kind in layers
              if any(word in kind for word in ("Polygon", "LineString", "Surface", "Curve",
                                                 "Unknown", "Geometry"))]
    if len(shaped) < 2:
        return
    held = f"{path} holds {len(shaped)} layers of polygons or lines ({', '.join(shaped)})"
    if role == "truth":
        raise InputError(f"{held}: choose the layer of TRUTH with --layer NAME.")
    raise InputError(f"{held}; PREDICTION is read as one layer (--layer chooses TRUTH's): "
                     f"save the one to score in a file of its own, e.g. `ogr2ogr "
                     f"{Path(path).stem}_{shaped[0]}.gpkg {path} {shaped[0]}`.")


def pair_kind(prediction, truth, layer) -> bool | None:
    """Whether two files hold lines (centrelines): True; False when neither does, None when
    both are empty; a one-line error when only one does (lines beside polygons, SpaceNet 8's
    roads beside its buildings, are lines to score against lines)."""
    from geotile.line_metrics import holds_lines, is_line_file

    lines = is_line_file(prediction), is_line_file(truth, layer)  # None: no features
    if lines == (None, None):
        return None
    if not any(lines):
        return False
    if False in lines:
        line, other = (prediction, truth) if lines[0] else (truth, prediction)
        if holds_lines(other, layer if other is truth else None):
            return True
        raise InputError(f"{line} holds lines but {other} does not: compare centrelines "
                         "with centrelines (`geotile vectorize --lines` makes them)."
                         + _closed(line, layer if line is truth else None))
    return True


def _closed(path, layer) -> str:
    """What to say of the closed lines of ``path`` (CAD outlines: polygons once converted)."""
    from geotile.labels import read_labels
    from geotile.masks import closed_lines_message
    from geotile.quiet_warnings import recorded

    try:
        with recorded():  # its warnings set aside (catch_warnings would race other threads)
            return closed_lines_message(read_labels(path, layer=layer, crs_option=None).geometries,
                                 path)
    except Exception:  # unreadable here: the message stands without it
        return ""


def are_line_folders(pairs, layer, empty: bool = False) -> bool:
    """Whether the paired files of two folders hold lines (decided by the first pair that
    is not empty; ``empty`` when all are); a one-line error when some hold lines and others
    polygons."""
    if pairs.kind != "vector":
        return False
    kinds = {}
    for name, (pred, true) in pairs.pairs.items():
        check_one_layer(pred, None, "prediction")
        check_one_layer(true, layer, "truth")
        kinds[name] = pair_kind(pred, true, layer)
        if kinds[name] is False and True not in kinds.values():
            return False  # polygons: their scores read (and check) every file
    lines = [n for n, k in kinds.items() if k is True]
    others = [n for n, k in kinds.items() if k is False]
    if lines and others:
        raise InputError(f"{pairs.pairs[lines[0]][1]} holds lines but "
                         f"{pairs.pairs[others[0]][1]} does not: give folders of centrelines "
                         "only, or of polygons only.")
    return bool(lines) or (empty and not others)


def input_kind(prediction, truth, layer: str | None = None, empty: str = "files") -> str:
    """"folders", "road csvs" (a SpaceNet road CSV and another file of lines), "csvs" (two
    SpaceNet CSVs), "lines" (two files of lines) or "files" (two vector files of polygons,
    two rasters, or a SpaceNet CSV and a vector file); ``empty`` for two vector files
    without features of no declared type (e.g. "lines" where the user gave --buffer)."""
    from geotile.spacenet import is_road_csv, is_spacenet_csv

    if are_folders(prediction, truth, layer):
        return "folders"
    if is_road_csv(prediction) or is_road_csv(truth):
        return "road csvs"
    if is_spacenet_csv(prediction) and is_spacenet_csv(truth):
        return "csvs"
    check_one_layer(prediction, None, "prediction")
    check_one_layer(truth, layer, "truth")
    lines = pair_kind(prediction, truth, layer)
    return empty if lines is None else "lines" if lines else "files"
