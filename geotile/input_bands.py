"""Choosing the image's bands that feed the model, and checking them against its channels:
--bands or the defaults (alpha left out), paletted images seen through their colours,
alpha or blue-first bands refused or warned about."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from geotile.errors import GeotileWarning, InputError, ModelError
from geotile.user_warnings import warn

log = logging.getLogger("geotile")


def model_view(src, model, added: int = 0):
    """A context giving ``src`` as ``model`` sees it: a paletted image's colours for a model
    of 3 or 4 image channels (``added`` come from --extra-bands), a grey colour table's
    levels for one channel (:func:`geotile.vrt_views.expanded_palette`); else ``src``."""
    from geotile.categories import grey_palette, paletted
    from geotile.vrt_views import expanded_palette

    channels = getattr(model, "channels", None)
    if src.count != 1 or not paletted(src):
        return contextlib.nullcontext(src)
    wanted = channels - added if channels is not None else None
    colours = {3: "rgb", 4: "rgba"}.get(wanted) or (
        "gray" if wanted in (None, 1) and grey_palette(src) else None)
    if colours is None:
        return contextlib.nullcontext(src)
    log.info("%s: paletted: bands read through its colour table (%s)", src.name, colours)
    return expanded_palette(src, colours)


def select_bands(model, src, options, added: int = 0, source=None) -> list[int]:
    """The bands of ``src`` that feed ``model`` (``--bands``, else :func:`_default_bands`),
    checked against the raster and the model's channels (``added`` come from
    --extra-bands); one InputError/ModelError line naming ``source`` otherwise."""
    from geotile.categories import paletted

    _check_second_date(model, added, source or src.name)
    given = band_numbers(src, options.bands, source or src.name)
    indexes = list(given) if given else _default_bands(src, model, added, source or src.name)
    _warn_other_than_bundle(model, given, src, source or src.name)
    bad = [i for i in indexes if not 1 <= i <= src.count]
    if bad:
        raise InputError(f"{source or src.name}: band {bad[0]} does not exist (the raster has "
                         f"{src.count}). Choose --bands between 1 and {src.count}.")
    channels = getattr(model, "channels", None)
    if not given:
        _refuse_alpha_as_data(src, model, indexes, added, source or src.name)
    one = src.count == 1 and not added and (channels == 3 or paletted(src))  # told below
    if channels is not None and src.count + added < channels and not one \
            and len(indexes) + added != channels:  # repeated --bands (1,2,1) may fill them
        _refuse_grey_and_alpha(src, model, channels, added, source or src.name)
        extra = f" and {added} of --extra-bands" if added else ""
        where = "in the --extra-bands raster" if added else "from another raster with --extra-bands"
        from geotile.maxar_files import maxar_multispectral_hint
        from geotile.planet_files import skysat_analytic_hint
        from geotile.sar_files import polarisation_hint

        hint = skysat_analytic_hint(source or src.name) \
            or maxar_multispectral_hint(source or src.name) \
            or (polarisation_hint(source or src.name) if not added else "")
        raise ModelError(f"{source or src.name}: the image has {src.count} "
                         f"band{'s' if src.count > 1 else ''}{extra} but "
                         f"{Path(model.path).name} takes {channels} channels. Give an image "
                         f"with all of them{hint}, or the missing "
                         f"{channels - src.count - added} {where}.")
    if added and channels is not None and len(indexes) + added != channels:
        need = channels - added  # --bands picks the image's bands only
        fix = (f"--bands picks the image's: e.g. --bands "
               f"{','.join(str(min(i, src.count)) for i in range(1, need + 1))}" if need > 0
               else "give an --extra-bands raster of fewer bands")
        raise ModelError(f"{source or src.name}: {len(indexes)} band(s) of the image and "
                         f"{added} of --extra-bands, but {Path(model.path).name} takes "
                         f"{channels} channels; {fix}.")
    if channels is not None and len(indexes) + added != channels \
            and src.count == 1 and paletted(src):
        raise ModelError(f"{source or src.name}: its band holds colour-table indices (a "
                         "paletted image); its colours feed models of 3 or 4 channels, but "
                         f"{Path(model.path).name} takes {channels} channels. Give an image "
                         f"of {channels - added} bands.")
    if channels is not None and len(indexes) + added != channels and not added:
        from geotile.hls_files import refuse_band_file

        refuse_band_file(src, source or src.name, Path(model.path).name, channels)
    model.check_bands(len(indexes) + added, source or src.name, _rgb_bands(src),
                      _described_bgrn(src))
    if not given and not _picked_by_colour(model, src, indexes):
        _warn_blue_first(src, indexes, source or src.name)
    else:
        _warn_flipped_twice(model, src, indexes, source or src.name)
    _warn_bad_bands(src, indexes, source or src.name)
    fit = getattr(model, "image_bands", None)  # Raster Vision's stats of the bands fed
    if fit is not None:
        fit(indexes, source or src.name, added)
    return indexes


def _check_second_date(model, added: int, source) -> None:
    """ModelError naming ``source`` when a change detection model's second date input
    (:mod:`geotile.model_inputs`) gets no --extra-bands raster, or one of other channels."""
    second = getattr(model, "second_input", None)
    if second is None:
        return
    name = Path(model.path).name
    if not added:
        raise ModelError(f"{source}: {name} has 2 inputs, the two dates of a change detection "
                         f"model ({model.input_name} gets the image): give the second date's "
                         f"image for {second.name} with --extra-bands.")
    wanted = model.date_channels[1]
    if wanted is not None and added != wanted:
        raise ModelError(f"{source}: the --extra-bands raster has {added} band(s) but "
                         f"{name}'s second date input {second.name} takes {wanted} channels; "
                         f"give the second date's image with {wanted} bands"
                         + (", or pick both dates' bands with --bands."
                            if model.date_channels[0] == wanted else
                            " (--bands picks the image's bands alone: the dates' channels "
                            "differ)."))


def date_bands(model, bands):
    """The --bands that also pick the --extra-bands raster's: those of a change detection
    model's second date (:mod:`geotile.model_inputs`) of as many channels as the first,
    else None (all its bands)."""
    dates = getattr(model, "date_channels", None)
    timed = getattr(model, "dates", None) is not None  # a 5-D input: every date alike
    return bands if bands and (timed or (dates is not None and dates[0] == dates[1])) else None


def every_date_bands(model, src, bands, source=None):
    """The bands that also pick the --extra-bands rasters' (:func:`date_bands`): --bands,
    else a multi-temporal model's default bands of the image ``src`` (TerraTorch's
    output_bands, a bundle's), each date being of the image's product."""
    picked = date_bands(model, bands)
    if picked or getattr(model, "dates", None) is None:
        return picked
    chosen = getattr(getattr(model, "raster_input", None), "bands_for", None)
    found = chosen(src, source or src.name) if chosen is not None else None
    return tuple(found or getattr(model, "bundle_bands", None) or ()) or None


def band_numbers(src, bands, source) -> tuple[int, ...] | None:
    """``bands`` (--bands: numbers, or names of the bands' descriptions or of a STAC Item's
    common names, :func:`geotile.mlm_sidecars.described_keys`) as band numbers of ``src``;
    InputError naming ``source`` for a name no single band goes by."""
    if not bands or all(isinstance(b, int) for b in bands):
        return bands
    from geotile.band_keys import band_key
    from geotile.mlm_sidecars import described_keys

    keys = described_keys(src)
    numbers = []
    for band in bands:
        if isinstance(band, int):
            numbers.append(band)
            continue
        hits = [i for i, names in enumerate(keys, start=1) if band_key(band) in names]
        if len(hits) != 1:
            shown = ", ".join(str(d) for d in src.descriptions if d) or "none"
            what = "no band goes" if not hits else f"bands {hits[0]} and {hits[1]} go"
            raise InputError(f"{source}: {what} by the name {band} (its band descriptions: "
                             f"{shown:.200}); give --bands those names or band numbers "
                             f"1-{src.count}.")
        numbers.append(hits[0])
    return tuple(numbers)


def _refuse_grey_and_alpha(src, model, channels: int, added: int, source) -> None:
    """ModelError pointing to --bands 1,1,1 when a grey + alpha image (a thermal or
    panchromatic orthomosaic) meets a 3-channel model: its alpha is no channel to add to."""
    from geotile.raster import holds_a_mask
    from geotile.raster_kinds import alpha_bands

    alpha = [i for i in alpha_bands(src) if holds_a_mask(src, i)]
    data = [i for i in range(1, src.count + 1) if i not in alpha]
    if channels == 3 and not added and len(data) == 1 and alpha:
        raise ModelError(
            f"{source}: one band of image data (band {alpha[0]} is alpha, the nodata mask) "
            f"but {Path(model.path).name} takes 3 channels. Choose bands with --bands, e.g. "
            f"--bands {data[0]},{data[0]},{data[0]}.")


def _rgb_bands(src) -> list[int] | None:
    """The bands whose colour interpretation is red, green and blue, in that order, else None."""
    from rasterio.enums import ColorInterp

    found = [src.colorinterp.index(c) + 1 if c in src.colorinterp else None
             for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)]
    return None if None in found else found


def _described_bgrn(src) -> list[int] | None:
    """The bands described blue, green, red and nir (one each: PlanetScope 8-band's 2, 4,
    6, 8 beside coastal_blue, green_i, yellow, rededge), in that order, else None."""
    from geotile.mlm_sidecars import described_keys

    keys = described_keys(src)
    found = [[b for b, k in enumerate(keys, 1) if name in k] for name in
             ("BLUE", "GREEN", "RED", "NIR")]
    return [b[0] for b in found] if all(len(b) == 1 for b in found) else None


def _picked_by_colour(model, src, indexes: list[int]) -> bool:
    """Whether the model's MLM item or TerraTorch config names the bands fed as their
    colour interpretation does (:func:`~geotile.band_keys.bands_by_colour`): blue first
    is then what it takes, no order to warn of."""
    from geotile.band_keys import bands_by_colour

    named = getattr(getattr(model, "raster_input", None), "named_bands", None)
    wanted = named() if named is not None else None
    return bool(wanted) and bands_by_colour(src, wanted) == list(indexes)


def _warn_blue_first(src, indexes: list[int], source) -> None:
    """Warn when the default bands feed blue before red by the raster's colour
    interpretation (PlanetScope's BGRN, BGRA): an RGB model would get its colours swapped."""
    from rasterio.enums import ColorInterp

    colours = [src.colorinterp[i - 1] for i in indexes]
    if ColorInterp.blue in colours and ColorInterp.red in colours and \
            colours.index(ColorInterp.blue) < colours.index(ColorInterp.red):
        swapped = list(indexes)
        b, r = colours.index(ColorInterp.blue), colours.index(ColorInterp.red)
        swapped[b], swapped[r] = swapped[r], swapped[b]
        names = ", ".join(c.name for c in colours)
        warn(f"{Path(str(source)).name}: bands {','.join(map(str, indexes))} are "
             f"{names} by their colour interpretation and feed the model in that "
             f"order: give --bands {','.join(map(str, swapped))} if it takes red "
             f"first, or --bands {','.join(map(str, indexes))} to keep it.",
             GeotileWarning)


def _warn_flipped_twice(model, src, indexes: list[int], source) -> None:
    """Warn when --bands gives blue, green, red to a model whose Hugging Face processor
    flips (geotile's old advice for MobileViT): geotile flips them itself, so they would
    reach it as red, green, blue."""
    flip = getattr(model, "flip_rgb", None)
    rgb = _rgb_bands(src) or [1, 2, 3]
    if not flip or list(indexes) != rgb[::-1]:
        return
    warn(f"{Path(str(source)).name}: --bands {','.join(map(str, indexes))} reverses red, "
         f"green, blue, but geotile now flips them to blue, green, red for "
         f"{Path(model.path).name} itself ({flip}): give --bands {','.join(map(str, rgb))} "
         "so they are not flipped twice (keep these only for an image stored blue, green, "
         "red).", GeotileWarning)


def _refuse_alpha_as_data(src, model, indexes: list[int], added: int, source) -> None:
    """ModelError when the default bands would feed an alpha band (the nodata mask, not
    image data) to the model as a channel: an RGBA image to an RGB+NIR model."""
    from geotile.raster import holds_a_mask
    from geotile.raster_kinds import alpha_bands

    alpha = [i for i in alpha_bands(src) if i in indexes and holds_a_mask(src, i)]
    channels = getattr(model, "channels", None)
    if not alpha or (channels is not None and len(indexes) + added != channels):
        return  # a count that does not fit is refused as such
    data = [i for i in indexes if i not in alpha]
    need = channels - added - len(data) if channels is not None else 0
    more = (f" plus {need} more channel(s) from another raster with --extra-bands"
            if need > 0 else "")
    takes = f"its {channels} channels" if channels is not None else "its channels"
    raise ModelError(
        f"{source}: band {alpha[0]} is alpha (the nodata mask, not image data), but "
        f"{Path(model.path).name} would take it as one of {takes}. Give the model's bands: "
        f"--bands {','.join(map(str, data))}{more}, or --bands "
        f"{','.join(map(str, indexes))} if it was trained on alpha.")


def _warn_other_than_bundle(model, bands, src=None, source=None) -> None:
    """Warn once per model when --bands differ from the bands its bundle feeds it (Raster
    Vision's channel_order; TerraTorch's output_bands, as picked in ``src``): the user's
    choice is kept."""
    if not bands or model.bands_warned:
        return
    bundle = getattr(model, "bundle_bands", None)
    chosen = getattr(getattr(model, "raster_input", None), "bands_for", None)
    if not bundle and chosen is not None and src is not None:
        try:  # the image's bands output_bands would pick; none that hold them: other bands
            bundle = chosen(src, source, quiet=True) or [None]
        except ModelError:
            bundle = [None]
    if not bundle or list(bands) == bundle:
        return
    model.bands_warned = True
    log.warning("%s: --bands %s replaces %s, the bands it was trained on",
                Path(model.path).name, ",".join(map(str, bands)), model.raster_input.describe())


def _default_bands(src, model, extra: int = 0, source=None) -> list[int]:
    """The bands of the model's bundle (Raster Vision's channel_order; TerraTorch's
    output_bands, :meth:`~geotile.terratorch_sidecars.TerraTorchBands.bands_for`), else all bands,
    except a last alpha band when the model takes one channel fewer (RGBA -> RGB; the
    alpha band still masks nodata); ``extra`` channels come from elsewhere."""
    from rasterio.enums import ColorInterp

    timed = getattr(model, "dates", None) is not None  # extra: further dates, alike
    chosen = getattr(getattr(model, "raster_input", None), "bands_for", None)
    if chosen is not None and (not extra or timed):  # TerraTorch's: by band descriptions
        picked = chosen(src, source or src.name)
        if picked is not None:
            return picked
    bundle = getattr(model, "bundle_bands", None)
    if bundle and (not extra or timed):
        if max(bundle) > src.count:
            raise ModelError(f"{source or src.name}: the image has {src.count} "
                             f"band{'s' if src.count > 1 else ''}, but "
                             f"{model.raster_input.describe()} needs band {max(bundle)}; give "
                             "an image with those bands, or the model's channels with --bands.")
        return list(bundle)
    bands = list(range(1, src.count + 1))
    channels = getattr(model, "channels", None)
    channels = channels - extra if channels is not None else None
    if channels is not None and src.count == channels + 1 and \
            src.colorinterp[-1] == ColorInterp.alpha:
        log.info("%s: band %d is alpha: bands 1-%d feed the model, alpha masks nodata",
                 src.name, src.count, channels)
        return bands[:-1]
    return bands


def bad_bands(src) -> list[int]:
    """The bands an ENVI header's bad band list (``bbl``, AVIRIS, AVIRIS-NG, HyMap) marks 0
    (water vapour, detector edges); none without one, or with one of another length."""
    text = src.tags(ns="ENVI").get("bbl", "") if src.driver == "ENVI" else ""
    flags = [f.strip() for f in text.strip().strip("{}").split(",") if f.strip()]
    if len(flags) != src.count:
        return []
    try:
        return [i for i, f in enumerate(flags, start=1) if float(f) == 0]
    except ValueError:
        return []


def band_ranges(numbers) -> str:
    """Band numbers as --bands takes them, runs as ranges: 1-10,15,20-29."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1][-1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _warn_bad_bands(src, indexes: list[int], source) -> None:
    """Warn when bands the raster marks bad (:func:`bad_bands`) feed the model, naming the
    --bands that leaves them out; they are fed (the model may have been trained on them)."""
    bad = bad_bands(src)
    fed = sorted({i for i in indexes if i in bad})
    if not fed:
        return
    kept = [i for i in indexes if i not in bad]
    fix = f"give --bands {band_ranges(kept)} and a model of {len(kept)} channels" if kept \
        else "give other bands with --bands"
    warn(f"{Path(str(source)).name}: band{'s' if len(fed) > 1 else ''} "
         f"{band_ranges(fed)} feed the model but are bad bands by its ENVI header "
         f"(bbl 0: water vapour, noise): to leave them out {fix}, unless it was "
         "trained on them.", GeotileWarning)
