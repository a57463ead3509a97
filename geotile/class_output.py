"""What a class raster of the model holds: its class names by id, the threshold applied,
how its probability bands relate, and the models whose outputs no class raster can hold."""

from __future__ import annotations

from geotile.class_keys import is_background_name
from geotile.errors import InputError, ModelError

CLASS_NODATA = 255


def check_class_output(model) -> None:
    """ModelError for a class raster that could not hold the model's classes: the argmax of
    several outputs (heads with classes of their own), ids past 254 (255 is nodata), or the
    overlapping footprint/boundary/contact sigmoids of an instance model (one class per
    pixel cannot hold them; vectorize --instances reads their probabilities)."""
    from geotile.raster_kinds import name_roles

    outputs = getattr(model, "outputs", [])
    if len(outputs) > 1:
        names = ", ".join(o.name for o in outputs)
        raise ModelError(f"{model.path}: --output-type class takes the classes of one output, "
                         f"and the model has {len(outputs)} ({names}): choose one with "
                         f"--outputs {outputs[0].name}, or write probabilities.")
    if len(class_names(model)) > CLASS_NODATA:
        raise ModelError(f"{model.path}: {model.num_classes} classes do not fit a class raster "
                         f"of ids 0-{CLASS_NODATA - 1} ({CLASS_NODATA} is nodata); write "
                         "probabilities (--output-type probability) or choose --outputs.")
    if multi_label(model) and name_roles(model.class_names):
        raise ModelError(f"{model.path}: its sigmoid bands {', '.join(model.class_names)} "
                         "overlap (a building's edge is footprint and boundary), and a class "
                         "raster holds one class per pixel: write probabilities (leave out "
                         "--output-type class) and run `geotile vectorize PROBABILITIES.tif "
                         "--instances` for buildings.")
    from geotile.esri_sidecars import esri_class_ids

    esri_class_ids(model.path, class_names(model))  # ArcGIS' ids: an .emd's Classes Values


def multi_label(model) -> bool:
    """Whether the model's one output has independent sigmoid channels (multi-label)."""
    outputs = getattr(model, "outputs", [])
    return len(outputs) == 1 and outputs[0].multi_label


def band_relation(model) -> str:
    """The GEOTILE_BANDS tag of probabilities: "independent" (one output's sigmoid channels,
    or several outputs of a sigmoid each: a building head and a road head), "exclusive" (one
    output's softmax classes) or "outputs" (several outputs, a softmax among them: no one
    class per pixel describes them)."""
    outputs = getattr(model, "outputs", [])
    if multi_label(model) or (len(outputs) > 1 and all(
            o.channels == 1 or o.multi_label for o in outputs)):
        return "independent"
    return "outputs" if len(outputs) > 1 else "exclusive"


def background_channel(model) -> bool:
    """Whether channel 1 of a multi-label model is background's own sigmoid, named so (a
    model trained with BCE on one-hot masks, background included): class 0 where it is the
    most probable of the channels reaching the threshold, no class of its own."""
    names = list(getattr(model, "class_names", None) or [])
    return multi_label(model) and len(names) > 1 and is_background_name(names[0])


def class_names(model) -> list[str]:
    """A class raster's names by id: background first unless the model's classes are
    exclusive (softmax: its argmax) or its first channel is background's own
    (:func:`background_channel`), where they are the model's own."""
    if model.num_classes == 1 or (multi_label(model) and not background_channel(model)):
        return ["background", *model.class_names]
    return list(model.class_names)


def class_threshold(model, options, threshold: float) -> float | None:
    """The threshold class output applies: p >= threshold is class 1 (one channel), or the
    most probable of the independent channels reaching it, else background (multi-label).
    None for exclusive classes, whose argmax no threshold changes: --threshold there is an
    InputError."""
    if model.num_classes == 1 or multi_label(model):
        return threshold
    if options.threshold is not None:
        raise InputError(f"{model.path}: --threshold {options.threshold:g} would change nothing:"
                         f" class output of its {model.num_classes} exclusive classes (softmax) "
                         "is each pixel's most probable one. Leave out --threshold, or give "
                         "--activation sigmoid if its channels are independent (multi-label).")
    return None
