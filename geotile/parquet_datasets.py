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
    folder = Path(folder)
    if not folder.is_dir() or folder.suffix.lower() == ".gdb":
        return []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith((".", "_")) for part in p.relative_to(folder).parts))
    if not files or any(p.suffix.lower() not in PARQUET_SUFFIXES for p in files):
        return []
    hive = "=" in folder.name or any("=" in part for p in files
                                     for part in p.relative_to(folder).parts[:-1])
    if hive or all(p.name.lower().startswith("part-") for p in files):
        return files
    return []


def first_file(path) -> Path:
    """``path``, a GeoParquet file; or the first file of the dataset folder ``path`` (its
    schema and 'geo' metadata stand for all of them)."""
    files = dataset_files(path)
    return files[0] if files else Path(path)


def files_of(path) -> list[Path]:
    """The files of ``path``: itself, or those of the dataset folder it is."""
    return dataset_files(path) or [Path(path)]
