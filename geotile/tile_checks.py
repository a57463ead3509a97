"""The checks and warnings on tile's inputs before and while they are cut: complex (SAR)
rasters, rasters PNG patches cannot hold, masks off their image's grid or numbering classes
otherwise, colour, lossy or mask-band-only labels, and masks declaring nodata 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputError
from geotile.raster_kinds import run_zero_nodata, warn_zero_nodata, zero_nodata
from geotile.user_warnings import warn


def refuse_complex_inputs(images, masks, extras) -> None:
    """Refuse, naming the file, a complex (SAR SLC) image, mask or --extra-bands raster:
    its patches would hold two values a pixel, which predict refuses to feed a model
    (:func:`~geotile.model_pixel.refuse_complex`) and a mask's classes are not."""
    from geotile.model_pixel import refuse_complex
    from geotile.raster import common_dtype, open_raster
    from geotile.raster_kinds import refuse_mixed_types

    for i, image in enumerate(images):
        extra = extras[i] if extras and i < len(extras) else None
        for path, whose in ((image, ""), *((p, "the --extra-bands raster's ")
                                           for p in _dates_of(extra))):
            if path is not None:
                with open_raster(path) as src:
                    dtype = common_dtype(src)
                refuse_complex(dtype, path, whose)
    for mask in masks or ():
        with open_raster(mask) as src:
            if common_dtype(src).kind == "c":
                refuse_mixed_types(src, "mask", "give a mask of class ids")


def _dates_of(extra) -> tuple:
    """An image's --extra-bands entry as its files: none, one, or one per further date."""
    return () if extra is None else extra if isinstance(extra, tuple) else (extra,)


def check_dates(images, extras, resampling: str = "auto") -> None:
    """Refuse in one line, before any patch is cut, an image whose further dates (a tuple
    of --extra-bands rasters) hold other band counts than its own, or cannot be placed on
    its grid (:class:`~geotile.extra_bands.ExtraBands`)."""
    from geotile.extra_bands import check_date_counts, open_dates
    from geotile.raster import open_raster

    for image, extra in zip(images, extras or (), strict=False):
        if isinstance(extra, tuple):
            with open_raster(image) as src, open_dates(extra, src, resampling) as dates:
                check_date_counts(image, src.count, dates)


def check_png(image, mask=None, extra=None) -> bool:
    """Refuse, naming the file, rasters whose pixels PNG patches cannot hold (1 to 4 bands
    of uint8 or uint16); whether the image patches are 16-bit PNGs of 2 to 4 bands, which
    PIL reads by their high byte (:func:`warn_16_bit_png`)."""
    from geotile.raster import common_dtype, open_raster

    fix = "Use --format tif or --format npy."
    found, more = {}, []  # more: each date's (type, band count)
    for path, what in ((image, "raster"), (mask, "mask"),
                       *((p, "--extra-bands raster") for p in _dates_of(extra))):
        if path is None:
            continue
        with open_raster(path) as src:
            dtype, count = found[what] = common_dtype(src), src.count
        if what != "raster" and what != "mask":
            more.append(found[what])
        if dtype not in (np.uint8, np.uint16):
            raise InputError(f"{path}: PNG holds only uint8/uint16 pixels, this {what} is "
                             f"{dtype}. {fix}")
        if count > 4:
            raise InputError(f"{path}: PNG holds 1 to 4 bands, this {what} has {count}. {fix}")
    if more:  # their bands follow the image's in each patch (uint8/16 stay so)
        count = found["raster"][1] + sum(c for _, c in more)
        if count > 4:
            last = _dates_of(extra)[-1]
            raise InputError(f"{last}: PNG holds 1 to 4 bands, and this --extra-bands "
                             f"raster's {more[-1][1]} after the "
                             f"{count - more[-1][1]} of {image}"
                             f"{' and its earlier dates' if len(more) > 1 else ''} make "
                             f"{count} bands. {fix}")
    bands = [found["raster"], *more]
    return sum(count for _, count in bands) > 1 and any(d == np.uint16 for d, _ in bands)


def warn_16_bit_png(images: list) -> None:
    """One warning naming ``images`` (those cut into 16-bit PNGs of 2 to 4 bands): the
    files hold the exact values, but PIL reads such a PNG as 8-bit, its high byte (RGB
    4000 as 15), and so does cv2.imread unless told IMREAD_UNCHANGED."""
    if not images:
        return
    more = f" (and {len(images) - 1} more)" if len(images) > 1 else ""
    warn(
        f"{images[0]}{more}: its 16-bit bands make 16-bit PNG patches of several bands, "
        "which PIL (torchvision's and Hugging Face's image loading) reads as 8-bit, their "
        "high byte (4000 as 15), as cv2.imread does by default: read them with rasterio "
        "or cv2.IMREAD_UNCHANGED, or use --format tif or --format npy.",
        GeotileWarning)


def png_alpha_band(image, extra=None) -> int | None:
    """The band of ``image``'s patches (its bands, then its --extra-bands rasters') that a
    PNG stores as alpha, the 2nd of 2 or the 4th of 4, where it holds data (an NIR, a VH),
    not a 0/255 alpha mask (:func:`~geotile.raster.holds_a_mask`); else None."""
    from rasterio.enums import ColorInterp

    from geotile.raster import holds_a_mask, open_raster

    paths = [image, *_dates_of(extra)]
    count = 0
    for path in paths:
        with open_raster(path) as src:
            count += src.count
            if path is paths[-1] and count in (2, 4):  # its last band is the patches' last
                mask = src.colorinterp[-1] == ColorInterp.alpha and holds_a_mask(src, src.count)
                return None if mask else count
    return None


def warn_png_alpha(found: list[tuple]) -> None:
    """One warning naming the images of ``found`` ((image, band) of :func:`png_alpha_band`):
    their PNG patches keep that band, data, as alpha, which readers drop or draw."""
    if not found:
        return
    (image, band), more = found[0], f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    warn(
        f"{image}{more}: PNG keeps band {band} of {band} of its patches as alpha "
        "(transparency), not as data: cv2.imread drops it by default, as PIL's "
        "convert('RGB') does, and viewers draw its 0s transparent. Read the patches with "
        "rasterio or cv2.IMREAD_UNCHANGED, or use --format tif or --format npy.",
        GeotileWarning)


def check_paletted_with_extra(images, extras, fmt: str = "tif") -> None:
    """Refuse, naming the image, a paletted image (colour-table indices) stacked with
    --extra-bands, or cut into npy patches: one colour table holds one band and an npy array
    none, so its patches would hold bare indices, while predict feeds the same stack its
    colours (:func:`geotile.input_bands.model_view`: grey levels, or RGB)."""
    from geotile.categories import grey_palette, paletted
    from geotile.raster import open_raster

    for i, image in enumerate(images):
        extra = extras[i] if extras and i < len(extras) else None
        if extra is None and fmt != "npy":
            continue
        with open_raster(image) as src:
            if src.count != 1 or not paletted(src):
                continue
            colours = "gray" if grey_palette(src) else "rgb"
        name = Path(str(image)).name
        held = (f"patches stacked with --extra-bands {Path(str(_dates_of(extra)[0])).name}"
                if extra is not None else "npy patches (no colour table)")
        raise InputError(
            f"{image}: its band holds colour-table indices (a paletted image), which {held} "
            f"cannot keep with their colours (predict feeds it its colours). Expand it first: "
            f"gdal_translate -expand {colours} {name} {Path(name).stem}_{colours}.tif, and "
            f"tile that{'' if extra is not None else ' (tif and png patches keep the table)'}.")


def warn_if_colour_labels(mask_src, image) -> None:
    """One warning when a mask looks like colour-coded labels: its patches would hold
    colours, not class ids."""
    from geotile.palettes import palette_advice
    from geotile.raster_kinds import looks_like_colour_labels

    if looks_like_colour_labels(mask_src):
        name = Path(str(mask_src.name)).name
        warn(f"{name}: its RGB bands look like colour-coded labels, so the mask "
             "patches hold colours, not class ids. Make a class mask first: geotile "
             f"make-masks {name} {Path(str(image)).name} -o mask.tif "
             f"{palette_advice(mask_src)}.", GeotileWarning)


def warn_if_lossy_mask(mask_src) -> None:
    """One warning when a mask is JPEG- or WebP-compressed (lossy): the codec moves class
    ids near class edges to other values, which its patches keep as they are."""
    from geotile.raster import lossy_codec
    from geotile.raster_kinds import counts_0_255

    if not (codec := lossy_codec(mask_src)):
        return
    counts = counts_0_255(mask_src)
    strays = int(counts[1:255].sum()) if counts is not None and counts[255] else 0
    found = (f" (here {strays} px of values other than 0 and 255)" if strays else "")
    name = Path(str(mask_src.name)).name
    warn(f"{name}: the mask is {codec}-compressed (lossy), which shifts the values "
         f"near class edges to other, even new, class ids{found}; its patches keep "
         "them. Export the mask losslessly (PNG or GeoTIFF) from its source.",
         GeotileWarning)


def check_grids(images, masks) -> None:
    """Every image readable and every mask on its image's grid, before any image is cut
    (:func:`check_mask_grid`): a missing last image is refused before hours of cutting.
    A mask of bit flags (an HLS Fmask, a Landsat QA band) or of one band per class (a one-hot:
    :func:`~geotile.one_hot_labels.refuse_one_hot_mask`) is refused too."""
    from geotile.hls_files import refuse_fmask
    from geotile.landsat_mtl import refuse_qa_band
    from geotile.one_hot_labels import refuse_one_hot_mask
    from geotile.raster import open_raster

    for i, image in enumerate(images):
        with open_raster(image) as src:
            if masks is not None:
                with open_raster(masks[i]) as mask_src:
                    refuse_fmask(mask_src)
                    refuse_qa_band(mask_src)
                    refuse_one_hot_mask(mask_src, image)
                    check_mask_grid(src, mask_src)


def check_mask_classes(masks) -> None:
    """InputError where two masks name one class id otherwise (building 1 in one, grass 1
    in the other): their patches would mean different classes by the same id. Ids only
    one of them names, or numbers only (placeholders), agree with anything; names apart
    only by case, separators or a plural ('Building', 'buildings') agree. Also where a
    mask's declared nodata is one of its classes (a 0/1 mask declaring nodata 1:
    :func:`~geotile.nodata_classes.refuse_nodata_class`): its patches would mark that class
    no data, index.csv count it so and the filters drop it (predict's probabilities given
    as masks hold no class ids). Each mask opened once."""
    from geotile.class_keys import is_placeholder_name, same_class_name
    from geotile.nodata_classes import refuse_nodata_class
    from geotile.raster import open_raster
    from geotile.raster_kinds import class_names

    first: dict[int, tuple[str, str]] = {}  # id -> (name, mask naming it first)
    for mask in masks or ():
        if mask is None:
            continue
        with open_raster(mask) as mask_src:
            names = class_names(mask_src)
            if mask_src.tags().get("GEOTILE_OUTPUT") != "probability":
                refuse_nodata_class(mask_src, mask, names)
        names = names or []
        for i, name in enumerate(names):
            if i == 0 or is_placeholder_name(name):
                continue
            seen, where = first.setdefault(i, (name, str(mask)))
            if not same_class_name(seen, name):
                raise InputError(
                    f"{mask}: class {i} is {name!r} there but {seen!r} in {where}: the masks "
                    "number their classes otherwise. Make them with one --class-map "
                    "(geotile make-masks --class-map classes.json).")


def warn_mask_band_lost(images, fmt: str) -> None:
    """One warning when an image's nodata is a GDAL mask band (gdal_translate -mask, a
    JPEG-YCbCr orthomosaic's internal mask, .msk): PNG/npy patches cannot hold it, so its
    masked pixels read as image data there."""
    from geotile.raster import masked_by_mask_band, open_raster

    masked = []
    for image in images:
        with open_raster(image) as src:
            if masked_by_mask_band(src):
                masked.append(str(image))
    if masked:
        more = f" (and {len(masked) - 1} more)" if len(masked) > 1 else ""
        warn(
            f"{masked[0]}{more}: its nodata is a mask band, which {fmt} patches cannot hold: "
            "their masked pixels read as image data (index.csv's nodata_fraction counts "
            "them). Use --format tif to keep the mask in each patch.",
            GeotileWarning)


def warn_masks_zero_nodata(masks) -> bool:
    """Whether the run reads the declared nodata 0 of every unnamed mask as no data
    (:func:`~geotile.raster_kinds.run_zero_nodata`), with one warning per meaning
    (:func:`~geotile.raster_kinds.warn_zero_nodata`), before any is cut."""
    from geotile.raster import open_raster

    meanings = {}
    for mask in masks or ():
        with open_raster(mask) as mask_src:
            if mask_src.nodata == 0:
                meanings[mask_src.name] = zero_nodata(mask_src)
    run = run_zero_nodata(meanings.values())
    if run:
        for mask in meanings:
            with open_raster(mask) as mask_src:
                meanings[mask] = zero_nodata(mask_src, run)
    warn_zero_nodata(list(meanings), list(meanings.values()))
    return run


def check_mask_grid(src, mask_src) -> None:
    from geotile.crs_names import grid_difference

    if (difference := grid_difference(mask_src, src)) is None:
        return
    from geotile.no_georef import one_georeferenced, rotated_view_refusal, unplaced

    if (rotated := rotated_view_refusal(src, mask_src)) is not None:
        raise InputError(rotated)
    plain = [r for r in (mask_src, src) if unplaced(r)]
    if len(plain) == 1 and (src.width, src.height) == (mask_src.width, mask_src.height):
        raise InputError(one_georeferenced(src, mask_src, plain[0] is mask_src))
    if (no_crs := crs_alone_differs(src, mask_src)) is not None:
        raise InputError(no_crs)
    import shlex

    names = " ".join(shlex.quote(Path(str(r.name)).name) for r in (mask_src, src))
    # a label raster of another resolution or extent (DFC2018's 0.5 m ground truth over
    # 0.05 m tiles) is itself the LABELS that make-masks resamples onto the image's grid
    raise InputError(f"{mask_src.name}: the mask's grid differs from {src.name}'s: "
                     f"{difference}. Make it on the image's grid with `geotile make-masks "
                     f"{names} -o mask.tif` (from its labels, or this raster).")


def crs_alone_differs(src, mask_src, roles: tuple[str, str] = ("image", "mask")) -> str | None:
    """The refusal of an image and a mask (``roles``: what ``src`` and ``mask_src`` are) of
    one size and transform of which only one names a CRS: assigning it is the fix (None
    when more than the CRS differs)."""
    import shlex

    from geotile.no_georef import unplaced

    if ((src.width, src.height) != (mask_src.width, mask_src.height)
            or src.transform != mask_src.transform or unplaced(src)
            or (src.crs is None) == (mask_src.crs is None)):
        return None
    named, bare = (src, mask_src) if mask_src.crs is None else (mask_src, src)
    epsg = named.crs.to_epsg()
    crs = f"EPSG:{epsg}" if epsg else shlex.quote(named.crs.to_wkt())
    which = roles[1] if bare is mask_src else roles[0]
    name = Path(str(named.name)).name
    return (f"{bare.name}: the {which} has the size and transform of {name} but no CRS. "
            f"Assign {name}'s: gdal_edit.py -a_srs {crs} {shlex.quote(str(bare.name))}")
