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

from geotile.errors import ModelError

#: words that put two inputs in order: (first date's, second date's)
ORDERED_WORDS = (("pre", "post"), ("before", "after"), ("old", "new"), ("first", "second"),
                 ("a", "b"), ("prev", "next"), ("past", "present"), ("ref", "cur"),
                 ("previous", "current"), ("prev", "curr"), ("prev", "cur"),
                 ("earlier", "later"), ("ref", "test"))  # TinyCD's forward(ref, test)


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
