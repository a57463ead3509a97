"""A tile index (gdaltindex's vector file of tile footprints, its 'location' field naming
each tile) given as an image: what to give instead, as one line of advice."""

from __future__ import annotations

import os
from pathlib import Path

#: the field gdaltindex (and GDAL's GTI driver) names each tile's path in by default
LOCATION = "location"


def tile_index_advice(path) -> str | None:
    """Why the local vector file ``path`` is no raster and what to give, when it is a tile
    index (a 'location' field of paths, relative ones to its folder, as gdaltindex writes
    them run there): a VRT of its tiles (gdalbuildvrt reads a Shapefile index; another,
    through -input_file_list), or their folder. None for any other file."""
    from geotile.input_paths import input_path

    path = input_path(path)
    if not isinstance(path, Path) or not path.is_file():
        return None
    locations = _locations(path)
    if not locations:
        return None
    base = path.absolute().parent
    tiles = index_tiles(path)
    missing = [loc for loc, tile in zip(locations, tiles, strict=True) if not tile.exists()]
    if missing:
        return (f"{path}: a tile index (gdaltindex), not a raster, and {len(missing)} of its "
                f"{len(tiles)} rasters are not found ({missing[0]}, relative paths read from "
                f"its folder). Give the rasters themselves, or index them again from their "
                "folder (gdaltindex -write_absolute_path).")
    folders = sorted({str(t.parent) for t in tiles})
    where = f"in {folders[0]}" if len(folders) == 1 else f"in {len(folders)} folders"
    vrt = f"{path.stem}.vrt"
    build = (f"cd {base} && gdalbuildvrt {vrt} {path.name}" if path.suffix.lower() == ".shp"
             else f"gdalbuildvrt -input_file_list tiles.txt {vrt}, tiles.txt listing their "
             "paths one a line")
    folder = "their folder or " if len(folders) == 1 else ""
    return (f"{path}: a tile index (gdaltindex), not a raster: its '{LOCATION}' field lists "
            f"{len(tiles)} rasters {where}. Give {folder}one VRT of them ({build}).")


def index_tiles(path: Path) -> list[Path]:
    """The tiles the tile index ``path`` lists, relative paths read from its folder (as
    GDAL's GTI driver reads a .gti.gpkg)."""
    base = Path(path).absolute().parent
    return [Path(p) if os.path.isabs(p) else base / p for p in _locations(Path(path))]


def _locations(path: Path) -> list[str]:
    """The paths in the 'location' field (any case) of the vector file ``path``'s first
    layer; empty when it is no vector file or has no such field."""
    import pyogrio

    if path.suffix.lower() in (".parquet", ".geoparquet"):  # GDAL may lack its driver
        return _parquet_locations(path)
    try:
        fields = list(pyogrio.read_info(path)["fields"])
        field = next((f for f in fields if f.lower() == LOCATION), None)
        if field is None:
            return []
        frame = pyogrio.read_dataframe(path, columns=[field], read_geometry=False)
    except Exception:  # pyogrio raises several types: not a vector file, no index
        return []
    return [str(v) for v in frame[field] if isinstance(v, str) and v]


def _parquet_locations(path: Path) -> list[str]:
    """:func:`_locations` of a (Geo)Parquet file (gdaltindex -f Parquet), read by pyarrow."""
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
        field = next((f for f in table.schema_arrow.names if f.lower() == LOCATION), None)
        values = table.read(columns=[field]).column(0).to_pylist() if field else []
    except Exception:  # pyarrow raises several types: not Parquet, unreadable
        return []
    return [str(v) for v in values if isinstance(v, str) and v]
