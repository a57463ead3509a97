"""predict's core pinned by exact outcomes, from mutation testing (blending, windows, strips,
batches, outputs): models whose outputs tell where each window lay.

The image holds each pixel's own column and row (x / 256, y / 256), so

- an identity model must give the image back, pixel for pixel (windows placed right,
  batches in order, strips joined, edges cropped);
- a "corner" model outputs its window's first pixel, i.e. the window's x and y offsets,
  everywhere in the window: the blend at a pixel is then the weighted mean of the offsets
  of the windows covering it, with the weights the docs give (blending.py), so seams and
  weight ramps are visible;
- a constant-one model must blend to 1 everywhere, raster edges included.

The expected values are computed here from the documented rules alone: windows at a
regular stride, the last moved back to end on the raster's edge (grid.py, "shift"); the
1-D profiles (tent, hann, uniform) floored at 1e-3, at full weight from the centre to a
side on the raster's border; w(y, x) = w_y(y) * w_x(x).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from onnx import helper

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array, predict_raster

from .onnx_models import FLOAT, save_graph

SCALE = 256  # the image holds x / SCALE and y / SCALE: exact in float32, within 0..1 here


def ramp_image(height: int, width: int, scale: int = SCALE) -> np.ndarray:
    """(2, H, W) float32: each pixel's column, then row, divided by ``scale``."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([cols, rows]) / np.float32(scale)


def _io(channels: int = 2):
    return ([("input", FLOAT, ["N", channels, "H", "W"])],
            [("output", FLOAT, ["N", channels, "H2", "W2"])])


def _spatial_slice(name_in, name_out, start, end, prefix):
    node = helper.make_node("Slice", [name_in, f"{prefix}_s", f"{prefix}_e", f"{prefix}_a"],
                            [name_out])
    return node, {f"{prefix}_s": np.array([start, start], np.int64),
                  f"{prefix}_e": np.array([end, end], np.int64),
                  f"{prefix}_a": np.array([2, 3], np.int64)}


def graph_model(path, kind: str, crop: int = 0, pool: int = 1, channels: int = 2,
                final: str = ""):
    """``kind``: "identity" (the input), "corner" (the window's first pixel, everywhere),
    "far" (its last pixel, everywhere), "max" (its largest value, everywhere), "ones" or
    "reciprocal" (1 / the input: infinite at 0); ``crop``: the output lacks ``crop`` px on
    each side (valid convolutions); ``pool``: the output averaged over ``pool`` px cells (a
    downscaling model); ``final``: "Clip" (to 0..1), "Sigmoid" or "Softmax" make the outputs
    probabilities (else raw values)."""
    nodes, inits, current = [], {}, "input"
    if kind in ("corner", "far"):
        node, values = _spatial_slice("input", "corner", *((0, 1) if kind == "corner"
                                                         else (-1, 2**62)), "c")
        nodes += [node, helper.make_node("Shape", ["input"], ["shape"]),
                  helper.make_node("Expand", ["corner", "shape"], ["expanded"])]
        inits.update(values)
        current = "expanded"
    elif kind == "max":
        nodes += [helper.make_node("ReduceMax", ["input"], ["top"], axes=[2, 3], keepdims=1),
                  helper.make_node("Shape", ["input"], ["shape"]),
                  helper.make_node("Expand", ["top", "shape"], ["expanded"])]
        current = "expanded"
    elif kind == "reciprocal":
        nodes.append(helper.make_node("Reciprocal", ["input"], ["expanded"]))
        current = "expanded"
    elif kind == "ones":
        nodes += [helper.make_node("Shape", ["input"], ["shape"]),
                  helper.make_node("ConstantOfShape", ["shape"], ["expanded"],
                                   value=helper.make_tensor("one", FLOAT, [1], [1.0]))]
        current = "expanded"
    if crop:
        node, values = _spatial_slice(current, "cropped", crop, -crop, "k")
        nodes.append(node)
        inits.update(values)
        current = "cropped"
    if pool > 1:
        nodes.append(helper.make_node("AveragePool", [current], ["pooled"],
                                      kernel_shape=[pool, pool], strides=[pool, pool]))
        current = "pooled"
    if final == "Clip":
        nodes.append(helper.make_node("Clip", [current, "low", "high"], ["final"]))
        inits.update(low=np.array(0, np.float32), high=np.array(1, np.float32))
    elif final:
        nodes.append(helper.make_node(final, [current], ["final"],
                                      **({"axis": 1} if final == "Softmax" else {})))
    nodes.append(helper.make_node("Identity", ["final" if final else current], ["output"]))
    return OnnxModel.from_path(save_graph(path, nodes, *_io(channels), inits),
                               activation=None if final else "none")


def predict(model, image, valid=None, steady=False, **options) -> np.ndarray:
    """predict_array; ``steady``: as on a GPU provider (equal batches, padded; windows
    stacked by several threads, batches run two at a time), here on the CPU."""
    model.steady_batches = steady
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say about these pixels
        return predict_array(model, image, valid, options=PredictOptions(**options))


# --- the documented rules, independently of geotile's code -----------------------------
def window_starts(length: int, size: int, stride: int) -> list[int]:
    """A regular stride, the last window ending on the raster's edge; one window (padded
    past the edge) on a raster no longer than it."""
    return [0] if length <= size else [*range(0, length - size, stride), length - size]


def profile(blend: str, size: int, first: bool, last: bool) -> np.ndarray:
    centre = np.arange(size) + 0.5
    weights = {"bilinear": np.minimum(centre, size - centre) / (size / 2),
               "hann": 0.5 - 0.5 * np.cos(2 * np.pi * centre / size),
               "uniform": np.ones(size)}[blend]
    weights = np.maximum(weights, 1e-3)
    if first:
        weights[: size // 2] = 1.0
    if last:
        weights[size - size // 2 :] = 1.0
    return weights


def blended_offsets(length: int, size: int, overlap: int, blend: str, crop: int = 0,
                    scale: int = 1, far: bool = False) -> np.ndarray:
    """Along one axis, the weighted mean of the offsets of the windows covering each pixel
    (the corner model's blend), NaN where no output reaches (a crop's outer margin).
    ``crop``: the output lacks as many px on each side; ``scale``: the output is in cells of
    ``scale`` px, upsampled, its outer ``scale // 2`` px at no weight (but on the raster's
    border), the windows starting on whole cells (the last may reach past the edge, where
    the raster's edge pixels are repeated); ``far``: the offsets of the windows' last pixels
    (the far corner model's), the raster's last past its edge."""
    out, margin = size - 2 * crop, scale // 2
    extent = length + crop  # a crop's last output ends on the edge
    if scale > 1 and extent > size:
        extent = size + -(-(extent - size) // scale) * scale
    starts = window_starts(extent, size, size - overlap)
    sums, weights = np.zeros(length), np.zeros(length)
    for i, start in enumerate(starts):
        first, last = i == 0, i == len(starts) - 1
        w = np.zeros(out)
        w[margin : out - margin] = profile(blend, out - 2 * margin, first, last)
        if first:
            w[:margin] = 1.0
        if last:
            w[out - margin :] = 1.0
        w = w[: max(0, length - start - crop)]
        value = min(start + size - 1, length - 1) if far else start
        sums[start + crop : start + crop + len(w)] += w * value
        weights[start + crop : start + crop + len(w)] += w
    with np.errstate(invalid="ignore"):
        result = sums / weights
    result[:crop] = np.nan
    result[length - crop :] = np.nan
    return result


def expected_corner(height, width, size, overlap, blend, crop=0, scale=1, far=False
                    ) -> np.ndarray:
    """The corner model's blend (2, H, W): x offsets by column, y offsets by row, / SCALE."""
    xs = blended_offsets(width, size, overlap, blend, crop, scale, far) / SCALE
    ys = blended_offsets(height, size, overlap, blend, crop, scale, far) / SCALE
    nan = np.isnan(xs)[np.newaxis] | np.isnan(ys)[:, np.newaxis]
    result = np.stack([np.broadcast_to(xs, (height, width)),
                       np.broadcast_to(ys[:, np.newaxis], (height, width))])
    return np.where(nan, np.nan, result)


def test_the_documented_rules_on_a_small_case():
    # windows of 8 px at stride 4 over 14 px: at 0, 4 and 6 (the last moved back)
    assert window_starts(14, 8, 4) == [0, 4, 6]
    np.testing.assert_allclose(profile("bilinear", 8, False, False),
                               [0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125])
    np.testing.assert_allclose(profile("bilinear", 8, True, False)[:5], [1, 1, 1, 1, 0.875])
    # pixel 6: window 0 at 0.375 (its x 6), window 4 at 0.625 (x 2), window 6 at 0.125 (x 0:
    # the last window's full weight runs from its centre to the raster's edge only)
    assert blended_offsets(14, 8, 4, "bilinear")[6] == pytest.approx(
        (0.375 * 0 + 0.625 * 4 + 0.125 * 6) / (0.375 + 0.625 + 0.125))


# (height, width, tile, overlap, blend, block size, batch size): strips (block sizes below
# the width) and batches across rows of windows (batch sizes not dividing a row)
LAYOUTS = [
    (37, 53, 16, 8, "bilinear", 10**6, 1),
    (37, 53, 16, 5, "hann", 64, 3),
    (41, 150, 12, 7, "uniform", 64, 5),
    (33, 131, 20, 0, "bilinear", 64, 4),
    (45, 70, 16, 15, "hann", 64, 7),
    (70, 150, 64, 24, "hann", 10**6, 2),  # hann's first and last weights floored at 1e-3
    (30, 19, 64, 16, "bilinear", 10**6, 2),  # smaller than one window: padded
    (50, 150, 12, 4, "bilinear", 64, 9),  # steady below: 9 windows stacked by 4 threads
]


@pytest.mark.parametrize(("height", "width", "tile", "overlap", "blend", "block", "batch"),
                         LAYOUTS)
def test_an_identity_model_gives_the_image_back(tmp_path, height, width, tile, overlap, blend,
                                                block, batch):
    model = graph_model(tmp_path / "identity.onnx", "identity")
    image = ramp_image(height, width)
    for steady in (False, True):
        out = predict(model, image, steady=steady, tile_size=tile, overlap=overlap, blend=blend,
                      block_size=block, batch_size=batch)
        np.testing.assert_allclose(out, image, rtol=3e-6, atol=0)


@pytest.mark.parametrize(("height", "width", "tile", "overlap", "blend", "block", "batch"),
                         LAYOUTS)
def test_window_offsets_blend_with_the_documented_weights(tmp_path, height, width, tile,
                                                          overlap, blend, block, batch):
    model = graph_model(tmp_path / "corner.onnx", "corner")
    out = predict(model, ramp_image(height, width), tile_size=tile, overlap=overlap,
                  blend=blend, block_size=block, batch_size=batch)
    np.testing.assert_allclose(out, expected_corner(height, width, tile, overlap, blend),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("blend", ["bilinear", "hann", "uniform"])
def test_a_constant_model_blends_to_one_everywhere(tmp_path, blend):
    model = graph_model(tmp_path / "ones.onnx", "ones")
    out = predict(model, ramp_image(45, 131), tile_size=16, overlap=6, blend=blend,
                  block_size=64, batch_size=3)
    np.testing.assert_allclose(out, 1.0, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("tile", "overlap", "crop", "block"),
                         [(16, 8, 2, 10**6), (20, 9, 3, 64), (16, 4, 2, 64)])
def test_a_cropped_output_is_placed_in_its_window_and_the_margin_left_nodata(
        tmp_path, tile, overlap, crop, block):
    """A valid-convolution model (output ``crop`` px short of each side): its output lies in
    the window's centre; the raster's outer ``crop`` px get no prediction (NaN)."""
    height, width = 43, 150
    image = ramp_image(height, width)
    identity = graph_model(tmp_path / "identity.onnx", "identity", crop=crop)
    out = predict(identity, image, tile_size=tile, overlap=overlap, block_size=block,
                  batch_size=3)
    inner = (slice(None), slice(crop, height - crop), slice(crop, width - crop))
    np.testing.assert_allclose(out[inner], image[inner], rtol=3e-6, atol=0)
    margin = np.ones((height, width), bool)
    margin[inner[1:]] = False
    assert np.isnan(out[:, margin]).all()
    corner = graph_model(tmp_path / "corner.onnx", "corner", crop=crop)
    out = predict(corner, image, tile_size=tile, overlap=overlap, block_size=block,
                  batch_size=3)
    np.testing.assert_allclose(out, expected_corner(height, width, tile, overlap, "bilinear",
                                                    crop), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("blend", "block"), [("bilinear", 10**6), ("hann", 64), ("uniform", 64)])
def test_a_downscaling_models_cells_blend_without_their_outer_half_cell(tmp_path, blend, block):
    """A model whose output is in 2 px cells (upsampled): its windows start on whole cells,
    its outer half-cell has no weight but on the raster's border; odd sizes make the last
    windows reach past the raster."""
    height, width, tile, overlap = 41, 133, 16, 6
    corner = graph_model(tmp_path / "corner.onnx", "corner", pool=2)
    out = predict(corner, ramp_image(height, width), tile_size=tile, overlap=overlap,
                  blend=blend, block_size=block, batch_size=3)
    np.testing.assert_allclose(out, expected_corner(height, width, tile, overlap, blend,
                                                    scale=2), rtol=0, atol=1e-6)


def test_a_downscaling_models_last_windows_see_the_edge_pixels_repeated(tmp_path):
    """The far corner of the last windows lies past the raster (odd sizes): it holds the
    raster's last column and row, repeated there."""
    height, width, tile, overlap = 41, 133, 16, 6
    far = graph_model(tmp_path / "far.onnx", "far", pool=2)
    out = predict(far, ramp_image(height, width), tile_size=tile, overlap=overlap,
                  block_size=64, batch_size=3)
    np.testing.assert_allclose(out, expected_corner(height, width, tile, overlap, "bilinear",
                                                    scale=2, far=True), rtol=0, atol=1e-6)


def test_a_downscaling_model_keeps_a_constant_image_constant(tmp_path):
    """Past the raster's edge a downscaling model's last cells see the edge pixels repeated,
    never zeros: a constant image stays constant, up to its last row and column."""
    identity = graph_model(tmp_path / "identity.onnx", "identity", pool=2)
    image = np.full((2, 41, 133), 0.5, np.float32)
    out = predict(identity, image, tile_size=16, overlap=6, block_size=64, batch_size=3)
    np.testing.assert_allclose(out, 0.5, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("tile", "overlap", "pixels"), [(100, 0.29, 29), (100, 0.335, 34),
                                                          (32, 1, 1), (32, 0.5, 16)])
def test_the_overlap_in_pixels(tmp_path, tile, overlap, pixels):
    """A fraction of the tile is rounded to whole pixels (0.29 of 100 px is 29 px, though
    0.29 * 100 is 28.999999999999996); 1 (or more) is whole pixels, not the whole tile."""
    height, width = 120, 260
    corner = graph_model(tmp_path / "corner.onnx", "corner")
    out = predict(corner, ramp_image(height, width), tile_size=tile, overlap=overlap,
                  batch_size=4)
    np.testing.assert_allclose(out, expected_corner(height, width, tile, pixels, "bilinear"),
                               rtol=0, atol=1e-6)


def test_a_downscaling_model_gets_the_overlap_that_covers_its_outer_cells(tmp_path):
    """In 4 px cells, the outer 2 px of each window have no weight: windows asked for no
    overlap overlap by 4 px, so that every pixel has a window's weight (none is NaN)."""
    height, width = 40, 90
    corner = graph_model(tmp_path / "corner.onnx", "corner", pool=4)
    out = predict(corner, ramp_image(height, width), tile_size=16, overlap=0, batch_size=4)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected_corner(height, width, 16, 4, "bilinear", scale=4),
                               rtol=0, atol=1e-6)


def test_nodata_pixels_reach_the_model_as_zeros_and_come_out_as_nodata(tmp_path):
    """The model never sees nodata pixels' raw values (they are zeroed after normalisation):
    a model giving its window's largest value gives 0.25, the valid pixels' value, at every
    valid pixel, however bright the nodata pixels; these are NaN in the output. Windows
    holding nodata alone are not run; windows partly nodata are, and place their valid
    pixels (an identity model gives them back)."""
    height, width = 60, 150
    valid = np.ones((height, width), bool)
    valid[:, 40:75] = False  # wider than a window: some windows hold nodata alone
    valid[10:13, 100:103] = False
    valid[height - 1, :] = False
    image = np.where(valid, np.float32(0.25), np.float32(0.75))[np.newaxis].repeat(2, axis=0)
    options = {"tile_size": 16, "overlap": 4, "block_size": 64, "batch_size": 3}
    out = predict(graph_model(tmp_path / "max.onnx", "max"), image, valid, **options)
    assert np.isnan(out[:, ~valid]).all()
    np.testing.assert_array_equal(out[:, valid], 0.25)
    ramp = ramp_image(height, width)
    out = predict(graph_model(tmp_path / "identity.onnx", "identity"), ramp, valid, **options)
    assert np.isnan(out[:, ~valid]).all()
    np.testing.assert_allclose(out[:, valid], ramp[:, valid], rtol=3e-6, atol=0)


@pytest.mark.parametrize(("block", "align"), [(100, 64), (64, 48), (200, 64)])
def test_strips_of_whole_output_blocks_hold_a_window(tmp_path, block, align):
    """Strips are a multiple of the output's block width (``align``), each written block at
    a multiple of it, and blend as the whole width does."""
    from geotile.predict import predict_blocks

    height, width, tile, overlap = 50, 300, 96, 24
    image = ramp_image(height, width, scale=512)
    corner = graph_model(tmp_path / "corner.onnx", "corner")

    def read(left, top, cols, rows):
        part = image[:, top : top + rows, left : left + cols]
        pad = ((0, 0), (0, rows - part.shape[1]), (0, cols - part.shape[2]))
        return np.pad(part, pad), np.pad(np.ones(part.shape[1:], bool), pad[1:])

    out = np.full((2, height, width), np.nan, np.float32)
    options = PredictOptions(tile_size=tile, overlap=overlap, block_size=block, batch_size=2)
    for window, blended, valid in predict_blocks(corner, read, width, height, options,
                                                 align=align):
        assert window.col_off % align == 0
        out[(slice(None), *window.toslices())] = np.where(valid, blended, np.nan)
    np.testing.assert_allclose(out * 512, expected_corner(height, width, tile, overlap,
                                                          "bilinear") * SCALE, rtol=0,
                               atol=1e-4)


def test_infinite_outputs_at_nodata_are_left_out_and_at_a_valid_pixel_named(tmp_path):
    """A model dividing by its input gives inf at nodata pixels (fed as 0): left out, never
    blended into their valid neighbours; at a valid pixel of 0 it is an error naming that
    pixel's row and column (a valid-convolution model's output lies 2 px into its window)."""
    from geotile.non_finite_output import NonFiniteOutput

    height, width = 50, 90
    model = graph_model(tmp_path / "reciprocal.onnx", "reciprocal", crop=2)
    image = np.full((2, height, width), 0.5, np.float32)
    valid = np.ones((height, width), bool)
    valid[20:30, 41:52] = False
    valid[5, 5] = False
    options = {"tile_size": 16, "overlap": 6, "block_size": 64, "batch_size": 3}
    out = predict(model, np.where(valid, image, np.float32(0.9)), valid, **options)
    inner = np.zeros((height, width), bool)
    inner[2:-2, 2:-2] = True
    np.testing.assert_allclose(out[:, valid & inner], 2.0, rtol=1e-6, atol=0)
    assert np.isnan(out[:, ~(valid & inner)]).all()
    image[1, 17, 77] = 0  # one channel's value 0 at a valid pixel: 1 / 0
    with pytest.raises(NonFiniteOutput, match=r"the first at row 17, col 77[^0-9]"):
        predict(model, image, valid, **options)


def test_uint8_probabilities_of_a_cropping_model_mask_its_margin_and_keep_the_values(
        tmp_path, make_raster):
    """uint8 pixels v reach the model as v / 255; an identity model's probabilities, written
    as uint8 (round(p * 255)), are v again. A valid-convolution model leaves the raster's
    outer 2 px unpredicted: nodata in the output's mask, though the image has no nodata."""
    pixels = np.random.default_rng(5).integers(0, 256, (1, 37, 70), dtype=np.uint8)
    model = graph_model(tmp_path / "m.onnx", "identity", crop=2, channels=1, final="Clip")
    out = tmp_path / "p.tif"
    predict_raster(model, make_raster("in.tif", pixels), out,
                   options=PredictOptions(tile_size=16, overlap=6, dtype="uint8"))
    with rasterio.open(out) as dst:
        values, mask = dst.read(1), dst.read_masks(1)
        assert dst.tags()["GEOTILE_SCALE"] == "255"
        assert dst.scales == pytest.approx((1 / 255,), rel=1e-9)  # readers applying it: 0..1
        assert dst.offsets == (0.0,)
    np.testing.assert_array_equal(values[2:-2, 2:-2], pixels[0, 2:-2, 2:-2])
    assert (mask[2:-2, 2:-2] == 255).all()
    mask[2:-2, 2:-2] = 0
    assert not mask.any()


@pytest.mark.parametrize("crop", [0, 2])
def test_class_output_of_one_channel_is_p_at_least_the_default_threshold(tmp_path,
                                                                        make_raster, crop):
    """Class 1 where p >= 0.5 (the default threshold, tagged): v / 255 >= 0.5 from v = 128;
    a valid-convolution model's unpredicted margin is nodata (255), not class 0."""
    pixels = np.arange(256 * 4, dtype=np.int64).reshape(1, 32, 32).astype(np.uint8)
    model = graph_model(tmp_path / "m.onnx", "identity", crop, channels=1, final="Clip")
    out = tmp_path / "c.tif"
    predict_raster(model, make_raster("in.tif", pixels), out,
                   options=PredictOptions(tile_size=12, overlap=4, output_type="class"))
    expected = (pixels[0] >= 128).astype(np.uint8)
    if crop:
        inner = expected[crop:-crop, crop:-crop].copy()
        expected[...] = 255
        expected[crop:-crop, crop:-crop] = inner
    with rasterio.open(out) as dst:
        np.testing.assert_array_equal(dst.read(1), expected)
        assert float(dst.tags()["GEOTILE_THRESHOLD"]) == 0.5


def _float_raster(make_raster, channels) -> str:
    """One window's pixels (8 x 8, a window of its own: each blended value is the model's
    own), the pixels ``channels`` (values per channel) in its first columns, 0 elsewhere."""
    pixels = np.zeros((len(channels[0]), 8, 8), np.float32)
    for col, values in enumerate(channels):
        pixels[:, :, col] = np.asarray(values, np.float32)[:, np.newaxis]
    return make_raster("in.tif", pixels)


def test_independent_channels_reaching_the_threshold_exactly_are_a_class(tmp_path,
                                                                         make_raster):
    """Sigmoid channels (multi-label): 0 background where none reaches the threshold, else
    1 + the most probable; p = sigmoid(0) = 0.5 reaches a threshold of 0.5."""
    image = _float_raster(make_raster, [(0, -2), (-2, 0), (-0.5, -3), (0, 0), (1, 0.5)])
    model = graph_model(tmp_path / "m.onnx", "identity", final="Sigmoid")
    out = tmp_path / "c.tif"
    predict_raster(model, image, out, options=PredictOptions(tile_size=8, output_type="class"))
    with rasterio.open(out) as dst:
        # columns: channel 1 at 0.5, channel 2 at 0.5, none, a tie (the first), channel 1;
        # then pixels of 0: p = 0.5 in both channels, a tie
        np.testing.assert_array_equal(dst.read(1)[0], [1, 2, 0, 1, 1, 1, 1, 1])


def test_exclusive_classes_of_equal_probability_are_the_first(tmp_path, make_raster):
    """Softmax classes: the argmax, a tie going to the first class (as numpy's argmax)."""
    image = _float_raster(make_raster, [(0, 0), (0, 1), (1, 0)])
    model = graph_model(tmp_path / "m.onnx", "identity", final="Softmax")
    out = tmp_path / "c.tif"
    predict_raster(model, image, out, options=PredictOptions(tile_size=8, output_type="class"))
    with rasterio.open(out) as dst:
        np.testing.assert_array_equal(dst.read(1)[0], [0, 1, 0, 0, 0, 0, 0, 0])


def test_raw_values_are_tagged_raw_with_no_threshold(tmp_path, make_raster):
    """A model's raw values (no activation) are no probabilities: tagged raw, and no
    threshold travels with them for vectorize or evaluate to apply."""
    model = graph_model(tmp_path / "m.onnx", "identity", channels=1)
    out = tmp_path / "p.tif"
    pixels = np.random.default_rng(7).integers(0, 256, (1, 20, 20), dtype=np.uint8)
    predict_raster(model, make_raster("in.tif", pixels), out,
                   options=PredictOptions(tile_size=8, overlap=2))
    with rasterio.open(out) as dst:
        assert dst.tags()["GEOTILE_OUTPUT"] == "raw"
        assert "GEOTILE_THRESHOLD" not in dst.tags()
        np.testing.assert_allclose(dst.read(1), pixels[0] / 255, rtol=3e-6)


def _outputs_model(*outputs, classes=None):
    from types import SimpleNamespace

    heads = [SimpleNamespace(name=f"out{i}", channels=channels, multi_label=multi)
             for i, (channels, multi) in enumerate(outputs)]
    names = [f"c{i}" for i in range(classes or sum(c for c, _ in outputs))]
    return SimpleNamespace(path="m.onnx", outputs=heads, num_classes=len(names),
                           class_names=names)


def test_a_class_raster_holds_255_classes_and_refuses_more():
    """Ids 0-254 (255 is nodata): 255 exclusive classes fit, 256 do not."""
    from geotile.class_output import check_class_output
    from geotile.errors import ModelError

    check_class_output(_outputs_model((255, False)))
    with pytest.raises(ModelError, match="256 classes do not fit a class raster of ids 0-254"):
        check_class_output(_outputs_model((256, False)))


@pytest.mark.parametrize(("outputs", "relation"), [
    ([(3, False)], "exclusive"), ([(3, True)], "independent"),
    ([(1, False), (1, False)], "independent"), ([(2, True), (1, False)], "independent"),
    ([(2, False), (1, False)], "outputs")])
def test_the_bands_tag_says_how_the_probability_bands_relate(outputs, relation):
    """GEOTILE_BANDS: one softmax output's classes are exclusive; one output's sigmoid
    channels, or several outputs each of sigmoids (a building head, a 2-channel sigmoid road
    head), independent; a softmax head beside others neither ("outputs")."""
    from geotile.class_output import band_relation

    assert band_relation(_outputs_model(*outputs)) == relation
