"""A folder of GeoParquet files written as one dataset, read as one label file.

Overture Maps ships each theme as ``theme=buildings/type=building/part-00000-<id>.c000
.zstd.parquet`` (Hive partition folders, Spark's part files); DuckDB, pyarrow and Spark
write datasets the same way. Such a folder is no folder of one label file per image.
"""

from __future__ import annotations

from pathlib import Path

PARQUET_SUFFIXES = (".parquet", ".geoparquet")


def dataset_files(folder) -> list[Path]:
    """The Parquet files of ``folder`` and its subfolders, sorted, when they are one
    dataset: all Parquet (bookkeeping such as _SUCCESS, .crc aside, as pyarrow skips
    them), named part-* or under a Hive partition folder (key=value); [] otherwise."""
    parquet, others = _laid_out(folder)
    return [] if others else parquet


def other_files(folder) -> list[Path]:
    """The files of ``folder`` that are no Parquet where its Parquet files are surely laid
    out as one dataset (named part-*, or in Hive subfolders: a folder of one label file per
    image may be named split=train itself): pyarrow would read them as parts too."""
    parquet, others = _laid_out(folder)
    return others if others and _as_parts(folder, parquet) else []


def surely_dataset(folder) -> bool:
    """Whether ``folder`` is a dataset's Parquet parts that no folder of one label file per
    image could be (named part-*, or in Hive subfolders: Overture's theme=buildings/); a
    folder named key=value holding t1.parquet, t2.parquet is either."""
    parquet = dataset_files(folder)
    return bool(parquet) and _as_parts(folder, parquet)


def _as_parts(folder, parquet: list[Path]) -> bool:
    """Whether the Parquet files ``parquet`` of ``folder`` are named or laid out as parts."""
    return all(p.name.lower().startswith("part-") for p in parquet) or any(
        p.parent != Path(folder) for p in parquet)


def _laid_out(folder) -> tuple[list[Path], list[Path]]:
    """``folder``'s Parquet files and its other files (bookkeeping aside) when its Parquet
    files are named part-* or lie under a Hive partition folder; ([], []) otherwise."""
    folder = Path(folder)
    if not folder.is_dir() or folder.suffix.lower() == ".gdb":
        return [], []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith((".", "_")) for part in p.relative_to(folder).parts))
    parquet = [p for p in files if p.suffix.lower() in PARQUET_SUFFIXES]
    hive = "=" in folder.name or any("=" in part for p in parquet
                                     for part in p.relative_to(folder).parts[:-1])
    if parquet and (hive or all(p.name.lower().startswith("part-") for p in parquet)):
        return parquet, [p for p in files if p not in parquet]
    return [], []


def first_file(path) -> Path:
    """``path``, a GeoParquet file; or the first file of the dataset folder ``path`` (its
    schema and 'geo' metadata stand for all of them)."""
    files = dataset_files(path)
    return files[0] if files else Path(path)


def files_of(path) -> list[Path]:
    """The files of ``path``: itself, or those of the dataset folder it is."""
    return dataset_files(path) or [Path(path)]


def partitioning(path) -> str | None:
    """How pyarrow is to read ``path``'s Hive folders (key=value): "hive", their keys as
    columns; None where its first file holds a column of such a key itself (DuckDB's
    WRITE_PARTITION_COLUMNS), which pyarrow cannot merge with the folders'."""
    import pyarrow.parquet as pq

    files = dataset_files(path)
    if not files:
        return "hive"
    keys = {part.split("=", 1)[0] for p in [Path(path), *files[0].relative_to(path).parents]
            for part in [p.name] if "=" in part}
    return None if keys & set(pq.read_schema(files[0]).names) else "hive"


def dataset_schema(path):
    """The schema pyarrow is to read the dataset folder ``path`` with: its Hive keys and
    the fields of all its parts, where pyarrow takes the first part's alone (a field only
    later parts hold, one a part types null as all its values are None, int32 beside int64:
    read as one, null where a part lacks it). None for a file, or parts whose fields cannot
    be one (double beside a list: named by the caller when pyarrow fails)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    files = dataset_files(path)
    if len(files) < 2:
        return None
    inferred = ds.dataset(path, format="parquet", partitioning=partitioning(path)).schema
    try:  # the first part's fields and the Hive keys first, as pyarrow orders them
        return pa.unify_schemas([inferred, *(pq.read_schema(f) for f in files[1:])],
                                promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def unreadable_part(folder) -> str | None:
    """What to say of the first part file of the dataset folder ``folder`` that pyarrow
    cannot read as Parquet (empty or cut short: a copy or download that failed); None when
    it reads them all."""
    import pyarrow.parquet as pq

    from geotile.failed_downloads import failed_download

    for part in dataset_files(folder):
        try:
            pq.read_metadata(part)
        except Exception as exc:  # pyarrow's ArrowInvalid, OSError
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return failed_download(part, "a Parquet part file") or (
                f"{part}: a part file of the dataset {folder} that is not Parquet pyarrow "
                f"reads ({reason}): a download or copy cut short. Download or copy it again.")
    return None
