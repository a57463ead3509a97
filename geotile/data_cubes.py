"""Data cubes whose bands GDAL makes of an axis that holds no spectral bands.

GDAL opens a variable of more than two dimensions as a raster whose bands are the steps of
the others: a NetCDF (time, y, x) variable gives one band per date (band metadata
NETCDF_DIM_time, the dataset's NETCDF_DIM_EXTRA), a Zarr array one per index
(DIM_time_INDEX). An HDF5 dataset's first axis always becomes the bands, so a PRISMA cube,
stored lines x bands x samples, reads as its lines. A model of matching channel count would
run on either and give garbage; :func:`cube_refusal` says why and how to read the cube.
"""

from __future__ import annotations

import re
import shlex

#: dimensions of time, height and ensemble (CF's T and Z axes), never spectral bands
_NOT_SPECTRAL = frozenset({
    "time", "t", "date", "dates", "datetime", "valid_time", "forecast_time", "reftime",
    "step", "year", "month", "day", "doy", "level", "levels", "lev", "plev", "depth",
    "height", "altitude", "z", "pressure", "isobaric", "member", "ensemble", "number",
    "realization"})
_NOT_SPECTRAL_NAMES = frozenset({"time", "height", "depth", "altitude", "air_pressure",
                                 "forecast_period", "forecast_reference_time", "realization"})
#: GDAL's drivers that make bands of a variable's extra dimensions
_CUBE_DRIVERS = frozenset({"netCDF", "Zarr"})
#: GDAL's HDF drivers, which make bands of a dataset's first axis
_HDF_DRIVERS = frozenset({"HDF5Image", "HDF5", "HDF4Image"})


def cube_refusal(src, grid: bool = False) -> str | None:
    """Why ``src``'s bands are no spectral bands (steps of time, height or ensemble; an HDF
    cube's lines), and the command that writes the cube right, else None. ``grid``: the
    raster is read for its grid alone, which steps of time leave right."""
    if src.driver == "netCDF" and (rows := _unoriented_rows(src)):
        return rows
    if src.count < 2:
        return None
    if src.driver in _HDF_DRIVERS:
        return _netcdf4_variable(src) or _hdf_lines(src)
    # a GeoTIFF that gdal_translate -b wrote keeps the NETCDF_DIM_* metadata: its bands
    # are the user's choice
    return None if grid or src.driver not in _CUBE_DRIVERS else _steps(src)


def _unoriented_rows(src) -> str | None:
    """The refusal of a NetCDF raster whose rows no y coordinate orients, unless the user
    set GDAL_NETCDF_BOTTOMUP: GDAL then assumes them stored bottom-up and flips them, upside
    down for the many written top row first (numpy, xarray, h5py order)."""
    from geotile.gdal_settings import set_by_user
    from geotile.no_georef import unplaced

    if src.height < 2 or not unplaced(src) or set_by_user("GDAL_NETCDF_BOTTOMUP"):
        return None
    return (f"{src.name}: no y coordinate says which way its rows go, and GDAL would turn "
            f"them upside down (it assumes them stored bottom row first); set "
            f"GDAL_NETCDF_BOTTOMUP=NO to read them as stored, top row first (as numpy and "
            f"xarray write them), or =YES to keep GDAL's flip, and run again.")


def _extra_dimensions(src) -> list[str]:
    """The dimensions GDAL made the bands of (netCDF's NETCDF_DIM_<name>, Zarr's
    DIM_<name>_INDEX band metadata)."""
    tags = src.tags(1)
    return ([k[len("NETCDF_DIM_"):] for k in tags if k.startswith("NETCDF_DIM_")]
            + [k[4:-6] for k in tags if k.startswith("DIM_") and k.endswith("_INDEX")])


def _not_spectral(src, name: str) -> bool:
    """Whether the dimension ``name`` is one of time, height or ensemble: by its name, or
    its coordinate variable's CF attributes (axis T or Z, standard_name, 'days since')."""
    tags = src.tags()
    return (name.lower() in _NOT_SPECTRAL
            or tags.get(f"{name}#axis", "").upper() in ("T", "Z")
            or tags.get(f"{name}#standard_name", "").lower() in _NOT_SPECTRAL_NAMES
            or " since " in tags.get(f"{name}#units", ""))


def _steps(src) -> str | None:
    """The refusal of bands that are the steps of a non-spectral dimension."""
    dimensions = _extra_dimensions(src)
    if not any(_not_spectral(src, d) for d in dimensions):
        return None
    shown = " x ".join(f"'{d}'" for d in dimensions)
    values = src.tags().get(f"NETCDF_DIM_{dimensions[0]}_VALUES", "") \
        if len(dimensions) == 1 else ""
    name = shlex.quote(src.name)
    return (f"{src.name}: its {src.count} bands are the steps of the dimension {shown}"
            f"{f' (values {values})' if values else ''}, not spectral bands; write the one to use "
            f"to a GeoTIFF (gdal_translate -b 1 {name} step1.tif; -b 1 -b 2 ... for "
            f"several) and give that.")


def _netcdf4_variable(src) -> str | None:
    """The refusal of a NetCDF-4 variable read by GDAL's HDF5 driver (its bands the first
    dimension, without its name or the georeference), which the netCDF driver reads whole."""
    from geotile.no_georef import unplaced

    netcdf4 = "_NCProperties" in src.tags() or any(
        k.startswith(("_Netcdf4", "DIMENSION_LIST")) for k in src.tags(1))
    if not (netcdf4 and unplaced(src) and src.name.upper().startswith("HDF5:")):
        return None
    file, _, variable = _file_and_array(src.name)
    variable = variable.lstrip("/")
    name = f'NETCDF:"{file}":{"/" if "/" in variable else ""}{variable}'
    return (f"{src.name}: a NetCDF-4 variable read by GDAL's HDF5 driver, which makes its "
            f"first dimension {src.count} bands without its name or the georeference; give "
            f"it as {shlex.quote(name)} (GDAL's netCDF driver) instead.")


def _file_and_array(name: str) -> tuple[str, str, str]:
    """An HDF subdataset ``name`` (HDF5:"a.h5"://group/data) as (file, '://', path)."""
    file, sep, path = name.partition("://")
    return re.sub(r'^[A-Za-z0-9]+:"?|"$', "", file), sep, path


def _subdataset_name(src) -> str:
    """``src``'s subdataset name (HDF5:"a.h5"://group/data), also where it was given by its
    file name: GDAL then opens a file's one array, whose name its derived subdatasets
    (DERIVED_SUBDATASET:LOGAMPLITUDE:<name>) keep."""
    if "://" in src.name:
        return src.name
    derived = src.tags(ns="DERIVED_SUBDATASETS").get("DERIVED_SUBDATASET_1_NAME", "")
    name = derived.split(":", 2)[-1]
    return name if "://" in name else src.name


def _hdf_lines(src) -> str | None:
    """The refusal of an HDF cube without georeference whose first axis (GDAL's bands) is a
    spatial one: a PRISMA product's (lines x bands x samples), or may be: any whose band
    count is its width or height (the line gives the copy of bands first too)."""
    from geotile.no_georef import unplaced

    if not unplaced(src):
        return None
    file, _, path = _file_and_array(_subdataset_name(src))
    # HDF-EOS groups, whose space GDAL's subdataset names write as '_'
    path = "/" + re.sub(r"\b(Data|Geolocation)_Fields\b", r"\1 Fields", path.lstrip("/"))
    # every PRISMA cube (VNIR_Cube, SWIR_Cube, their _ERR_MATRIX) is lines x bands x samples
    prisma = "PRS_L" in src.name.upper() and "/HDFEOS/SWATHS/" in f"/{path.upper()}"
    array = shlex.quote(f"name={path},transpose=[1,0,2]")
    fix = (f"write it as bands x rows x columns (gdalmdimtranslate {shlex.quote(file)} "
           f"cube.tif -of GTiff -array {array}")
    if prisma:
        return (f"{src.name}: a PRISMA cube, stored lines x bands x samples: GDAL reads its "
                f"{src.count} lines as bands of {src.width} x {src.height} px, not its "
                f"spectral bands, and has no georeference; {fix}), georeference it "
                f"(gdal_edit.py -a_srs -a_ullr) and give that.")
    if src.count not in (src.width, src.height):
        return None
    # a (C, H, W) chip of as many bands as pixels a side has this shape too: say both
    side = "width" if src.count == src.width else "height"
    return (f"{src.name}: its {src.count} bands (GDAL makes an HDF dataset's first axis its "
            f"bands), as many as its {side} in pixels, may be a spatial axis (a cube stored "
            f"lines x bands x samples or rows x columns x bands), and it has no georeference;"
            f" if so {fix}; [2,0,1] for rows x columns x bands), if its first axis is its "
            f"bands copy it as it is (gdal_translate {shlex.quote(src.name)} cube.tif); "
            f"georeference it (gdal_edit.py -a_srs -a_ullr) and give that.")
