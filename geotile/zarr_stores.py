"""Zarr stores: folders of chunks that GDAL's Zarr driver reads as rasters.

geotile reads files, not folders of chunks (its inputs are listed, versioned for --resume and
kept from being overwritten file by file), so a store, or one of its arrays by GDAL's name
(ZARR:"cube.zarr":/ndvi), is refused in one line naming its arrays and the command that
writes one to a GeoTIFF.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

#: the files that make a folder a Zarr group or array (v2, consolidated v2, v3)
_MARKERS = (".zgroup", ".zarray", ".zmetadata", "zarr.json")
#: GDAL's name of a Zarr array: ZARR:"store":/array or ZARR:store:/array
_ZARR_NAME = re.compile(r'ZARR:"?(?P<store>[^"]+?)"?(?::(?P<array>/.*))?$', re.IGNORECASE)


def _is_zarr(folder: Path) -> bool:
    return folder.is_dir() and any((folder / m).is_file() for m in _MARKERS)


def zarr_store(path: str | os.PathLike) -> Path | None:
    """The local Zarr store that ``path`` names (the store, a folder in it, or a ZARR: name
    of one of its arrays), else None."""
    text = os.fspath(path)
    match = _ZARR_NAME.match(text)
    folder = Path(match.group("store") if match else text)
    if not _is_zarr(folder):
        return None
    while _is_zarr(folder.parent):  # the store's root, not an array in it
        folder = folder.parent
    return folder


def _arrays(store: Path) -> list[str]:
    """The arrays of ``store`` as GDAL names them (/ndvi), sorted: v2's .zarray folders,
    v3's zarr.json of node_type array."""
    found = [p.parent for p in store.rglob(".zarray")]
    found += [p.parent for p in store.rglob("zarr.json") if _v3_array(p)]
    return sorted({"/" + f.relative_to(store).as_posix() for f in found if f != store})


def _v3_array(metadata: Path) -> bool:
    import json

    try:
        return json.loads(metadata.read_text()).get("node_type") == "array"
    except (OSError, ValueError, AttributeError):
        return False


def zarr_refusal(path: str | os.PathLike) -> str | None:
    """The one-line refusal of the Zarr store (or array) ``path``, else None."""
    store = zarr_store(path)
    if store is None:
        return None
    arrays = _arrays(store) or ["/ARRAY"]
    name = shlex.quote(f'ZARR:"{store}":{arrays[0]}')
    shown = ", ".join(arrays[:3]) + (" ..." if arrays[3:] else "")
    return (f"{path}: a Zarr store (a folder of chunks; arrays {shown}), which geotile does "
            f"not read; write the array to a GeoTIFF (gdal_translate {name} "
            f"{arrays[0].strip('/').replace('/', '_') or 'array'}.tif; add -b N for one "
            f"step of a time dimension; an older GDAL asks for the name ending :0 for the first) "
            f"and give that.")
