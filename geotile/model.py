"""ONNX segmentation models: providers, input layout, normalisation, outputs, activation.

:class:`OnnxModel` hides the differences between exported models so the
predictor always sees ``float32 (N, C, s, s) -> float32 (N, K, o, o)``:

- input: one image tensor (or a change detection model's two dates, fed the image's and
  --extra-bands' channels: :mod:`geotile.model_inputs`), NCHW (PyTorch) or NHWC (Keras via
  tf2onnx), of float, float16 or integer type (an integer model gets raw pixels; values
  beyond 65504 are refused for a float16 one, or one that casts its input to float16
  first: Keras mixed_float16); a fixed
  H=W (or one of them fixed) sets the tile size; a fixed batch size is honoured by padding;
- outputs: every output (or those chosen; not an auxiliary head's, torchvision's ``aux``,
  UperNet's ``auxiliary_logits``, beside others) becomes bands, in order; each may be
  [N,K,H,W], [N,H,W,K] or [N,H,W] (checked against the window, not guessed
  from the input layout alone); a batch of 1 baked into the graph runs in
  chunks, as does a dynamically quantized model (DynamicQuantizeLinear: one range a
  run); another batch baked into a graph of symbolic batch, named by ONNX Runtime's error,
  is kept as a fixed one; a graph that mixes the windows of a batch (a reduction over axis
  0, a Reshape to a fixed leading size: :mod:`geotile.graph_determinism`) runs one window
  at a time (a fixed batch filled with that window repeated); one exported in training
  mode (BatchNormalization, Dropout) or drawing random numbers is refused. The output is
  the window, its centred crop (valid
  convolutions), a few px wider on every side (padding beyond the kernel's: its centre is
  taken; an output that grows k px at a time, strides rounding the window before an
  upsampling, is refused at sizes no multiple of k: it lies at the window's top left)
  or an integer downscale of it, any factor (ViT/DINOv2's 14 px patches too;
  upsampled bilinearly here: logits before the activation applied here, as HF/mmseg do),
  see :class:`Geometry`; a patch embedding on the input (a Conv of kernel = stride, no
  pads) makes windows whole patches on the image's patch grid, however the output is
  upsampled; a square map flattened row after row, [N, h*w, K] or [N, K, h*w]
  (keras_segmentation's Reshape before its softmax), is read as that map, but a
  patch embedding's token sequence [N, T, K] is refused naming its grid;
- a mask classification export (MaskFormer, Mask2Former, OneFormer: class queries
  [N, Q, K+1] beside mask queries [N, Q, h, w]) gives one output of K class scores, combined
  per window as transformers does (:mod:`geotile.mask_classification`);
- an instance segmentation export (YOLO-seg: detections beside mask prototypes, or
  Ultralytics' metadata task=segment) is refused, its prototypes chosen too;
- the model is probed once per tile size: any ONNX Runtime failure becomes one
  line naming the model and the fix;
- normalisation ``x' = (x * scale - mean) / std`` per channel, from options,
  else the model's metadata (Deepness's ``standardization_mean``/``_std``, ``mean``/``std``,
  ``pixel_mean``/``_std``, mmseg's ``img_norm_cfg``; keys in any case), else Hugging
  Face's preprocessor_config.json beside the model (:mod:`geotile.hf_sidecars`, which
  names the classes from its config.json too), else uint8 input is scaled by 1/255 for
  float models (not when the graph divides its input by 255 itself, keras Rescaling, torch
  ``x / 255``, or subtracts a mean or divides by a std of 0..255 pixels, ImageNet's
  123.675 / 58.395, or normalises them by an input BatchNormalization; after a Pad or
  Resize too);
- activation (``auto``): a Deepness ``model_type`` (Segmentor, Regressor...) means
  final values (Regressor: raw x ``reg_output_scaling``); transformers' one output
  ``predicted_depth`` (DPT, GLPN) raw values, as ``--activation none``, and so a feature
  extractor's (outputs all, or those chosen, named image_embeddings, last_hidden_state,
  feature_maps...: :data:`~geotile.raster_kinds.FEATURE_OUTPUTS`), bands <output>_k; a
  final Sigmoid/Softmax (or one written out op by op, a Clip of logits into 0..1, the max
  of a softmax), seen through trailing shape-only ops and ops whose range stays 0..1,
  means probabilities;
  a final activation taken out of 0..1 (p x 100, Tanh) is refused, as is a Softmax over
  another axis than the classes or over one channel, ArgMax or a comparison cast to float
  (ids cannot be blended); else K = 1 -> sigmoid, K > 1 ->
  softmax (clamped logits too). A metadata ``activation`` applies to logits only, never on
  top of the graph's own (warned when they differ). Values are never used to guess; final
  values seen outside 0..1 in the first batch are refused;
- providers: ``auto`` takes the best of TensorRT, CUDA, CPU whose libraries
  really load, checked quietly before ONNX Runtime is asked.
- quantised and converted models run as they are: an output of a final QuantizeLinear's
  codes is refused naming its scale and zero point, a final Sigmoid/Softmax quantised with
  no codes near 1 is warned of, Resize scales quantised (an opset 9/10 export) are refused;
  --fp16 leaves a quantised model, one float16 already and one holding ONNX Runtime's CPU
  layout ops (com.microsoft.nchwc) as they are.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.cpus import usable_cpus
from geotile.errors import InputError, InputRangeError, ModelError
from geotile.graph_analysis import (
    PROBABILITY_TOLERANCE,
    GraphEnd,
    cpu_layout_op,
    float16_part,
    graph_auxiliary_outputs,
    graph_class_ids,
    graph_ends,
    graph_flattened_outputs,
    graph_input_channels,
    graph_input_float16,
    graph_input_patch,
    graph_quantized_ceilings,
    graph_quantized_outputs,
    graph_scales_input,
    quantized_op,
    quantized_resize_sizes,
)
from geotile.graph_determinism import batch_reduction
from geotile.model_file import (
    content_key,
    explain_load_error,
    external_data_files,
    first_line,
    float16_copy,
    load_model,
    local_model_path,
)
from geotile.model_metadata import (
    CLASS_NAME_KEYS,
    INSTANCE_ROLES,
    declared_channel_order,
    declared_normalization,
    lower_keys,
    metadata_number,
    metadata_value,
    name_list,
)
from geotile.providers import PROVIDERS, choose_providers, provider_options, quiet_stderr
from geotile.raster_kinds import DEPTH_OUTPUT, is_feature_output

log = logging.getLogger("geotile")


@dataclass(frozen=True)
class Normalization:
    """``x' = (x * scale - mean) / std`` per channel."""

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _round_down(value: float, digits: int) -> float:
    """``value`` > 0 cut to ``digits`` significant digits (never rounded up)."""
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return math.floor(value / step) * step


ACTIVATIONS = ("auto", "none", "sigmoid", "softmax")
#: ONNX input element types -> numpy dtypes
_INPUT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(uint16)": np.uint16,
    "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
}
#: output types ONNX Runtime hands to NumPy (integer ones are refused later, by name)
_OUTPUT_TYPES = {*_INPUT_TYPES, "tensor(uint32)", "tensor(uint64)", "tensor(bool)"}


def _check_layout_metadata(layout: str, shape: list, declared, path, said=None) -> None:
    """ModelError when the metadata's ``layout`` (or what ``said`` it: an MLM item's
    dim_order) contradicts the input's fixed axes: its channel axis symbolic where the other
    layout's is fixed, or its patch axes unequal where the other layout's are equal."""
    other = "NHWC" if layout == "NCHW" else "NCHW"
    channel, spatial = (1, (2, 3)) if layout == "NCHW" else (3, (1, 2))
    other_channel, other_spatial = (3, (1, 2)) if layout == "NCHW" else (1, (2, 3))
    fixed = [isinstance(d, int) for d in shape]
    contradicted = (not fixed[channel] and fixed[other_channel]) or (
        all(fixed[1:]) and shape[spatial[0]] != shape[spatial[1]]
        and shape[other_spatial[0]] == shape[other_spatial[1]])
    if contradicted:
        if said:
            raise ModelError(f"{said}, but {path.name} takes {list(declared)}, {other}; fix "
                             "the item's dim_order (or give the model it describes).")
        raise ModelError(f"{path}: its metadata says layout={layout}, but its input "
                         f"{list(declared)} is {other}; fix or remove the model's 'layout' "
                         "metadata.")


def _fixed_layout(shape: list, graph, input_name: str) -> str | None:
    """The layout of an input whose fixed axes tell it: the two equal ones are the square
    patch, whichever holds more (72 bands of 32 px: [1, 72, 32, 32] or [1, 32, 32, 72]), the
    other one symbolic too ([N, C, 256, 256]: its channels); all three equal, a leading
    Transpose to NCHW (Keras via tf2onnx) says NHWC; else None."""
    _, first, middle, last = shape
    if first is None and middle is not None and middle == last:
        return "NCHW"
    if last is None and first is not None and first == middle:
        return "NHWC"
    if None in (first, middle, last):
        return None
    if middle == last != first:
        return "NCHW"
    if first == middle != last:
        return "NHWC"
    if first == middle == last and graph is not None:
        consumers = [n for n in graph.node if input_name in n.input]
        transposed = [n for n in consumers if n.op_type == "Transpose" and any(
            a.name == "perm" and list(a.ints) == [0, 3, 1, 2] for a in n.attribute)]
        return "NHWC" if consumers and len(transposed) == len(consumers) else "NCHW"
    return None


def _channels_last(dims) -> bool:
    """Symbolic input dimensions named as NHWC (…, "height", "width", "channels")."""
    names = [str(d).lower() for d in dims]
    return names[3] in ("c", "ch", "channel", "channels", "bands") or names[1] in (
        "h", "height", "rows", "y")


#: integer output scales (downsampled outputs, SegFormer-like) that are upsampled
_DOWNSCALES = (2, 4, 8, 16, 32)
#: Deepness's model_type values (lower case): their outputs are final values. Other
#: exporters write an architecture name there ("UNet"), which says nothing of the outputs.
DEEPNESS_MODEL_TYPES = ("segmentor", "regressor", "detector", "recognition",
                        "superresolution")
DEFAULT_TILE_SIZE = 512  # dynamic models without metadata: 2.5x faster than 256 on CPU
#: the most a default batch of windows may take (float32 input and output): many classes
#: mean fewer windows a batch (10,000 classes at 512 px: 10.5 GB a window)
MAX_WINDOW_OUTPUT_BYTES = 1024**3


def _session_threads() -> int:
    """ONNX Runtime's threads: the CPUs this process may use, at most a user's
    OMP_NUM_THREADS (a job's share of a shared node, read as PyTorch reads it; ONNX Runtime's
    own builds ignore it); not the OMP_NUM_THREADS=1 that a dask cluster started in this
    process (a notebook's Client()) set here for its workers."""
    cpus = usable_cpus()
    if os.environ.get("__DASK_PARENT_PID") == str(os.getpid()):
        return cpus
    try:
        omp = int(os.environ.get("OMP_NUM_THREADS", "").strip())
    except ValueError:  # unset, a list ("2,1") or not a number: not a limit
        return cpus
    return min(cpus, omp) if omp > 0 else cpus


def window_memory_limit() -> int:
    """The most one window (float32 input and output) may take before the model runs: half
    the memory this process may use (the machine's, or its container's limit); a larger one
    is refused, naming the --tile-size that fits."""
    from geotile.usable_memory import usable_memory

    return usable_memory() // 2


@dataclass
class ModelOutput:
    """One ONNX output: its channels (bands), where they are, and how they are activated."""

    name: str
    index: int
    channels: int = 1
    channel_axis: int | None = 1  # 1 (NCHW), 3 (NHWC) or None (rank 3: N, H, W)
    activation: str = "none"
    ends_in_activation: bool = False
    #: the graph's final values (graph_activations): "sigmoid", "softmax", "final" or ""
    final_kind: str = ""
    #: why the graph's final values are not probabilities 0..1 (p x 100, Tanh), or ""
    not_probabilities: str = ""
    class_ids: bool = False  # ArgMax or a comparison, cast to float: ids or a 0/1 mask
    names: list[str] = field(default_factory=list)
    #: probabilities a cubic Resize takes a little past 0..1: clipped back
    overshoots: bool = False
    #: the axis of the output its final Softmax normalises (negative: from the end), None
    #: when the graph does not tell (GraphEnd.axis)
    softmax_axis: int | None = None
    #: a Slice or Gather after its final activation (GraphEnd.sliced)
    sliced: bool = False
    #: the output of class queries [N, Q, K+1] this one's mask queries [N, Q, h, w] are
    #: combined with (a mask classification model: geotile.mask_classification), or ""
    class_queries: str = ""
    #: the axis (1 or 2) of a map flattened to a sequence of its pixels, row after row
    #: (keras_segmentation's Reshape((h * w, K)): [N, h*w, K]; [N, K, h*w]), None for a map
    flat_axis: int | None = None
    #: the quantised op whose integer codes it is, with its scale and zero point (no
    #: DequantizeLinear after it: :func:`~geotile.graph_analysis.graph_quantized_outputs`)
    quantized: str = ""

    @property
    def multi_label(self) -> bool:
        """Whether its channels are independent probabilities (a sigmoid each), not
        exclusive classes (softmax): applied here, or the graph's own final Sigmoid."""
        return self.channels > 1 and (self.activation == "sigmoid" or (
            self.activation == "none" and self.final_kind == "sigmoid"))


@dataclass(frozen=True)
class Geometry:
    """Where a model's output lies in its ``size`` px window: ``out`` px square at
    ``offset`` (valid convolutions: the centre), the outer ``margin`` px of it not to be
    trusted (upsampled outputs), ``scale`` 1 or the output's integer downscale (its cells
    are ``scale`` px: windows start on them)."""

    size: int
    out: int
    offset: int = 0
    margin: int = 0
    scale: int = 1


def _squeezed(activation: str, channels: int) -> str:
    """What ``activation`` makes of probabilities 0..1: the range it squeezes them into."""
    if activation == "sigmoid":
        return "a sigmoid of probabilities lies in 0.5..0.73"
    if channels == 1:
        return "a softmax of one channel is 1 everywhere"
    e = math.e
    return (f"a softmax of probabilities of {channels} channels lies in "
            f"{1 / (1 + (channels - 1) * e):.2f}..{e / (e + channels - 1):.2f}")


class OnnxModel:
    """A loaded ONNX segmentation model; see the module docstring."""

    #: whether it runs in float16 (--fp16 off the CPU, :meth:`from_path`): other pixels
    fp16 = False

    def __init__(self, session, path: Path, activation: str | None = None, *,
                 outputs=None, tile_size: int | None = None, batch_size: int = 1,
                 graph=None, opset: int | None = None) -> None:
        self.session, self.path = session, Path(path)
        path = self.path
        if graph is not None:  # training-mode layers, random ops: no window can be trusted
            from geotile.graph_determinism import refuse_training_graph

            refuse_training_graph(graph, path)
            resized = quantized_resize_sizes(graph)
            if resized:  # 1 quantised to 1.0039: wrong sizes, or ONNX Runtime fails
                raise ModelError(f"{path}: its {resized} through a DequantizeLinear (the "
                                 "quantizer quantised the scales an opset 9/10 export "
                                 "computes), so windows come out of wrong sizes. Quantize an "
                                 "export of opset 13 or later (torch.onnx.export(..., "
                                 "opset_version=17)).")
        self.provider = session.get_providers()[0]
        self.metadata = lower_keys(dict(session.get_modelmeta().custom_metadata_map))
        #: Hugging Face's (MMDeploy's) files beside it that name its classes ("names") or
        #: normalise its input ("normalization"), its external weights ("weights<n>"):
        #: inputs of its outputs, as the model file is (--resume)
        self.sidecars: dict[str, Path] = {}
        #: Raster Vision's scenes: the bands its model was fed, by default
        #: (:func:`~geotile.rastervision_sidecars.rv_raster_input`); whether --bands that
        #: differ were warned of
        self.raster_input = None
        self.bands_warned = False
        from geotile.model_inputs import image_inputs

        inputs = image_inputs(session.get_inputs(), path, _INPUT_TYPES)
        model_input = inputs[0]
        self.input_name = model_input.name
        #: a change detection model's second date input (the --extra-bands raster's), or None
        self.second_input = inputs[1] if len(inputs) > 1 else None
        if model_input.type not in _INPUT_TYPES:
            raise ModelError(f"{path}: the model input has type {model_input.type}; geotile "
                             "feeds images as float, float16 or integer tensors.")
        self.input_type = _INPUT_TYPES[model_input.type]
        shape = [d if isinstance(d, int) and d > 0 else None for d in model_input.shape]
        #: a multi-temporal model's 5-D input ([N,T,C,H,W] or [N,C,T,H,W]), fed the dates'
        #: channels stacked [N,T*C,H,W] and split at :meth:`_feeds`; None for 4-D ones
        self.dates = None
        if len(shape) == 5:  # dates (or frames) on an axis of their own
            from geotile.model_inputs import Dates, five_d_error, time_axis

            if self.second_input is not None:
                raise five_d_error(model_input, path)
            self.dates = Dates(model_input, time_axis(model_input, graph, lower_keys(
                dict(session.get_modelmeta().custom_metadata_map)), path), path)
            from geotile.terratorch_sidecars import terratorch_frames

            frames = terratorch_frames(path)  # a fine-tune's count where T is symbolic
            if frames is not None:
                self.dates.take_count(*frames)
            stacked = None if None in shape[1:3] else shape[1] * shape[2]
            shape = [shape[0], stacked, shape[3], shape[4]]
        if len(shape) != 4:
            declared = f"shape {model_input.shape}" if model_input.shape else "no declared rank"
            raise ModelError(f"{path}: the model input has {declared}; geotile needs a 4-D "
                             "image batch [N,C,H,W] or [N,H,W,C]. Export it with its shape.")
        unreadable = [o for o in session.get_outputs() if o.type not in _OUTPUT_TYPES]
        if not session.get_outputs() or unreadable:
            raise ModelError(
                f"{path}: output {unreadable[0].name!r} has type {unreadable[0].type}; geotile "
                "reads float32, float16 and float64 outputs: export them as float32."
                if unreadable else f"{path}: the model has no outputs; check the export.")
        layout = (self.metadata.get("layout") or "").upper()
        from geotile.mlm_sidecars import is_float_type, mlm_structure

        #: its MLM item's input structure (dim_order, shape, data_type), None without one
        self.mlm_structure = structure = mlm_structure(path)
        if self.dates is not None:
            layout, structure = "NCHW", None  # its time axis read above
        if layout in ("NCHW", "NHWC") and self.dates is None:
            _check_layout_metadata(layout, shape, model_input.shape, path)
            if structure is not None and structure.layout != layout:
                raise ModelError(f"{structure.file}: mlm:input input dim_order "
                                 f"{structure.order} is {structure.layout}, but {path.name}'s "
                                 f"metadata says layout={layout}; fix the one that is wrong.")
        elif structure is not None:
            layout = structure.layout
            _check_layout_metadata(layout, shape, model_input.shape, path,
                                   f"{structure.file}: mlm:input input dim_order "
                                   f"{structure.order} says {layout}")
            log.info("%s: fed %s, as %s dim_order says", path.name, layout, structure.where)
        if structure is not None and structure.data_type is not None and is_float_type(
                structure.data_type) and not np.issubdtype(self.input_type, np.floating):
            raise ModelError(f"{structure.file}: mlm:input input data_type "
                             f"{structure.data_type} (the scaled input), but {path.name} takes "
                             f"{np.dtype(self.input_type).name}, which would round it; fix the "
                             "item's data_type (or give the model it describes).")
        #: every dimension symbolic and no metadata: the layout comes from the names, and a
        #: failed probe tries the other one
        self._layout_guessed = layout not in ("NCHW", "NHWC") and shape[1] is None \
            and shape[3] is None
        if layout not in ("NCHW", "NHWC"):
            layout = _fixed_layout(shape, graph, self.input_name)
        if layout not in ("NCHW", "NHWC"):
            nchw = shape[1] is not None and (shape[3] is None or shape[1] <= shape[3])
            layout = "NCHW" if nchw or shape[3] is None else "NHWC"
            if self._layout_guessed and _channels_last(model_input.shape):
                layout = "NHWC"
        self.layout = layout
        self.channels = shape[1] if layout == "NCHW" else shape[3]
        if self.channels is None and graph is not None and self.dates is None:  # symbolic
            self.channels = graph_input_channels(graph, self.input_name)
            if self.channels is not None:
                log.info("%s: its channel axis is symbolic; its first convolution takes %d "
                         "channels", path.name, self.channels)
        #: channels of each date's input (first, second) of a change detection model
        self.date_channels: tuple[int | None, int | None] | None = None
        if self.second_input is not None:
            self._two_dates(model_input, graph)
        height, width = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
        if height is not None and width is not None and height != width:
            raise ModelError(f"{path}: fixed input {height}x{width} is not square; geotile "
                             "predicts square tiles.")
        # one side fixed (a fixed height, a dynamic width): square windows take its size
        self.fixed_size = height is not None or width is not None
        if self.fixed_size:
            self.tile_size = height or width
            if structure is not None and structure.size not in (None, self.tile_size):
                raise ModelError(f"{structure.file}: mlm:input input shape is of "
                                 f"{structure.size} px windows, but {path.name} takes fixed "
                                 f"{self.tile_size} px ones; fix the item's shape (or give "
                                 "the model it describes).")
        self.fixed_batch = shape[0]
        # every output declares the input's own symbolic batch: no need to probe it at 2
        batch_name = model_input.shape[0]
        self._batch_declared = isinstance(batch_name, str) and bool(batch_name) and all(
            o.shape and o.shape[0] == batch_name for o in session.get_outputs())
        # tile_size, overlap_fraction, threshold and resolution are read from the metadata
        # when first asked (predict asks when no option replaces them): see the properties
        #: marker rules of the instance split the model declares (geotile.instances), written
        #: on predict's output for vectorize: {"marker"|"boundary"|"contact": probability}
        self.instance_thresholds = {
            role: value for role in INSTANCE_ROLES
            if (value := metadata_number(self.metadata, (f"{role}_thresh",), path)) is not None}
        bad = {k: v for k, v in self.instance_thresholds.items() if v > 1}
        if bad:
            raise ModelError(f"{path}: metadata {next(iter(bad))}_thresh="
                             f"{next(iter(bad.values())):g} is not a probability (0-1). Fix "
                             "the model's metadata.")
        model_type = metadata_value(self.metadata, "model_type")
        self.model_type = str(model_type).strip().lower() if model_type else None
        self.output_scale = 1.0
        if self.model_type == "regressor":
            scaling = metadata_number(self.metadata, ("reg_output_scaling",), path,
                                       minimum=-math.inf)
            self.output_scale = 1.0 if scaling is None else scaling
        if activation not in (None, *ACTIVATIONS):
            raise ModelError(f"activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}")
        self.activation = activation or "auto"
        #: transformers' depth estimation (DPT, GLPN, Depth Anything): predicted_depth
        #: [N, H, W], metres or relative depth, written as it is
        self.depth = [o.name for o in session.get_outputs()] == [DEPTH_OUTPUT]
        if self.depth and self.activation == "auto" and self.model_type is None:
            self.activation = "none"
            log.info("%s: output %s is a depth estimation model's: its raw values, float32, no "
                     "activation (--activation overrides)", path.name, DEPTH_OUTPUT)
        #: a feature extractor's (SAM's image encoder, a backbone): its outputs, those chosen,
        #: are all named as features (:data:`FEATURE_OUTPUTS`): raw values, as depth's
        picked = [w.strip() for w in outputs.split(",") if w.strip()] if isinstance(
            outputs, str) else list(outputs or ())
        self.features = all(map(is_feature_output, picked or [
            o.name for o in session.get_outputs()])) and self.model_type is None and \
            self.activation in ("auto", "none")  # --activation softmax: class scores so named
        if self.features and self.activation == "auto" and self.model_type is None:
            self.activation = "none"
            log.info("%s: output(s) %s are a feature extractor's features/embeddings (named "
                     "so): their raw values, float32, no activation (--activation overrides)",
                     path.name, ", ".join(picked or [o.name for o in session.get_outputs()]))
        #: a TerraTorch pixel-wise regression's (its config.yaml): raw values, as depth's
        self.regression = None
        from geotile.esri_sidecars import esri_task

        esri_task(path)  # an Esri object detector's .emd: no per-pixel output
        if self.activation == "auto":  # an MLM item's post-processing: --activation or none
            from geotile.mlm_sidecars import mlm_post_processing

            mlm_post_processing(path)
        if self.activation == "auto" and self.model_type is None and not (
                self.depth or self.features):
            from geotile.mlm_sidecars import mlm_regression
            from geotile.terratorch_sidecars import terratorch_regression

            self.regression = terratorch_regression(path) or mlm_regression(path)
            if self.regression:
                self.activation = "none"
                log.info("%s: a regression (%s): its raw values, float32, no activation "
                         "(--activation overrides)", path.name, self.regression)
        #: raw model values, written as float32 and never clipped (no probabilities)
        self.raw_values = self.activation == "none" or self.model_type == "regressor"
        self._warned: set[str] = set()  # outputs whose metadata activation was overruled
        self.outputs = self._select_outputs(outputs, graph, opset)
        if graph is not None:
            self._warn_quantized_ceilings(graph)
        self._pair_queries(self.tile_size if self.fixed_size else (
            tile_size or self.tile_size or DEFAULT_TILE_SIZE))
        self._refuse_instance_model(
            [tuple(o.shape or ()) for o in session.get_outputs()], height)
        self._geometries: dict[int, Geometry] = {}
        self._chunk: int | None = None  # batch limit found by the probe (fixed output batch)
        if graph is not None and any(n.op_type == "DynamicQuantizeLinear" for n in graph.node):
            # quantize_dynamic's ranges span the whole batch: windows would share them
            self._chunk = 1
            log.info("%s: dynamically quantized (DynamicQuantizeLinear): one window a run, each "
                     "quantized on its own range", path.name)
        # a batch fixed at 1 (torch.onnx.export without dynamic_axes: every Reshape to [1,
        # ...]) runs one window a run anyway: nothing to say
        mixing = batch_reduction(graph, self.input_name, self.fixed_batch) if graph is not None \
            and self.fixed_batch != 1 else ""
        #: a batch fixed in a graph that mixes windows: each window is fed alone, repeated
        #: to fill it (its batch statistics its own), and one output taken
        self._replicate = bool(mixing) and bool(self.fixed_batch)
        #: a symbolic batch found fixed by the probe (:meth:`_hidden_batch`) -> what mixes
        #: windows then (a Reshape to that batch mixes none)
        self._mixing_at = {count: batch_reduction(graph, self.input_name, count)
                           for count in HIDDEN_BATCHES} if mixing and not self.fixed_batch \
            else {}
        # a Reshape to a batch the probe may find fixed (:meth:`_hidden_batch`): said after it
        unsaid = mixing and any(m != mixing for m in self._mixing_at.values())
        if mixing:  # x - x.mean(0), x.view(1, -1): windows would mix with their neighbours
            self._chunk = 1
            if unsaid:
                pass
            elif self._replicate:
                log.info("%s: its %s mixes the windows of a batch, fixed at %d: each window "
                         "runs alone, repeated %d times to fill it (%d x the work; export it "
                         "with a dynamic batch axis, or fix the layer, to batch windows)",
                         path.name, mixing, self.fixed_batch, self.fixed_batch,
                         self.fixed_batch)
            else:
                log.info("%s: its %s mixes the windows of a batch: one window a run",
                         path.name, mixing)
        self._probed_batch = 0
        self._upsample_cache: dict[tuple[int, int], np.ndarray] = {}
        self._other_sizes: dict[int, tuple | None] = {}
        #: (window size, output name) -> px cropped off each side of an output wider than
        #: the window (:meth:`_wider`)
        self._trims: dict[tuple[int, str], int] = {}
        self._run_options = None
        self._scale: float | None = None
        self._mean = self._std = None
        #: where the model is said to take the image's R,G,B as B,G,R (a Hugging Face
        #: processor's do_flip_channel_order, MMDeploy's or the metadata's to_rgb false),
        #: None when not: flipped in :meth:`_feed`
        self.flip_rgb: str | None = None
        self._flip_refusal = ""  # why other than 3 channels are refused, and the fix
        self._takes_0_255 = ""  # why uint8 pixels go in as they are (mean/std, the graph)
        self._pixels_0_255 = ""  # a file's word that its mean/std are of 0..255 pixels
        #: a file's word that unsigned pixels are divided by their type's maximum (Raster
        #: Vision's: uint16 / 65535), "" when not
        self._dtype_max = ""
        #: the file and key whose scale geotile takes for 8-bit pixels only (transformers'
        #: rescale_factor 1/255, mmcv's Normalize of 0..255 pixels), "" when none: named
        #: where other pixels go in unscaled
        self.scale_for_8_bit = ""
        self._mixed_said = False  # the warning of a mean and std on two scales given
        self._stats_wide = False  # mean/std above 255: for raw 12- or 16-bit pixels
        #: why the graph takes 0..255 pixels (it divides by 255, its mean/std are for them)
        self._scales_input = (graph_scales_input(graph, self.input_name)
                              if graph is not None else "")
        #: why 12- or 16-bit pixels go in as they are (the graph divides them by 10000)
        self._scales_wide = (graph_scales_input(graph, self.input_name, wide=True)
                             if graph is not None else "")
        #: the graph casts its float32 input to float16 first (Keras mixed_float16)
        self._casts_to_float16 = graph is not None and self.input_type != np.float16 and \
            graph_input_float16(graph, self.input_name)
        #: px of the patches a ViT/DINOv2 patch embedding cuts the input into (None: none)
        self._patch = (graph_input_patch(graph, self.input_name)
                       if graph is not None and self.dates is None else None)
        # a fixed-size model is probed at its size (predict refuses any other in one line)
        probe_size = self.tile_size if self.fixed_size else (
            tile_size or self.tile_size or DEFAULT_TILE_SIZE)
        if self._patch and not (self.fixed_size or tile_size or self.tile_size):
            # nobody chose the size: whole patches from the start (one probe, not two)
            probe_size = self.tile_size = max(self._patch, round(
                probe_size / self._patch) * self._patch)
        chosen = {o.name for o in self.outputs} | {o.class_queries for o in self.outputs}
        if any(n not in chosen and not _auxiliary_head(n, self.all_output_names)
               and n not in self._auxiliary_modules
               for n in self.all_output_names):  # those left out may tell
            try:
                every = session.run(None, self._feeds(self._zeros(
                    self.fixed_batch or 1, probe_size)))
            except Exception:  # ONNX Runtime raises several types; the probe explains
                every = []
            self._refuse_instance_model([np.shape(r) for r in every], probe_size)
        try:
            self.geometry(probe_size, batch_size)
        except ModelError as exc:
            suggested = getattr(exc, "suggested_size", None)
            if tile_size or self.tile_size or suggested is None:
                raise
            # nobody chose the size: take one that suits the network
            log.info("%s does not run on %d px tiles: using %d px", path.name, probe_size,
                     suggested)
            self.tile_size = suggested
            self.geometry(suggested, batch_size)
        if unsaid and not self.fixed_batch:
            log.info("%s: its %s mixes the windows of a batch: one window a run", path.name,
                     mixing)
        self._name_outputs()
        from geotile.smp_sidecars import smp_classes_warning

        smp_classes_warning(self.path, [o.channels for o in self.outputs])
        # GPU providers re-plan (cuDNN algorithm search, buffers) whenever the batch shape
        # changes, costing more than a padded batch: predict keeps one shape on them
        self.steady_batches = self.provider != PROVIDERS["cpu"]
        #: TensorRT builds an engine for each new input shape (minutes for a large network,
        #: and again whenever a shape falls outside the last one's range): every batch there
        #: has the size probed at load
        self.one_batch_shape = self.provider == PROVIDERS["tensorrt"]

    @property
    def writes_raw(self) -> bool:
        """Whether its values are no probabilities for any reader to threshold
        (GEOTILE_OUTPUT=raw): --activation none on outputs not all ending in a Sigmoid/Softmax
        of their own. A Deepness Regressor's values are read as probabilities, as before."""
        return self.activation == "none" and self.model_type != "regressor" and not all(
            o.final_kind and not o.not_probabilities for o in self.outputs)

    def _two_dates(self, first, graph) -> None:
        """Channels of each date's input (:mod:`geotile.model_inputs`): the model is fed
        both stacked (the image's, then --extra-bands'), split at :meth:`_feeds`."""
        from geotile.model_inputs import check_pair, input_channels

        second = self.second_input
        check_pair(first, second, self.layout, self.path)
        counts = [self.channels, input_channels(second, self.layout)]
        if counts[1] is None and graph is not None:
            counts[1] = graph_input_channels(graph, second.name)
        self.date_channels = (counts[0], counts[1])
        self.channels = counts[0] + counts[1] if None not in counts else None
        log.info("%s: a change detection model of two inputs: %s gets the image, %s the "
                 "--extra-bands raster", self.path.name, first.name, second.name)

    def take_dates(self, count: int, channels: int, source) -> None:
        """Feed a 5-D model ``count`` dates of ``channels`` each (the image's, then each
        --extra-bands raster's): :meth:`geotile.model_inputs.Dates.resolve`, then one
        date's --mean/--std repeated for every date."""
        self.dates.resolve(count, channels, source)
        size = next(iter(self._geometries), None)
        if size is not None:
            self.dates.check_runs(count, lambda: self._try(self.fixed_batch or 1, size)[1],
                                  source)
        self.date_channels = (channels,) * count
        self.channels = count * channels
        fed = getattr(self, "_one_date", None)  # (as repeated, as given) for the last image
        if fed is not None and fed[0] == (self._mean, self._std):
            self._mean, self._std = fed[1]
        given = (self._mean, self._std)
        for name in ("_mean", "_std"):
            values = getattr(self, name)
            if values is not None and len(values) == channels:
                setattr(self, name, tuple(values) * count)
            elif values is not None and len(values) not in (1, count * channels):
                raise ModelError(f"{self.path}: {name[1:]} has {len(values)} values for "
                                 f"{channels} channels per date; give one value or one per "
                                 f"channel (--{name[1:]}), applied to every date.")
            elif values is not None and len(values) == 1:
                setattr(self, name, tuple(values) * count * channels)
        self._one_date = ((self._mean, self._std), given)

    def dates_fed(self, image: int) -> None:
        """The image's ``image`` channels feed the first date's input: where a batch of
        stacked channels splits when neither input declares its channel count."""
        self._image_fed = image

    def _feeds(self, feed: np.ndarray) -> dict[str, np.ndarray]:
        """The session's inputs of a batch of stacked channels: one, or each date's."""
        if self.dates is not None:
            return {self.input_name: self.dates.split(feed)}
        if self.second_input is None:
            return {self.input_name: feed}
        axis = 1 if self.layout == "NCHW" else 3
        first, second = self.date_channels
        at = first if first is not None else (
            feed.shape[axis] - second if second is not None
            else getattr(self, "_image_fed", None) or feed.shape[axis] // 2)
        before, after = np.split(feed, [at], axis=axis)
        return {self.input_name: np.ascontiguousarray(before),
                self.second_input.name: np.ascontiguousarray(after)}

    # --- metadata read when asked: an option that replaces a bad value makes it unread ----
    @functools.cached_property
    def tile_size(self) -> int | None:
        """Its fixed input size, else its metadata's tile size (px), else its MLM item's
        fixed height/width (mlm:input input shape), else its Esri .emd's ImageHeight, else
        None."""
        size = metadata_number(self.metadata, ("tile_size", "tiles_size"), self.path,
                               integer=True, minimum=1, option="--tile-size")
        structure = getattr(self, "mlm_structure", None)
        if size is None and structure is not None and structure.size is not None:
            from geotile.streaming import MIN_TILE_SIZE

            if structure.size < MIN_TILE_SIZE:  # the spec's example: 3x3, a placeholder
                log.warning("%s: %s shape says %dx%d windows, smaller than any predict feeds "
                            "(%d px): default windows used (give --tile-size to choose)",
                            self.path.name, structure.where, structure.size, structure.size,
                            MIN_TILE_SIZE)
                return None
            log.info("%s: %d px windows, as %s shape says", self.path.name, structure.size,
                     structure.where)
            return structure.size
        if size is None:
            from geotile.esri_sidecars import esri_tile_size

            size = esri_tile_size(self.path)
        return size

    @functools.cached_property
    def overlap_fraction(self) -> float | None:
        """Its metadata's tiles_overlap (a percentage) as a fraction, else None."""
        overlap = metadata_number(self.metadata, ("tiles_overlap",), self.path,
                                   option="--overlap")
        if overlap is not None and overlap >= 100:
            raise ModelError(f"{self.path}: metadata tiles_overlap={overlap:g} is not a "
                             "percentage below 100. Fix the model's metadata or give --overlap.")
        return overlap / 100 if overlap is not None else None

    @functools.cached_property
    def threshold(self) -> float | None:
        """Its metadata's seg_thresh, else None (Deepness: 0 is no threshold)."""
        threshold = metadata_number(self.metadata, ("seg_thresh",), self.path,
                                     option="--threshold")
        return threshold if threshold else None

    @functools.cached_property
    def resolution(self) -> float | None:
        """Its metadata's resolution (cm/px) in metres per pixel, else None."""
        resolution = metadata_number(self.metadata, ("resolution",), self.path,
                                      option="--model-resolution")
        return resolution / 100 if resolution else None

    @classmethod
    def from_path(cls, path, *, providers: str = "auto", fp16: bool = False,
                  mean=None, std=None, scale=None, activation: str | None = None,
                  threads: int | None = None, outputs=None, tile_size: int | None = None,
                  batch_size: int = 1) -> OnnxModel:
        """Load ``path`` on the best (or the requested) execution provider, and probe it once
        at ``tile_size`` (else its own or 512 px) and ``batch_size``."""
        import onnxruntime as ort

        path = local_model_path(path)
        from geotile.model_formats import not_onnx

        other = not_onnx(path)  # a checkpoint, SavedModel...: its export, before reading it
        if other:
            raise ModelError(other)
        if path.is_dir():
            raise ModelError(f"{path} is a folder, not an ONNX model: give the .onnx file "
                             "(a TensorFlow SavedModel: convert it with tf2onnx).")
        if not path.is_file():
            raise ModelError(f"{path}: no such model file. Check the path.")
        from geotile.onnx_graph import default_opset, external_locations

        try:  # read once: a model copied over meanwhile cannot give half its parts
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot be read ({exc.strerror or exc}). Check its "
                             "permissions, or copy it again.") from exc
        if data[:2] == b"PK":  # a zip: an Esri .dlpk's ONNX model, or Raster Vision's bundle's
            from geotile.esri_sidecars import dlpk_onnx, is_dlpk
            from geotile.rastervision_sidecars import bundle_onnx

            data = dlpk_onnx(path) if is_dlpk(path) else bundle_onnx(path)
        onnx_model = load_model(path, data)
        graph = onnx_model.graph if onnx_model is not None else None
        from geotile.legacy_resize import asymmetric_upsampling

        shifted = asymmetric_upsampling(onnx_model)
        if shifted:
            log.warning("%s: %s", path, shifted)
        chain = choose_providers(providers)
        # external weights are found beside the path only; they are checked by load_model
        load: str | bytes = data if graph is None or not external_locations(graph) \
            else str(path)
        if fp16:
            quantized = quantized_op(graph)
            if chain[0] == PROVIDERS["cpu"]:
                log.warning("--fp16 ignored: the CPU provider runs fp16 models slower, not faster")
            elif quantized:
                log.warning("--fp16 ignored: %s is quantized (%s), which a float16 copy would "
                            "break; it runs as it is", path.name, quantized)
            elif half := float16_part(graph):
                log.warning("--fp16 ignored: %s is float16 already (%s; ops left float32, "
                            "as auto_mixed_precision leaves those float16 cannot hold, stay "
                            "so); it runs as it is", path.name, half)
            elif layout := cpu_layout_op(graph):
                log.warning("--fp16 ignored: %s holds ONNX Runtime's CPU layout ops (%s: "
                            "saved optimised at ORT_ENABLE_ALL), which a float16 copy would "
                            "break; it runs as it is (save it at ORT_ENABLE_EXTENDED, or give "
                            "the export)", path.name, layout)
            else:
                load = str(float16_copy(path, data))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.intra_op_num_threads = threads or _session_threads()
        if chain[0] == PROVIDERS["cpu"]:
            # the pool's threads stop spinning when a run ends: between runs they took a
            # core from predict's reading and blending (tiny convnet 3 % faster, U-Net even)
            options.add_session_config_entry("session.force_spinning_stop", "1")
        key = content_key(data, external_data_files(path, graph)) \
            if PROVIDERS["tensorrt"] in chain else None
        try:
            with quiet_stderr() if chain[0] != PROVIDERS["cpu"] else contextlib.nullcontext():
                session = ort.InferenceSession(load, options,
                                               providers=provider_options(chain, fp16, key))
        except Exception as exc:
            raise ModelError(explain_load_error(path, exc, data)) from exc
        model = cls(session, path, activation, outputs=outputs, tile_size=tile_size,
                    batch_size=batch_size, graph=graph, opset=default_opset(onnx_model))
        # its external weights (model.onnx.data): replaced alone, they change its outputs
        for n, weights in enumerate(external_data_files(path, graph)):
            model.sidecars[f"weights{n}"] = weights
        model.find_channel_flip()
        model.set_normalization(mean, std, scale)
        model.read_raster_input(scale, replaced=mean is not None and std is not None)
        model.fp16 = bool(fp16) and chain[0] != PROVIDERS["cpu"]
        return model

    def read_raster_input(self, scale=None, replaced: bool = False) -> None:
        """What Raster Vision's scenes in the bundle say of its input: the bands it was fed
        (channel_order) and the raster transformers that made its pixels, reproduced before
        the normalisation. One it cannot reproduce (MinMaxTransformer: per chip) is refused
        unless ``scale`` (--scale) says what the pixels are, then warned of and none is run.
        An MLM item's bands and clips (:func:`~geotile.mlm_sidecars.mlm_input`): its clips
        are left out with --scale or --mean and --std (``replaced``)."""
        from geotile.esri_sidecars import esri_bands
        from geotile.mlm_sidecars import mlm_input, mlm_item
        from geotile.rastervision_sidecars import rv_raster_input
        from geotile.terratorch_sidecars import terratorch_bands

        item = mlm_item(self.path)[0]
        if item is not None:
            self.sidecars["mlm"] = item  # read for its tasks and input, whatever it gives
        found = self.raster_input = mlm_input(self.path, self.channels) or rv_raster_input(
            self.path) or terratorch_bands(self.path) or esri_bands(self.path)
        if found is None:
            return
        if found.file == item:
            if found.steps and (scale is not None or replaced):
                log.info("%s: %s clips left out: the options give the scaling", self.path.name,
                         found.where)
                found.steps = []
            elif found.steps:
                log.info("%s: pixels are clipped as %s value_scaling says, before its "
                         "mean/std", self.path.name, found.where)
            return
        self.sidecars["bands"] = found.file
        if found.unsupported and scale is None:
            raise ModelError(
                f"{found.file}: its scenes' raster source has {', '.join(found.unsupported)}, "
                f"which geotile cannot reproduce ({found.why}); give --scale (and --mean/"
                "--std) for the pixels to feed it" + (", or retrain with a StatsTransformer."
                                                      if "MinMaxTransformer" in found.unsupported
                                                      else "."))
        if found.unsupported:
            log.warning("%s: its raster source's %s are not reproduced (--scale given): the "
                        "outputs may differ from Raster Vision's", self.path.name,
                        ", ".join(found.unsupported + [s.name for s in found.steps]))
            found.steps = []
        if isinstance(found.stats_file, Path):
            self.sidecars["stats"] = found.stats_file
        if found.steps:
            log.info("%s: pixels go through %s of %s first, as Raster Vision's raster source "
                     "does", self.path.name, ", ".join(
                         getattr(s, "where", s.name).replace(found.where, s.name)
                         for s in found.steps), found.where)

    def image_bands(self, indexes, source, added: int = 0) -> None:
        """Fit Raster Vision's raster transformers to the image's bands ``indexes`` fed, then
        ``added`` channels of --extra-bands (its StatsTransformer's stats); ModelError
        naming ``source`` when they do not fit."""
        if self.raster_input is not None:
            self.raster_input.bind(indexes, source, added)

    def transform_pixels(self, pixels: np.ndarray, start: int = 0) -> np.ndarray:
        """(N, C, H, W) raster pixels of the channels fed from ``start`` on (--extra-bands'
        after the image's) through Raster Vision's raster transformers, if any."""
        if self.raster_input is None or not self.raster_input.steps:
            return pixels
        return self.raster_input(pixels, start)

    def _read_dtype(self, dtype):
        """The dtype pixels read as ``dtype`` reach the normalisation with."""
        if self.raster_input is None or not self.raster_input.steps:
            return np.dtype(dtype)
        return self.raster_input.out_dtype(dtype)

    @property
    def bundle_bands(self) -> list[int] | None:
        """The bands (1-based) Raster Vision's bundle feeds the model, else None."""
        return self.raster_input.bands if self.raster_input is not None else None

    # --- outputs ---------------------------------------------------------------------------
    def _warn_quantized_ceilings(self, graph) -> None:
        """Warn of an output whose final Sigmoid/Softmax is quantised with no codes for the
        probabilities above a ceiling (quantize_static calibrated without them)."""
        ceilings = graph_quantized_ceilings(graph)
        for output in self.outputs:
            high, told = ceilings.get(output.name, (math.inf, ""))
            if output.final_kind in ("sigmoid", "softmax") and high < QUANTIZED_CEILING:
                log.warning("%s: output %s: its final %s is quantised by %s, whose codes end "
                            "at %.3g: higher probabilities come out %.3g (calibrated on data "
                            "that never reached them). Quantize it again with calibration "
                            "windows holding every class, or keep that op in float "
                            "(nodes_to_exclude).", self.path.name, output.name,
                            output.final_kind.capitalize(), told, high, high)

    def _select_outputs(self, wanted, graph, opset=None) -> list[ModelOutput]:
        all_outputs = self.session.get_outputs()
        ends = graph_ends(graph, opset) if graph is not None else {}
        ids = graph_class_ids(graph) if graph is not None else {}
        codes = graph_quantized_outputs(graph) if graph is not None else {}
        #: outputs a Reshape makes: a map flattened to its pixels, if [N, h*w, K]
        self._flattened = graph_flattened_outputs(graph) if graph is not None else set()
        #: outputs of an auxiliary head's module, as a dynamo export's node metadata says
        self._auxiliary_modules = graph_auxiliary_outputs(graph) if graph is not None else set()
        outputs = []
        for i, o in enumerate(all_outputs):
            end = ends.get(o.name, GraphEnd())
            outputs.append(ModelOutput(o.name, i, ends_in_activation=bool(end.kind),
                                       final_kind=end.kind, not_probabilities=end.problem(),
                                       class_ids=ids.get(o.name, False),
                                       overshoots=end.overshoots and end.probabilities,
                                       softmax_axis=end.axis if end.kind == "softmax"
                                       else None, sliced=end.sliced,
                                       quantized=codes.get(o.name, "")))
        self.all_output_names = [o.name for o in outputs]
        if not wanted:
            # an output whose classes the metadata names (Deepness: one dict per output) is
            # the model's own, whatever its name
            named = next((len(v) for v in (metadata_value(self.metadata, k)
                                            for k in ("class_names", "names"))
                          if isinstance(v, list) and v and all(isinstance(d, dict) for d in v)),
                         0)
            auxiliary = [o for o in outputs if (_auxiliary_head(o.name, self.all_output_names)
                                                or o.name in self._auxiliary_modules)
                         and o.index >= named]
            if auxiliary and len(auxiliary) < len(outputs):
                # an auxiliary head (torchvision's aux, UperNet's auxiliary_logits) is trained
                # only, as the reference scripts and transformers' post-processing predict
                kept = [o for o in outputs if o not in auxiliary]
                log.info("%s: output(s) %s of an auxiliary head left out: writing %s "
                         "(--outputs %s for all)", self.path.name,
                         ", ".join(o.name for o in auxiliary), ", ".join(o.name for o in kept),
                         ",".join(self.all_output_names))
                return kept
            return outputs
        if isinstance(wanted, str):
            wanted = [w.strip() for w in wanted.split(",") if w.strip()]
        by_name = {o.name: o for o in outputs}
        if not wanted:
            raise ModelError(f"{self.path}: --outputs names no output; the model's outputs are "
                             f"{', '.join(by_name)} (or leave --outputs out for all).")
        twice = next((name for name in wanted if wanted.count(name) > 1), None)
        if twice is not None:
            raise ModelError(f"{self.path}: --outputs names {twice!r} twice; name each output "
                             "once.")
        chosen = []
        for name in wanted:
            if name not in by_name:
                raise ModelError(f"{self.path}: no output named {name!r}; the model's outputs "
                                 f"are {', '.join(by_name)} (--outputs).")
            chosen.append(by_name[name])
        return chosen

    def _pair_queries(self, size: int) -> None:
        """Combine a mask classification model's class and mask queries (MaskFormer,
        Mask2Former, OneFormer: :mod:`geotile.mask_classification`) into one output of class
        scores, when the mask queries are among those chosen: told by transformers' names or
        the declared shapes, else by the shapes of one run at ``size`` px."""
        from geotile.mask_classification import mask_class_pair

        names = self.all_output_names
        # integer outputs are class ids (PaddleRS' label map beside its score map), never
        # class query logits; nor is a map of the window [N, size, size]
        outputs = self.session.get_outputs()
        floats = ["float" in str(o.type) for o in outputs]
        declared = [list(o.shape) if o.shape and is_float else None
                    for o, is_float in zip(outputs, floats, strict=True)]
        pair = mask_class_pair(names, declared)
        if pair is None and len(names) > 1 and any(
                is_float and (d is None or len(d) == 3) for d, is_float in zip(
                    declared, floats, strict=True)):
            try:
                every = self.session.run(None, self._feeds(self._zeros(
                    self.fixed_batch or 1, size)))
            except Exception:  # ONNX Runtime raises several types; the probe explains
                every = []
            if every:
                pair = mask_class_pair(names, [
                    None if not np.issubdtype(np.asarray(r).dtype, np.floating)
                    or np.shape(r)[1:] == (size, size) else list(np.shape(r)) for r in every])
        if pair is None:
            return
        classes, masks = names[pair[0]], names[pair[1]]
        mask = next((o for o in self.outputs if o.name == masks), None)
        if mask is None:  # the class queries alone are refused as no per-pixel map
            return
        self.outputs = [o for o in self.outputs if o.name != classes]
        mask.class_queries, mask.final_kind, mask.ends_in_activation = classes, "final", True
        log.info("%s: outputs %s and %s are a mask classification model's class and mask "
                 "queries (MaskFormer, Mask2Former, OneFormer): combined per window into class "
                 "scores, as transformers' post-processing does", self.path.name, classes, masks)

    def _declared_names(self):
        """The class names its metadata declares: geotile's (Deepness') ``class_names`` or
        ``names``, else mmseg's ``classes``, other exporters' ``labels`` or HuggingFace's
        ``id2label``/``label2id`` where they agree, else Hugging Face's config.json beside
        the model (:func:`~geotile.hf_sidecars.hf_class_names`); a value that is no list of
        names is warned about and left out. Returns (names, where they come from)."""
        found = {}
        for key in CLASS_NAME_KEYS:
            value = metadata_value(self.metadata, key)
            text = str(self.metadata.get(key, "")).strip()
            if not text or isinstance(value, int | float):  # a count is no names
                continue
            lists = value if isinstance(value, list) and value and all(
                isinstance(v, dict) for v in value) else [value]
            if (isinstance(value, str) and text[:1] in "[{(") or any(
                    name_list(v) is None for v in lists):
                log.warning("%s: its metadata %s=%.60r is not a list of class names (a JSON "
                            "list, or names separated by commas); it is not read",
                            self.path.name, key, self.metadata[key])
                continue
            if key in ("class_names", "names"):
                return value, f"its metadata {key}"
            found[key] = value
        if not found:
            return self._sidecar_names()
        key = next(iter(found))
        if len({json.dumps(name_list(v)) for v in found.values()}) > 1:
            log.warning("%s: its metadata %s give different class names; the bands are "
                        "named by number", self.path.name, " and ".join(found))
            return None, None
        return found[key], f"its metadata {key}"

    def _sidecar_names(self):
        """Class names from the files the model's exporter wrote beside it (Hugging Face's,
        MMDeploy's, Paddle's: :func:`~geotile.exporter_sidecars.sidecar_class_names`), said
        with -v."""
        from geotile.exporter_sidecars import sidecar_class_names

        single = [o.channels for o in self.outputs] if len(self.outputs) == 1 else [None]
        value, where, file = sidecar_class_names(self.path, single[0])
        if value is None:
            return None, None
        if name_list(value) is None:
            log.warning("%s: its %s=%.60r is not a list of class names; it is not read",
                        self.path.name, where, json.dumps(value))
            return None, None
        log.info("%s: class names from %s%s", self.path.name, where,
                 "" if os.sep in where.split(" ")[0] or file == self.path else " beside it")
        self.sidecars["names"] = file
        return value, f"its {where}"

    def _name_outputs(self) -> None:
        names, key = self._declared_names()
        per_output: list[list[str] | None]
        if isinstance(names, list) and names and all(isinstance(n, dict) for n in names):
            lists = [name_list(n) for n in names]  # Deepness: one dict per output
            per_output = [lists[o.index] if o.index < len(lists) else None
                          for o in self.outputs]
        else:
            flat = name_list(names)
            queries = {o.class_queries for o in self.outputs if o.class_queries}
            single = len(self.all_output_names) - len(queries) == 1
            per_output = [flat if single else None for _ in self.outputs]
            if flat and not single and len(flat) == len(self.all_output_names) and all(
                    o.channels == 1 for o in self.outputs):
                per_output = [[flat[o.index]] for o in self.outputs]  # one name per output
            elif flat and not single:  # the one (chosen) output with as many channels
                fits = [i for i, o in enumerate(self.outputs) if o.channels == len(flat)]
                if len(fits) == 1:
                    per_output[fits[0]] = flat
                else:
                    log.warning("%s: %s gives %d class names (%s) for outputs "
                                "%s; the bands are named by output", self.path.name, key,
                                len(flat),
                                ", ".join(flat), ", ".join(
                                    f"{o.name!r} ({o.channels} band(s))" for o in self.outputs))
        several = len(self.all_output_names) - len(
            {o.class_queries for o in self.outputs if o.class_queries}) > 1
        for output, listed in zip(self.outputs, per_output, strict=True):
            if self.features:  # no classes to name: bands <output>_k
                listed = None
            if listed and len(listed) == output.channels:
                output.names = listed
            elif listed and output.channels == 1 and len(listed) == 2:
                output.names = _binary_name(listed, self.path.name, key)
            else:
                if listed:
                    log.warning("%s: %s gives %d class names (%s) for %d "
                                "band(s) of output %r; the bands are named by number",
                                self.path.name, key, len(listed), ", ".join(listed),
                                output.channels, output.name)
                output.names = ([output.name] if output.channels == 1 else [
                    f"{output.name}_{k + 1}" for k in range(output.channels)]) if several \
                    or self.depth or self.regression or self.features else [
                        f"class_{k + 1}" for k in range(output.channels)]
        self.class_names = [n for o in self.outputs for n in o.names]
        self.num_classes = len(self.class_names)

    def _activation_for(self, output: ModelOutput) -> str:
        if output.class_queries:  # scores combined from the queries' probabilities
            if self.activation in ("sigmoid", "softmax"):
                raise ModelError(
                    f"{self.path}: outputs {output.class_queries!r} and {output.name!r} are "
                    "class and mask queries, combined into class scores 0..1 as transformers "
                    f"does; --activation {self.activation} would apply another on top. Leave "
                    "out --activation.")
            return "none"
        if self.activation != "auto":
            if self.activation != "none" and output.final_kind in ("sigmoid", "softmax"):
                raise ModelError(
                    f"{self.path}: output {output.name!r} ends in "
                    f"{output.final_kind.capitalize()}: its values are probabilities already, "
                    f"and --activation {self.activation} would apply a second one "
                    f"({_squeezed(self.activation, output.channels)}). Leave out --activation.")
            return self.activation
        if self.model_type in DEEPNESS_MODEL_TYPES:  # final values; Deepness adds no activation
            return "none"
        declared = str(self.metadata.get("activation", "")).lower()
        if declared == "none" or (declared in ("sigmoid", "softmax")
                                  and not output.ends_in_activation):
            return declared
        if declared in ("sigmoid", "softmax") and declared != output.final_kind \
                and output.name not in self._warned:  # never applied on top of the graph's
            self._warned.add(output.name)
            ends = output.final_kind.capitalize() if output.final_kind != "final" \
                else "final values"
            log.warning("%s: its metadata says activation=%s but output %r ends in %s: the "
                        "graph's values are taken as they are (--activation overrides)",
                        self.path.name, declared, output.name, ends)
        if output.not_probabilities:
            raise ModelError(f"{self.path}: output {output.name!r} is neither probabilities "
                             f"0..1 nor logits: {output.not_probabilities}")
        if output.ends_in_activation:
            return "none"
        return "sigmoid" if output.channels == 1 else "softmax"

    # --- probing ---------------------------------------------------------------------------
    def _session_run(self, feed: np.ndarray) -> list[np.ndarray]:
        import onnxruntime as ort

        if self._run_options is None:
            self._run_options = ort.RunOptions()
            self._run_options.log_severity_level = 4  # errors come back as one line
        names = [o.name for o in self.outputs]
        queries = [o.class_queries for o in self.outputs if o.class_queries]
        results = self.session.run(names + queries, self._feeds(feed), self._run_options)
        results[:len(names)] = [_unflattened(o, r) for o, r in zip(self.outputs, results,
                                                                  strict=False)]
        if not queries:
            return results
        from geotile.mask_classification import semantic_scores

        found = dict(zip(queries, results[len(names):], strict=True))
        return [semantic_scores(np.asarray(found[o.class_queries]), np.asarray(r))
                if o.class_queries else r for o, r in zip(self.outputs, results, strict=False)]

    def _zeros(self, batch: int, size: int) -> np.ndarray:
        channels = self.channels or (sum(c or 3 for c in self.date_channels)
                                     if self.date_channels else 3)
        if self.dates is not None:
            channels = int(np.prod(self.dates.probe()))
        shape = (batch, channels, size, size) if self.layout == "NCHW" else (
            batch, size, size, channels)
        return np.zeros(shape, self.input_type)

    def _try(self, batch: int, size: int):
        try:
            return self._session_run(self._zeros(batch, size)), None
        except Exception as exc:  # ONNX Runtime raises several types
            return None, exc

    def geometry(self, size: int, batch_size: int = 1) -> Geometry:
        """Probe the model once at ``size`` px (cached): where its output lies in the window.
        ModelError, one line with the fix, when ONNX Runtime cannot run it so."""
        # GPU providers (TensorRT above all) re-plan for larger shapes: probe those at the
        # batch size that will run; the CPU needs only 2 to find a batch of 1 baked in
        wanted = max(batch_size, 1)
        batch = self.fixed_batch or (wanted if self.provider != PROVIDERS["cpu"] else min(
            wanted, 1 if self._batch_declared else 2))
        if not self.fixed_batch:  # the probe's batch within the budget (then cached)
            batch = max(1, min(batch, self.windows_in_budget(size)))
        if size in self._geometries and (self._chunk or batch <= self._probed_batch):
            return self._geometries[size]
        self._refuse_huge_output(size)
        results, error = self._try(batch, size)
        if error is not None and self._layout_guessed:  # the other layout may be the one
            guessed, self.layout = self.layout, "NHWC" if self.layout == "NCHW" else "NCHW"
            results, other_error = self._try(batch, size)
            if other_error is None:
                log.info("%s: input read as %s (every dimension symbolic)", self.path.name,
                         self.layout)
                self._layout_guessed, error = False, None
            else:
                self.layout = guessed
        if batch > 1 and not self.fixed_batch and (
                error is not None or any(r.shape[:1] != (batch,) for r in results)):
            single, single_error = self._try(1, size)  # a batch of 1 baked into the graph
            if single_error is None:
                results, error, batch, self._chunk = single, None, 1, 1
        if error is not None and not self.fixed_batch and self.dates is None:
            results, error, batch = self._hidden_batch(size, batch, error)
        if error is not None and self.dates is not None and self.dates.symbolic_count():
            results, error = self._probe_counts(batch, size, error)
        elif error is None and self.dates is not None and self.dates.symbolic_count():
            self.dates.runs_on = self.dates.probe()[0]  # other counts are tried when given
        if error is not None:
            raise self._explain_run_error(size, error)
        self._refuse_part_patches(size)  # after the errors of a size it cannot run at all
        if any(np.ndim(r) == 3 for r in results):  # detections, before any is read as a map
            self._refuse_instance_model([np.shape(r) for r in results], size)
        geometries, refused = [], []
        for index, (output, result) in enumerate(zip(self.outputs, results, strict=True)):
            try:
                geometries.append(self._read_output(output, result, size, batch, index))
            except ModelError as exc:
                refused.append((output, result, exc))
            else:
                result = _unflattened(output, result)
                _check_softmax_axis(output, result.shape)
                _check_softmax_sums(output, result)
        if refused:
            self._refuse_instance_model([r.shape for r in results], size)
            raise self._other_outputs(refused)
        first = geometries[0]
        if any(g != first for g in geometries[1:]):
            raise ModelError(f"{self.path}: its outputs cover different parts of a {size} px "
                             f"window; choose outputs of one size with --outputs.")
        for output in self.outputs:
            output.activation = self._activation_for(output)
            if output.activation == "softmax" and output.channels == 1:
                raise ModelError(f"{self.path}: output {output.name!r} has one channel; a "
                                 "softmax over one channel is 1 everywhere. Use --activation "
                                 "sigmoid (or none).")
        if self._patch and first == Geometry(size, size):  # its patches upsampled in the graph
            first = Geometry(size, size, 0, self._patch // 2, self._patch)
        self._geometries[size] = first
        self._probed_batch = max(self._probed_batch, batch)
        return first

    def _refuse_part_patches(self, size: int) -> None:
        """ModelError (``suggested_size``: the nearest whole patches) for ``size`` px windows
        a dynamic-size model's patch embedding cannot cut into whole patches: it would drop
        the last pixels and stretch its tokens over the window."""
        patch = self._patch
        if self.fixed_size or not patch or size % patch == 0:
            return
        target = max(patch, round(size / patch) * patch)
        exc = ModelError(f"{self.path}: its input is cut into {patch} px patches (a Conv of "
                         f"kernel and stride {patch}: a ViT/DINOv2 patch embedding), so its "
                         f"windows must be multiples of {patch} px: try --tile-size {target}.")
        exc.suggested_size = target
        raise exc

    def declared_output_channels(self) -> int | None:
        """The channels of the chosen outputs together: as probed, else as the graph declares
        them (None when one is symbolic). A declared [N, H, W, K] beside an NCHW input (as
        tf2onnx --inputs-as-nchw leaves it) has them last: the axis beside no equal one."""
        if self._geometries:
            return sum(output.channels for output in self.outputs)
        total = 0
        for output in self.outputs:
            shape = list(self.session.get_outputs()[output.index].shape or [])
            axis = 1 if self.layout == "NCHW" else 3
            if len(shape) == 4 and shape[1] == shape[2] != shape[3]:
                axis = 3
            elif len(shape) == 4 and shape[2] == shape[3] != shape[1]:
                axis = 1
            flat = _flat_axis(shape) if len(shape) == 3 and all(
                isinstance(d, int) for d in shape[1:]) else None
            channels = shape[3 - flat] if flat else 1 if len(shape) == 3 else \
                shape[axis] if len(shape) == 4 else None
            if not isinstance(channels, int) or channels < 1:
                return None
            total += channels
        return total

    def _window_bytes_per_pixel(self) -> int:
        """float32 bytes a window holds per pixel: its input and output channels."""
        return 4 * ((self.declared_output_channels() or 1) + (self.channels or 3))

    def windows_in_budget(self, size: int) -> int:
        """How many ``size`` px windows (input and output) fit MAX_WINDOW_OUTPUT_BYTES (at
        least 1)."""
        return max(1, MAX_WINDOW_OUTPUT_BYTES // (self._window_bytes_per_pixel() * size * size))

    def _refuse_huge_output(self, size: int) -> None:
        """ModelError when one ``size`` px window's input and output exceed
        :func:`window_memory_limit` (half the memory this process may use)."""
        channels = self.declared_output_channels() or 1
        need = self._window_bytes_per_pixel() * size * size
        limit = window_memory_limit()
        if need <= limit:
            return
        head = (f"{self.path.name}: its {self.channels or 3} input and {channels} output "
                f"channels take {need / 1e9:.1f} GB (float32) for one {size} px window")
        fit = int(math.sqrt(limit / self._window_bytes_per_pixel())) // 32 * 32
        most = f"more than half of the {2 * limit / 1e9:.1f} GB this process may use"
        if self.fixed_size or fit < 32:
            raise ModelError(f"{head}, {most}; export it with fewer classes or a smaller "
                             "input size.")
        raise ModelError(f"{head}, {most}: give --tile-size {fit} or smaller.")

    def _refuse_instance_model(self, shapes: list, size: int | None) -> None:
        """ModelError for an instance-segmentation export (Ultralytics' YOLO-seg: its
        metadata, or the outputs' ``shapes`` at ``size`` px, see :func:`_instance_heads`):
        its prototypes are a per-pixel map, but of basis masks, not of class scores."""
        if any(o.class_queries for o in self.outputs):  # queries of classes, not boxes
            return
        heads = (_instance_heads(shapes, size) if size else None) \
            or _detection_masks(self.all_output_names, shapes)
        ultralytics = any("ultralytics" in str(self.metadata.get(key, "")).lower()
                          for key in ("author", "description"))
        task = str(self.metadata.get("task", "")).strip().lower()
        if heads is None and not (ultralytics and task == "segment"):
            return
        raise ModelError(f"{self.path}: an instance segmentation model ("
                         f"{heads or 'Ultralytics YOLO, task segment'}): boxes, mask "
                         "coefficients and prototypes that make instances only together, not "
                         "per-pixel class scores; geotile predicts semantic segmentation. Run it "
                         "with its own tools (yolo predict, MMDeploy's SDK, detectron2), or "
                         "export a semantic segmentation model.")

    def _other_outputs(self, refused: list) -> ModelError:
        """The refusal of the first unusable output, or, when others are usable, one naming
        them for --outputs: (output, its result, its ModelError) for each unusable one."""
        output, result, exc = refused[0]
        usable = [o.name for o in self.outputs if all(o is not r[0] for r in refused)]
        if not usable:
            return exc
        kind = ("class ids, which cannot be blended across windows" if output.class_ids
                else "integer values, which cannot be blended across windows"
                if not np.issubdtype(result.dtype, np.floating)
                else "one value per image (a classifier head)" if result.ndim == 2
                else "not a per-pixel map of the window")
        import shlex

        these = f"output {usable[0]}" if len(usable) == 1 else f"outputs {', '.join(usable)}"
        return ModelError(f"{self.path}: output {output.name!r} ({list(result.shape)}, "
                          f"{result.dtype}) holds {kind}; its {these} can be predicted: give "
                          f"--outputs {shlex.quote(','.join(usable))}.")

    def _read_output(self, output: ModelOutput, result: np.ndarray, size: int,
                     batch: int, index: int = 0) -> Geometry:
        shape = tuple(result.shape)
        what = f"{self.path}: output {output.name!r} has shape {list(shape)} for a " \
               f"{size} px window"
        integer = not np.issubdtype(result.dtype, np.floating)
        if integer and output.quantized:  # codes of an int8 model's last op, not scores
            raise ModelError(f"{what} of type {result.dtype}: the codes of its "
                             f"{output.quantized}, not scores. Add a DequantizeLinear of "
                             "that scale and zero point after it (onnxruntime.quantization "
                             "keeps one before each output), or give the float model.")
        if integer and not output.class_ids:  # quantised scores (p x 255 cast to uint8)...
            raise ModelError(f"{what} of type {result.dtype}: integer outputs are not read (they "
                             "cannot be blended across windows). Export the model's float "
                             f"scores (without the final Cast to {result.dtype}).")
        if output.class_ids:
            made = (f"of type {result.dtype}, made by ArgMax or a comparison" if integer
                    else "made by ArgMax or a comparison (cast to float)")
            from geotile.mmdeploy_sidecars import is_mmdeploy_export
            from geotile.paddle_sidecars import is_paddle_export

            how = (" (MMDeploy: export again with with_argmax=False in the deploy config's "
                   "codebase_config)" if is_mmdeploy_export(self.path) else
                   " (PaddleSeg: export again with tools/export.py --output_op softmax, or "
                   "none, and convert it with paddle2onnx again)"
                   if is_paddle_export(self.path) else "")
            raise ModelError(f"{what} {made}: class ids or masks cannot be blended across "
                             "windows. Export the model's scores (before ArgMax or "
                             f"thresholding){how}.")
        if result.ndim == 2 and shape == (size, size):
            raise ModelError(f"{what}: the export dropped its batch and channel axes "
                             "(squeeze()); geotile needs [N,K,H,W], [N,H,W,K] or [N,H,W]. "
                             "Export it without the squeeze.")
        if result.ndim == 2:
            raise ModelError(f"{what}: it is a classifier (N, K), not a segmentation model; "
                             "geotile predicts per-pixel outputs.")
        if result.ndim == 5 and getattr(self, "dates", None) is not None:
            raise ModelError(
                f"{what}, 5-D: a map per date (the dates' axis of input {self.input_name} "
                "kept); geotile writes one map of all the dates. Re-export it with the dates "
                "reduced (a mean over T, or the last date's: out[:, :, -1] of [N,K,T,H,W]).")
        if result.ndim not in (3, 4) or shape[0] != batch:
            raise ModelError(f"{what}; geotile needs [N,K,H,W], [N,H,W,K] or [N,H,W].")
        if result.ndim == 3:
            candidates = [(None, shape[1:3], 1)]
        else:
            nchw = (1, shape[2:4], shape[1])
            nhwc = (3, shape[1:3], shape[3])
            candidates = [nchw, nhwc] if self.layout == "NCHW" else [nhwc, nchw]
            if shape[1] == shape[3]:  # as many channels as pixels: which axis holds them?
                axis = self._channel_axis(index, size, shape)
                if axis is None and output.softmax_axis is not None:  # the classes' softmax
                    axis = output.softmax_axis % 4
                candidates = {1: [nchw], 3: [nhwc]}.get(axis, candidates)
        for axis, (h, w), channels in candidates:
            geometry = _geometry(size, h, w)
            if geometry is not None and h == 1 < size:  # GlobalAveragePool: one value a window
                self._refuse_one_cell(size, index, 2 if axis == 1 else 1, what)
            if geometry is not None:
                output.channel_axis, output.channels = axis, int(channels)
                if h == size:
                    return geometry
                return self._placement(size, h, geometry, index, 2 if axis == 1 else 1, what)
        wider = self._wider(output, shape, size, index, candidates, what)
        if wider is not None:
            return wider
        if result.ndim == 3 and output.flat_axis is None and not self._patch \
                and output.name in self._flattened:
            flat = self._flattened_map(output, result, size, batch, index)
            if flat is not None:
                return flat
        tokens = _token_sequence(shape, size) if result.ndim == 3 else None
        if tokens:
            raise ModelError(f"{what}: {tokens}")
        raise ModelError(f"{what}, neither the window nor a centred crop or an integer "
                         "downscale of it (super-resolution and classifier outputs are not "
                         "supported); check the export or --tile-size.")

    def _flattened_map(self, output: ModelOutput, result: np.ndarray, size: int, batch: int,
                       index: int) -> Geometry | None:
        """The geometry of an output [N, h*w, K] (or [N, K, h*w]) that a Reshape makes in a
        network with no patch embedding (whose tokens these would be): a square map
        flattened row after row (keras_segmentation's Reshape((h * w, K)) before its
        softmax), read as the [N, h, w, K] map (:attr:`ModelOutput.flat_axis`); None when
        it is none (its softmax's axis, if any, mapped to the map's)."""
        found = _flat_axis(result.shape)
        if found is None:
            return None
        axis, softmax_axis = found, output.softmax_axis
        output.flat_axis = axis
        if softmax_axis is not None:  # its axis in the map: classes last (1), first (2)
            flat = softmax_axis % 3
            output.softmax_axis = 0 if flat == 0 else 2 if flat == axis else \
                (3 if axis == 1 else 1)
        self._other_sizes.pop(size, None)  # probed before: flattened shapes
        try:
            geometry = self._read_output(output, _unflattened(output, result), size, batch,
                                         index)
        except ModelError:
            output.flat_axis, output.softmax_axis = None, softmax_axis
            self._other_sizes.pop(size, None)
            return None
        log.info("%s: output %s %s is a %s map flattened row after row: read as its map",
                 self.path.name, output.name, list(result.shape),
                 " x ".join([str(_unflattened(output, result).shape[2])] * 2))
        return geometry

    def _wider(self, output: ModelOutput, shape: tuple, size: int, index: int, candidates,
               what: str) -> Geometry | None:
        """The window's geometry for an output a few px wider than it on every side (a
        convolution padding more than its kernel needs: H+2), whose centre is cropped out
        when it runs (:attr:`_trims`); None when no output is so. The margin must stay the
        same at another size (a fixed-size model: under a quarter of the window), so an
        upscale (super-resolution) is none."""
        for axis, (h, w), channels in candidates:
            if not (isinstance(h, int) and h == w and size < h < size + size // 4):
                continue
            other = self._other_size(size)
            if other is not None and other[1][index][1 + (axis == 1)] - other[0] != h - size:
                continue
            if (h - size) % 2:
                raise self._odd_size_error(size, h, index, what)
            self._refuse_rounded(size, h, index, 2 if axis == 1 else 1, what)
            output.channel_axis, output.channels = axis, int(channels)
            self._trims[(size, output.name)] = (h - size) // 2
            return Geometry(size, size)
        return None

    def _refuse_rounded(self, size: int, height: int, index: int, axis: int, what: str,
                        smaller: bool = False) -> None:
        """ModelError (``suggested_size``: the nearest multiple) when the output's ``height``
        at ``size`` px, smaller or wider than the window by a margin that another size keeps,
        comes from strides rounding the window (floor: MaxPool; ceil: 'same' strided Conv)
        and an upsampling: its output then grows k px at a time (probes at ``size`` + 1, 2,
        4... px), lies at the window's top left, and is no centred crop (valid
        convolutions: it grows 1 px a px). A ``smaller`` one is a crop still where the
        window is aligned: the same output k - 1 px wider (a floor: MaxPool) or narrower (a
        ceil: ceil_mode pools, valid convolutions first)."""
        grown: dict[int, int] = {}
        step = None
        for extra in (1, 2, 4, 8, 16, 32, 64):
            results, error = self._try(self.fixed_batch or 1, size + extra)
            if error is not None or len(results[index].shape) <= axis:
                return  # nothing to tell by
            grown[extra] = int(results[index].shape[axis])
            if grown[extra] - height == extra:
                step = extra
                break
        if step is None or step == 1:
            return
        if smaller and height in (self._height_at(size, step - 1, index, axis, grown),
                                  self._height_at(size, 1 - step, index, axis, grown)):
            return  # the valid part a multiple of k, its first (floor) or last (ceil) size
        target = (self._aligned_size(size, height, step, index, axis, grown) if smaller
                  else None) or max(step, round(size / step) * step)
        exc = ModelError(f"{what}: its output grows {step} px at a time (strides, then an "
                         f"upsampling), so a window no multiple of {step} px is rounded and "
                         "its output lies at its top left, not centred; give tile sizes that "
                         + (f"are multiples of {step}" if target % step == 0 else
                            f"leave valid convolutions a multiple of {step}") +
                         f": try --tile-size {target}.")
        exc.suggested_size = target
        raise exc

    def _aligned_size(self, size: int, height: int, step: int, index: int, axis: int,
                      grown: dict[int, int]) -> int | None:
        """The size nearest ``size`` at which a crop growing ``step`` px at a time is
        aligned (valid convolutions' margin first: no multiple of ``step`` then), by halving
        the sizes up to the one whose output grows: that one (a floor) or the one before (a
        ceil), whichever leaves an even margin; None when neither or both do."""
        low, high = 0, step
        while high - low > 1:
            middle = (low + high) // 2
            height_there = self._height_at(size, middle, index, axis, grown)
            if height_there is None:
                return None
            low, high = (middle, high) if height_there == height else (low, middle)
        found = []
        for extra in (high, low):
            there = self._height_at(size, extra, index, axis, grown)
            if there is not None and there < size + extra and (size + extra - there) % 2 == 0:
                found.append(size + extra)
        if len(found) != 1:
            return None
        below = found[0] - step * math.ceil((found[0] - size) / step)
        return found[0] if below < step or found[0] - size < size - below else below

    def _height_at(self, size: int, extra: int, index: int, axis: int,
                   grown: dict[int, int]) -> int | None:
        """The output's height (its ``axis``) at ``size`` + ``extra`` px (``grown`` holds
        those probed), None where the model cannot run so."""
        if extra not in grown:
            results, error = self._try(self.fixed_batch or 1, size + extra) \
                if size + extra > 0 else (None, True)
            if error is not None or len(results[index].shape) <= axis:
                return None
            grown[extra] = int(results[index].shape[axis])
        return grown[extra]

    def _odd_size_error(self, size: int, height: int, index: int, what: str) -> ModelError:
        """ModelError for an output an odd number of px wider than the window: a decoder
        rounding odd windows up (a stride-2 layer, then a ConvTranspose with output_padding:
        33 px give 34) when ``size - 1`` px give the window itself, else a padding that
        cannot be centred."""
        if height - size == 1 and size % 2 and not self.fixed_size:
            results, error = self._try(self.fixed_batch or 1, size - 1)
            if error is None and list(results[index].shape).count(size - 1) >= 2:
                exc = ModelError(f"{what}: its decoder rounds odd windows up (a ConvTranspose's "
                                 f"output_padding after a stride-2 layer); give an even size, "
                                 f"--tile-size {size - 1} or {size + 1}.")
                exc.suggested_size = size - 1
                return exc
        return ModelError(f"{what}: {height - size} px wider than the window, which cannot be "
                          "centred on it; check the export (its padding).")

    def _refuse_one_cell(self, size: int, index: int, axis: int, what: str) -> None:
        """ModelError for an output of 1 x 1 px: a pooled classifier head, or (when it grows
        with the window) a ``size``-fold downscale, whose one cell leaves no step between
        windows (its outer half is not trusted)."""
        other = self._other_size(size)
        grown = other[1][index][axis] if other is not None else 1
        if grown > 1 and abs(grown - other[0] / size) < 1:
            exc = ModelError(f"{what}: the model downscales by {size}, so a {size} px window "
                             f"holds one output cell; give --tile-size {2 * size} or more (a "
                             f"multiple of {size}).")
            exc.suggested_size = 2 * size
            raise exc
        raise ModelError(f"{what}: one value per window (a pooled classifier head), not a "
                         "segmentation model; geotile predicts per-pixel outputs.")

    def _channel_axis(self, index: int, size: int, shape: tuple) -> int | None:
        """The channel axis (1 or 3) of output ``index`` whose axes 1 and 3 have one length
        at ``size`` px: the one the export declares fixed while the other is symbolic, else
        the one that keeps its length at another window size; None when nothing tells."""
        declared = list(self.session.get_outputs()[self.outputs[index].index].shape or [])
        if len(declared) == 4:
            fixed = [isinstance(declared[a], int) for a in (1, 3)]
            if fixed[0] != fixed[1]:
                return 1 if fixed[0] else 3
        other = self._other_size(size)
        if other is not None:
            again = other[1][index]
            kept = [again[a] == shape[a] for a in (1, 3)]
            if kept[0] != kept[1]:
                return 1 if kept[0] else 3
        return None

    def _placement(self, size: int, height: int, guess: Geometry, index: int, axis: int,
                   what: str) -> Geometry:
        """Where an output smaller than the window lies in it. A second probe at another
        size tells a crop (valid convolutions: the margin stays the same) from a downscale
        (the output grows by 1/k of the window); a fixed-size model keeps ``guess``. Crops
        are centred (as Deepness places them), so an odd margin is refused."""
        other = self._other_size(size)
        if other is None:  # a fixed-size model: its one shape decides
            crop = guess.out != size
            factor = next((k for k in _DOWNSCALES if height in (size // k, -(-size // k))),
                          None) or (round(size / height) if 2 * height <= size else None)
            if crop and factor is not None:  # DeepLab's 513 px at stride 8: 65 px
                raise ModelError(
                    f"{what}: {size} / {height} = {size / height:.3g}, the model's stride of "
                    f"{factor} does not divide its fixed {size} px input, so its cells have no "
                    "place in the window (not a whole downscale, nor a centred crop). Export "
                    "it with its final upsampling to the input size, or at an input size that "
                    f"{factor} divides (e.g. {size // factor * factor}).")
        else:  # the margin stays the same at another size: valid convolutions
            crop = other[1][index][axis] - height == other[0] - size
            if crop:
                self._refuse_rounded(size, height, index, axis, what, smaller=True)
        if crop and (size - height) % 2:
            raise ModelError(f"{what}: a crop of {size - height} px (valid convolutions) "
                             "cannot be centred in the window; check the export.")
        if other is None:
            return guess
        if crop:
            return Geometry(size, height, (size - height) // 2, 0)
        other_size, shapes = other
        other_height = shapes[index][axis]
        if other_height == height:  # the output does not follow the window
            raise ModelError(f"{what}, and the same for {other_size} px: a fixed-size head (a "
                             "classifier), not a per-pixel map of the window; check the export.")
        factor = round(size / height)
        # strided convolutions that pad (MobileViT at 1/32): ceil(size / k) cells at both sizes
        factor = next((k for k in _DOWNSCALES if height == -(-size // k)
                       and other_height == -(-other_size // k)), factor)
        if factor >= 2 and abs(other_height - other_size / factor) < 1:
            if size % factor == 0 and size // factor == height:
                return Geometry(size, size, 0, factor // 2, factor)
            target = max(factor, round(size / factor) * factor)
            exc = ModelError(f"{what}: the model downscales by {factor}, so its windows must be "
                             f"multiples of {factor} px: try --tile-size {target}.")
            exc.suggested_size = target
            raise exc
        raise ModelError(f"{what}, and {list(shapes[index])} for {other_size} px: neither a "
                         "centred crop nor an integer downscale of the window; check the "
                         "export.")

    def _hidden_batch(self, size: int, batch: int, error: Exception):
        """(results, None, its batch) for a graph of symbolic batch that runs on one batch
        size alone, which ONNX Runtime's ``error`` names (a traced export reshaping to its
        dummy input's batch of 4: 'requested shape:{4,-1,512,512}'): kept as a fixed batch
        (last batches padded); (None, ``error``, ``batch``) when it names none that runs."""
        named = {int(n) for n in re.findall(r"\d+", first_line(error))}
        for count in (c for c in HIDDEN_BATCHES if c in named and c != batch):
            results, other = self._try(count, size)
            if other is None and all(r.shape[:1] == (count,) for r in results):
                self.fixed_batch = count
                mixing = self._mixing_at.get(count, "")
                self._replicate = bool(mixing)
                log.info("%s: its input's batch is symbolic, but its graph runs on batches "
                         "of %d alone: %s", self.path.name, count,
                         f"its {mixing} mixes the windows of a batch: each window runs alone, "
                         f"repeated {count} times to fill it ({count} x the work)"
                         if mixing else f"windows run {count} at a time")
                return results, None, count
        return None, error, batch

    def _probe_counts(self, batch: int, size: int, error: Exception):
        """A 5-D model of symbolic T that fails on the probe's count of dates: the results
        at the first count (1 to 24) it runs on, kept for every later probe (its graph fixes
        T: a position embedding of num_frames); ``error`` when it runs on none."""
        tried = self.dates.probe()[0]
        for count in (c for c in range(1, 25) if c != tried):
            self.dates.runs_on = count
            results, other = self._try(batch, size)
            if other is None:
                log.info("%s: its time axis is symbolic, but it runs on %d dates alone",
                         self.path.name, count)
                return results, None
        self.dates.runs_on = None
        return None, error

    def _other_size(self, size: int):
        """(another window size, the output shapes there), or None when the model runs at
        no other size (cached per size)."""
        if size not in self._other_sizes:
            found = None
            if not self.fixed_size:
                for other in (size + 64, 2 * size, size + 32):
                    results, error = self._try(self.fixed_batch or 1, other)
                    if error is None:
                        found = (other, [tuple(r.shape) for r in results])
                        break
            self._other_sizes[size] = found
        return self._other_sizes[size]

    def _explain_run_error(self, size: int, error: Exception) -> ModelError:
        """One line naming the model and the fix; ``suggested_size`` holds a size that runs."""
        first = first_line(error)
        head = f"{self.path}: ONNX Runtime cannot run the model on {size} px tiles ({first})"
        if self.fixed_size:
            return ModelError(f"{head}. Check the export.")
        for multiple in (2, 4, 8, 16, 32, 64, 128, 256):  # the smallest that runs
            odd = multiple * max(1, (round(size / multiple) // 2) * 2 + 1)
            target = max(multiple, round(size / multiple) * multiple)
            if odd == size or target == size:
                continue
            if self._try(1, odd)[1] is None and self._try(1, target)[1] is None:
                exc = ModelError(f"{head}: this network needs tile sizes that are multiples "
                                 f"of {multiple}: try --tile-size {target}.")
                exc.suggested_size = target
                return exc
        for target in (256, 512, 384, 224, 320, 448, 128, 1024):
            if target != size and self._try(1, target)[1] is None:
                exc = ModelError(f"{head}: try --tile-size {target}.")
                exc.suggested_size = target
                return exc
        if self.channels is None:  # every size failed: the 3 channels probed, most likely
            return ModelError(f"{head}: its channel axis is symbolic and the model runs on 3 "
                              "channels at no tile size; export it with its number of "
                              "channels fixed.")
        return ModelError(f"{head}. Try another --tile-size or check the export.")

    # --- normalisation -----------------------------------------------------------------------
    def find_channel_flip(self) -> None:
        """Whether the model takes the image's R,G,B as B,G,R: its metadata's normalisation
        says so, or that it takes R,G,B (:func:`declared_channel_order`), else the files its
        exporter wrote beside it
        (:func:`~geotile.exporter_sidecars.sidecar_channel_flip`); read whatever --mean/--std
        say, the file (an input of its outputs) kept for --resume."""
        from geotile.exporter_sidecars import sidecar_channel_flip

        declared = declared_channel_order(self.metadata)
        if declared is not None and not declared[1]:  # R,G,B: the metadata overrides files
            return
        where = declared[0] if declared else None
        found = (where, None, "which mmseg converts only of 3-channel images; fix the "
                 f"model's metadata {where.split()[1]}") if where else \
            sidecar_channel_flip(self.path)
        if found is None:
            return
        self.flip_rgb, file, self._flip_refusal = found
        if file is not None:
            self.sidecars["flip"] = file
        log.info("%s: the image's red, green, blue go in as blue, green, red (%s)",
                 self.path.name, self.flip_rgb)

    def set_normalization(self, mean=None, std=None, scale=None) -> None:
        """Options override the metadata (:func:`declared_normalization`), which overrides
        Hugging Face's preprocessor_config.json beside the model (its rescale_factor too,
        unless --mean and --std both replace it: :func:`~geotile.hf_sidecars.hf_normalization`),
        else MMDeploy's pipeline.json Normalize
        (:func:`~geotile.mmdeploy_sidecars.mmdeploy_normalization`), else that of PaddleSeg's
        deploy.yaml or PaddleRS' model.yml
        (:func:`~geotile.paddle_sidecars.paddle_normalization`); None keeps it."""
        for name, value in (("mean", mean), ("std", std), ("scale", scale)):
            values = value if isinstance(value, list | tuple) else [value]
            if value is not None and not all(math.isfinite(float(v)) for v in values):
                raise InputError(f"--{name} {value}: every value must be a finite number "
                                 f"(model {self.path.name}).")
        if scale is not None and not scale > 0:  # 0: every pixel the same; < 0: inverted
            raise InputError(f"--scale {scale:g}: give a number > 0 (pixels are multiplied "
                             f"by it before model {self.path.name} sees them).")
        channels = self.channels or 1
        #: a 5-D model's channels per date, None while its dates have not told them: each
        #: value is taken as given, one date's (:meth:`take_dates` checks and repeats them)
        per_date = self.dates.fixed()[1] or 0 if getattr(self, "dates", None) else None
        values = {}
        wanted = [name for name, given in (("mean", mean), ("std", std)) if given is None]
        declared = declared_normalization(self.metadata, self.path, wanted) if wanted else {}
        self.sidecars.pop("normalization", None)
        self._pixels_0_255 = self._dtype_max = self.scale_for_8_bit = ""
        if wanted and not declared:  # no metadata: the files its exporter wrote beside it
            from geotile.exporter_sidecars import sidecar_normalization
            from geotile.hf_sidecars import PREPROCESSOR, hf_folder

            declared, file = sidecar_normalization(self.path, wanted, scale is None)
            if file is not None:
                self.sidecars["normalization"] = file
            # 1/255 is transformers' rescale of 8-bit pixels: geotile's own default, which
            # scales uint8 images so and warns of others (16-bit) instead of dividing them
            factor, where = declared.get("scale", (None, ""))
            from geotile.rastervision_sidecars import DTYPE_MAX

            if factor == DTYPE_MAX:  # Raster Vision's: uint8 / 255, uint16 / 65535, floats kept
                self._dtype_max = where
                declared["scale"] = ("1/(its type's maximum) for unsigned pixels", where)
            elif where.endswith("of 0..255 pixels"):  # mmcv's: uint8 as they are, not 16-bit
                self._pixels_0_255 = f"its {where.split(' ')[0]} Normalize is of 0..255 pixels"
                self.scale_for_8_bit = where.split(" of ")[0]
                declared["scale"] = ("1", self.scale_for_8_bit + " for 8-bit pixels")
            elif factor is not None and math.isclose(factor, 1 / 255, rel_tol=1e-6) \
                    and not where.endswith("constant_scale"):  # TerraTorch's: every image
                self.scale_for_8_bit = declared["scale"][1]
                declared["scale"] = ("1/255", self.scale_for_8_bit + " for 8-bit pixels")
            elif factor is not None:
                scale = factor
            if declared:
                above = hf_folder(self.path)  # not beside it: above onnx/, a link's target's
                log.info("%s: %s%s", self.path.name, ", ".join(
                    f"{name} {value if isinstance(value, str) else repr(value)} "
                    f"({' '.join(where.split(' ', 2)[:2])}"
                    f"{' for 8-bit pixels' if where.endswith('8-bit pixels') else ''})"
                    for name, (value, where) in declared.items()),
                    "" if above == self.path.parent else f", {PREPROCESSOR} read in {above}")
            declared.pop("scale", None)
        elif not wanted and scale is None:  # --mean and --std: a TerraTorch config's
            from geotile.terratorch_sidecars import terratorch_scale  # scaling still holds

            found = terratorch_scale(self.path)
            if found is not None:
                scale = found[0]
                log.info("%s: scale %r (%s) before --mean and --std", self.path.name, *found)
        for name, given, default in (("mean", mean, 0.0), ("std", std, 1.0)):
            value, source = (declared[name] if given is None and name in declared
                             else (given if given is not None else default, None))
            count = channels if per_date is None else per_date or (
                len(value) if isinstance(value, list | tuple) else 1)
            values[name] = _per_channel(_both_dates(value, self.date_channels), count,
                                        name, self.path, source)
            if self.flip_rgb and given is None and len(values[name]) == 3:
                # the model's files give its (blue, green, red) channels': kept in the
                # image's order, normalised before the flip (as after it in transformers)
                values[name] = values[name][::-1]
        self._mean, self._std = values["mean"], values["std"]
        for name, given, other in (("mean", mean, "std"), ("std", std, "mean")):
            if given is not None and other in declared:  # one replaced, one kept: say so
                owner, key = declared[other][1].split(" ", 2)[:2]
                its, the = ("its metadata", "the metadata") if owner == "metadata" \
                    else (owner, owner)
                log.warning("%s: --%s %s replaces %s's %s, but %s's %s (%s %s) stays: give "
                            "--%s too unless it is for the same pixels", self.path.name, name,
                            _shown(values[name]), its, name, the, other, key,
                            _shown(values[other]), other)
        if any(v == 0 for v in self._std):
            raise ModelError(f"{self.path}: a std of 0 would divide by zero (--std).")
        self._scale = scale
        self._takes_0_255 = ""
        self.image_channels(len(self._mean))

    def image_channels(self, count: int) -> None:
        """Decide whether uint8 pixels go in as 0..255 from the mean/std of the first
        ``count`` channels, those the image feeds (the rest come from --extra-bands: an
        nDSM's mean of 2.1 m says nothing about the RGB's scale)."""
        before, self._takes_0_255 = self._takes_0_255, ""
        mean, std = self._mean[:count] or self._mean, self._std[:count] or self._std
        # constants for 0..255 pixels (torchvision's 123.675 / 58.395): a mean above 1 or a
        # std above 1 cannot be meant for pixels divided by 255 first
        # above 255 (TorchGeo's Sentinel-2 means of 1354): for raw 12- or 16-bit pixels
        self._stats_wide = self._scale is None and max(*mean, *std) > 255
        mixed = any(0 < m <= 1 < s for m, s in zip(mean, std, strict=False))
        if mixed and not self._mixed_said:  # a channel's, once per model
            self._mixed_said = True
            log.warning("%s: mean %s and std %s are on two scales (a mean of 0..1 pixels, a "
                        "std of 0..255 ones), so normalised pixels are 255 times off: give "
                        "--mean and --std on one scale", self.path.name, list(mean), list(std))
        # a mean below 0 is of signed values (SAR backscatter in dB), never of 0..255 pixels
        if self._scale is None and min(mean) >= 0 and (max(mean) > 1 or min(std) > 1):
            self._takes_0_255 = "its mean/std are for 0..255 pixels"
            if self._takes_0_255 != before:
                log.info("%s: mean %s and std %s are on the %s scale: uint8 pixels are "
                         "not divided by 255 first (--scale sets it)", self.path.name,
                         list(mean), list(std),
                         "raw pixels'" if self._stats_wide else "0..255")
        elif self._scale is None and (self._scales_input or self._pixels_0_255):
            self._takes_0_255 = self._scales_input or self._pixels_0_255
            if self._takes_0_255 != before:
                log.info("%s: %s: uint8 pixels are not divided by 255 first (--scale sets "
                         "it)", self.path.name, self._takes_0_255)
        if before and not self._takes_0_255:  # the extra bands' mean/std had decided it
            log.info("%s: mean %s and std %s of the image's %d channels are on the 0..1 scale: "
                     "uint8 pixels are divided by 255 first (--scale sets it)", self.path.name,
                     list(mean), list(std), count)

    def normalization_for(self, dtype) -> Normalization:
        """The normalisation for input of ``dtype``: without a scale, uint8 is divided by 255
        (as Deepness and most exported models expect) unless the model itself takes integer
        input, its mean/std are for 0..255 pixels or its graph scales raw 12- or 16-bit
        pixels itself (it gets raw pixels: an 8-bit rendering is warned of); other dtypes are
        left unscaled."""
        scale = self._scale
        dtype = self._read_dtype(dtype)
        if scale is None:
            raw = np.issubdtype(self.input_type, np.integer) or self._takes_0_255 \
                or self._scales_wide
            dtype = np.dtype(dtype)
            if self._dtype_max and dtype.kind == "u" and not raw:
                return Normalization(1 / np.iinfo(dtype).max, self._mean, self._std)
            scale = 1 / 255 if dtype == np.uint8 and not raw else 1.0
        return Normalization(scale, self._mean, self._std)

    def unscaled(self, dtype, top: float | None = None,
                 declared: tuple[float, str] | None = None) -> str | None:
        """What is wrong when pixels of integer ``dtype`` wider than 8 bits, or float pixels
        reaching ``top`` (above 1.5: 0..255 or reflectances x 10000 stored as float), reach
        the model as they are with nothing saying so (no --scale, a float-input model), else
        None: the model may well expect 0..1 inputs, or its mean/std are for 0..255 pixels
        (ImageNet's 123.675 / 58.395), which 16-bit pixels overshoot many times.
        ``declared``: (the value integer pixels stand for 1.0 at, why) that the raster
        declares (:func:`geotile.pixel_encoding.declared_top`), named instead of examples."""
        dtype = self._read_dtype(dtype)
        if self._scale is not None or np.issubdtype(self.input_type, np.integer):
            return None
        if self._dtype_max and not self._takes_0_255:
            return None  # unsigned / its type's maximum, others as they are: as it was trained
        if self._stats_wide:  # right for raw 12/16-bit pixels, 8-bit or 0..1 never reach them
            why = "its mean/std are above 255, for raw 12- or 16-bit pixels"
            if dtype == np.uint8:
                return f"{why}: give the image's raw bands (not an 8-bit rendering)"
            if dtype.kind == "f" and top is not None and top <= 1.5:
                return (f"they reach only {top:g} but {why}: give --scale 10000 if they are "
                        "reflectances (DN / 10000)")
            return None
        if self._scales_wide and not self._takes_0_255:
            return (f"{self._scales_wide}: give the image's raw bands (not an 8-bit "
                    "rendering)") if dtype == np.uint8 else None
        if dtype.kind == "f":
            if top is not None and top <= 1.5 and self._takes_0_255:
                return (f"they reach only {top:g} but {self._takes_0_255}: give --scale 255 "
                        "if they are 0..1 values")
            if top is None or top <= 1.5 or self._takes_0_255:
                return None
            return (f"they reach {top:g}: if it was trained on 0..1 inputs give --scale, e.g. "
                    f"--scale 0.00392 for 0..255 values ({1 / top:.3g} for this top); "
                    "--scale 1 keeps them")
        if not (dtype.kind in "iu" and dtype.itemsize > 1):
            return None
        if declared is not None:
            full, why = declared
            if self._takes_0_255:
                return (f"{self._takes_0_255}: give --scale {255 / full:.3g} to bring them to "
                        f"0..255 ({why})")
            return (f"if it was trained on 0..1 inputs give --scale {1 / full:.3g} ({why}); "
                    "--scale 1 keeps them")
        if self._takes_0_255:
            return (f"{self._takes_0_255}: give --scale to bring them to "
                    "0..255, e.g. 0.0625 for 12-bit or 0.0039 for 16-bit pixels")
        return ("if it was trained on 0..1 inputs give --scale, e.g. 0.000489 for 11-bit or "
                "0.0000153 for 16-bit pixels; --scale 1 keeps them")

    def declared_flags(self, scales, offsets) -> str | None:
        """The flags that feed the values a raster declares for its bands, ``pixel * scale +
        offset`` (GDAL scale/offset: Landsat C2 L2 reflectance), to the model's own mean:
        ``--scale S --mean M`` with M = mean - offset. None when --scale (one number) cannot
        say it, or the model's mean/std are for 0..255 pixels."""
        if len(set(scales)) != 1 or len(offsets) != len(self._mean) or self._takes_0_255:
            return None
        means = [f"{m - o:.12g}" for m, o in zip(self._mean, offsets, strict=True)]
        mean = means[0] if len(set(means)) == 1 else ",".join(means)
        return f"--scale {scales[0]:.12g} --mean{'=' if mean.startswith('-') else ' '}{mean}"

    def check_bands(self, count: int, source, rgb: list[int] | None = None,
                    bgrn: list[int] | None = None) -> None:
        """ModelError suggesting --bands when ``count`` selected bands do not fit the model
        (``rgb``: the raster's red, green and blue bands, suggested to a 3-channel model;
        ``bgrn``: its bands described blue, green, red and nir, to a 4-channel one)."""
        if self.flip_rgb and count not in (1, 3):
            raise ModelError(
                f"{self.path.name}: its {self.flip_rgb} says the model takes blue, green, "
                f"red (geotile flips an image's red, green, blue), but it takes {count} channels, "
                f"{self._flip_refusal}, and give --bands in the order the model takes them.")
        if self.channels is not None and count != self.channels:
            hint = ",".join(["1"] * self.channels) if count == 1 else ",".join(
                str(i + 1) for i in range(self.channels)) if self.channels <= 4 \
                else f"1-{self.channels}"
            if rgb and self.channels == 3:
                hint = f"{','.join(map(str, rgb))} (red, green, blue)"
            if bgrn and self.channels == 4 and count > 4:
                hint = (f"{','.join(map(str, bgrn))} (blue, green, red, nir by their "
                        "descriptions; in the order the model takes them)")
            raise ModelError(
                f"{source}: {count} band(s) selected but {self.path.name} takes "
                f"{self.channels} channels. Choose bands with --bands, e.g. --bands {hint}."
            )

    def prepare(self, pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(N, C, H, W) raster pixels -> float32 normalised, still NCHW (into ``out``, a
        float32 array of their shape, when given); Raster Vision's raster transformers
        first."""
        pixels = self.transform_pixels(pixels)
        norm = self.normalization_for(pixels.dtype)
        if out is None:
            out = np.empty(pixels.shape, np.float32)
        if norm.scale != 1.0:  # the cast and the scaling in one pass
            np.multiply(pixels, np.float32(norm.scale), out=out, dtype=np.float32,
                        casting="unsafe")
        else:
            np.copyto(out, pixels, casting="unsafe")
        if any(norm.mean) or any(s != 1.0 for s in norm.std):
            mean = np.asarray(norm.mean, np.float32).reshape(1, -1, 1, 1)
            std = np.asarray(norm.std, np.float32).reshape(1, -1, 1, 1)
            out -= mean
            out /= std
        return out

    def check_input_range(self, lows, highs, source, owners=None) -> None:
        """ModelError naming a --scale that works when the raw pixels of ``source``, per
        channel ``lows``..``highs``, leave an integer-input model's range once normalised
        (or saying that --mean takes them out of it whatever the scale); else nothing.
        ``owners``: each channel's --extra-bands file (None: the image's), named where
        theirs leave it."""
        if not np.issubdtype(self.input_type, np.integer):
            return
        info, scale = np.iinfo(self.input_type), self._scale or 1.0
        means, stds = (list(v) * len(lows) if len(v) == 1 else v
                       for v in (self._mean, self._std))
        ends = [((v * scale - m) / sd, v, m, sd) for lo, hi, m, sd in
                zip(lows, highs, means, stds, strict=True) for v in (lo, hi)]
        low, high = min(e[0] for e in ends), max(e[0] for e in ends)
        if info.min - 0.5 <= low and high <= info.max + 0.5:
            return
        # --scale S: info.min <= (v * S - m) / sd <= info.max, linear in S at each end
        least, most = 0.0, math.inf
        for _, v, m, sd in ends:
            a, b = v / sd, -m / sd
            if a == 0:
                most = most if info.min <= b <= info.max else -1.0
                continue
            first, second = (info.min - b) / a, (info.max - b) / a
            least, most = max(least, min(first, second)), min(most, max(first, second))
        name = np.dtype(self.input_type).name
        outside = [not (info.min - 0.5 <= e[0] <= info.max + 0.5) for e in ends]
        offenders = list(dict.fromkeys(  # each channel's (lo, hi) are two of ends
            owner for i, owner in enumerate(owners or [None] * len(lows))
            if outside[2 * i] or outside[2 * i + 1])) or [None]
        whose = " and ".join("the image's" if owner is None else f"{Path(str(owner)).name}'s"
                             for owner in offenders)
        head = (f"{source}: {self.path.name} takes {name} pixels ({info.min}..{info.max}) and "
                f"{whose} pixels reach {low:g}..{high:g}")
        what = "the image" if offenders == [None] else "them"
        if most <= least or most <= 0:
            mean = ",".join(f"{m:g}" for m in dict.fromkeys(self._mean))
            raise ModelError(f"{head} with --mean {mean}, which no --scale brings into it: "
                             f"lower or leave out --mean, or convert {what}.")
        top = most * (1 + 1e-12)  # 255 / 4080 is 0.0625, not 0.06249 (rounding keeps 255)
        suggested = next((v for v in (_round_down(top, 4), _round_down(top, 8))
                          if v >= least and v > 0), (least + most) / 2)
        raise ModelError(f"{head}: scale them into its range with --scale (e.g. --scale "
                         f"{suggested:.8g}; the scaled pixels are rounded) or convert "
                         f"{what}.")

    # --- running -----------------------------------------------------------------------------
    def _feed(self, batch: np.ndarray) -> np.ndarray:
        if self.flip_rgb and batch.shape[1] == 3:  # normalised in the image's order
            batch = batch[:, ::-1]
        feed = batch if self.layout == "NCHW" else batch.transpose(0, 2, 3, 1)
        if np.issubdtype(self.input_type, np.integer):
            info = np.iinfo(self.input_type)
            low, high = float(feed.min(initial=0)), float(feed.max(initial=0))
            if low < info.min - 0.5 or high > info.max + 0.5:  # clipped, the input would lie
                name = np.dtype(self.input_type).name
                scale = (self._scale or 1.0) * info.max / max(abs(low), abs(high))
                raise InputRangeError(
                    f"{self.path}: the model takes {name} pixels ({info.min}..{info.max}) and "
                    f"these reach {low:g}..{high:g}: scale them into its range with --scale "
                    f"(e.g. --scale {math.floor(scale * 1e4) / 1e4:g}; the scaled pixels are "
                    "rounded) or convert the image.")
            whole = np.rint(feed)
            # a --scale chosen for an integer model rounds, as gdal_translate -scale does;
            # without one, fractions (a float image) would be lost unasked
            if self._scale is None and not np.allclose(whole, feed, rtol=0, atol=1e-3):
                name = np.dtype(self.input_type).name
                raise ModelError(
                    f"{self.path}: the model takes whole {name} pixels and these have "
                    "fractions (a float image, or --scale): they would be rounded. Give "
                    f"--scale to bring them to whole numbers (e.g. --scale {info.max:g} for "
                    "0..1 reflectances), or --scale 1 for integer pixels.")
            feed = whole
        elif self.input_type == np.float16 or self._casts_to_float16:
            top = float(np.abs(feed).max(initial=0))  # float16 ends at 65504: beyond, inf
            if top > float(np.finfo(np.float16).max):
                takes = "casts its input to float16 (Keras mixed_float16)" \
                    if self._casts_to_float16 else "takes float16"
                scale = (self._scale or 1.0) * (255 if self._takes_0_255 else 1) / top
                raise ModelError(f"{self.path}: the model {takes} and these values reach "
                                 f"{top:g}, beyond its 65504: give --scale (e.g. --scale "
                                 f"{scale:.3g}) or the normalisation it was trained with.")
        return np.ascontiguousarray(feed, dtype=self.input_type)

    def _raw_run(self, batch: np.ndarray) -> list[np.ndarray]:
        feed = self._feed(batch)
        try:
            results = self._session_run(feed)
        except Exception as exc:
            raise ModelError(f"{self.path}: ONNX Runtime failed on a batch of "
                             f"{batch.shape[0]} ({first_line(exc)}).") from exc
        outs = []
        size = batch.shape[-1]
        for output, out in zip(self.outputs, results, strict=True):
            out = np.asarray(out).astype(np.float32, copy=False)
            trim = self._trims.get((size, output.name))
            if trim:  # wider than the window: its centre (axes 1..2 or 2..3 alike)
                inner = (slice(trim, trim + size),) * 2
                out = out[(slice(None), *inner)] if output.channel_axis == 3 else \
                    out[(..., *inner)]
            if output.channel_axis is None:
                out = out[:, np.newaxis]
            elif output.channel_axis == 3:
                out = out.transpose(0, 3, 1, 2)
            outs.append(out)
        return outs

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, C, s, s) normalised -> float32 (N, K, o, o): probabilities, or the
        model's raw values (``raw_values``); o = ``geometry(s).out``. NaN/inf are passed on
        (predict refuses them where the input is valid)."""
        count, size = batch.shape[0], batch.shape[-1]
        geometry = self.geometry(size, count)
        step = self.fixed_batch or self._chunk
        try:
            outs = self._run_in_steps(batch, step)
            whole = all(out.shape[0] == count for out in outs)
        except ModelError:
            if step == 1 or self.fixed_batch or count == 1:
                raise
            whole = False
        if not whole:
            if step == 1 or self.fixed_batch or count == 1:
                raise ModelError(f"{self.path}: the model returned outputs of another batch "
                                 f"size than its input ({count}); check the export.")
            self._chunk = 1  # a batch of 1 baked into the graph: run one window at a time
            outs = self._run_in_steps(batch, 1)
        results = []
        for output, out in zip(self.outputs, outs, strict=True):
            if output.activation in ("sigmoid", "softmax"):
                if out.shape[-1] != geometry.out:  # logits upsampled, then activated (as HF)
                    out = self._upsample(out, geometry.out)
                out = _activate(out, output.activation)
            elif output.class_queries:  # upsampled, then their shares (argmax as HF's)
                from geotile.mask_classification import class_shares

                if out.shape[-1] != geometry.out:
                    out = self._upsample(out, geometry.out)
                out = class_shares(out)
            if self.output_scale != 1.0:
                out = out * np.float32(self.output_scale)
            if output.overshoots and output.activation == "none" and not self.raw_values:
                out = np.clip(out, 0, 1)
            if output.activation == "none" and not self.raw_values:  # every batch
                self._check_probabilities(output, out)
            if out.shape[-1] != geometry.out:
                out = self._upsample(out, geometry.out)
            results.append(out)
        return results[0] if len(results) == 1 else np.concatenate(results, axis=1)

    def _check_probabilities(self, output: ModelOutput, out: np.ndarray) -> None:
        """ModelError when values written as probabilities leave 0..1 (a Deepness segmentor
        or a model declaring ``activation=none`` that gives logits or percents)."""
        low, high = float(out.min(initial=0.0)), float(out.max(initial=1.0))
        if low >= -PROBABILITY_TOLERANCE and high <= 1 + PROBABILITY_TOLERANCE:
            return  # a NaN fails both tests: its finite values are looked at below
        with np.errstate(invalid="ignore"):
            finite = out[np.isfinite(out)]
        if not finite.size:
            return
        low, high = float(finite.min()), float(finite.max())
        if low >= -PROBABILITY_TOLERANCE and high <= 1 + PROBABILITY_TOLERANCE:
            return
        why = (f"metadata model_type {self.model_type}" if self.model_type in
               DEEPNESS_MODEL_TYPES else "metadata activation none"
               if str(self.metadata.get("activation", "")).lower() == "none"
               else f"the graph ends in {output.final_kind or 'final values'}")
        raise ModelError(f"{self.path}: output {output.name!r} is taken as probabilities 0..1 "
                         f"({why}) but gives {low:.4g}..{high:.4g}. Give --activation none to "
                         "write its raw values, or --activation sigmoid/softmax for logits.")

    def _run_in_steps(self, batch: np.ndarray, step: int | None) -> list[np.ndarray]:
        count = batch.shape[0]
        if self._replicate:  # each window alone, filling the fixed batch; its own output
            parts: list[list[np.ndarray]] = []
            for k in range(count):  # a window as the one before (padding): its output
                if not (parts and np.array_equal(batch[k], batch[k - 1])):
                    last = [out[:1] for out in self._raw_run(np.repeat(
                        batch[k : k + 1], self.fixed_batch, axis=0))]
                parts.append(last)
            return [np.concatenate(group) for group in zip(*parts, strict=True)]
        if not step or count == step:
            return self._raw_run(batch)
        parts = []
        for start in range(0, count, step):
            part = batch[start : start + step]
            if self.fixed_batch and part.shape[0] < step:
                part = np.concatenate(
                    [part, np.zeros((step - part.shape[0], *part.shape[1:]), part.dtype)])
            parts.append(self._raw_run(part))
        return [np.concatenate(group)[:count] for group in zip(*parts, strict=True)]

    def _upsample(self, out: np.ndarray, size: int) -> np.ndarray:
        """Bilinear upsampling (half-pixel centres, as Resize/F.interpolate) to ``size``."""
        key = (out.shape[-1], size)
        if key not in self._upsample_cache:
            self._upsample_cache[key] = _bilinear_matrix(*key)
        matrix = self._upsample_cache[key]
        return np.matmul(np.matmul(matrix, out), matrix.T)

    def describe(self) -> str:
        """One line for -v: provider, layout, size, classes."""
        try:
            meta_size = self.tile_size
        except ModelError:  # a bad metadata value that --tile-size replaces
            meta_size = None
        size = f"{self.tile_size} px fixed" if self.fixed_size else (
            f"dynamic size (metadata {meta_size} px)" if meta_size else "dynamic size")
        activations = ",".join(sorted({o.activation for o in self.outputs}))
        channels = f"{self.channels} channels" if self.second_input is None else (
            f"{self.input_name} {self.date_channels[0]} + {self.second_input.name} "
            f"{self.date_channels[1]} channels (two dates)")
        if self.dates is not None:
            channels = f"{self.input_name} {self.dates.describe()}"
        layout = "" if self.dates is not None else f"{self.layout}, "  # said in channels
        return (f"{self.path.name}: {self.provider}, {layout}{channels} "
                f"({np.dtype(self.input_type).name}), {size}, {self.num_classes} output band(s) "
                f"{self.class_names}, activation {activations}")


#: batch sizes a traced export may have baked into a graph of symbolic batch (its dummy
#: input's), tried when ONNX Runtime's error names them (:meth:`OnnxModel._hidden_batch`)
HIDDEN_BATCHES = (2, 3, 4, 6, 8, 12, 16)


#: (main head, auxiliary head) output names of exporters whose auxiliary head is trained
#: only: torchvision's segmentation models, transformers' (UperNet's auxiliary_logits)
AUXILIARY_HEADS = (("out", "aux"), ("logits", "auxiliary_logits"))


def _auxiliary_head(name: str, names) -> bool:
    """Whether output ``name`` of a model of outputs ``names`` is a known exporter's
    auxiliary head, trained only: the model's outputs are that main head and it
    (:data:`AUXILIARY_HEADS`); any other output is the model's own, written by default
    whatever its name (side outputs, 'aux_edges', aux beside out and edges)."""
    return any(name == aux and sorted(names) == sorted((main, aux))
               for main, aux in AUXILIARY_HEADS)


def _binary_name(names: list[str], model: str, key: str) -> list[str]:
    """The name of a one-band output listed with two: the one that is no background
    (a binary model's training names, in either order), else the second, said."""
    from geotile.class_keys import is_background_name

    first, second = (is_background_name(n) for n in names)
    if second and not first:
        return names[:1]
    if not first:
        log.warning("%s: %s gives 2 class names (%s) for one band, neither of "
                    "them background; the band is named %r", model, key, ", ".join(names),
                    names[1])
    return names[1:]


def _check_softmax_axis(output: ModelOutput, shape: tuple) -> None:
    """Say in ``output.not_probabilities`` (refused unless --activation none) when the final
    Softmax of ``output`` (of ``shape``, its channel axis read) normalises another axis than
    its classes (axis=-1 of an NCHW output: each row of the window over its width), or one
    channel alone (1 everywhere)."""
    if output.softmax_axis is None or output.not_probabilities \
            or not -len(shape) <= output.softmax_axis < len(shape):
        return
    axis = output.softmax_axis % len(shape)
    if axis == output.channel_axis and output.channels == 1:
        output.not_probabilities = (
            "its final Softmax normalises its one channel, so it is 1 everywhere. Re-export "
            "it ending in a Sigmoid (or in its logits).")
    elif axis != output.channel_axis and output.flat_axis is not None and axis:
        pixels = shape[2] * shape[2]  # its map's (axis 2 is a side either way)
        flat = [shape[0], pixels, output.channels] if output.flat_axis == 1 else [
            shape[0], output.channels, pixels]
        output.not_probabilities = (
            f"its final Softmax(axis={output.flat_axis}) normalises axis "
            f"{output.flat_axis} of its {flat} output, the {pixels} pixels of its map "
            f"flattened, not its {output.channels} classes (axis {3 - output.flat_axis}): its "
            "values are no class probabilities (and change with the window). Re-export it "
            f"with the Softmax over the classes (axis={3 - output.flat_axis}).")
    elif axis != output.channel_axis:
        height, width = (a for a in range(1, len(shape)) if a != output.channel_axis)
        names = {0: "the batch", height: "the window's height", width: "the window's width"}
        classes = f"its {output.channels} classes (axis {output.channel_axis})" \
            if output.channel_axis is not None else "classes (it has no class axis)"
        output.not_probabilities = (
            f"its final Softmax(axis={output.softmax_axis}) normalises axis {axis} of its "
            f"{list(shape)} output, {names[axis]}, not {classes}: its values are no class "
            "probabilities (and change with the window). Re-export it with the Softmax over "
            "the classes" + (f" (axis={output.channel_axis})." if output.channel_axis else "."))


#: the highest probability a final quantisation may leave codes for without a warning
QUANTIZED_CEILING = 0.99
#: how far from 1 the classes of a final softmax may sum at a pixel of the probe (float16)
SOFTMAX_SUM_TOLERANCE = 0.01


def _check_softmax_sums(output: ModelOutput, result: np.ndarray) -> None:
    """Say in ``output.not_probabilities`` (refused unless --activation none) when a Slice
    or Gather follows its final Softmax and its classes do not sum to 1 at most pixels of the
    probe: classes cut off (the foreground's kept), whose argmax gives every pixel one of
    those left. One class left (p of the foreground of two) is a probability still; a
    reorder keeps every class; per-class weights after the Softmax (no Slice) are the
    model's own decision rule."""
    if output.final_kind != "softmax" or not output.sliced or output.not_probabilities \
            or output.channels < 2 or output.channel_axis is None or result.dtype.kind != "f":
        return
    sums = result.astype(np.float64).sum(axis=output.channel_axis)
    sums = sums[np.isfinite(sums)]
    if not sums.size or np.mean(np.abs(sums - 1) > SOFTMAX_SUM_TOLERANCE) <= 0.5:
        return
    output.not_probabilities = (
        f"the {output.channels} classes of its final Softmax sum to {np.median(sums):.2g}, "
        "not 1, at a pixel: classes were cut off after it (a Slice or Gather), so the most "
        "probable of those left is no class decision. Re-export it with every class (or its "
        "logits).")


def _geometry(size: int, height, width) -> Geometry | None:
    """How an output of ``height`` x ``width`` sits in a ``size`` px window, or None."""
    if not isinstance(height, int) or height != width or height < 1:
        return None
    if height == size:
        return Geometry(size, size)
    if height > size:
        return None
    factor = size // height  # one shape alone: a fixed-size model (see _placement)
    # any whole factor: ViT/DINOv2 patches of 14 px too. A crop of valid convolutions keeps
    # more than half the window, so an output of half of it or less is a downscale
    if size % height == 0 and factor >= 2:
        return Geometry(size, size, 0, factor // 2, factor)  # upsampled: outer half-cell guessed
    return Geometry(size, height, (size - height) // 2, 0)


def _flat_axis(shape: tuple) -> int | None:
    """The axis (1 or 2) of a rank-3 ``shape`` holding a square map's h*w pixels (h >= 2),
    the longer one, beside fewer values; else None."""
    for axis in sorted((1, 2), key=lambda a: -int(shape[a])):
        count = int(shape[axis])
        side = math.isqrt(count)
        if side > 1 and side * side == count and int(shape[3 - axis]) < count:
            return axis
    return None


def _unflattened(output: ModelOutput, result):
    """``result`` of ``output`` as its map: [N, h*w, K] -> [N, h, w, K], [N, K, h*w] ->
    [N, K, h, w] (row after row, as numpy and ONNX Reshape flatten); others as they are."""
    if output.flat_axis is None or np.ndim(result) != 3:
        return result
    side = math.isqrt(result.shape[output.flat_axis])
    shape = (side, side, result.shape[2]) if output.flat_axis == 1 else (
        result.shape[1], side, side)
    return np.reshape(result, (result.shape[0], *shape))


def _token_sequence(shape: tuple, size: int) -> str | None:
    """What a rank-3 output ``shape`` of a ``size`` px window is when one of its axes holds
    a square grid's patch tokens (a ViT/DINOv2 head left as a sequence: [N, 1369, K] at 518
    px, 37 x 37 tokens of 14 px; a class token first too), and the reshape that makes a map
    of them; else None."""
    for axis in sorted((1, 2), key=lambda a: -int(shape[a])):  # the longer axis first
        count, values = int(shape[axis]), int(shape[3 - axis])
        for extra in (0, 1):
            side = math.isqrt(max(count - extra, 0))
            if side > 1 and side * side == count - extra and size % side == 0:
                patch = size // side
                cls = " after a class token (drop it)" if extra else ""
                shaped = ("tokens.transpose(1, 2).reshape" if axis == 1 else
                          "tokens.reshape")
                return (f"{count - extra} = {side} x {side} patch tokens of {patch} px{cls}, "
                        f"{values} values each: a token sequence, not a map of the window. "
                        f"Export them as a grid, [N, {values}, {side}, {side}] ({shaped}(N, "
                        f"{values}, {side}, {side})), or upsampled to the input.")
    return None


def _detection_masks(names: list[str], shapes: list) -> str | None:
    """How an instance segmentation export with one mask per detection (MMDeploy's Mask
    R-CNN: dets [N, Q, 5], labels, masks [N, Q, h, w]; torchvision's boxes and masks) shows
    in its output ``names`` (and ``shapes``, a 4-D one: the masks), else None."""
    from geotile.mask_classification import DETECTION_OUTPUTS

    # detections are a list ([N, Q, 5], [Q, 4]); a 4-D output so named is a per-pixel map
    boxes = [n for n, shape in zip(names, shapes, strict=False)
             if n.lower() in DETECTION_OUTPUTS and len(shape or ()) != 4]
    masks = [n for n, shape in zip(names, shapes, strict=False) if len(shape or ()) == 4]
    if boxes and masks:
        return f"detections {boxes[0]} and per-detection masks {masks[0]}"
    return None


def _instance_heads(shapes: list, size: int) -> str | None:
    """How an instance-segmentation export (YOLOv8/11-seg, YOLOv5-seg) shows in its output
    ``shapes`` at ``size`` px: M mask prototypes [N, M, h, w] smaller than the window beside
    detections [N, 4 + classes + M, anchors] (or [N, anchors, 5 + classes + M]; up to 1000
    classes), else None. Shapes may hold symbolic dimensions (declared ones), which never
    match."""
    for proto in shapes:
        if len(proto) != 4 or not all(isinstance(d, int) for d in proto[1:]) \
                or proto[1] < 2 or not proto[2] < size:
            continue
        for found in shapes:
            if len(found) == 3 and found[1] != found[2] and any(
                    isinstance(d, int) and 5 <= d - proto[1] <= 1005 for d in found[1:]):
                return (f"detections {list(found)} and {proto[1]} mask prototypes "
                        f"{list(proto)}")
    return None


def _bilinear_matrix(source: int, target: int) -> np.ndarray:
    x = (np.arange(target) + 0.5) * (source / target) - 0.5
    x = np.clip(x, 0, source - 1)
    low = np.floor(x).astype(int)
    high = np.minimum(low + 1, source - 1)
    weight = x - low
    matrix = np.zeros((target, source), np.float32)
    rows = np.arange(target)
    np.add.at(matrix, (rows, low), 1 - weight)
    np.add.at(matrix, (rows, high), weight)
    return matrix


def _activate(logits: np.ndarray, kind: str) -> np.ndarray:
    if kind == "sigmoid":
        # numerically stable enough in float32: exp overflow gives 0, never NaN
        with np.errstate(over="ignore"):
            np.negative(logits, out=logits)
            np.exp(logits, out=logits)
        logits += 1.0
        np.reciprocal(logits, out=logits)
        return logits
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _shown(values) -> str:
    """Per-channel values as a comma-separated list, one value when all are equal."""
    shown = [f"{v:g}" for v in values]
    return shown[0] if len(set(shown)) == 1 else ",".join(shown)


def _both_dates(value, dates):
    """A mean or std of one date's channels repeated for both dates of a change detection
    model (``dates``: each date's channels) whose dates have as many; else ``value``."""
    if dates is None or len(set(dates)) != 1 or not isinstance(value, list | tuple) or \
            len(value) != dates[0]:
        return value
    return list(value) * len(dates)


def _per_channel(value, channels: int, name: str, path, source: str | None = None
                 ) -> tuple[float, ...]:
    """One finite float per channel from a number or a list; ModelError naming ``source``
    (the metadata entry) otherwise."""
    try:
        values = [float(v) for v in (value if isinstance(value, list | tuple) else [value])]
    except (TypeError, ValueError):
        values = []
    if source is not None and (not values or not all(map(math.isfinite, values))):
        raise ModelError(f"{path}: {source} is not a finite number or a list of them, one per "
                         f"channel; fix the export or give --{name}.")
    if not values:
        raise ModelError(f"{path}: {name} {value!r} is not a number or a list of numbers.")
    if len(values) == 1:
        values *= channels
    if len(values) != channels and source is not None:
        owner = "the model's metadata" if source.startswith("metadata") else source.split()[0]
        raise ModelError(f"{path}: {source} has {len(values)} values for {channels} channels; "
                         f"fix {owner} (one value or one per channel) or give --{name}.")
    if len(values) != channels:
        raise ModelError(f"{path}: {name} has {len(values)} values for {channels} channels. "
                         f"Give one value or one per channel (--{name}).")
    return tuple(values)


