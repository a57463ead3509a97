"""Writing a vector file (GeoJSON, GeoPackage, GeoParquet, Shapefile, FlatGeobuf): the
output checked before any work, written in a temporary folder, its features counted back,
then moved into place without replacing anything that appeared meanwhile; GeoJSON's
decimals keep the rasters' pixel edges."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from geotile.errors import InputError
from geotile.input_paths import ogr_path, ogr_writable

#: output suffix -> GDAL driver ("parquet": GeoParquet through pyarrow)
WRITERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".parquet": "parquet",
           ".geoparquet": "parquet", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}


#: the files of a Shapefile besides .shp, as GDAL writes them
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")


#: spatial indexes GDAL reads beside a Shapefile (its own .qix, ESRI's .sbn/.sbx)
SHAPEFILE_INDEXES = (".qix", ".sbn", ".sbx")


def _write_errors() -> tuple[type[BaseException], ...]:
    """What a failed write raises: OSError (full disk, ...), pyogrio's and GDAL's errors."""
    errors: list[type[BaseException]] = [OSError, RuntimeError]
    try:
        from pyogrio._err import CPLE_BaseError

        errors.append(CPLE_BaseError)
    except ImportError:  # pragma: no cover - older or newer pyogrio
        pass
    return tuple(errors)


def text_columns(frame, names=("class", "source")):
    """``frame`` with its columns ``names`` (default: class and source) typed as text where
    it has no row (pandas types an empty column float: GDAL would write Real fields)."""
    if len(frame):
        return frame
    return frame.astype({name: "string" for name in names if name in frame})


def check_vector_output(output: Path, overwrite: bool, layer: str | None = None) -> str:
    """The writer for ``output`` (:data:`WRITERS`), after checking that it is a file name of
    a known format whose files may be written (in a folder that takes files, before any
    work): an InputError or OutputExistsError otherwise. ``layer``: a GeoPackage's layer to
    write (default: the file's stem)."""
    from geotile.output_files import check_output, check_writable

    if output.is_dir():
        raise InputError(f"{output}: is a folder. Give a file name, e.g. "
                         f"{output / 'buildings.gpkg'}.")
    writer = WRITERS.get(output.suffix.lower())
    if writer is None and output.suffix.lower() == ".csv":  # geotile.spacenet(_roads) write
        raise InputError(f"{output}: .csv is SpaceNet's format, written by vectorize "
                         "(geotile.vectorize_rasters); here use one of "
                         f"{', '.join(WRITERS)}.")
    if writer is None:
        raise InputError(f"{output}: unknown vector format. Use one of "
                         f"{', '.join(WRITERS)}, or .csv for SpaceNet proposals.")
    if writer == "ESRI Shapefile" and output.suffix not in (".shp", ".SHP"):
        raise InputError(f"{output}: GDAL reads Shapefiles named .shp or .SHP only; give "
                         f"{output.with_suffix('.shp').name} or "
                         f"{output.with_suffix('.SHP').name}.")
    if writer == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise InputError("writing GeoParquet needs pyarrow: pip install pyarrow") from exc
    if overwrite and writer == "GPKG":
        refuse_open_in_wal_mode(output)
    others = _other_layers(output, writer, layer)
    if others and not overwrite:
        from geotile.errors import OutputExistsError

        ours = layer or default_layer(output)
        raise OutputExistsError(f"{output}: already exists, with layers {', '.join(others)}. "
                                f"Pass --overwrite to replace its layer {ours} "
                                "(the others are kept), or choose another output.")
    for part in _parts(output, writer):
        check_output(part, overwrite)
    if writer == "ESRI Shapefile" and not overwrite:
        _refuse_stale_indexes(output)
    check_writable(output)
    return writer


def refuse_open_in_wal_mode(output: Path) -> None:
    """InputError for a GeoPackage ``output`` a program holds open in WAL mode (QGIS
    editing it): its latest changes are in <name>-wal, not in the file, and that program
    would apply them to a file that replaced it (a damaged GeoPackage)."""
    wal = output.with_name(f"{output.name}-wal")
    if output.is_file() and wal.exists():
        raise InputError(f"{output}: open in another program ({wal.name} beside it holds "
                         "its latest changes; QGIS?): replacing it would lose them and "
                         "damage the new file. Close it there, or choose another output.")


def _refuse_stale_indexes(output: Path) -> None:
    """OutputExistsError for a spatial index (.qix, .sbn, .sbx) of another Shapefile beside
    ``output``: GDAL would answer bounding-box queries of the new one through it."""
    from geotile.errors import OutputExistsError

    for suffix in SHAPEFILE_INDEXES:
        for index in {output.with_suffix(suffix), output.with_suffix(suffix.upper())}:
            if index.is_file():
                raise OutputExistsError(
                    f"{index}: a spatial index of another Shapefile is in the way (GDAL would "
                    f"read it with {output.name} and miss features). Remove it or pass "
                    "--overwrite.")


#: what GDAL refuses at the start of a GeoPackage layer's name
_NOT_FIRST_IN_LAYER = "`~!@#$%^&*()+-={}|[]\\:\";'<>?,./"


def default_layer(output: Path) -> str:
    """The layer geotile writes into a GeoPackage ``output`` unless told one: named after
    the file, with a '_' before a name GDAL refuses ('#12', '-old', '(copy)', 'gpkg_out':
    a start in punctuation, or 'gpkg', which GeoPackage reserves)."""
    stem = output.stem
    refused = not stem or stem[0] in _NOT_FIRST_IN_LAYER or stem.startswith("gpkg")
    return f"_{stem}" if refused else stem


def _other_layers(output: Path, writer: str, layer: str | None = None) -> list[str]:
    """The layers of an existing GeoPackage ``output`` besides ``layer``, the one geotile
    writes (default: named after its stem); none for other formats or a non-SQLite file.
    An SQLite file whose layers cannot be listed (a hot journal, locked) is an InputError:
    replacing it would lose whatever layers it holds."""
    if writer != "GPKG" or not output.is_file():
        return []
    if _holds_only(output, layer or default_layer(output)):
        return []
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(ogr_path(output))]
    except _write_errors() as exc:
        try:
            with output.open("rb") as handle:
                sqlite = handle.read(16) == b"SQLite format 3\x00"
        except OSError:
            sqlite = False
        if not sqlite:
            return []
        journal = output.with_name(f"{output.name}-journal")
        reason = (f"{journal.name} beside it holds an unfinished write" if journal.exists()
                  else str(exc).rsplit("failed: ", 1)[-1].split(";")[0].strip())
        raise InputError(f"{output}: an existing GeoPackage that cannot be read ({reason}); "
                         "replacing it would lose its other layers. Close the program "
                         "writing it (or repair it), or choose another output.") from exc
    return [name for name in layers if name.lower() != (layer or default_layer(output)).lower()]


def _holds_only(output: Path, layer: str) -> bool:
    """Whether the SQLite file ``output`` surely holds no layer but ``layer``: no table or view
    but it, its R-tree and SQLite's and GeoPackage's own, and gpkg_contents names no other.
    Read with Python's sqlite3, not GDAL: importing pyogrio imports pandas and geopandas
    (0.3 s), which vectorize imports while its workers polygonize. False where it cannot tell
    (a journal or WAL beside it, locked, not SQLite): then GDAL lists the layers."""
    import sqlite3

    if any(output.with_name(output.name + end).exists() for end in ("-journal", "-wal")):
        return False
    ours = layer.lower()
    try:
        with contextlib.closing(sqlite3.connect(f"{output.absolute().as_uri()}?mode=ro",
                                                uri=True)) as db:
            names = [name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
            listed = [name for (name,) in db.execute("SELECT table_name FROM gpkg_contents")
                      ] if "gpkg_contents" in names else []
    except (sqlite3.Error, ValueError):
        return False
    own = ("gpkg_", "sqlite_", f"rtree_{ours}_")
    return all(str(name).lower() == ours or str(name).lower().startswith(own) for name in names
               ) and all(str(name).lower() == ours for name in listed)


def _parts(output: Path, writer: str) -> list[Path]:
    """The files a vector output is made of, the main file last; a Shapefile's other parts
    take the case of its extension (x.SHP: x.SHX, x.DBF, ...; x.shp or x.Shp: x.shx, ...)."""
    extra = SHAPEFILE_PARTS if writer == "ESRI Shapefile" else ()
    upper = output.suffix.isupper()
    return [output.with_suffix(suffix.upper() if upper else suffix) for suffix in extra] + [
        output]


def _written_name(part: Path) -> str:
    """The name of ``part`` as written in the temporary folder: its extension in lower case
    (GDAL's Shapefile driver takes x.SHP for a folder to create), its stem without ';' and
    cut as a temporary file's (:func:`geotile.output_files.temporary_stem`: SQLite's
    x.gpkg-journal beside a name near 255 bytes)."""
    from geotile.output_files import temporary_stem

    return temporary_stem(part.stem) + part.suffix.lower()


def check_not_an_input(output: Path, writer: str, paths: list[Path]) -> None:
    from geotile.input_sources import refuse_overwriting_inputs

    refuse_overwriting_inputs(_parts(output, writer), paths)


def write_vector(frame, output: Path, writer: str, overwrite: bool,
                 layer: str | None = None, rasters=(), geometry_type: str | None = None) -> None:
    """Write ``frame`` under a temporary folder beside ``output``, check that every feature
    is there, then move its files into place without replacing files that appeared
    meanwhile (unless ``overwrite``). A failed write leaves nothing under ``output``. An
    existing GeoPackage keeps its other layers: ``layer`` (default, and in other formats:
    the file's stem) is written into a copy of it. RFC 7946 GeoJSON keeps the pixel edges
    of the ``rasters`` (:func:`geojson_decimals`). ``geometry_type``: the layer's declared
    type where ``frame`` holds no feature to tell it (lines of a tile without roads)."""
    import shutil

    from geotile.errors import Interrupted
    from geotile.output_files import (
        failed_write_advice,
        folder_lock,
        held_temporary,
        publish,
        release_temporary,
        remove_temporaries,
        temporary_sibling,
        writable_folder,
    )
    from geotile.output_folder import signals_deferred

    writable_folder(output)
    remove_temporaries(output)  # the folder a killed run left (geotile's, never a live run's)
    if writer == "ESRI Shapefile":
        _refuse_long_text(frame, output)
    complete = False
    if writer != "GPKG":
        layer = output.stem
    elif not layer:
        layer = default_layer(output)
    geometry = frame.geometry.name  # last, as GDAL lists it: GeoParquet tables concatenate
    frame = frame[[c for c in frame.columns if c != geometry] + [geometry]]
    # a temporary file's name (.<stem>.<8 hex>.tmp<suffix>), its lock held while it is
    # written: a later run removes it only once this one ended (remove_temporaries)
    folder, held = temporary_sibling(output), None
    # a GeoPackage's other layers are copied, then the copy replaces it: locked from the
    # look at its layers to the move, so that a layer another run writes there meanwhile
    # (vectorize's, evaluate --errors') is in the copy, never lost; other formats: the move
    locked = contextlib.ExitStack()
    whole = writer == "GPKG"
    try:
        with signals_deferred():  # a signal as the lock file is made: handled in here
            folder, held = held_temporary(output)
        if whole:
            locked.enter_context(folder_lock(output.parent))
        folder.mkdir()
        tmp = folder / _written_name(output)
        try:
            if overwrite and whole:
                refuse_open_in_wal_mode(output)
            if overwrite and _other_layers(output, writer, layer):
                shutil.copyfile(output, tmp)
            _write(frame, tmp, writer, layer, geojson_decimals(rasters),
                   None if len(frame) else geometry_type)
            written = _feature_count(tmp, writer, layer)
        except _write_errors() as exc:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            advice = failed_write_advice(exc, "Free space or choose another output.", folder)
            raise InputError(f"{output}: cannot be written ({reason}); nothing was written "
                             f"under that name. {advice}") from exc
        if written != len(frame):
            raise InputError(f"{output}: not written completely ({written} of {len(frame)} "
                             "features; disk full or an I/O error?); nothing was written under "
                             "that name. Free space and run again.")
        if not (folder / _written_name(output)).exists():  # never report an unwritten file
            raise InputError(f"{output}: GDAL wrote no file under that name; nothing was "
                             "written. Choose another output name.")
        published: list[Path] = []
        # another run's parts never go in between ours; Ctrl-C and SIGTERM wait until all
        # are in (one moved alone would be read with the other parts of the replaced file)
        with contextlib.nullcontext() if whole else folder_lock(output.parent), \
                signals_deferred():
            try:
                parts = _parts(output, writer)
                if overwrite and len(parts) > 1:  # a kill between the moves leaves no .shp
                    output.unlink(missing_ok=True)  # to read with the new parts
                for part in parts:
                    if (folder / _written_name(part)).exists():
                        publish(folder / _written_name(part), part, overwrite)
                        published.append(part)
            except BaseException:
                if not overwrite:  # the parts moved so far are ours: take them back
                    for part in published:
                        part.unlink(missing_ok=True)
                raise
            if overwrite and writer == "ESRI Shapefile":
                _remove_stale_parts(output, published)
            complete = True
    except KeyboardInterrupt:
        if complete:
            raise Interrupted(f"{output}: interrupted after it was written completely (it "
                              "is in place).") from None
        raise Interrupted(f"{output}: interrupted; nothing was written under that name "
                          "(the temporary files were removed).") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        release_temporary(folder, held)
        locked.close()


#: the most bytes a .dbf text field holds (GDAL cuts longer values, with only a warning)
DBF_TEXT_BYTES = 254


def _refuse_long_text(frame, output: Path) -> None:
    """InputError for a text value longer than a Shapefile's .dbf holds (in UTF-8 bytes,
    as GDAL writes it): GDAL would write it cut."""
    for name in frame.columns:
        if name == frame.geometry.name or frame[name].dtype.kind not in "OUST":
            continue
        sizes = [len(v.encode("utf-8")) if isinstance(v, str) else 0 for v in frame[name]]
        if sizes and max(sizes) > DBF_TEXT_BYTES:
            value = str(frame[name].iloc[int(np.argmax(sizes))])
            raise InputError(f"{output}: field '{name}' holds {value[:20]!r}... of "
                             f"{max(sizes)} bytes, and a Shapefile keeps {DBF_TEXT_BYTES} "
                             "bytes of a text value (it would be cut). Write .gpkg, .fgb or "
                             ".geojson instead.")


def _remove_stale_parts(output: Path, published: list[Path]) -> None:
    """Remove the parts of the Shapefile that ``--overwrite`` replaced which the new one has
    none of (a .prj when it has no CRS, a .cpg, the spatial indexes), in either case: GDAL
    would read them with the new .shp."""
    suffixes = [*SHAPEFILE_PARTS, *SHAPEFILE_INDEXES]
    for stale in {output.with_suffix(s) for s in suffixes + [s.upper() for s in suffixes]}:
        if stale in published or not stale.is_file():
            continue
        if not any(part.exists() and os.path.samefile(stale, part) for part in published):
            stale.unlink(missing_ok=True)  # not a published part under another case


def _feature_count(path: Path, writer: str, layer: str) -> int:
    if writer == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    import pyogrio

    layer = layer if writer == "GPKG" else None
    return int(pyogrio.read_info(ogr_path(path), layer=layer,
                                 force_feature_count=True)["features"])


#: GDAL's decimals of RFC 7946 GeoJSON (about 1 cm), and the most a double holds in degrees
GEOJSON_DECIMALS = (7, 15)


#: metres in a degree (of latitude, the shorter: a conservative bound)
DEGREE_METRES = 111_320


def geojson_decimals(rasters) -> int:
    """Decimals of RFC 7946 GeoJSON's degrees that move no pixel edge of the ``rasters`` by
    more than a tenth of their finest pixel: GDAL's 7 for pixels of about 11 cm and coarser,
    more for finer ones (drone rasters: 9 for 1 cm), up to 15."""
    decimals = coordinate_decimals(rasters, "EPSG:4326", 0.1)
    return max(decimals or 0, GEOJSON_DECIMALS[0])


def coordinate_decimals(rasters, crs, edge: float) -> int | None:
    """Decimals of coordinates in ``crs`` ("source": the rasters' own) that move no pixel
    edge of the ``rasters`` by more than ``edge`` of their finest pixel, up to 15; None
    when no raster is placed in a CRS."""
    from rasterio.crs import CRS

    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    target = None if str(crs).lower() == "source" else CRS.from_user_input(crs)
    finest = np.inf  # in the units of ``crs``
    for path in rasters:
        with open_raster(path) as src:
            pixel = min(src.res)
            if target is not None:
                if map_crs(src) is None:
                    continue
                pixel *= _unit_metres(src.crs) / _unit_metres(target)
        finest = min(finest, pixel)
    if not np.isfinite(finest) or finest <= 0:
        return None
    return int(np.clip(np.ceil(np.log10(1 / (edge * finest))), 0, GEOJSON_DECIMALS[1]))


def _unit_metres(crs) -> float:
    """Nominal metres per unit of ``crs`` (a degree: ``DEGREE_METRES``); rasterio's
    linear_units_factor fails for a local site grid."""
    from pyproj import CRS

    if crs.is_geographic:
        return DEGREE_METRES
    axes = CRS.from_user_input(crs).axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


def _int32_columns(frame):
    """``frame`` with its int64 columns as int32 where their values fit: a Shapefile stores
    int64 as N(18,0), which ArcGIS reads as Double (gdal_polygonize.py writes N(9,0))."""
    fits = [name for name in frame.columns if str(frame[name].dtype) == "int64"
            and (frame[name].empty or frame[name].abs().max() < 2 ** 31)]
    return frame.astype(dict.fromkeys(fits, "int32")) if fits else frame


def _binary_geometry(path: Path, column: str) -> None:
    """An empty GeoParquet's geometry column typed as WKB binary: geopandas < 1.0 wrote it
    as type null, which pyarrow refuses to concatenate with other tiles' tables."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    if index < 0 or not pa.types.is_null(table.schema.field(index).type):
        return
    pq.write_table(table.cast(table.schema.set(index, pa.field(column, pa.binary()))), path)


def _rounded_polygons(frame, decimals: int):
    """``frame`` with its polygons' coordinates rounded to ``decimals`` as GDAL writes them,
    kept valid: a needle or notch narrower than the rounding (a squared outline's, ~1 cm)
    collapses and goes, where GDAL's own rounding left a GeometryCollection of a polygon and
    a line, or a self-intersecting polygon."""
    import shapely

    from geotile.quiet_warnings import is_valid

    values = np.asarray(frame.geometry.values, dtype=object)
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(values), (3, 6)))
    if not len(polygonal):
        return frame
    grid = 10.0 ** -decimals
    # rounding alone is cheap (0.03 s for 7,610 buildings); the rest are left to GDAL. The
    # rounded coordinates go to GDAL too: its antimeridian cut took a band round the earth
    # whose longitudes were a hair inside 180 (-179.99999999999997) for a crossing
    rounded = shapely.set_precision(values[polygonal], grid, mode="pointwise")
    broken = ~is_valid(rounded)
    rounded[broken] = shapely.set_precision(values[polygonal[broken]], grid)
    values = values.copy()
    values[polygonal] = rounded
    return frame.set_geometry(list(values), crs=frame.crs)


def _write(frame, path: Path, writer: str, layer: str,
           decimals: int = GEOJSON_DECIMALS[0], geometry_type: str | None = None) -> None:
    if writer == "parquet":
        frame.to_parquet(path)
        if not len(frame):
            _binary_geometry(path, frame.geometry.name)
        return
    options = {}
    if writer == "ESRI Shapefile":
        frame = _int32_columns(frame)
    if writer == "GeoJSON" and frame.crs is not None and frame.crs.to_epsg() == 4326:
        options["RFC7946"] = "YES"
        options["COORDINATE_PRECISION"] = str(decimals)
        frame = _rounded_polygons(frame, decimals)
    elif writer == "GPKG":  # into our copy (write_vector): its layer named in other letters
        options["OVERWRITE"] = "YES"  # too, as GeoPackage's names ignore case
    # a new GeoPackage as version 1.3, which GDAL 3.6 (QGIS of 2022-2023) reads and
    # validates; 1.4, GDAL 3.10's default, gets 'may only be partially supported' there
    created = {"dataset_options": {"VERSION": "1.3"}} if writer == "GPKG" and \
        not path.exists() else {}
    import contextlib

    from geotile.quiet_warnings import hidden

    # no CRS: vectorize has warned about it already
    with hidden(UserWarning, message="'crs' was not provided") if frame.crs is None \
            else contextlib.nullcontext(), ogr_writable(path) as target:
        frame.to_file(target, driver=writer, engine="pyogrio", layer=layer,
                      layer_options=options or None, **created,
                      **({"geometry_type": geometry_type} if geometry_type else {}))
    if writer == "GeoJSON" and frame.crs is None:
        _null_crs(path)


def _null_crs(path: Path) -> None:
    """Say ``"crs": null`` in the GeoJSON ``path`` GDAL wrote in no CRS (an image's pixels):
    GeoJSON 2008's "no CRS can be assumed", which geotile reads back as no CRS
    (:func:`geotile.labels.no_crs`); without it, coordinates read as lon/lat (RFC 7946).
    GDAL writes no such member (and reads it as lon/lat, as before): put after its first
    one, the rest of the file copied after it."""
    import shutil

    marker = b'{\n"type": "FeatureCollection",\n'
    with open(path, "rb") as written:
        head = written.read(len(marker))
        if head != marker:  # not GDAL's layout: left as written
            return
        with open(path.with_name(f"{path.name}.crs"), "wb") as copy:
            copy.write(head + b'"crs": null,\n')
            shutil.copyfileobj(written, copy, 2**20)
    os.replace(path.with_name(f"{path.name}.crs"), path)
