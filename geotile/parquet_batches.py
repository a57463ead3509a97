"""The rows of a GeoParquet file or dataset near some boxes, read in record batches.

A file without a bbox column (GeoParquet 1.0, geopandas' default) gives pyarrow no filter
to push down: its geometries are decoded one batch at a time and only the rows whose bounds
meet a box are kept, so memory holds a batch and the rows kept, not the whole file.
"""

from __future__ import annotations

import numpy as np

from geotile.quiet_warnings import hidden

#: rows decoded at a time (2M footprints: ~30 batches)
BATCH_ROWS = 65_536


def rows_near(path, geo: dict, boxes, partitioning, schema=None):
    """The rows of GeoParquet ``path`` (a file or a dataset folder read with
    ``partitioning`` and ``schema``, None: its first file's) whose geometry's bounds meet
    one of ``boxes`` (in its CRS), as a GeoDataFrame like geopandas.read_parquet's, and the
    bounds of all its geometries (xmin, ymin, xmax, ymax; NaN where it has none). ``geo``:
    its 'geo' metadata."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import shapely

    dataset = ds.dataset(path, format="parquet", partitioning=partitioning,
                         schema=schema)
    extent = np.full(4, np.nan)
    kept, geometries = [], []
    for batch, shapes in _decoded_batches(dataset, geo):
        bounds = shapely.bounds(shapes)
        # a batch of empty or null geometries: all NaN
        with hidden(RuntimeWarning, message="All-NaN slice encountered"):
            extent = np.concatenate([np.fmin(extent[:2], np.nanmin(bounds[:, :2], 0)),
                                     np.fmax(extent[2:], np.nanmax(bounds[:, 2:], 0))])
        keep = np.zeros(len(bounds), dtype=bool)
        for x0, y0, x1, y1 in boxes:  # NaN bounds (empty, null) meet none
            keep |= (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & \
                (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
        kept.append(batch.filter(pa.array(keep)))
        geometries.append(shapes[keep])
    shapes = np.concatenate(geometries) if geometries else np.empty(0, dtype=object)
    return (_frame(pa.Table.from_batches(kept, schema=dataset.schema), geo, shapes),
            tuple(extent.tolist()))


def read_frame(path, geo: dict, filters, partitioning, schema=None):
    """The rows of ``path`` (a file or a dataset folder) that ``filters`` (a pyarrow
    expression, or None: all) keeps, as geopandas.read_parquet gives them, for a file whose
    'geo' metadata ``geo`` is not in it (:func:`geotile.wkb_parquet.assumed_geo`), which
    geopandas refuses to read."""
    import pyarrow.dataset as ds

    table = ds.dataset(path, format="parquet", partitioning=partitioning,
                       schema=schema).to_table(filter=filters)
    name = geo["primary_column"]
    return _frame(table, geo, _decoded(table.column(name),
                                       geo["columns"][name].get("encoding", "WKB")))

def frames(path, geo: dict, partitioning, schema=None):
    """Each record batch of GeoParquet ``path`` (a file or a dataset folder read with
    ``partitioning`` and ``schema``) as a GeoDataFrame like geopandas.read_parquet's, in
    file order."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning=partitioning,
                         schema=schema)
    for batch, shapes in _decoded_batches(dataset, geo):
        yield _frame(batch, geo, shapes)


def _decoded_batches(dataset, geo: dict):
    """Each non-empty batch of ``dataset`` and its geometries, decoded."""
    name = geo["primary_column"]
    encoding = geo["columns"][name].get("encoding", "WKB")
    for batch in _batches(dataset):
        if len(batch):
            yield batch, _decoded(batch.column(name), encoding)


def _frame(table, geo: dict, shapes):
    """A GeoDataFrame of arrow ``table`` (a table or batch) whose primary geometry column
    holds ``shapes``, its other columns as pyarrow converts them, as geopandas reads them."""
    import geopandas as gpd

    name = geo["primary_column"]
    frame = table.drop_columns([name]).to_pandas()
    crs = geo["columns"][name].get("crs", "OGC:CRS84")  # absent: CRS84, the spec says
    frame.insert(table.schema.get_field_index(name), name,
                 gpd.GeoSeries(shapes, index=frame.index, crs=crs))
    return gpd.GeoDataFrame(frame, geometry=name)


def _batches(dataset):
    """Each batch of ``dataset``'s files, its columns as its schema gives them (a Hive
    folder's key from the folder, a column a part lacks null). File by file with
    pyarrow.parquet, which holds a batch where the dataset scanner reads row groups ahead
    (2M footprints: 360 MB against 700 MB)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    schema = dataset.schema
    for fragment in dataset.get_fragments():
        keys = ds.get_partition_keys(fragment.partition_expression)
        for batch in pq.ParquetFile(fragment.path, pre_buffer=False).iter_batches(
                batch_size=BATCH_ROWS):
            names = batch.schema.names
            columns = [batch.column(f.name).cast(f.type) if f.name in names else
                       pa.nulls(len(batch), f.type) if f.name not in keys else
                       pa.array([keys[f.name]] * len(batch)).cast(f.type) for f in schema]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _decoded(values, encoding: str) -> np.ndarray:
    """Shapely geometries of a GeoParquet geometry column's batch ``values``: WKB, or one
    of GeoArrow's native encodings ('polygon', 'multipolygon'...)."""
    import geopandas as gpd
    import pyarrow as pa
    import shapely

    if encoding.upper() == "WKB":
        return shapely.from_wkb(values.to_numpy(zero_copy_only=False))
    if encoding == "multipolygon":
        values = _without_ringless_parts(values)
    field = pa.field("geometry", values.type,
                     metadata={"ARROW:extension:name": f"geoarrow.{encoding}"})
    table = pa.Table.from_arrays([values], schema=pa.schema([field]))
    return np.asarray(gpd.GeoDataFrame.from_arrow(table).geometry.values, dtype=object)


def _without_ringless_parts(values):
    """GeoArrow multipolygons ``values`` less their parts of no ring (geopandas writes a
    POLYGON EMPTY among multipolygons so), on which shapely's from_ragged_array crashes the
    process (shapely 2.2); such a part holds no area. ``values`` as given where none has."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    parts = values.flatten()  # the polygons of the rows, in order (null rows hold none)
    rings = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    if rings.all():
        return values
    keep = rings > 0
    counts = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
    row = np.repeat(np.arange(len(values)), counts)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=len(values)))])
    large = pa.types.is_large_list(values.type)
    return (pa.LargeListArray if large else pa.ListArray).from_arrays(
        pa.array(offsets, pa.int64() if large else pa.int32()), parts.filter(pa.array(keep)),
        type=values.type, mask=values.is_null())


def bbox_holds_bounds(path, geo: dict, columns: tuple, rows: int = 1024) -> bool | None:
    """Whether the bbox ``columns`` (xmin, ymin, xmax, ymax, each a tuple of names) of the
    GeoParquet file ``path`` hold the bounds of its geometries, to a float32 step, in its
    first batch of ``rows`` rows that has rows holding both (rows of empty geometries or null
    bboxes tell nothing: read on past them); None where no row holds both. Not so for
    Overture's lon/lat bbox that geopandas' to_crs left beside projected geometries (an
    undeclared column, no covering)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import shapely

    name = geo["primary_column"]
    file = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)  # pages, not
    for batch in file.iter_batches(batch_size=rows, columns=list(dict.fromkeys(  # a whole
            [name, *(c[0] for c in columns)]))):  # row group (Overture's: 100 MB)
        bounds = shapely.bounds(_decoded(batch.column(name),
                                         geo["columns"][name].get("encoding", "WKB")))
        box = np.column_stack([
            (pc.struct_field(batch.column(c[0]), list(c[1:])) if len(c) > 1 else
             batch.column(c[0])).cast(pa.float64()).to_numpy(zero_copy_only=False)
            for c in columns])
        known = np.isfinite(bounds).all(1) & np.isfinite(box).all(1)
        if not known.any():
            continue
        bounds, box = bounds[known], box[known]
        step = np.spacing(np.abs(bounds).astype(np.float32)).astype(np.float64)
        return bool((box[:, :2] <= bounds[:, :2] + step[:, :2]).all() and
                    (box[:, 2:] >= bounds[:, 2:] - step[:, 2:]).all())
    return None
