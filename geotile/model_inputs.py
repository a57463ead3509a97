"""A model's image inputs: one, or the two dates of a change detection model.

A Siamese change detection export (BIT, ChangeFormer, SNUNet, FC-Siam, open-cd) takes the
"before" and "after" images as two inputs. predict feeds the image to the first date's and
the --extra-bands raster to the second's (stacked after the image's bands, then split at
the model). The first date is the input whose name says so where the two names differ in
one word that orders them (pre/post, before/after, old/new, first/second, a/b, 1/2: x1/x2,
t1/t2, img1/img2, image_A/image_B), else the one declared first (TorchScript's own names of
unnamed inputs, input.49 and input.1, are numbered by first use: they say nothing). Both
must be 4-D image batches of one type and window shape (their channel counts may differ);
any other input (a scalar, a 1-D one), or a third image, is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from geotile.errors import ModelError
from geotile.plurals import counted

#: words that put two inputs in order: (first date's, second date's)
ORDERED_WORDS = (("pre", "post"), ("before", "after"), ("old", "new"), ("first", "second"),
                 ("a", "b"), ("prev", "next"), ("past", "present"), ("ref", "cur"),
                 ("previous", "current"), ("prev", "curr"), ("prev", "cur"),
                 ("earlier", "later"), ("ref", "test"))  # TinyCD's forward(ref, test)


#: words of the names of a promptable model's prompt inputs (Segment Anything's mask
#: decoder: point_coords, point_labels; EfficientSAM's batched_point_coords; transformers'
#: SamModel input_points, input_boxes) and whole names of its other ones
PROMPT_WORDS = {"point", "points", "box", "boxes", "prompt", "prompts"}
PROMPT_NAMES = {"mask_input", "has_mask_input"}


def _words(name: str) -> list[str]:
    """``name`` in lower-case words: split at non-alphanumerics, digits and camelCase."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.findall(r"[A-Za-z]+|[0-9]+", spaced)]


def _exporters_own(name: str) -> bool:
    """Whether ``name`` is one TorchScript gave an unnamed input (``input.49``,
    ``onnx::Conv_0``): numbered by the graph's first use of it, which says no date."""
    return "::" in name or re.fullmatch(r".+\.[0-9]+", name) is not None


def names_first(first: str, second: str) -> bool | None:
    """Whether the input named ``first`` is the earlier date by the names (True), the later
    (False), or None when they do not say (TorchScript's own names never do)."""
    if _exporters_own(first) or _exporters_own(second):
        return None
    a, b = _words(first), _words(second)
    if len(a) != len(b):
        return None
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(differ) != 1:
        return None
    x, y = differ[0]
    if x.isdigit() and y.isdigit():
        return int(x) < int(y)
    if (x, y) in ORDERED_WORDS:
        return True
    if (y, x) in ORDERED_WORDS:
        return False
    return None


def _shape(arg) -> str:
    return f"[{','.join(str(d) for d in arg.shape)}]" if arg.shape else "no declared shape"


def image_inputs(inputs, path, types) -> list:
    """``inputs`` (ONNX Runtime's NodeArgs) in feeding order: the one input, or the first
    and second dates' images; ModelError naming the model and the fix otherwise. ``types``:
    the element types an image input may have."""
    if len(inputs) < 2:
        return list(inputs)
    names = ", ".join(i.name for i in inputs)
    timed = [i for i in inputs if len(i.shape or ()) == 5 and i.type in types]
    if len(timed) > 1:  # two series (Sentinel-1's beside Sentinel-2's)
        raise ModelError(
            f"{path}: the model takes {len(timed)} series of dates ({names}: "
            f"{', '.join(_shape(i) for i in timed)}); geotile feeds one series (the image and "
            "each --extra-bands). Re-export it with one input, each date's channels of both "
            "stacked.")
    if len(timed) == 1:  # a multi-temporal model's dates beside inputs of no image
        raise _beside_dates(timed[0], [i for i in inputs if i is not timed[0]], path)
    prompts = [i.name for i in inputs if set(_words(i.name)) & PROMPT_WORDS
               or i.name.lower() in PROMPT_NAMES]
    if prompts:
        raise ModelError(
            f"{path}: a promptable (Segment Anything-style) model: it takes prompts "
            f"({', '.join(prompts)}), and its masks follow the points or boxes given, not "
            "classes of the image's pixels; geotile predicts segmentation models that take "
            "the image alone. Give such a model (a SAM image encoder alone is written as "
            "raw features).")
    other = [i for i in inputs if len(i.shape or ()) != 4 or i.type not in types]
    if other:
        what = other[0].type if len(other[0].shape or ()) == 4 else _shape(other[0])
        raise ModelError(
            f"{path}: the model has {len(inputs)} inputs ({names}) and {other[0].name!r} "
            f"({what}) is no image batch; geotile feeds one image, or two dates of a change "
            "detection model. Re-export it with that input as a constant.")
    if len(inputs) > 2:
        raise ModelError(
            f"{path}: the model has {len(inputs)} image inputs ({names}); geotile feeds one "
            "image, or two dates of a change detection model (the image and --extra-bands). "
            "Re-export it with one or two inputs.")
    first, second = inputs
    if first.type != second.type:
        raise ModelError(
            f"{path}: its two inputs {first.name} ({first.type}) and {second.name} "
            f"({second.type}) differ in type; geotile feeds both dates alike. Re-export it "
            "with inputs of one type.")
    if names_first(first.name, second.name) is False:
        first, second = second, first
    return [first, second]


#: what inputs beside a 5-D one hold, by their names' words: Prithvi-EO-2.0's (TerraTorch's
#: coords_encoding), U-TAE's batch_positions (days since its training's reference date)
BESIDE_DATES = ((("temporal",), "each date's year, day of year"), (("location",), "lat, lon"),
                (("positions", "doy", "day", "days"), "each date's day"))


def _beside_dates(timed, others, path) -> ModelError:
    """The line for a 5-D input beside inputs of no image: geotile feeds the dates' pixels
    alone; acquisition days are in no raster's pixels (a TIFF's DateTime is its writing),
    and U-TAE's count from a date its training chose, so a guess would predict wrong."""
    said, known = [], False
    for arg in others:
        words = set(_words(arg.name))
        what = next((w for keys, w in BESIDE_DATES if words & set(keys)), None)
        known = known or what is not None
        said.append(f"{arg.name} {_shape(arg)}" + (f" ({what})" if what else ""))
    why = ("which geotile cannot read from the rasters (no acquisition day or reference date "
           "is in them)" if known else "and geotile feeds the dates' pixels alone")
    return ModelError(
        f"{path}: beside its dates' input {timed.name} {_shape(timed)} the model takes "
        f"{', '.join(said)}, {why}; re-export it with those as constants of your scenes (a "
        "wrapper forward(x) passing them)" + (", or a fine-tune exported without them "
                                              "(TerraTorch: no coords_encoding)." if known
                                              else "."))


def check_pair(first, second, layout: str, path) -> None:
    """ModelError when the dates' inputs differ in batch or window size (fixed in both):
    geotile feeds both the same windows."""
    axes = (0, 2, 3) if layout == "NCHW" else (0, 1, 2)
    for axis in axes:
        a, b = first.shape[axis], second.shape[axis]
        if isinstance(a, int) and isinstance(b, int) and a > 0 and b > 0 and a != b:
            raise ModelError(
                f"{path}: its two inputs {first.name} {_shape(first)} and {second.name} "
                f"{_shape(second)} differ in {'batch' if axis == 0 else 'window'} size; "
                "geotile feeds both dates the same windows. Re-export it with inputs of one "
                "shape.")


def input_channels(arg, layout: str) -> int | None:
    """The fixed channel count of the input ``arg`` in ``layout``, else None."""
    count = arg.shape[1] if layout == "NCHW" else arg.shape[3]
    return count if isinstance(count, int) and count > 0 else None


#: words of a 5-D input's axis names (torch.onnx dynamic_axes) that say time or channels
TIME_WORDS = {"t", "time", "times", "timestep", "timesteps", "steps", "frames", "frame",
              "dates", "date", "seq", "sequence", "temporal", "num_frames", "num_timesteps"}
#: a fixed last axis of a 5-D input below this, beside another size, holds channels
FEW_CHANNELS = 32
CHANNEL_WORDS = {"c", "channel", "channels", "bands", "band", "chans", "in_chans"}


def _said_axis(text: str) -> int | None:
    """The time axis (1 or 2) that ``text`` (metadata layout, a doc string, a name) spells
    as NTCHW/NCTHW or [N, T, C, H, W], else None."""
    letters = re.sub(r"[^A-Za-z]", "", text or "").upper()
    ntchw, ncthw = "NTCHW" in letters, "NCTHW" in letters
    return 1 if ntchw and not ncthw else 2 if ncthw and not ntchw else None


def time_axis(arg, graph, metadata: dict, path) -> int | None:
    """The time axis (1: [N,T,C,H,W], 2: [N,C,T,H,W]) of the 5-D input ``arg``, as its
    metadata layout, its axes' names, its name or doc string, or the channels its first
    convolution takes (Prithvi's Conv3d) tell; None when none tells (the dates given may:
    :meth:`Dates.resolve`). ModelError for a metadata layout of another 5-D order."""
    layout = str(metadata.get("layout") or "")
    last = arg.shape[4] if isinstance(arg.shape[4], int) and arg.shape[4] > 0 else None
    if layout.upper().endswith("C") or (last is not None and last < FEW_CHANNELS
                                         and arg.shape[3] != last):
        raise ModelError(
            f"{path}: input {arg.name} {_shape(arg)} is 5-D with its channels last "
            "([N,T,H,W,C]); geotile feeds [N,T,C,H,W] or [N,C,T,H,W]. Re-export it with a "
            "Transpose to channels first in front (or tell its layout: metadata "
            "layout=NTCHW or NCTHW).")
    if layout and len(re.sub(r"[^A-Za-z]", "", layout)) == 5:
        axis = _said_axis(layout)
        if axis is None:
            raise ModelError(f"{path}: metadata layout={layout} for its 5-D input "
                             f"{arg.name}; geotile feeds NTCHW or NCTHW: fix the metadata.")
        return axis
    names = [_words(d) if isinstance(d, str) else [] for d in arg.shape[1:3]]
    for axis, (one, other) in ((1, names), (2, names[::-1])):
        if set(one) & TIME_WORDS or set(other) & CHANNEL_WORDS:
            return axis
    doc = next((i.doc_string for i in graph.input if i.name == arg.name), "") \
        if graph is not None else ""
    said = _said_axis(doc) or _said_axis(arg.name)
    if said is not None or graph is None:
        return said
    from geotile.graph_analysis import graph_input_channels

    dims = [d if isinstance(d, int) and d > 0 else None for d in arg.shape[1:3]]
    direct = graph_input_channels(graph, arg.name, conv3d=True)
    if direct is not None and dims[0] in (None, direct):  # a Conv3d on the input itself
        return 2
    channels = graph_input_channels(graph, arg.name)
    if channels is not None and dims.count(channels) == 1:
        return 2 if dims[0] == channels else 1
    return None


class Dates:
    """A 5-D input's dates: ``dims`` (axes 1 and 2 as declared, None symbolic), ``axis``
    (the time axis, None until told), and once fed (:meth:`resolve`) ``count`` dates of
    ``channels`` each."""

    def __init__(self, arg, axis: int | None, path) -> None:
        self.arg, self.axis, self.path = arg, axis, path
        self.dims = [d if isinstance(d, int) and d > 0 else None for d in arg.shape[1:3]]
        self.count = self.channels = None
        #: the count of dates the first probe ran on where T is symbolic (the first of
        #: 1..24 that runs where the graph fixes T: a position embedding of num_frames)
        self.runs_on: int | None = None
        #: what fixed a symbolic T (:meth:`take_count`), "" when nothing did
        self.why = ""
        self._counts_run: set[int] = set()

    def take_count(self, count: int, why: str) -> None:
        """Fix a symbolic T of a known time axis at ``count`` dates, as ``why`` says."""
        if self.axis is not None and self.dims[self.axis - 1] is None:
            self.dims[self.axis - 1], self.why = count, why

    def said(self) -> str:
        """E.g. "input x [1,6,3,224,224], [N,C,T,H,W]"."""
        return f"input {self.arg.name} {_shape(self.arg)}, {self.layout()}"

    def layout(self) -> str:
        return {1: "[N,T,C,H,W]", 2: "[N,C,T,H,W]"}.get(self.axis, "5-D")

    def describe(self) -> str:
        """E.g. "[1,6,3,224,224] [N,C,T,H,W] (3 dates of 6 channels)"."""
        dates, channels = (self.count, self.channels) if self.count else self.fixed()
        known = f" ({dates or '?'} dates of {channels or '?'} channels)" \
            if self.axis else " (time axis told by the dates given)"
        return f"{_shape(self.arg)} {self.layout()}{known}"

    def fixed(self) -> tuple[int | None, int | None]:
        """(dates, channels) the model fixes, as far as the time axis is known."""
        if self.axis is None:
            return None, None
        return self.dims[self.axis - 1], self.dims[2 - self.axis]

    def probe(self) -> tuple[int, int]:
        """(dates, channels) of a feed before any is given: those known, else 2 and 3."""
        if self.count is not None:
            return self.count, self.channels
        if self.axis is None:  # both fixed: their product is all a probe needs
            return self.dims[0] or 2, self.dims[1] or 3
        dates, channels = self.fixed()
        return dates or self.runs_on or 2, channels or 3

    def symbolic_count(self) -> bool:
        """Whether the count of dates is open to the probes: the time axis known, T
        symbolic, nothing fed yet."""
        return self.count is None and self.axis is not None and self.fixed()[0] is None

    def check_runs(self, count: int, run, source) -> None:
        """ModelError where ``count`` dates are not the count the graph runs on
        (:attr:`runs_on`) and ``run()`` (a probe of them: the error, or None) fails."""
        if self.runs_on in (None, count) or count in self._counts_run:
            return
        error = run()
        if error is None:
            self._counts_run.add(count)
            return
        from geotile.model_file import first_line

        self.count = self.channels = None  # the next image's dates are probed afresh
        # the probes tried 1, 2, ... up: fewer fail, more may run (a Conv3d's kernel)
        why = "fewer fail" if count < self.runs_on else "its graph fixes it"
        raise ModelError(
            f"{source}: {Path(str(self.path)).name} runs on {self.runs_on} dates (input "
            f"{self.arg.name} {_shape(self.arg)}: T is symbolic, {why}: "
            f"{first_line(error)}) but {count} given; give --extra-bands once per further "
            f"date, in date order ({self.runs_on - 1} of them).")

    def resolve(self, count: int, channels: int, source) -> None:
        """Take ``count`` dates of ``channels`` each (the image, then each --extra-bands):
        the time axis where the model's shape left it open, ModelError naming ``source``,
        both numbers and the flag where they do not fit."""
        name = Path(str(self.path)).name
        fits = [a for a in (1, 2) if self.dims[a - 1] in (None, count)
                and self.dims[2 - a] in (None, channels)]
        told = self.axis
        if self.axis is None and len(fits) == 1:
            self.axis = fits[0]
        elif self.axis is None and fits:
            raise ModelError(
                f"{name}: input {self.arg.name} {_shape(self.arg)} takes {count} dates of "
                f"{channels} channels as [N,T,C,H,W] or [N,C,T,H,W] alike, and nothing says "
                "which; tell it in the model's metadata (layout=NTCHW or layout=NCTHW: "
                "onnx.helper.set_model_props) and predict again.")
        elif self.axis is None:  # neither fits: said of the layout whose channels fit
            self.axis = next((a for a in (1, 2) if self.dims[2 - a] in (None, channels)), 1)
        dates, wanted = self.fixed()
        if (dates or count, wanted or channels) != (count, channels):
            self.axis = told  # the next image's dates may tell
        if count == 1 and (dates or 0) > 1 and wanted and channels == dates * wanted:
            one = Path(str(source)).name
            by_date = " ".join(f"-b {b}" for b in range(1, wanted + 1))
            by_band = " ".join(f"-b {1 + b * dates}" for b in range(wanted))
            raise ModelError(
                f"{source}: {one} holds {channels} bands: {dates} dates of {wanted} for "
                f"{name} (input {self.arg.name} {_shape(self.arg)}), which takes one file per "
                f"date. Split it: gdal_translate {by_date} {one} date1.tif, bands "
                f"{wanted + 1}-{2 * wanted} date2.tif, ... where its bands go date by date "
                f"(band by band: {by_band} for date 1), and give date1.tif, then the others "
                "as --extra-bands in date order.")
        if dates is not None and dates != count:
            give = "give no --extra-bands (the image is its one date)" if dates == 1 else (
                "give --extra-bands once per further date, in date order "
                f"({dates - 1} of them)")
            raise ModelError(
                f"{source}: {name} takes {counted(dates, 'date')} (input {self.arg.name} "
                f"{_shape(self.arg)}, {self.layout()}{', ' + self.why if self.why else ''}) "
                f"but {count} given (the image and {count - 1} --extra-bands); {give}.")
        if wanted is not None and wanted != channels:
            raise ModelError(
                f"{source}: {name} takes {wanted} channels per date (input {self.arg.name} "
                f"{_shape(self.arg)}, {self.layout()}) but the dates have {channels}; give "
                f"rasters of {wanted} bands, or pick them with --bands (applied to every "
                "date).")
        self.count, self.channels = count, channels

    def split(self, feed):
        """A batch of the dates' channels stacked [N, T*C, H, W] as the model's 5-D input."""
        import numpy as np

        dates, channels = self.probe()
        if self.axis is None:  # a probe of zeros: the declared shape
            return feed.reshape(feed.shape[0], dates, channels, *feed.shape[2:])
        out = feed.reshape(feed.shape[0], dates, channels, *feed.shape[2:])
        return np.ascontiguousarray(out.transpose(0, 2, 1, 3, 4) if self.axis == 2 else out)


def five_d_error(arg, path) -> ModelError:
    """The line for a 5-D input ([N, T, C, H, W]: dates on an axis of their own): the two
    exports geotile feeds, one input per date or their channels stacked."""
    n, dates, channels, height, width = (str(d) if d else "?" for d in arg.shape)
    stacked = str(int(dates) * int(channels)) if (dates + channels).isdigit() else \
        f"{dates}x{channels}"
    return ModelError(
        f"{path}: input {arg.name} has shape {_shape(arg)}, 5-D (dates on an axis of their "
        "own); geotile feeds 4-D image batches. Re-export it with one input per date "
        "(forward(x1, x2): the image and --extra-bands) or one of both dates' channels "
        f"stacked, [{n},{stacked},{height},{width}].")
