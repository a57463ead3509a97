"""Rasters without georeferencing (plain JPEG/PNG photos, as in the Kaggle Harvey set).

``tile`` and ``predict`` work on them in pixel coordinates: patches, index.csv bounds and
the probability raster use the raster's own coordinates (pixels, x right and y down, when it
has no geotransform) and carry no CRS. Each command says so in one GeotileWarning per image;
rasterio's NotGeoreferencedWarning (raised when such a raster is opened, and when an output
with the identity transform is written) is not shown in its place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from geotile.affine_math import apply
from geotile.errors import GeotileWarning
from geotile.user_warnings import warn


@contextlib.contextmanager
def quiet_rasterio() -> Iterator[None]:
    """Hide rasterio's NotGeoreferencedWarning in the block (geotile warns in its place):
    one short call (:func:`geotile.quiet_warnings.hidden`; :func:`geotile.raster.open_raster`
    hides it itself)."""
    from rasterio.errors import NotGeoreferencedWarning

    from geotile.quiet_warnings import hidden

    with hidden(NotGeoreferencedWarning):
        yield


#: the CRS GDAL reads from a GeoTIFF whose GeoKeys name no model type: GDAL's own write of
#: a raster without CRS but with AREA_OR_POINT=Point holds its raster-type key alone
NO_CRS_READ_AS = 'LOCAL_CS["unnamed",UNIT["unknown",'


def raster_crs(src):
    """``src``'s CRS, None where it has none: also GDAL's :data:`NO_CRS_READ_AS`, which
    names no unit and no place (a PixelIsPoint raster without CRS)."""
    crs = src.crs
    if crs is not None and not crs.is_epsg_code and crs.to_wkt().startswith(NO_CRS_READ_AS):
        return None
    return crs


def placed_nowhere(src) -> bool:
    """True for a raster that names a CRS but has no geotransform, GCPs or RPCs: its pixels
    have no place in that CRS (an output given both would claim the identity's origin)."""
    return raster_crs(src) is not None and src.transform.is_identity and \
        sensor_georeferencing(src) is None


def map_crs(src):
    """``src``'s CRS for outputs on its grid: None when nothing places it in that CRS."""
    return None if placed_nowhere(src) else raster_crs(src)


def horizontal(crs):
    """``crs`` less the heights of a compound CRS (a drone ortho's 'UTM 33N + EGM96 height'):
    the CRS its pixels lie in, which a mask in plain UTM 33N shares. Others as they are."""
    if crs is None or not crs.to_wkt().startswith("COMPD_CS"):
        return crs
    from pyproj import CRS as ProjCRS
    from rasterio.crs import CRS

    return CRS.from_wkt(ProjCRS.from_wkt(crs.to_wkt()).sub_crs_list[0].to_wkt())


def same_map_crs(a, b) -> bool:
    """Whether rasters ``a`` and ``b`` place their grids in one CRS (:func:`map_crs`),
    heights apart, spelled either way (:func:`geotile.crs_identity.one_crs`)."""
    from geotile.crs_identity import one_crs

    return one_crs(map_crs(a), map_crs(b))


def unplaced(src) -> bool:
    """No geotransform, GCPs or RPCs (a CRS alone places nothing): a plain picture."""
    return src.transform.is_identity and sensor_georeferencing(src) is None


def _georeferencing_of(src, path: Path) -> str:
    """How to write ``src``'s georeferencing into the raster file ``path`` (as given: the
    command runs where geotile ran), to a copy beside it."""
    import shlex

    from rasterio.crs import CRS

    t, crs = src.transform, src.crs
    if t.is_identity or t.b or t.d:  # GCPs, RPCs or a rotated grid: no corners say it
        return "write the image's georeferencing into it (gdal_translate -a_srs and -a_ullr)"
    epsg = crs and crs.to_epsg()
    srs = crs and (f"EPSG:{epsg}" if epsg and CRS.from_epsg(epsg) == crs
                   else shlex.quote(crs.to_wkt()))
    corners = " ".join(f"{v:.15g}" for v in (t.c, t.f, *apply(t, src.width, src.height)))
    return (f"write the image's georeferencing into it (gdal_translate "
            f"{f'-a_srs {srs} ' if srs else ''}-a_ullr {corners} {shlex.quote(str(path))} "
            f"{shlex.quote(str(path.with_name(f'{path.stem}_georef.tif')))})")


def _georeferences(path: str) -> bool:
    """Whether ``path`` is an .aux.xml (GDAL's PAM) that holds a geotransform or a CRS."""
    if not path.lower().endswith(".aux.xml"):
        return False
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return False
    return root.find("GeoTransform") is not None or root.find("SRS") is not None


def one_georeferenced(src, other, other_plain: bool, what: str = "mask") -> str:
    """The refusal of an image ``src`` and an ``other`` raster (a ``what``) of one size of
    which one only is georeferenced: which, by which files, and how to copy them."""
    import shlex

    from geotile.sidecars import SIDECAR_SUFFIXES

    placed = src if other_plain else other
    main = Path(str(placed.name)).name
    sidecars = [Path(f).name for f in placed.files[1:]
                if f.lower().endswith(SIDECAR_SUFFIXES)
                and not f.lower().endswith((".aux.xml", ".ovr", ".msk"))]
    pam = [Path(f).name for f in placed.files[1:] if _georeferences(f)]
    where = ", ".join(pam + sidecars) or f"in {main}"
    if not other_plain:  # a way out that removes what places it (an .aux.xml comes first)
        path = Path(str(other.name))
        # a baseline GeoTIFF holds every type and band count (a PNG turns floats to bytes)
        plain = path.with_name(f"{path.stem}_plain.tif")
        strip = (f"move {' and '.join(pam + sidecars)} away" if pam + sidecars else
                 "a copy without it: gdal_translate --config GDAL_PAM_ENABLED NO -co "
                 f"PROFILE=BASELINE {shlex.quote(str(path))} {shlex.quote(str(plain))}")
        return (f"{other.name}: the {what} is georeferenced ({where}) while "
                f"{Path(str(src.name)).name} has no georeferencing. Georeference the image "
                f"the same way, or give a {what} without ({strip}) when it is drawn on the "
                "image's pixels.")
    path = Path(str(other.name))
    ext = path.suffix.lower().lstrip(".") or "tif"
    copies = [f"{name} beside the {what} as {path.stem}"
              f"{'.prj' if name.lower().endswith('.prj') else f'.{ext[0]}{ext[-1]}w'}"
              for name in sidecars]
    # GDAL reads an .aux.xml before a world file, and a world file carries no CRS
    copied = copies and not pam and (src.crs is None or any(
        name.lower().endswith(".prj") for name in sidecars))
    fix = f"copy {' and '.join(copies)}" if copied else _georeferencing_of(src, path)
    return (f"{path}: the {what} has no georeferencing, while {main} has ({where}). A {what} "
            f"drawn on the image's pixels takes the image's: {fix}.")


#: how to give labels on a raster that nothing places on the map
PIXEL_LABELS = ("if the labels are its pixel coordinates (x right, y down), pass --labels-crs "
                "pixels, or give them in a GeoPackage or Shapefile that declares no CRS: "
                "GeoJSON coordinates are otherwise longitude/latitude (RFC 7946).")


def pixel_labels(labels_path, layer=None) -> str:
    """How to give labels in pixel coordinates: an xBD file read as --layer lng_lat holds
    them already, as its xy layer (the default)."""
    if layer == "lng_lat" and Path(str(labels_path)).suffix.lower() in (".json", ".geojson"):
        return ("give --layer xy (the default): the xBD file's own pixel coordinates of "
                "this image.")
    return PIXEL_LABELS


def labels_not_placed(image, labels_path, labels_crs, layer=None) -> str:
    """The one-line refusal of labels with a CRS (``labels_crs``) on ``image``, a raster that
    names a CRS but has no geotransform: both fixes it names work (such a raster takes labels
    in its pixel coordinates, as a plain photo does)."""
    return (f"{image}: the raster names a CRS but has no geotransform, so the labels in "
            f"{labels_path} ({labels_crs.to_string()}) cannot be placed on it. Georeference "
            f"it (gdal_translate -a_ullr or -a_gt), or {pixel_labels(labels_path, layer)}")


def labels_refusal(src, image, labels_path, labels_crs, layer=None) -> str | None:
    """The one-line refusal of labels with a CRS (``labels_crs``, read from ``layer``) on
    ``src`` (``image``) when nothing places the raster in a CRS (None when they can be
    placed), with fixes that work: orthorectify (GCPs/RPCs), georeference or pixel labels
    (none), assign a CRS."""
    if labels_crs is None or map_crs(src) is not None:
        return None
    sensor = sensor_georeferencing(src)
    if sensor:
        return (f"{image}: the raster is georeferenced by {sensor} only (not orthorectified), "
                f"so the labels in {labels_path} cannot be placed on its grid. Orthorectify it "
                f"first ({orthorectify(sensor)}).")
    if placed_nowhere(src):
        return labels_not_placed(image, labels_path, labels_crs, layer)
    if not src.transform.is_identity:
        return (f"{image}: the raster has no CRS, so the labels in {labels_path} "
                f"({labels_crs.to_string()}) cannot be placed on it. {assign_crs(src)}.")
    return (f"{image}: the raster has no georeferencing (no CRS, no geotransform), so the "
            f"labels in {labels_path} ({labels_crs.to_string()}) cannot be placed on it. "
            "Georeference it (gdal_translate -a_srs EPSG:xxxx -a_ullr ULX ULY LRX LRY), or "
            + pixel_labels(labels_path, layer))


def unmapped_reason(src) -> tuple[str, str]:
    """(why, fix) for the open raster ``src`` having no CRS to place its outputs in, with a
    fix that works for it: orthorectify (GCPs/RPCs), georeference (no geotransform), or
    assign a CRS."""
    sensor = sensor_georeferencing(src)
    if sensor:
        return (f"the raster is georeferenced by {sensor} only (not orthorectified)",
                f"Orthorectify it first ({orthorectify(sensor)})")
    if placed_nowhere(src):
        return ("the raster names a CRS but has no geotransform",
                "Georeference it (gdal_translate -a_ullr or -a_gt)")
    if src.transform.is_identity:
        return ("the raster has no georeferencing (no CRS, no geotransform)",
                "Georeference it (gdal_translate -a_srs EPSG:xxxx -a_ullr ULX ULY LRX LRY)")
    return "the raster has no CRS", assign_crs(src)


def assign_crs(src) -> str:
    """How to give the placed raster ``src`` the CRS it lacks: a NetCDF's CF longitude and
    latitude coordinates without a grid_mapping (GDAL names no CRS for them) are most often
    WGS 84, written to a GeoTIFF (gdal_edit.py would rewrite the NetCDF)."""
    import shlex

    tags = src.tags()
    units = {v.strip().lower() for k, v in tags.items() if k.endswith("#units")}
    if {"degrees_east", "degrees_north"} <= units or {"longitude", "latitude"} <= {
            v.strip().lower() for k, v in tags.items() if k.endswith("#standard_name")}:
        from geotile.input_paths import subdataset_stem

        stem = subdataset_stem(src.name) or Path(str(src.name)).stem
        return (f"Its coordinates are longitude/latitude (CF, no grid_mapping): if in WGS 84, "
                f"write it with that CRS (gdal_translate -a_srs EPSG:4326 "
                f"{shlex.quote(str(src.name))} {shlex.quote(stem + '_4326.tif')}) and give "
                f"that")
    prj = _unread_prj_path(src)
    if prj is not None and _holds_crs(prj):  # a Pix4D tile placed by .tfw and .prj
        return (f"{prj.name} beside it holds one, which GDAL does not read for this format: "
                f"write it in ({_write_prj_in(src, prj)})")
    if prj is not None:
        return (f"{prj.name} beside it holds no CRS GDAL reads: assign one with "
                "`gdal_edit.py -a_srs EPSG:xxxx`")
    return "Assign one with `gdal_edit.py -a_srs EPSG:xxxx`"


def rotated_view_refusal(src, other, what: str = "mask") -> str | None:
    """The refusal of ``other`` (a ``what``) of the size viewers show an unplaced photo
    ``src`` whose EXIF orientation (5..8) turns it a quarter: drawn on that view, it does
    not overlay the stored pixels GDAL reads; None otherwise."""
    import shlex

    orientation = src.tags().get("EXIF_Orientation", "1").strip()
    if (orientation not in ("5", "6", "7", "8") or not unplaced(src)
            or (other.width, other.height) != (src.height, src.width)):
        return None
    name = shlex.quote(Path(str(src.name)).name)
    return (f"{other.name}: the {what} is {other.width}x{other.height} px, as viewers show "
            f"{Path(str(src.name)).name} (its EXIF orientation ({orientation}) turns it), "
            f"while its stored pixels are {src.width}x{src.height} px. Rotate the photo's "
            f"pixels first (`exiftran -ai {name}` or `magick mogrify -auto-orient {name}`), "
            f"then give it with the {what}.")


def warn_if_not_georeferenced(src, outputs: str, also: str = "",
                              mask=None, name: str | None = None) -> bool:
    """One GeotileWarning when ``src`` has no CRS, or one that nothing places it in
    (``outputs`` names what is affected, e.g. "the patches and index.csv bounds"; ``also``:
    a sentence added to it; ``mask``: the mask paired with it, whose EXIF turn is said
    as :func:`_turned`; ``name``: the file's, where ``src`` is a view of it); True when it
    warned."""
    name = name or Path(str(src.name)).name
    also = f" {also}" if also else ""
    if placed_nowhere(src):
        warn(f"{name}: the raster names a CRS but has no geotransform, so nothing "
             f"places it on the map; {outputs} are in pixel coordinates (x right, "
             "y down) and carry no CRS. Georeference it (gdal_translate -a_ullr or "
             f"-a_gt) for map coordinates.{also}", GeotileWarning)
        return True
    if raster_crs(src) is not None:
        return False
    if sensor_georeferencing(src):
        sensor = sensor_georeferencing(src)
        warn(f"{name}: georeferenced by {sensor} only (not orthorectified): output "
             f"rasters keep its {sensor} on the same pixels, other coordinates of "
             f"{outputs} are pixel ones. Orthorectify it ({orthorectify(sensor)}) "
             f"for a map grid.{also}", GeotileWarning)
        return True
    orientation = src.tags().get("EXIF_Orientation", "1").strip()
    if orientation not in ("", "1"):
        shown = None if mask is None else Path(str(mask)).name
        # said once for other photos: their masks' names apart
        advice = _turned(name, orientation, outputs, shown and "its mask").partition(": ")[2]
        warn(GeotileWarning(_turned(name, orientation, outputs, shown), about=name,
                            advice=advice))
    if src.transform.is_identity:
        text = (f"{name}: the raster has no georeferencing; {outputs} are in pixel "
                "coordinates (x right, y down) and carry no CRS.")
    else:
        text = (f"{name}: the raster has no CRS; {outputs} are in its own coordinates "
                f"(its geotransform) and carry no CRS.{_unread_prj(src)}")
    warn(text + also, GeotileWarning)
    return True


def _turned(name: str, orientation: str, outputs: str, mask: str | None = None) -> str:
    """The warning of a photo ``name`` its EXIF ``orientation`` turns or flips: ``outputs``
    follow its stored pixels. With a ``mask`` (its name), that it is taken as drawn on them (as
    FloodNet's _lab.png are; one of the turned size is refused before) and is turned with
    the photo, never the photo alone (the pair would no longer line up)."""
    rotate = "`exiftran -ai` or `magick mogrify -auto-orient`"
    text = (f"{name}: its EXIF orientation ({orientation}) has viewers rotate or flip it; "
            f"{outputs} follow the pixels as stored")
    if mask is None:
        return (f"{text}, so they overlay the photo only as stored. Rotate the pixels first "
                f"(e.g. {rotate}) to match what viewers show.")
    text = (f"{text}, and {mask} is taken as drawn on the stored pixels (as FloodNet's and "
            "RescueNet's masks are). To match what viewers show, turn the photo and the mask "
            "together, never the photo alone")
    if orientation in ("5", "6", "7", "8"):  # a mask of the turned view is refused
        return f"{text}."
    return (f"{text}; a mask drawn on the photo as viewers show it (no size tells them apart) "
            f"lies turned off it: then rotate the photo's pixels first ({rotate}).")


def _unread_prj_path(src) -> Path | None:
    """A .prj beside ``src`` (as ArcGIS writes beside a world-filed PNG or JPEG, Pix4D
    beside a .tfw-placed tile) that GDAL does not read for its format, else None."""
    path = Path(str(src.name))
    prj = next((p for p in (path.with_suffix(".prj"), path.with_suffix(".PRJ"))
                if p.is_file()), None)
    return None if prj is None or str(prj) in src.files else prj


def _holds_crs(prj: Path) -> bool:
    """Whether the .prj file ``prj`` holds a CRS gdal_edit.py -a_srs reads: WKT (ESRI's
    too) or PROJ text PROJ parses, or ArcInfo's 'Projection ...' lines; not an empty file."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        text = prj.read_text(errors="replace").strip()
    except OSError:
        return False
    if text.split(None, 1)[:1] == ["Projection"]:  # ArcInfo's .prj, which GDAL reads
        return True
    try:
        return bool(text) and CRS.from_user_input(text) is not None
    except CRSError:
        return False


def _write_prj_in(src, prj: Path) -> str:
    """The gdal_edit.py that writes the CRS of ``prj`` into ``src``."""
    import shlex

    return f"gdal_edit.py -a_srs {shlex.quote(str(prj))} {shlex.quote(str(src.name))}"


def _unread_prj(src) -> str:
    """What to do with an unread .prj beside ``src`` (:func:`_unread_prj_path`): '' when
    there is none."""
    prj = _unread_prj_path(src)
    if prj is None or not _holds_crs(prj):
        return ""
    return (f" GDAL does not read {prj.name} for this format: write its CRS in first "
            f"({_write_prj_in(src, prj)}).")


def sensor_georeferencing(src) -> str | None:
    """"RPCs" or "GCPs" when ``src`` is placed on the ground by those alone (no geotransform,
    as Level-1 satellite products), else None. RPCs before GCPs: the sensor model, where
    GCPs beside them are a footprint's corners (a NITF's IGEOLO that no grid fits)."""
    if not src.transform.is_identity:
        return None
    if src.rpcs is not None:
        return "RPCs"
    if src.gcps and src.gcps[0]:
        return "GCPs"
    return None


def orthorectify(sensor: str | None) -> str:
    """The gdalwarp that puts a raster placed by ``sensor`` alone (:func:`sensor_georeferencing`)
    on a map grid: by its RPCs (-rpc; a DEM for relief, else the RPCs' mean height), else by
    its GCPs."""
    if sensor == "RPCs":
        return ("gdalwarp -rpc -t_srs EPSG:xxxx, with -to RPC_DEM=dem.tif where the ground "
                "has relief")
    return "gdalwarp -t_srs EPSG:xxxx"


def copy_georeferencing(src, dst) -> None:
    """What places ``src``'s pixels beyond its geotransform and CRS, onto ``dst`` (the same
    pixel grid): GCPs, RPCs and the PixelIsPoint convention (AREA_OR_POINT)."""
    point = src.tags().get("AREA_OR_POINT")
    if point and point.lower() == "point":
        dst.update_tags(AREA_OR_POINT="Point")
    if src.transform.is_identity and src.gcps and src.gcps[0]:
        dst.gcps = src.gcps
    if src.rpcs is not None:
        dst.rpcs = src.rpcs
