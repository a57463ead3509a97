"""Write image/mask patch pairs (GeoTIFF, PNG or npy) with the georeference of their
window: colour interpretation, colour tables, band metadata, GCPs/RPCs and mask bands kept,
creation options checked on a probe patch first."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import InputError, gdal_reason
from geotile.grid import Patch
from geotile.mask_values import (
    is_binary_0_255,
    mask_alpha_bands,
    mask_nodata,
    mask_padding_value,
    mask_tags,
    masked_by_band,
    probability_mask,
)
from geotile.quiet_warnings import gdal_messages, quietly
from geotile.tiff_template import TiffTemplate


@dataclass(frozen=True)
class PatchData:
    """One patch cut from a band: pixels, valid mask, optional labels, and where it lies."""

    patch: Patch
    pixels: np.ndarray
    valid: np.ndarray
    mask: np.ndarray | None
    #: the mask's pixels inside the raster (False: padding, filled with the ignore value)
    mask_valid: np.ndarray | None = None
    #: ``valid`` is False only where ``mask_valid`` is (an image that declares no nodata,
    #: mask or alpha, on its mask's grid: the padding alone), so it adds nothing to it
    valid_in_mask: bool = False


def _place_by_sensor(src, dst, patch) -> None:
    """``src``'s GCPs and RPCs on the patch ``dst`` cut at ``patch``: pixel positions moved by
    the patch's offset (GCP pixel/line, RPC LINE_OFF/SAMP_OFF)."""
    from rasterio.control import GroundControlPoint
    from rasterio.rpc import RPC

    gcps, crs = src.gcps
    if gcps:
        dst.gcps = ([GroundControlPoint(row=g.row - patch.y_off, col=g.col - patch.x_off,
                                        x=g.x, y=g.y, z=g.z, id=g.id, info=g.info)
                     for g in gcps], crs)
    if src.rpcs is not None:
        rpc = src.rpcs.to_dict()
        rpc["line_off"] -= patch.y_off
        rpc["samp_off"] -= patch.x_off
        dst.rpcs = RPC(**rpc)


def colour_options(like, count: int) -> dict:
    """PHOTOMETRIC and ALPHA that keep ``like``'s colour interpretation on ``count`` bands
    (those past its own undefined). GDAL's default for 3-4 uint8 bands (RGB, band 4 alpha)
    would take an RGBIR image's infrared for opacity, as would keeping an alpha band that
    holds values (:func:`~geotile.raster.alpha_holds_values`)."""
    from rasterio.enums import ColorInterp

    from geotile.raster import alpha_holds_values, shadowed_alpha

    kinds = list(like.colorinterp)[:count]
    kinds += [ColorInterp.undefined] * (count - len(kinds))
    if count == 1 and kinds[0] == ColorInterp.palette:
        return {"photometric": "palette"}
    rgb = kinds[:3] == [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    options = {"photometric": "rgb" if rgb else "minisblack"}
    first_extra = 3 if rgb else 1  # GDAL's ALPHA marks the first extra sample
    if count > first_extra:
        shadowed = shadowed_alpha(like)  # beside a nodata value: an NIR holds values too
        alpha = kinds[first_extra] == ColorInterp.alpha and not alpha_holds_values(like) and (
            shadowed is None or first_extra + 1 in shadowed[1])
        options["alpha"] = "yes" if alpha else "unspecified"
    return options


def band_colours(like, count: int, options: dict) -> list | None:
    """Each band's colour interpretation where ``options``' PHOTOMETRIC and ALPHA
    (:func:`colour_options`) cannot say it: blue, green, red order (rasterio's
    RGBA.uint16.tif, a BGR export), whose patches were Gray, Undefined...: QGIS drew band 1
    as red; an alpha after an infrared (RGBN + alpha). An alpha is kept where
    :func:`colour_options` would keep it (a 0/max mask); None where GDAL's default says
    the same."""
    from rasterio.enums import ColorInterp

    from geotile.raster import alpha_holds_values, shadowed_alpha

    if options.get("photometric") not in ("minisblack", "rgb"):
        return None
    kinds = list(like.colorinterp)[:count]
    kinds += [ColorInterp.undefined] * (count - len(kinds))
    shadowed = shadowed_alpha(like) if ColorInterp.alpha in kinds else None
    for index, kind in enumerate(kinds):
        if kind == ColorInterp.alpha and (index == 0 or alpha_holds_values(like) or (
                shadowed is not None and index + 1 not in shadowed[1])):
            kinds[index] = ColorInterp.undefined
    if kinds[0] == ColorInterp.undefined:
        kinds[0] = ColorInterp.gray
    rgb = options["photometric"] == "rgb"
    default = [ColorInterp.red, ColorInterp.green, ColorInterp.blue] if rgb else \
        [ColorInterp.gray]
    default += [ColorInterp.undefined] * (count - len(default))
    if options.get("alpha") == "yes":  # the first extra sample
        default[3 if rgb else 1] = ColorInterp.alpha
    return None if kinds == default else kinds


def _colour_table(like, count: int, dtype: str, fmt: str) -> dict | None:
    """``like``'s colour table where its patches can hold it: one band of indices in a
    GeoTIFF (8 or 16 bit) or a PNG (8 bit)."""
    from geotile.categories import paletted

    if count != 1 or like.count != 1 or not paletted(like):
        return None
    if (fmt, dtype) not in {("tif", "uint8"), ("tif", "uint16"), ("png", "uint8")}:
        return None
    table = like.colormap(1)
    if fmt == "png":
        # a table shorter than 256 (an ERDAS .img's or a VRT's, one entry per class) with
        # a pixel past it (ignore 255, padding): libpng refuses to write the patch. Filled
        # out as a GeoTIFF's table is, the indices and colours are kept.
        table = {index: table.get(index, (0, 0, 0, 255)) for index in range(256)}
    return table


def _kept_tags(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.startswith(("STATISTICS_", "GEOTILE_",
                                                              "EXIF_"))
            and k != "AREA_OR_POINT"}


def band_metadata(like, bands) -> list[tuple]:
    """Description, unit, scale, offset and tags of each of ``like``'s ``bands``."""
    return [(like.descriptions[b - 1], like.units[b - 1], like.scales[b - 1],
             like.offsets[b - 1], _kept_tags(like.tags(b))) for b in bands]


def _carried_metadata(like, count: int, more: list[tuple] = ()) -> dict | None:
    """``like``'s dataset tags and, for its first ``count`` bands, descriptions, units,
    scales, offsets and tags, as gdal_translate -srcwin keeps them (not the statistics
    of the whole raster, nor a photo's EXIF tags, nor geotile's own mask tags, which
    :func:`~geotile.mask_values.mask_tags` sets); ``more``: those of the bands stacked
    after them (:func:`band_metadata` of an --extra-bands raster)."""
    bands = range(1, min(count - len(more), like.count) + 1)
    meta = {"tags": _kept_tags(like.tags()), "bands": band_metadata(like, bands)}
    if more:  # after all of like's bands
        meta["bands"] += [(None, None, 1.0, 0.0, {})] * (count - len(more) - len(bands))
        meta["bands"] += list(more)
    plain = all(not d and not u and s == 1 and o == 0 and not t
                for d, u, s, o, t in meta["bands"])
    return None if plain and not meta["tags"] else meta


def _write_metadata(dst, meta: dict) -> None:
    if meta["tags"]:
        dst.update_tags(**meta["tags"])
    for band, (description, unit, _, _, tags) in enumerate(meta["bands"], 1):
        if description:
            dst.set_band_description(band, description)
        if unit:
            dst.set_band_unit(band, unit)
        if tags:
            dst.update_tags(band, **tags)
    if any(b[2] != 1 or b[3] != 0 for b in meta["bands"]):
        n = dst.count - len(meta["bands"])  # extra bands: unscaled
        dst.scales = tuple(b[2] for b in meta["bands"]) + (1.0,) * n
        dst.offsets = tuple(b[3] for b in meta["bands"]) + (0.0,) * n


class PatchWriter:
    """Writes image/mask patch pairs in one format, with the georeference of the window."""

    def __init__(self, src, outdir: Path, fmt: str, mask_src=None, templates: bool = True,
                 creation_options: dict[str, str] | None = None,
                 mask_binary: bool | None = None, zeros_nodata: bool = False) -> None:
        self.src, self.outdir, self.fmt, self.has_mask = src, outdir, fmt, mask_src is not None
        from geotile.creation_options import lossless_creation_options, lossy_creation_options
        from geotile.no_georef import sensor_georeferencing
        from geotile.raster import common_dtype

        self.sensor = sensor_georeferencing(src)  # GCPs or RPCs: each patch keeps them
        # PixelIsPoint georeferencing (AREA_OR_POINT=Point) is kept too
        self.point = src.tags().get("AREA_OR_POINT", "").lower() == "point"
        self.creation_options = dict(creation_options or {})
        # a lossy codec changes nodata pixels and may turn valid ones into the nodata value
        self.lossy = lossy_creation_options(self.creation_options)
        self.image_profile = self._profile(src, src.count, common_dtype(src).name, src.nodata)
        # uncompressed GeoTIFF patches of one shape: written from GDAL's bytes once checked
        use_templates = fmt == "tif" and templates and not self.creation_options
        self.image_template = TiffTemplate() if use_templates else None
        self.mask_fill, self.mask_band = None, False
        self.mask_no_data: tuple = ()  # written as 255 (:meth:`ignore`)
        self.negative_no_data = False  # a signed mask's negative values too
        self.ignores_invalid = False  # mask pixels on the image's nodata: the ignore value
        self.mask_template = TiffTemplate() if use_templates and mask_src is not None else None
        if mask_src is not None:
            # a mask's declared nodata (make-masks' ignore value, 255) travels to every patch
            # a mask patch holding padding declares its fill (the ignore value) as nodata, and
            # so do the others where 255 is the ignore value (:meth:`ignore`); a 0/255 mask,
            # whose 255 is a class, marks it in a mask band instead
            self.binary_mask = is_binary_0_255(mask_src) if mask_binary is None \
                else mask_binary
            # class ids stay exact: no lossy codec or setting reaches a mask patch
            options = lossless_creation_options(self.creation_options, mask_src.dtypes[0])
            self.mask_profile = self._profile(mask_src, mask_src.count, mask_src.dtypes[0],
                                              mask_nodata(mask_src, self.binary_mask or None,
                                                          zeros_nodata), options)
            self.mask_fill = mask_padding_value(mask_src, self.binary_mask, zeros_nodata)
            # a 0/255 mask, or one masked by a mask band, marks them in a mask band; so do
            # integer probabilities (predict --dtype uint8), whose 255 is p = 1: padded p = 0
            self.mask_band = self.binary_mask or masked_by_band(mask_src)
            if probability_mask(mask_src) is not None and np.dtype(
                    mask_src.dtypes[0]).kind in "iu" and mask_src.nodata is None:
                self.mask_fill, self.mask_band = 0, True
            self.padded_mask_profile = self.mask_profile if self.mask_band else \
                self._profile(mask_src, mask_src.count, mask_src.dtypes[0], self.mask_fill,
                              options)
            self.mask_tags = mask_tags(mask_src, zeros_nodata) if fmt == "tif" else {}
            # (bands, 1, 1): True for an alpha band, which keeps its own values
            alpha = np.zeros((mask_src.count, 1, 1), bool)
            alpha[mask_alpha_bands(mask_src)] = True
            self.mask_alpha = alpha

    def ignore(self, ignore_values: tuple) -> None:
        """For a mask whose 255 is the ignore value (among ``ignore_values``, those tile
        counts as no data): its pixels on the image's nodata are written as its padding
        is (255, or its declared nodata), as make-masks writes them, not as the background
        or class the mask says there; and in PNG/npy mask patches, which hold no nodata
        value or tag to say it, its other no-data values (a declared nodata 0 or 15, ids
        named no data, a signed mask's negative values: Sen1Floods11's undeclared -1) are
        255 too: trainers would read them as classes. Every GeoTIFF mask patch then
        declares its padding value (the ignore value) as nodata, padded or not."""
        if 255 not in ignore_values or not self.has_mask:
            return
        # a NaN fill (a float mask declaring nodata NaN) is written there too
        self.ignores_invalid = not np.isnan(self.mask_fill) or \
            np.dtype(self.mask_profile["dtype"]).kind == "f"
        if self.fmt == "tif" and not self.mask_band:
            # every mask patch declares it as nodata, not only those holding some (padding,
            # the image's nodata): readers that merge patches (rasterio.merge, as TorchGeo's
            # RasterDataset does) fill with the first file's nodata, and a first one
            # declaring none turned the padding of the next into 0, the background
            self.mask_profile = self.padded_mask_profile
        if self.fmt != "tif":
            self.mask_no_data = tuple(v for v in ignore_values if v != 255 and v == v)
            # as tile's index.csv counts them (tiling._fractions): no class ids
            self.negative_no_data = np.dtype(self.mask_profile["dtype"]).kind == "i"

    def _mask_values(self, labels: np.ndarray) -> np.ndarray:
        if not self.mask_no_data and not self.negative_no_data:
            return labels
        no_data = np.isin(labels, self.mask_no_data)
        if self.negative_no_data:
            no_data |= labels < 0
        return np.where(no_data & ~self.mask_alpha, np.asarray(255).astype(labels.dtype), labels)

    def _profile(self, like, count, dtype, nodata, options: dict | None = None,
                 more: list[tuple] = ()) -> dict:
        profile = {"count": count, "dtype": dtype, "width": 0, "height": 0}
        colormap = _colour_table(like, count, dtype, self.fmt)
        if colormap:  # a paletted raster's patches keep their table, as gdal_retile's do
            profile["colormap"] = colormap
        if self.fmt == "tif":
            from geotile.no_georef import map_crs

            profile.update(driver="GTiff", crs=map_crs(like), nodata=nodata, interleave="pixel")
            profile.update(colour_options(like, count))
            if kinds := band_colours(like, count, profile):
                profile["_colorinterp"] = kinds
            meta = _carried_metadata(like, count, more)
            if meta:
                profile["_meta"] = meta
            options = self.creation_options if options is None else options
            profile.update({k.lower(): v for k, v in options.items()})
        elif self.fmt == "png":
            profile.update(driver="PNG", nodata=None)
        return profile

    def check_creation_options(self, size: int) -> None:
        """Write and read back a probe patch when creation options are given, so that
        options GDAL refuses fail in one line before any work."""
        if not self.creation_options:
            return
        from rasterio.windows import Window

        from geotile.creation_options import check_nbits
        from geotile.grid import Patch

        probe = Patch(0, 0, 0, 0, size, size, size, size)
        text = " ".join(f"--co {k.upper()}={v}" for k, v in self.creation_options.items())
        check_nbits(self.creation_options, self.image_profile["dtype"])
        profiles = [self.image_profile] + ([self.mask_profile] if self.has_mask else [])
        for number, profile in enumerate(profiles):
            what = "mask" if number else "image"
            path = self.outdir / f".probe-{number}.tif"
            array = np.zeros((profile["count"], size, size), profile["dtype"])
            try:
                tags = self.mask_tags if number else None
                with gdal_messages(("rasterio._env",)) as warned:
                    self._write(array, probe, path, profile, None, tags=tags)
                if warned:  # GDAL ignores options it does not know: say so instead
                    raise InputError(warned[0].replace("CPLE_", "").strip())
                import rasterio

                with quietly(rasterio.open, path) as back:
                    back.read(window=Window(0, 0, size, size))
                    lost = self._lost(back, probe, profile, tags or {})
            except OSError as exc:
                if exc.errno is not None:  # a real I/O error (full disk, ...), not GDAL's
                    raise
                raise self._refused(text, profile, exc, what) from exc
            except Exception as exc:  # GDAL/rasterio errors: the options do not fit
                raise self._refused(text, profile, exc, what) from exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            if lost:  # PROFILE=BASELINE/GeoTIFF put them in side files (PAM)
                raise InputError(
                    f"{text}: the {what} patches would come back without their {lost} (GDAL "
                    "puts them in side files with these options, which geotile does not "
                    "write). Remove the option.")

    def _lost(self, back, patch: Patch, profile: dict, tags: dict) -> str:
        """What a probe patch read back lacks of what was written, in words ('' if none)."""
        from geotile.affine_math import window_transform

        lost = []
        if not self.sensor and (back.crs != profile.get("crs") or not back.transform
                                .almost_equals(window_transform(patch.window,
                                                                self.src.transform))):
            lost.append("CRS and transform")
        nodata = profile.get("nodata")
        if nodata is not None and not (back.nodata == nodata or (
                back.nodata is not None and np.isnan(back.nodata) and np.isnan(nodata))):
            lost.append("nodata value")
        meta = profile.get("_meta") or {"tags": {}, "bands": []}
        if any(back.scales[b] != s or back.offsets[b] != o
               for b, (_, _, s, o, _) in enumerate(meta["bands"])):
            lost.append("scales and offsets")
        written = {**meta["tags"], **tags}
        if any(back.tags().get(k) != str(v) for k, v in written.items()):
            lost.append("metadata tags")
        return ", ".join(lost)

    @staticmethod
    def _refused(text: str, profile: dict, exc: Exception, what: str) -> InputError:
        reason = gdal_reason(exc, type(exc).__name__)
        return InputError(
            f"{text}: GDAL cannot write {profile['dtype']} GeoTIFF {what} patches with these "
            f"creation options ({reason}). Check the options of GDAL's GTiff driver."
        )

    def names(self, name: str) -> tuple[str, str | None]:
        image = f"images/{name}.{self.fmt}"
        return image, (f"masks/{name}.{self.fmt}" if self.has_mask else None)

    def write(self, data: PatchData, image_rel: str, mask_rel: str | None) -> None:
        """Write one patch pair; a GDAL failure is an InputError naming the patch."""
        from rasterio.errors import RasterioError

        try:
            from rasterio._err import CPLE_BaseError
        except ImportError:  # pragma: no cover - rasterio moved it
            CPLE_BaseError = RasterioError

        current = image_rel
        try:
            self._write(data.pixels, data.patch, self.outdir / image_rel, self.image_profile,
                        self.image_template, self.validity_mask(data))
            if mask_rel is not None:
                current = mask_rel
                inside = data.mask_valid
                # the image's nodata as padding (none beyond it: valid_in_mask)
                if self.ignores_invalid and not data.valid_in_mask and not data.valid.all():
                    inside = data.valid if inside is None else inside & data.valid
                padded = inside is not None and not inside.all()
                if padded:  # another profile: GDAL writes it, not the template
                    band = mask_band(inside) if self.mask_band and self.fmt == "tif" \
                        else None
                    labels = data.mask
                    if band is None and (labels.dtype.kind == "f"
                                         or not np.isnan(self.mask_fill)):  # NaN labels too
                        labels = np.where(inside | self.mask_alpha, labels,
                                          np.asarray(self.mask_fill).astype(labels.dtype))
                    self._write(self._mask_values(labels), data.patch,
                                self.outdir / mask_rel, self.padded_mask_profile, None, band,
                                self.mask_tags)
                else:
                    self._write(self._mask_values(data.mask), data.patch,
                                self.outdir / mask_rel,
                                self.mask_profile, self.mask_template, tags=self.mask_tags)
        except OSError:
            raise  # full disk, read-only folder: the output folder reports it
        except (RasterioError, CPLE_BaseError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{current}: GDAL could not write the patch ({reason}); nothing "
                             "was written. Check the output folder and the options.") from exc

    def validity_mask(self, data: PatchData) -> np.ndarray | None:
        """The GDAL mask band (0 invalid, 255 valid) a GeoTIFF image patch needs: None when
        its nodata value (or having no invalid pixel) already marks exactly its invalid
        pixels, which a lossy codec (JPEG, WEBP) never ensures: it moves pixels off and onto
        the nodata value. The patch's own mask band then marks nodata, masked and padded
        pixels alike, as its index.csv row counts them (readers use it over the nodata value)."""
        if self.fmt != "tif":
            return None  # PNG/npy hold no mask band: index.csv has the fraction
        nodata = self.image_profile.get("nodata")
        if nodata is None:
            return None if data.valid.all() else mask_band(data.valid)
        if self.lossy:  # the codec moves pixels off and onto the nodata value
            return mask_band(data.valid)
        pixels = data.pixels
        marked = (np.isnan(pixels) if np.isnan(nodata) else pixels == nodata).all(axis=0)
        if np.array_equal(marked, ~data.valid):
            return None
        return mask_band(data.valid)

    def _write(self, array: np.ndarray, patch: Patch, path: Path, profile: dict,
               template: TiffTemplate | None, mask: np.ndarray | None = None,
               tags: dict | None = None) -> None:
        if self.fmt == "npy":
            # through Python's write: numpy's own short write (a full disk, a file-size
            # limit) raises "196608 requested and 99872 written", with no errno to tell why
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array))
            path.write_bytes(buffer.getbuffer())
            return
        import rasterio

        from geotile.affine_math import window_transform

        profile = dict(profile, width=array.shape[2], height=array.shape[1])
        colormap = profile.pop("colormap", None)
        meta = profile.pop("_meta", None)
        kinds = profile.pop("_colorinterp", None)
        # PNG cannot hold the georeference (index.csv has the bounds); passing it anyway
        # keeps rasterio from warning about a non-georeferenced dataset.
        transform = window_transform(patch.window, self.src.transform)
        if not (self.sensor and self.fmt == "tif" and self.src.gcps[0]):
            profile["transform"] = transform  # GCPs replace it (GDAL warns when both)

        def gdal_write() -> None:
            # GDAL writes the file in memory and Python writes its bytes: a full disk then
            # raises OSError here (GDAL would report it at close only on stderr)
            # the mask band inside the file: an external .msk would stay in memory
            with rasterio.Env(GDAL_PAM_ENABLED="NO", GDAL_TIFF_INTERNAL_MASK="YES"), \
                    rasterio.MemoryFile() as memory:
                with quietly(memory.open, **profile) as dst:
                    # tables and tags before the pixels: after them GDAL writes the
                    # directory (and the origin) twice, and the template cannot learn it
                    if colormap:
                        dst.write_colormap(1, colormap)
                    if kinds:
                        dst.colorinterp = kinds
                    if meta:
                        _write_metadata(dst, meta)
                    dst.write(array)
                    if mask is not None:
                        dst.write_mask(mask)
                    if self.sensor and self.fmt == "tif":
                        _place_by_sensor(self.src, dst, patch)
                    if self.point and self.fmt == "tif":
                        dst.update_tags(AREA_OR_POINT="Point")
                    if tags:
                        dst.update_tags(**tags)
                data = memory.read()
            path.write_bytes(data)

        if template is not None and transform.is_rectilinear and mask is None \
                and not self.sensor and not self.point:
            template.write(path, array, (transform.c, transform.f), gdal_write)
        else:
            gdal_write()


def mask_band(valid: np.ndarray) -> np.ndarray:
    """A GDAL mask band (uint8: 255 valid, 0 invalid) of bool ``valid``, made in uint8 (an
    int64 array in between took 8 bytes a patch pixel: 6.7 GiB at --size 30000)."""
    return np.where(valid, np.uint8(255), np.uint8(0))
