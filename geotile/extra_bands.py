"""Extra bands from a second raster, stacked after an image's bands (RGB + nDSM models).

``predict --extra-bands dsm.tif`` and ``tile --extra-bands dsm.tif`` read every band of
the other raster on the image's grid: exactly (no resampling) when the grids are the same,
else warped onto it (by default nearest for a raster of classes, one with a colour table or
class names, which blending would turn into ids of no class, else bilinear, as heights and
other continuous values want), reprojected when its CRS differs. Pixels the other raster does
not cover, or where it is nodata, are nodata in the stack. Reading is by row bands, as
the image itself is read, so memory does not grow with the raster. ``tile`` writes the
stack without a nodata value (one value would hold for every band: the image's 0 would
make 0 m heights nodata) and marks invalid pixels in the patch's mask band instead.
Repeated, they are a multi-temporal model's further dates (:class:`DateStack`), the image
date 1, which predict feeds and tile cuts in date order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geotile.crs_identity import one_crs
from geotile.errors import InputError
from geotile.plurals import counted
from geotile.user_warnings import warn

RESAMPLING = ("auto", "bilinear", "nearest", "cubic", "average")


def same_grid(a, b) -> bool:
    """True when ``a`` and ``b`` (datasets or VRTs) have the same pixel grid and CRS."""
    from geotile.crs_names import grid_difference

    return grid_difference(a, b) is None


def _check_overlap(src, like, path) -> None:
    """InputError when ``src`` covers none of ``like``'s grid: every stacked pixel would be
    nodata (a raster of another place, or with a wrong CRS)."""
    from rasterio.warp import transform_bounds

    from geotile.label_rasters import rasterio_bounds

    # from the corners: south-up or rotated grids have unordered rasterio bounds
    left, bottom, right, top = rasterio_bounds(like.transform, like.width, like.height)
    extent = rasterio_bounds(src.transform, src.width, src.height)
    west, south, east, north = transform_bounds(src.crs, like.crs, *extent) \
        if src.crs is not None and not one_crs(src.crs, like.crs) else extent
    if src.crs is not None:
        from geotile.proj_grids import check_grid_bounds

        check_grid_bounds(extent, (west, south, east, north), src.crs, like.crs, str(path))
    if west >= right or east <= left or south >= top or north <= bottom:
        name = Path(str(like.name)).name
        raise InputError(
            f"{path}: --extra-bands does not overlap {name} (it spans {west:.10g}, "
            f"{south:.10g} to {east:.10g}, {north:.10g}; the image {left:.10g}, {bottom:.10g} "
            f"to {right:.10g}, {top:.10g}): every stacked pixel would be nodata. Give the "
            "raster that covers the image, or check its CRS.")


def _check_georeferenced(src, like, path) -> None:
    """InputError when one of ``src`` (the extra raster at ``path``) and the image ``like``
    has no geotransform (nor GCPs, RPCs): how to give it one."""
    from geotile.no_georef import map_crs, one_georeferenced, unplaced

    src_plain = map_crs(src) is None
    if not unplaced(src if src_plain else like):
        return  # placed, only without a CRS
    if (src.width, src.height) == (like.width, like.height):
        raise InputError(one_georeferenced(like, src, src_plain, "--extra-bands raster"))
    missing = path if src_plain else Path(str(like.name)).name
    raise InputError(
        f"{missing}: the raster has no georeferencing (no geotransform), so --extra-bands "
        f"{Path(str(path)).name} cannot be placed on the image grid. Georeference it "
        "(gdal_translate -a_srs EPSG:xxxx -a_ullr with its corners), or give a raster on the "
        "image's exact grid.")


def _holds_classes(src) -> bool:
    """Whether ``src`` holds classes, not measurements: a colour table, or class names
    (GEOTILE_CLASS_NAMES, GDAL categories, a QGIS paletted style)."""
    from geotile.categories import paletted
    from geotile.raster_kinds import class_names

    try:
        return paletted(src) or class_names(src) is not None
    except InputError:  # an unreadable names tag still names classes
        return True


def _resampling_for(src, path, resampling: str) -> str:
    """The resampling that puts ``src`` on the image grid: ``auto`` is nearest for a raster
    of classes (:func:`_holds_classes`), else bilinear; a blending one asked for a raster
    of classes is warned about once."""

    from geotile.errors import GeotileWarning

    classes = _holds_classes(src)
    if resampling == "auto":
        return "nearest" if classes else "bilinear"
    if classes and resampling != "nearest":
        warn(f"{Path(str(path)).name}: the --extra-bands raster holds classes (a "
             f"colour table or class names), which {resampling} resampling blends "
             "into ids of no class at their borders; give --extra-resampling nearest "
             "to keep them.", GeotileWarning)
    return resampling


def date_names(image, extra) -> tuple[str, str]:
    """The two dates' files as their lines name them: by file name, with its folder where
    both have one name (LEVIR-CD's A/x.png and B/x.png)."""
    first, second = Path(str(image)), Path(str(extra))
    if first.name != second.name:
        return first.name, second.name
    return (str(Path(first.parent.name, first.name)),
            str(Path(second.parent.name, second.name)))


def pair_words(model, number: int = 2) -> tuple[str, str, str]:
    """How a line names the image and its date ``number``: ("the two dates of m.onnx",
    "the first's", "the second's") for a change detection model, ("dates 1 and 3 of
    m.onnx", "date 1's", "date 3's") for a multi-temporal one."""
    name = Path(str(model.path)).name
    if getattr(model, "dates", None) is None:
        return f"the two dates of {name}", "the first's", "the second's"
    return f"dates 1 and {number} of {name}", "date 1's", f"date {number}'s"


def check_date_types(model, dtypes, extra_dtypes, image, extra, number: int = 2) -> None:
    """InputError when a change detection model's two dates (the image's bands of
    ``dtypes``, the --extra-bands raster's of ``extra_dtypes``) of integer pixels would be
    scaled apart: a uint8 date divided by 255 beside a uint16 one fed raw. --scale puts both
    on one. Float pixels may hold anything (0..1 beside uint8's /255): they pass."""
    dates = getattr(model, "date_channels", None)
    if dates is None or len(set(dates)) != 1 or getattr(model, "_dtype_max", "") or any(
            np.dtype(d).kind not in "iu" for d in (*dtypes, *extra_dtypes)):
        return
    first = {model.normalization_for(d).scale for d in dtypes}
    second = {model.normalization_for(d).scale for d in extra_dtypes}
    if first == second:
        return

    def said(types, scales):
        names = "/".join(dict.fromkeys(np.dtype(d).name for d in types))
        how = "as they are" if scales == {1.0} else (
            "divided by 255" if scales == {1 / 255} else "scaled by type")
        return f"{names} pixels go in {how}"

    names = date_names(image, extra)
    pair, one, other = pair_words(model, number)
    raise InputError(
        f"{names[0]} and {names[1]}: {pair} would reach it on different scales ({one} "
        f"{said(dtypes, first)}, {other} {said(extra_dtypes, second)}). Give both dates "
        "in one type, or --scale for both (0.00392 for two 0..255 dates).")


def two_dates(model) -> bool:
    """Whether ``model`` takes two dates of as many channels (a change detection model:
    :mod:`geotile.model_inputs`), normalised alike."""
    dates = getattr(model, "date_channels", None)
    return dates is not None and len(dates) > 1 and len(set(dates)) == 1


def check_date_values(model, declared, extra_declared, image, extra,
                      number: int = 2) -> None:
    """InputError when a change detection model's two dates declare other values for their
    pixels (``declared``, ``extra_declared``: (scale, offset) per band fed; Sentinel-2
    across baseline 04.00: DN x 0.0001 - 0.1, then DN x 0.0001): fed alike (one --scale and
    --mean), the model would see a change everywhere."""
    import math

    if not two_dates(model) or len(declared) != len(extra_declared) or all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
            for one, two in zip(declared, extra_declared, strict=True)
            for a, b in zip(one, two, strict=True)):
        return
    from geotile.input_range import shown_values

    def said(values):
        return (f"scale {shown_values(s for s, _ in values)} offset "
                f"{shown_values(o for _, o in values)}")

    names = date_names(image, extra)
    pair, one, other = pair_words(model, number)
    raise InputError(
        f"{names[0]} and {names[1]}: {pair} declare other values for their pixels (value = "
        f"pixel * scale + offset; {one} {said(declared)}, {other} "
        f"{said(extra_declared)}): fed alike, the model would see a change everywhere. "
        "Convert both to their values (gdal_translate -unscale -ot Float32 IN OUT) and give "
        "those.")


def check_two_files(model, image, extra) -> None:
    """InputError when a change detection model's second date is the image's own file."""
    if getattr(model, "second_input", None) is not None and \
            _same_file_key(image) == _same_file_key(extra):
        raise InputError(
            f"{image}: given as both dates of {Path(model.path).name} (--extra-bands is the "
            "same file), whose change would be none. Give the second date's image with "
            "--extra-bands.")


def warn_repeated_dates(model, image, extra) -> None:
    """One warning where a multi-temporal model's dates (the image, then ``extra``'s) give
    one file twice: a copy-paste, or a cloudy date filled with another (meant or not)."""

    from geotile.errors import GeotileWarning

    if getattr(model, "dates", None) is None or extra is None:
        return
    seen: dict[str, int] = {}
    for number, path in enumerate([image, *(d.path for d in each_date(extra))], 1):
        first = seen.setdefault(_same_file_key(path), number)
        if first != number:
            warn(f"{Path(str(path)).name} is given as dates {first} and {number} of "
                 f"{Path(str(model.path)).name}: the same pixels twice. If another "
                 "date was meant, give its file in that place.", GeotileWarning)
            return


def check_date_colours(model, src, indexes, extra_src, extra_indexes, image,
                       extra, number: int = 2) -> None:
    """InputError when a change detection model's two dates feed their red, green and blue
    bands in other orders by their colour interpretation (an RGB date beside PlanetScope's
    blue-first one): fed alike, the model would see a change everywhere."""
    from rasterio.enums import ColorInterp

    if not two_dates(model):
        return
    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    first = [src.colorinterp[i - 1] for i in indexes]
    second = [extra_src.colorinterp[i - 1] for i in extra_indexes]
    if len(first) != len(second) or first == second or sorted(
            c for c in first if c in rgb) != sorted(c for c in second if c in rgb) or sum(
            c in rgb for c in first) < 2:
        return
    if all(a == b for a, b in zip(first, second, strict=True) if a in rgb):
        return
    names = date_names(image, extra)
    order = [extra_indexes[second.index(c)] if c in rgb else i
             for c, i in zip(first, extra_indexes, strict=True)]
    pair, one, other = pair_words(model, number)
    raise InputError(
        f"{names[0]} and {names[1]}: {pair} feed their bands in other colour orders ({one} "
        f"{', '.join(c.name for c in first)}, {other} "
        f"{', '.join(c.name for c in second)} by their colour interpretation): fed "
        f"alike, the model would see a change everywhere. Reorder {other} bands "
        f"(gdal_translate {' '.join(f'-b {i}' for i in order)} {names[1]} "
        f"{Path(names[1]).with_name(Path(names[1]).stem + '_reordered.tif')}) and give that.")


def check_date_names(model, src, indexes, extra_src, extra_indexes, image, extra) -> None:
    """InputError when two dates' bands, each described (B02, B03... or red, nir), name
    the same bands in other orders: fed alike, one date's red would meet another's blue.
    --bands by the names picks each date's by its own."""
    if not two_dates(model):
        return
    first = [src.descriptions[i - 1] for i in indexes]
    second = [extra_src.descriptions[i - 1] for i in extra_indexes]
    if not all(first) or not all(second) or first == second or sorted(first) != sorted(
            second) or len(set(first)) != len(first):
        return
    names = date_names(image, extra)
    raise InputError(
        f"{names[0]} and {names[1]}: the dates of {Path(model.path).name} name their bands "
        f"in other orders ({', '.join(first)}; {', '.join(second)}): fed alike, "
        f"{first[0]} of one would meet {second[0]} of the other. Give --bands "
        f"{','.join(first)}: it picks each date's bands by its own names.")


def picked_bands(src, bands, path) -> list[int]:
    """``bands`` (--bands: numbers or band names) as band numbers of the --extra-bands
    raster ``src`` at ``path``; InputError for one it lacks."""
    from geotile.input_bands import band_numbers

    numbers = list(band_numbers(src, bands, path))
    bad = [i for i in numbers if not 1 <= i <= src.count]
    if bad:
        raise InputError(f"{path}: band {bad[0]} does not exist (the --extra-bands raster, "
                         f"the second date, has {src.count}); --bands picks both dates' "
                         "bands: give rasters of the same bands.")
    return numbers


class ExtraBands:
    """All bands of the raster ``path`` on the grid of ``like`` (width, height, transform,
    crs). Use as a context manager; :meth:`read` reads a band of rows as
    :func:`geotile.raster.read_band` does."""

    def __init__(self, path: str | os.PathLike, like, resampling: str = "auto",
                 bands=None) -> None:
        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT

        from geotile.input_paths import input_path
        from geotile.no_georef import map_crs, quiet_rasterio
        from geotile.raster import (
            check_pixels_readable,
            common_dtype,
            has_nodata,
            holds_a_mask,
            masked_by_mask_band,
            may_hold_nodata,
            open_raster,
        )
        from geotile.raster_kinds import alpha_bands

        if resampling not in RESAMPLING:
            raise InputError(f"--extra-resampling must be one of {', '.join(RESAMPLING)}")
        self.path = input_path(path)
        self._src = open_raster(self.path)  # quietly: geotile says its own warning
        try:
            check_pixels_readable(self._src)
            src = self._src
            # alpha bands holding a mask (gdalwarp -dstalpha's) mask nodata, not data
            masks = [i for i in alpha_bands(src) if holds_a_mask(src, i)]
            self._data = [i for i in range(1, src.count + 1) if i not in masks] or \
                list(range(1, src.count + 1))
            if bands:  # a change detection model's second date: the image's --bands
                self._data = picked_bands(src, bands, self.path)
            self.count, self.dtype = len(self._data), common_dtype(src, self._data)
            self.dtypes = [np.dtype(src.dtypes[i - 1]) for i in self._data]  # each band's own
            self.exact = same_grid(src, like)
            self._vrt, self._alpha = None, False
            if self.exact:
                self._reader, self.check_nodata = src, may_hold_nodata(src)
                return
            if (map_crs(src) is None) != (map_crs(like) is None):
                _check_georeferenced(src, like, self.path)
                missing = self.path if map_crs(src) is None else Path(str(like.name)).name
                raise InputError(
                    f"{missing}: the raster has no CRS, so --extra-bands {self.path.name} "
                    "cannot be placed on the image grid. Assign one with `gdal_edit.py "
                    "-a_srs EPSG:xxxx`, or give a raster on the image's exact grid.")
            if map_crs(src) is None and (src.transform.is_identity
                                         or like.transform.is_identity):
                raise InputError(
                    f"{self.path}: neither raster is georeferenced and their sizes differ "
                    f"({src.width}x{src.height} vs {like.width}x{like.height}), so "
                    "--extra-bands cannot be aligned. Give a raster of the image's size.")
            _check_overlap(src, like, self.path)
            resampling = _resampling_for(src, self.path, resampling)
            # outside the other raster's extent: nodata (an alpha band when it has none; the
            # warper makes its own alpha band the VRT's, 0 outside too)
            self._alpha = not alpha_bands(src) and (not has_nodata(src)
                                                    or masked_by_mask_band(src))
            # a mask band beside a nodata value is GDAL's mask (the value ignored, as on the
            # same grid), which the warper honours only without a source nodata value
            unvalued = {"src_nodata": None} if self._alpha and has_nodata(src) and \
                self.dtype.kind != "f" else {}
            with quiet_rasterio():
                self._vrt = WarpedVRT(src, crs=like.crs, transform=like.transform,
                                      width=like.width, height=like.height,
                                      resampling=Resampling[resampling], add_alpha=self._alpha,
                                      **unvalued)
            # the VRT's own mask flags ignore an added alpha band: it is read as a band
            self._reader = self._vrt
            self.check_nodata = not self._alpha and may_hold_nodata(self._vrt)
        except BaseException:
            self.close()
            raise

    @property
    def raster(self):
        """The raster as it is (not warped onto the image grid) and its stacked bands'
        numbers."""
        return self._src, self._data

    def band_metadata(self) -> list[tuple]:
        """Description, unit, scale, offset and tags of each stacked band, which its
        patches keep (:func:`geotile.patch_writer.band_metadata`)."""
        from geotile.patch_writer import band_metadata

        return band_metadata(self._src, self._data)

    def read(self, top: int, rows: int, width: int, left: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
        """``(pixels (count, rows, width), valid (rows, width))`` of the block at (``left``,
        ``top``), padded past the grid's edges (invalid there)."""
        from geotile.raster import read_block

        indexes = list(range(1, self._src.count + 1 + self._alpha))
        pixels, valid = read_block(self._reader, left, top, width, rows, indexes,
                                   self.check_nodata)
        if self._alpha:
            valid = valid & (pixels[-1] > 0)
        return pixels[[i - 1 for i in self._data]], valid

    def close(self) -> None:
        if getattr(self, "_vrt", None) is not None:
            self._vrt.close()
        self._src.close()

    def __enter__(self) -> ExtraBands:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DateStack:
    """The --extra-bands rasters of a multi-temporal model's further dates (one each, in
    date order), each an :class:`ExtraBands` on the image's grid, read stacked as one."""

    def __init__(self, dates: list[ExtraBands]) -> None:
        self.dates = dates
        self.count = sum(d.count for d in dates)
        self.dtypes = [t for d in dates for t in d.dtypes]
        self.dtype = np.result_type(*(d.dtype for d in dates))
        self.path = dates[0].path
        self.exact = all(d.exact for d in dates)  # else read by whole rows (tile)

    def band_metadata(self) -> list[tuple]:
        return [b for d in self.dates for b in d.band_metadata()]

    def read(self, top: int, rows: int, width: int, left: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
        """Every date's pixels stacked in date order, valid where all are."""
        read = [d.read(top, rows, width, left) for d in self.dates]
        return (np.concatenate([p for p, _ in read]),
                np.logical_and.reduce([v for _, v in read]))

    def close(self) -> None:
        for date in self.dates:
            date.close()

    def __enter__(self) -> DateStack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_dates(paths, like, resampling: str = "auto", bands=None):
    """:class:`ExtraBands` of one path, a :class:`DateStack` of several (each closed if a
    later one is refused)."""
    if isinstance(paths, str | os.PathLike):
        return ExtraBands(paths, like, resampling, bands)
    opened = []
    try:
        for path in paths:
            opened.append(ExtraBands(path, like, resampling, bands))
    except BaseException:
        for date in opened:
            date.close()
        raise
    return opened[0] if len(opened) == 1 else DateStack(opened)


def each_date(extra) -> list:
    """The further dates of ``extra`` (an ExtraBands or a DateStack), none for None."""
    return [] if extra is None else list(getattr(extra, "dates", [extra]))


def dates_named(paths) -> list[str]:
    """The dates' files (the image's first) as index.csv and patch tags name them: by file
    name, with its folder where names repeat (a folder per date: t2/a.tif, t3/a.tif)."""
    paths = [Path(str(p)) for p in paths]
    if len({p.name for p in paths}) == len(paths):
        return [p.name for p in paths]
    return [str(Path(p.parent.name, p.name)) for p in paths]


def dated_band_metadata(src, extra) -> list[tuple]:
    """Band metadata (:func:`geotile.patch_writer.band_metadata`) of the image ``src`` (date
    1) and each further date of ``extra`` in order, each description saying its date
    ('date2 B04'; 'date2 band 1' for a band of none)."""
    from geotile.patch_writer import band_metadata

    dates = [(range(1, src.count + 1), band_metadata(src, range(1, src.count + 1)))]
    dates += [(d.raster[1], d.band_metadata()) for d in each_date(extra)]
    return [(f"date{k} {about[0] or f'band {n}'}", *about[1:])
            for k, (numbers, bands) in enumerate(dates, 1)
            for n, about in zip(numbers, bands, strict=True)]


def check_date_counts(image, count: int, extra) -> None:
    """InputError naming each date's band count where a further date of ``extra`` has
    another than the image's ``count``: a patch of (T*C) bands needs as many from each."""
    dates = each_date(extra)
    if all(d.count == count for d in dates):
        return
    names = dates_named([image, *(d.path for d in dates)])
    shown = ", ".join(f"{n} {c}" for n, c in zip(names, [count, *(d.count for d in dates)],
                                                     strict=True))
    raise InputError(
        f"{image}: its dates have other band counts ({shown}): a patch holds the dates' "
        f"bands one date after another, so every date needs the image's {count} bands. Give "
        "--extra-bands rasters of the same bands (gdal_translate -b N picks them).")


def _same_file_key(path) -> str:
    """A path as it names a file, to tell an image given from the same file in a folder."""
    return os.path.realpath(os.fspath(path))


def _folder_or_pattern_files(paths: list) -> list[Path] | None:
    """The files (side-cars and hidden files left out) of a folder or of a quoted glob
    pattern matching no file of its own name (DFC2022's labeled_train/*/RGEALTI/*.tif, a
    folder per region), when ``paths`` is one of them; None otherwise."""
    import glob

    from geotile.sidecars import is_sidecar

    if len(paths) != 1 or not isinstance(paths[0], Path):
        return None
    path = paths[0]
    if path.is_dir():
        found = sorted(path.iterdir())
    elif not path.exists() and glob.has_magic(str(path)):
        found = sorted(Path(p) for p in glob.glob(str(path)))
        if not any(p.is_file() for p in found):
            raise InputError(f"--extra-bands {path}: the pattern matches no file. Check it "
                             "(quote it, so that the shell does not expand it).")
    else:
        return None
    return [p for p in found if p.is_file() and not p.name.startswith(".") and not is_sidecar(p)]


class _NamedFiles:
    """The files of an --extra-bands folder or pattern by the names they are or start with
    (then ``_`` or ``-``): an image's raster looked up by its bases
    (:func:`geotile.dataset_names.elevation_bases`), not every file compared with it."""

    def __init__(self, files: list[Path]) -> None:
        from geotile.dataset_names import name_key

        self.files = files
        self.keys = [_same_file_key(f) for f in files]
        self.stems = [name_key(f.stem) for f in files]
        self.starting: dict[str, list[tuple[int, str]]] = {}  # a name: (file, what follows)
        for i, stem in enumerate(self.stems):
            self.starting.setdefault(stem, []).append((i, ""))
            for at, char in enumerate(stem):
                if char in "_-":
                    self.starting.setdefault(stem[:at], []).append((i, char))

    def _named(self, image, base: str) -> list[int]:
        """The files named after ``image`` by ``base`` (``names_elevation_of``), in order."""
        from geotile.dataset_names import name_key

        base, own = name_key(base), name_key(Path(image).stem)
        return [i for i, char in self.starting.get(base, ()) if char != "-" or base != own]

    def _may_be(self, i: int, image, given: set) -> bool:
        """Whether file ``i`` may be ``image``'s raster: none of ``given`` (the images'
        keys), nor the image's label raster (107f24d6e9-label.png beside -ortho)."""
        from geotile.dataset_names import elevation_bases, name_key, names_mask_of

        stem = Path(image).stem
        return self.keys[i] not in given and (
            self.stems[i] in {name_key(b) for b in elevation_bases(stem)}
            or not names_mask_of(self.files[i].stem, stem))

    def partners(self, image, given: set) -> list[Path]:
        """The files named after ``image`` by its first base that names any that may be its
        raster (:meth:`_may_be`)."""
        from geotile.dataset_names import elevation_bases
        from geotile.name_keys import nfc

        bases = elevation_bases(Path(image).stem)
        found = next((named for base in bases if (named := [
            self.files[i] for i in self._named(image, base)
            if self._may_be(i, image, given)])), [])
        if len(found) > 1:  # TILE_1_DSM.tif beside tile_1_dsm.tif: the one spelled as the image
            spelled = [f for f in found if any(nfc(f.stem).startswith(nfc(b)) for b in bases)]
            found = spelled if len(spelled) == 1 else found
        return found

    def refused(self, image, given: set) -> list[str]:
        """The names of the files named after ``image`` that may not be its raster (an
        image, its label raster), in order."""
        from geotile.dataset_names import elevation_bases

        named = {i for base in elevation_bases(Path(image).stem)
                 for i in self._named(image, base)}
        return [self.files[i].name for i in sorted(named)
                if not self._may_be(i, image, given)]


def _warn_other_case(image, found: Path, bases: list[str]) -> None:
    """Warn where ``found`` (named after ``image`` by one of ``bases``) spells the image's
    name in another letter case (TILE_1_DSM.tif for tile_1.tif)."""
    from geotile.dataset_names import names_elevation_of
    from geotile.name_keys import nfc, warn_other_case

    stem = Path(image).stem
    base = next(b for b in bases if names_elevation_of(found.stem, b, stem))
    if base == stem:
        warn_other_case(image, nfc(found.stem)[:len(nfc(base))] + Path(image).suffix, found)


def without_paired_images(images, extra):
    """``images`` (:class:`geotile.input_files.Inputs`) without those that a folder or a
    pattern listed and that are, by name, another image's raster in their folder given as
    --extra-bands (``rtc/ --extra-bands rtc/``: HyP3's <scene>_VH.tif beside its _VV.tif),
    unless they pair with one of their own; ``images`` itself when none is."""
    from geotile.input_paths import input_path

    listed = getattr(images, "listed", {})
    if not extra or (isinstance(extra, list | tuple) and len(extra) != 1) or not listed:
        return images
    folder = input_path(extra[0] if isinstance(extra, list | tuple) else extra)
    if not (isinstance(folder, Path) and folder.is_dir()):
        return images
    files = _folder_or_pattern_files([folder])
    key = _same_file_key(folder)
    keys = {_same_file_key(p): p for p in images}
    ours = {k for k, p in keys.items()  # listed by a folder or pattern, in that folder
            if p in listed and _same_file_key(Path(os.fspath(p)).parent) == key}
    partners, named = {}, _NamedFiles(files)
    for image in images:
        found = named.partners(image, {_same_file_key(image)})
        if len(found) == 1:
            partners[_same_file_key(image)] = _same_file_key(found[0])
    drop = {p for p in partners.values() if p in ours and p not in partners}
    if not drop:
        return images
    kept = type(images)(p for p in images if _same_file_key(p) not in drop)
    left = set(kept)
    kept.folders, kept.listed = images.folders, {p: a for p, a in listed.items() if p in left}
    return kept


def pair_extra_bands(images: Sequence, extra, dates: bool = False,
                     date: int | None = None) -> list | None:
    """The extra-bands raster of each image: one file per image (in order), or a folder (or
    a quoted pattern) of files named after the images (``<stem>.*``, ``<stem>_dsm.*``..., or
    as datasets name them: :func:`geotile.dataset_names.elevation_bases`). ``dates``
    (predict): several for
    one image, or several folders, are its further dates in order (a list per image);
    ``date``: the number of the date a folder holds, which its refusals name."""
    if not extra:
        return None
    from geotile.input_paths import input_path

    paths = [input_path(p) for p in
             ([extra] if isinstance(extra, str | os.PathLike) else list(extra))]
    folders = [isinstance(p, Path) and p.is_dir() for p in paths]
    if dates and len(paths) > 1 and (all(folders) or (len(images) == 1 and any(folders))):
        # a folder per date (or, for one image, a file or a folder per date)
        per_date = [pair_extra_bands(images, path, date=number)
                    for number, path in enumerate(paths, 2)]
        return [list(one) for one in zip(*per_date, strict=True)]
    if dates and len(paths) > 1 and len(images) == 1 and not any(folders):
        for path in paths:
            if isinstance(path, Path) and not path.exists():
                raise InputError(f"--extra-bands {path}: no such file. Check the path.")
        return [paths]
    if (files := _folder_or_pattern_files(paths)) is not None:
        where = paths[0]  # a folder, or a pattern
        from geotile.dataset_names import elevation_bases

        given = {_same_file_key(p) for p in images}
        paired, by_name = [], _NamedFiles(files)
        for image in images:
            bases = elevation_bases(Path(image).stem)
            found = by_name.partners(image, given)
            if len(found) != 1:
                named = " or ".join(f"{b}.*, {b}_*.*" for b in bases)
                left = by_name.refused(image, given)
                why = f" ({', '.join(left)}: an image or label raster)" if left else ""
                if date is not None:  # a folder of one further date's rasters
                    raise InputError(
                        f"{image}: {len(found) or 'no'} date {date} raster(s) named {named} "
                        f"in {where}{why} (--extra-bands number {date - 1}). " + (
                            "Leave one of them there." if found else f"Put its date {date} "
                            f"raster there, named after it ({Path(image).name})."))
                raise InputError(
                    f"{image}: {len(found) or 'no'} extra-bands raster(s) named {named} in "
                    f"{where}{why}. Give one file per image with --extra-bands.")
            _warn_other_case(image, found[0], bases)
            paired.append(found[0])
        return paired
    if len(paths) != len(images):
        raise InputError(f"{counted(len(images), 'image')} but "
                         f"{counted(len(paths), '--extra-bands raster')}: give "
                         "one per image (in the same order), or a folder named after them.")
    for path in paths:
        if isinstance(path, Path) and not path.exists():
            raise InputError(f"--extra-bands {path}: no such file. Check the path.")
    return paths


def scaled(model, pixels: np.ndarray, dtypes=None) -> np.ndarray:
    """float32 ``pixels`` times the model's scale for their dtype (1/255 for uint8 unless
    --scale is given), so that uint8 RGB and float heights each get their own default;
    ``dtypes``: each band's own type, where they were read as a wider common one."""
    out = pixels.astype(np.float32)
    for band, dtype in enumerate(dtypes or [pixels.dtype] * len(out)):
        scale = model.normalization_for(dtype).scale
        if scale != 1.0:
            out[band] *= np.float32(scale)
    return out


def standardise(model, stacked: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-channel ``(x - mean) / std`` of already scaled float32 (C, rows, cols); nodata
    pixels become 0, as :func:`geotile.predict.prepare_band` does."""
    norm = model.normalization_for(np.float32)
    if any(norm.mean) or any(s != 1.0 for s in norm.std):
        stacked -= np.asarray(norm.mean, np.float32).reshape(-1, 1, 1)
        stacked /= np.asarray(norm.std, np.float32).reshape(-1, 1, 1)
    np.copyto(stacked, 0, where=~valid)
    return stacked
