"""Vector labels in each image's pixel coordinates, given with a georeferenced image.

SpaceNet 7 ships each image's buildings twice: ``labels/*_Buildings.geojson`` in EPSG:3857
and ``labels_match_pix/*_Buildings.geojson``, the same polygons in the image's pixel
coordinates (solaris' ``geojson_to_px_gdf``: the inverse of the image's geotransform, so
(0, 0) is the top-left corner of the top-left pixel, x right, y down), with no ``crs``
member. OpenCV contours, ``rasterio.features.shapes`` without a transform and ``geotile
vectorize`` of a plain image write such files too. ``--labels-crs pixels`` says so: the
labels are placed through each image's own geotransform (:func:`placed_on`), as SpaceNet
CSV's PolygonWKT_Pix is (:func:`geotile.spacenet.pixel_to_map`). Given for labels in map
coordinates (SpaceNet 7's labels/, EPSG:3857), it is refused where none lies on the image's
pixels but, in the CRS their file declares, they lie on the image.

Without it, a GeoJSON of pixel coordinates is read as longitude/latitude (RFC 7946's
default): :func:`pixel_refusal` refuses those that fit the image's pixel size and cannot be
degrees; :func:`warn_if_pixels` warns of those that could be either (two or more separate
polygons, each far larger than the image, one covering it whole), as big lon/lat polygons
(islands, lakes, countries) are.
"""

from __future__ import annotations

import os

import numpy as np

from geotile.errors import InputError
from geotile.user_warnings import warn

#: the --labels-crs value of labels in each image's pixel coordinates
PIXELS = "pixels"
OPTION = f"--labels-crs {PIXELS}"
#: how the option places them, for messages
CONVENTION = "x right, y down from the top-left corner of the image's top-left pixel"
#: pixel coordinates read as lon/lat make every feature at least this many times the image
AREA_RATIO = 1000.0
#: names of GeoJSON files (also gzipped, or zipped: a zip's one file), lon/lat without a crs
#: member
GEOJSON = (".geojson", ".json", ".geojsonl", ".geojsons", ".geojsonseq", ".zip")


def is_pixels(labels_crs) -> bool:
    """Whether --labels-crs says the labels are in each image's pixel coordinates."""
    return isinstance(labels_crs, str) and labels_crs.strip().lower() == PIXELS


def declared_crs(crs, path):
    """The CRS the label file ``path`` declares, read as ``crs``: None where it declares none,
    and where ``crs`` is GeoJSON's implicit lon/lat (RFC 7946: no crs member, or one naming
    what it would be read as anyway)."""
    if crs is None:
        return None
    name = (getattr(path, "name", None) or os.path.basename(str(path))).lower()
    lonlat = crs.to_epsg() == 4326 or crs.to_string() == "OGC:CRS84"
    if lonlat and name.removesuffix(".gz").endswith(GEOJSON):
        return None
    return crs


def placed_on(labels, src, image, source: str | os.PathLike):
    """``labels`` (pixel coordinates of ``src``) in ``src``'s map coordinates and CRS, through
    its geotransform; left in pixels (no CRS) where nothing places ``src`` in a CRS (a plain
    photo: its identity transform, as make-masks takes such labels). Their bounds in its
    pixels kept beside (``in_pixels``) for messages.

    InputError where none lies on its pixels (0..width, 0..height) but, in the CRS their file
    (``source``) declares, they lie on the image (``image``: its name for messages): labels in
    map coordinates, SpaceNet 7's labels/ (EPSG:3857) given for its labels_match_pix/."""
    import shapely

    from geotile.label_set import Labels
    from geotile.no_georef import map_crs
    from geotile.spacenet import pixel_to_map

    crs = map_crs(src)
    present = labels.geometries[~(shapely.is_missing(labels.geometries)
                                  | shapely.is_empty(labels.geometries))]
    in_pixels = None
    if len(present):
        in_pixels = (tuple(float(v) for v in shapely.total_bounds(present)), src.width,
                     src.height)
        if not shapely.intersects(present, shapely.box(0, 0, src.width, src.height)).any():
            refusal = _declared_refusal(labels.declared, present, src, crs, image, source)
            if refusal:
                raise InputError(refusal)
    geometries = labels.geometries if crs is None else pixel_to_map(labels.geometries,
                                                                     src.transform)
    return Labels(geometries, labels.fields, crs, None, labels.values, in_pixels=in_pixels)


def _declared_refusal(declared, geometries, src, crs, image, source) -> str | None:
    """The refusal of ``geometries`` (none on ``src``'s pixels) that lie on it in the CRS
    their file declares (``declared``); None where it declares none, or they miss it there
    too (another image's pixels: "no feature overlaps" says so)."""
    import shapely
    from rasterio.warp import transform_bounds

    from geotile.crs_names import crs_label
    from geotile.label_set import grid_envelope

    if declared is None or crs is None:
        return None
    try:
        box = transform_bounds(crs, declared, *grid_envelope(src.transform, src.width,
                                                              src.height))
    except Exception:  # no place in their CRS: nothing to compare
        return None
    if not np.isfinite(box).all() or not shapely.intersects(geometries,
                                                            shapely.box(*box)).any():
        return None
    name = getattr(image, "name", None) or os.path.basename(str(image))
    return (f"{source} declares {crs_label(declared)}, in which its labels lie on {name}; "
            f"leave out {OPTION} (it is for labels in the image's pixels).")


def no_overlap(labels, image: str, outcome: str, outcomes: str) -> tuple[str, str] | None:
    """What "no feature overlaps" says of ``labels`` placed from the pixels of ``image``
    (named), whose mask is left as ``outcome`` (``outcomes``: those of many images): its
    text after the file's name, and its advice for many images at once; None for labels not
    read as pixels."""
    if labels.in_pixels is None:
        return None
    (minx, miny, maxx, maxy), width, height = labels.in_pixels
    return (f"no feature overlaps {image} (the labels span ({minx:.6g}, {miny:.6g}) to "
            f"({maxx:.6g}, {maxy:.6g}) in pixels, the image is {width}x{height} px); "
            f"{outcome}. With {OPTION} they are placed on its pixels ({CONVENTION}): check "
            "that the file is this image's.",
            f"no feature of their labels lies on their pixels ({OPTION}); {outcomes}. Check "
            "that each label file is its image's.")


def one_image(source, images, folder_fix: str = "a folder of label files, one per image "
              "(named after it)") -> None:
    """InputError where one file of pixel coordinates is given for several images: each
    would get the same polygons."""
    from geotile.input_paths import input_path

    if len(images) > 1:
        names = [input_path(i).name for i in images]
        raise InputError(
            f"{source}: {OPTION} places the labels on one image's pixels, but {len(names)} "
            f"images were given ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): "
            f"each would get the same polygons. Give one image, or {folder_fix}.")


def _fitting(labels, src) -> tuple[float, float, float, float] | None:
    """The extent of lon/lat ``labels`` when it lies within ``src``'s pixel size (0..width,
    0..height), as its pixel coordinates would; else None."""
    if labels.crs is None or not labels.crs.is_geographic or len(labels) == 0:
        return None
    extent = labels.extent if labels.extent is not None else labels.total_bounds
    if not np.isfinite(extent).all():
        return None
    minx, miny, maxx, maxy = (float(v) for v in extent)
    if minx < -1 or miny < -1 or maxx > src.width + 1 or maxy > src.height + 1:
        return None
    return minx, miny, maxx, maxy


def fits_pixels(labels, width: int, height: int, image) -> str:
    """The sentence naming --labels-crs pixels for lon/lat ``labels`` that overlap nothing
    but lie within ``image``'s ``width`` x ``height`` pixels (0..width, 0..height), as its
    pixel coordinates would; else ''. Degrees within those bounds (10..30) are no proof."""
    from types import SimpleNamespace

    if _fitting(labels, SimpleNamespace(width=width, height=height)) is None:
        return ""
    name = getattr(image, "name", None) or os.path.basename(str(image))
    return (f" They lie within {name}'s {width}x{height} pixels, as its pixel coordinates "
            f"would: pass {OPTION} if they are ({CONVENTION}).")


def _advice(src, image) -> str:
    name = getattr(image, "name", None) or os.path.basename(str(image))
    return (f"they lie within {name}'s {src.width}x{src.height} pixels, as its pixel "
            f"coordinates would. Pass {OPTION} ({CONVENTION}) if they are, else --labels-crs "
            "with the CRS they are in (EPSG:xxxx or WKT).")


def pixel_refusal(labels, src, image, source: str | os.PathLike) -> str | None:
    """The one-line refusal of lon/lat ``labels`` (read from ``source``) that are ``src``'s
    pixel coordinates (``image``: its name for messages), else None: their coordinates fit
    the image's pixel size (0..width, 0..height) and cannot be degrees (x beyond 360 or y
    beyond 90).

    Nothing else tells a 20-pixel building from a 20-degree country: big separate lon/lat
    polygons (islands, lakes, countries) whose coordinates fit a tile's pixels are burnt as
    they lie, with a warning where one covers the tile whole (:func:`warn_if_pixels`).
    """
    extent = _fitting(labels, src)
    if extent is None:
        return None
    minx, miny, maxx, maxy = extent
    if maxx > 360.5 or maxy > 90.5:
        return (f"{source}: coordinates like ({minx:.0f}, {miny:.0f}) to ({maxx:.0f}, "
                f"{maxy:.0f}) are not longitude/latitude, although read as "
                f"{labels.crs.to_string()}; {_advice(src, image)}")
    return None


def warn_if_pixels(labels, src, image, source: str | os.PathLike) -> None:
    """A GeotileWarning where lon/lat ``labels`` (read from ``source``) may be ``src``'s pixel
    coordinates: they fit its pixel size, hold two or more separate polygons, each over
    :data:`AREA_RATIO` times the image's area, and one covers the image whole (a 20-pixel
    building read as a polygon 20 degrees wide burns the whole image). Islands, lakes and
    countries look the same and are burnt right, so this warns and never refuses."""
    import shapely

    from geotile.errors import GeotileWarning
    from geotile.no_georef import map_crs

    crs = map_crs(src)
    if crs is None or _fitting(labels, src) is None:
        return
    geometries = labels.geometries[~shapely.is_missing(labels.geometries)]
    areas = shapely.area(geometries)
    geometries, areas = geometries[areas > 0], areas[areas > 0]
    if len(geometries) < 2:
        return
    from rasterio.warp import transform_bounds

    from geotile.label_set import grid_envelope

    try:
        box = transform_bounds(crs, labels.crs, *grid_envelope(src.transform, src.width,
                                                                src.height))
    except Exception:  # no place in their CRS: nothing to compare
        return
    image_area = (box[2] - box[0]) * (box[3] - box[1])
    if not np.isfinite(image_area) or image_area <= 0 or areas.min() <= AREA_RATIO * image_area:
        return
    try:
        if not shapely.covers(geometries, shapely.box(*box)).any():
            return  # partly over it (a shore), or off it ("no feature overlaps" says so)
        left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    except shapely.errors.GEOSException:  # broken rings: not told apart
        return
    if np.any(left != right):  # shared borders or overlaps: regions, not scattered objects
        return
    name = getattr(image, "name", None) or os.path.basename(str(image))
    warn(GeotileWarning(
        f"{source}: read as longitude/latitude ({labels.crs.to_string()}), one of its "
        f"{len(geometries)} separate polygons, each over {AREA_RATIO:.0f} times the area of "
        f"{name}, covers it whole (right for islands, lakes or countries), but "
        f"{_advice(src, image)}", about=name,
        advice=f"one of the labels' big separate polygons covers each whole; if they are "
      f"the images' pixel coordinates, pass {OPTION}."))


def refuse_for_evaluate(labels_crs, truth) -> None:
    """InputError for evaluate's --labels-crs pixels: it scores vector truth against vector
    predictions, with no image to place pixel coordinates on; make-masks does."""
    if is_pixels(labels_crs):
        raise InputError(
            f"{truth}: evaluate places no truth on an image's pixels ({OPTION}). Burn it on "
            f"its image (geotile make-masks {truth} IMAGE {OPTION} -o truth_mask.tif) and "
            "score the prediction raster against that mask, or vectorize the mask (geotile "
            "vectorize truth_mask.tif -o truth.gpkg) for object scores.")
