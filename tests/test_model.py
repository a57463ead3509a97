"""model.py: layouts, sizes, metadata, normalisation, activation, providers, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from geotile.errors import ModelError
from geotile.graph_analysis import graph_activation
from geotile.model import OnnxModel
from geotile.providers import usable_providers

from .onnx_models import pointwise_model, pointwise_reference


def test_layouts_sizes_and_classes(tmp_path):
    nchw = OnnxModel.from_path(pointwise_model(tmp_path / "a.onnx"))
    assert (nchw.layout, nchw.channels, nchw.tile_size, nchw.fixed_size) == ("NCHW", 3, None,
                                                                             False)
    nhwc = OnnxModel.from_path(pointwise_model(tmp_path / "b.onnx", layout="NHWC", size=224))
    assert (nhwc.layout, nhwc.channels, nhwc.tile_size, nhwc.fixed_size) == ("NHWC", 3, 224, True)
    multi = OnnxModel.from_path(pointwise_model(tmp_path / "c.onnx", classes=4, channels=5))
    assert multi.num_classes == 4 and multi.channels == 5
    assert multi.class_names == ["class_1", "class_2", "class_3", "class_4"]


def test_activation_comes_from_the_graph(tmp_path):
    assert graph_activation(pointwise_model(tmp_path / "a.onnx")) == "auto"
    assert graph_activation(pointwise_model(tmp_path / "b.onnx", activation="sigmoid")) == "none"
    nhwc_softmax = pointwise_model(tmp_path / "c.onnx", activation="softmax", layout="NHWC",
                                   classes=3)
    assert graph_activation(nhwc_softmax) == "none"  # seen through the final Transpose
    batch = np.random.default_rng(0).normal(0, 1, (2, 3, 8, 8)).astype(np.float32)
    for path, classes in ((tmp_path / "a.onnx", 1), (nhwc_softmax, 3)):
        out = OnnxModel.from_path(path).run(batch)
        np.testing.assert_allclose(out, pointwise_reference(batch, classes=classes), atol=1e-5)


def test_deepness_metadata_and_overrides(tmp_path):
    metadata = {"class_names": {"0": "roof"}, "tiles_size": 192, "tiles_overlap": 25,
                "standardization_mean": [0.5, 0.5, 0.5], "standardization_std": [0.25] * 3,
                "seg_thresh": 0.4}
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", metadata=metadata))
    assert model.class_names == ["roof"] and model.tile_size == 192
    assert model.overlap_fraction == 0.25 and model.threshold == 0.4
    pixels = np.full((1, 3, 2, 2), 255, np.uint8)
    np.testing.assert_allclose(model.prepare(pixels), (1.0 - 0.5) / 0.25)  # uint8 / 255 first
    override = OnnxModel.from_path(tmp_path / "m.onnx", mean=[0.0], std=[2.0], scale=1.0)
    np.testing.assert_allclose(override.prepare(pixels), 127.5)
    uint16 = np.full((1, 3, 2, 2), 1000, np.uint16)
    plain = OnnxModel.from_path(pointwise_model(tmp_path / "p.onnx"))
    np.testing.assert_allclose(plain.prepare(uint16), 1000.0)  # non-uint8: unscaled


def test_fixed_batch_is_padded(tmp_path):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", batch=4, size=8))
    batch = np.random.default_rng(1).random((6, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(model.run(batch), pointwise_reference(batch), atol=1e-5)


def test_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        OnnxModel.from_path(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        OnnxModel.from_path(junk)
    too_new = pointwise_model(tmp_path / "new.onnx", ir_version=14)
    with pytest.raises(ModelError, match=r"IR version 14.*reads up to"):
        OnnxModel.from_path(too_new)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match="--bands 1,1,1"):
        model.check_bands(1, "pan.tif")


@pytest.mark.skipif("cuda" in usable_providers(), reason="a CUDA provider is usable here")
def test_cpu_machine_auto_is_quiet_and_cuda_is_a_clear_error(tmp_path):
    path = pointwise_model(tmp_path / "m.onnx")
    code = ("from geotile.model import OnnxModel; import sys;"
            f"m = OnnxModel.from_path({str(path)!r}); print(m.provider)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "CPUExecutionProvider"
    assert out.stderr == ""  # no ONNX Runtime error dump about missing CUDA libraries
    with pytest.raises(ModelError, match="cuda execution provider cannot run here") as error:
        OnnxModel.from_path(path, providers="cuda")
    assert "tensorrt" not in str(error.value)
    if "tensorrt" not in usable_providers():  # TensorRT's own package named, not only CUDA's
        with pytest.raises(ModelError, match=r"tensorrt execution provider cannot run here.*"
                           r"onnxruntime-gpu\[cuda,cudnn\]' and pip install tensorrt-cu13"):
            OnnxModel.from_path(path, providers="tensorrt")


@pytest.mark.gpu
@pytest.mark.skipif("cuda" not in usable_providers(), reason="no usable CUDA provider")
def test_cuda_provider_matches_cpu(tmp_path):
    path = pointwise_model(tmp_path / "m.onnx")
    batch = np.random.default_rng(2).random((4, 3, 64, 64)).astype(np.float32)
    gpu = OnnxModel.from_path(path, providers="cuda")
    assert gpu.provider == "CUDAExecutionProvider"
    np.testing.assert_allclose(gpu.run(batch), pointwise_reference(batch), atol=1e-4)


def test_tensorrt_keeps_its_engines_on_disk(tmp_path, monkeypatch):
    from geotile.providers import PROVIDERS, provider_options, tensorrt_cache

    monkeypatch.delenv("GEOTILE_TENSORRT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tensorrt_cache() == tmp_path / "xdg" / "geotile" / "tensorrt"
    chain = [PROVIDERS["tensorrt"], PROVIDERS["cuda"], PROVIDERS["cpu"]]
    (trt, options), (cuda, cuda_options), cpu = provider_options(chain, fp16=True)
    assert (trt, cuda, cpu) == tuple(chain)
    assert cuda_options == {"prefer_nhwc": "1"}  # channels-last kernels: faster on tensor cores
    assert options["trt_engine_cache_enable"] == "True" and options["trt_fp16_enable"] == "True"
    assert options["trt_engine_cache_path"] == str(tmp_path / "xdg" / "geotile" / "tensorrt")
    assert (tmp_path / "xdg" / "geotile" / "tensorrt").is_dir()
    monkeypatch.setenv("GEOTILE_TENSORRT_CACHE", str(tmp_path / "engines"))
    assert provider_options(chain)[0][1]["trt_engine_cache_path"] == str(tmp_path / "engines")
    assert provider_options(chain)[0][1]["trt_fp16_enable"] == "False"
    # CPU and CUDA runs touch no cache
    assert provider_options([PROVIDERS["cpu"]]) == [PROVIDERS["cpu"]]


def test_cpu_sessions_stop_spinning_between_runs(tmp_path):
    """ONNX Runtime's CPU threads spin after each run by default, taking a core from
    predict's reading and blending threads between batches."""
    from tests.onnx_models import pointwise_model

    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    options = model.session.get_session_options()
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"


def test_class_names_under_other_exporters_keys(tmp_path, caplog):
    """mmseg's ``classes`` and other exporters' ``labels`` were not read: the bands were
    class_1.. class_3. A JSON list, a Python literal, names by commas or a name -> id dict
    under classes/labels/class_names (any case) names them; geotile's own key wins."""
    names = ["background", "building", "road"]

    def named(metadata, name="m.onnx"):
        caplog.clear()
        path = pointwise_model(tmp_path / name, classes=3, metadata=metadata)
        return OnnxModel.from_path(path).class_names

    for metadata in ({"classes": json.dumps(names)}, {"labels": "background, building,road"},
                     {"CLASSES": str(tuple(names))},
                     {"labels": json.dumps({"road": 2, "background": 0, "building": 1})},
                     {"classes": json.dumps(names), "labels": json.dumps(names)},
                     {"class_names": json.dumps(names), "labels": "a,b,c"},
                     {"class_names": "", "classes": ",".join(names)},
                     {"names": ",".join(names), "labels": "[[1"}):
        assert named(metadata) == names, metadata
        assert not caplog.records, metadata
    binary = pointwise_model(tmp_path / "b.onnx", metadata={"classes": '["bg", "building"]'})
    assert OnnxModel.from_path(binary).class_names == ["building"]
    # unreadable, or ambiguous: one warning line naming the key, the bands named by number
    for metadata, said in (({"classes": '["background", "building"'}, "metadata classes"),
                           ({"labels": json.dumps([["a"], ["b"], ["c"]])}, "metadata labels"),
                           ({"classes": "a,b,c", "labels": "x,y,z"}, "classes and labels"),
                           ({"classes": "a,b"}, "metadata classes gives 2 class names")):
        assert named(metadata) == ["class_1", "class_2", "class_3"], metadata
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warned) == 1 and said in warned[0] and "m.onnx" in warned[0], warned
        assert "\n" not in warned[0]


def test_class_names_from_huggingface_id2label(tmp_path, caplog):
    """A SegFormer export's HuggingFace ``id2label`` ({"0": "background", ...}) was not
    read, without a word: the bands were class_1.. class_3 and evaluate paired a model's
    classes with the masks' by id. id2label (or label2id) names them now."""
    names = ["background", "building", "road"]
    for metadata in ({"id2label": json.dumps({str(i): n for i, n in enumerate(names)})},
                     {"label2id": json.dumps({n: i for i, n in enumerate(names)})}):
        path = pointwise_model(tmp_path / "m.onnx", classes=3, metadata=metadata)
        assert OnnxModel.from_path(path).class_names == names, metadata
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_huggingface_class_ids_name_their_own_bands(tmp_path, caplog):
    """id2label {"0": "background", "2": "road"} (no id 1) named a 3-class model's bands
    background, road and... by place: road became band 1; label2id {"building": 1,
    "road": 2, "water": 3} of a 3-band model (no id 0) named bands 0..2 building, road,
    water, one off, without a word. Ids name their bands now; an unnamed id is numbered
    like an unnamed band, and ids past the bands are warned of."""
    for metadata, expected in (
            ({"id2label": json.dumps({"2": "road", "0": "background"})},
             ["background", "class_2", "road"]),
            ({"label2id": json.dumps({"road": 2, "background": 0, "building": 1})},
             ["background", "building", "road"]),
            ({"label2id": json.dumps({"building": 1, "road": 2, "water": 3})},
             ["class_1", "class_2", "class_3"])):
        caplog.clear()
        path = pointwise_model(tmp_path / "m.onnx", classes=3, metadata=metadata)
        assert OnnxModel.from_path(path).class_names == expected, metadata
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warned) == (expected[0] == "class_1"), warned


def test_fp16_copy_follows_retrained_external_weights(tmp_path, monkeypatch):
    """A model re-exported with new weights in its external .data file (same graph, same
    offsets) got the cached float16 copy of the old weights: the cache key covers them."""
    import onnxruntime as ort

    from geotile.model_file import float16_copy

    from .onnx_models import FLOAT, conv1x1, save_graph

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    path, feed = tmp_path / "unet.onnx", np.ones((1, 3, 2, 2), np.float32)
    for seed in (1, 2):
        for old in (path, path.with_name("unet.onnx.data")):
            old.unlink(missing_ok=True)  # a fresh export, as torch.onnx.export writes it
        conv, weights = conv1x1("input", "output", 3, 2, seed=seed)
        save_graph(path, [conv], [("input", FLOAT, ["N", 3, "H", "W"])],
                   [("output", FLOAT, ["N", 2, "H", "W"])], weights, external=True)
        copy = ort.InferenceSession(str(float16_copy(path)), providers=["CPUExecutionProvider"])
        expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(copy.run(None, {"input": feed})[0],
                                   expected.run(None, {"input": feed})[0], atol=5e-3)


def test_fp16_copy_of_resizes_sharing_their_scales(tmp_path, monkeypatch):
    """torch.onnx.export(dynamo=True), the default since torch 2.9, gives every
    nn.Upsample(scale_factor=2) of a U-Net one shared scales initializer, with a value_info:
    the float16 copy held two Cast nodes named 'scales_cast_to_fp32_node' for it, and --fp16
    on a GPU was 'ONNX Runtime cannot load the model (... two nodes with same node name
    ...)'. The copy now loads and gives the float32 model's values."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    from geotile.model_file import float16_copy

    from .onnx_models import FLOAT, conv1x1, save_graph

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    conv, weights = conv1x1("input", "c", 3, 2, seed=3)
    nodes = [conv, helper.make_node("Resize", ["c", "", "scales"], ["up1"], mode="linear"),
             helper.make_node("Relu", ["up1"], ["r"]),
             helper.make_node("Resize", ["r", "", "scales"], ["output"], mode="linear")]
    path = save_graph(tmp_path / "unet.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 2, "H4", "W4"])],
                      {**weights, "scales": np.array([1, 1, 2, 2], np.float32)})
    model = onnx.load(str(path))  # as torch's dynamo exporter writes it
    model.graph.value_info.append(helper.make_tensor_value_info("scales", FLOAT, [4]))
    onnx.save(model, str(path))
    feed = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    copy = ort.InferenceSession(str(float16_copy(path)), providers=["CPUExecutionProvider"])
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(copy.run(None, {"input": feed})[0],
                               expected.run(None, {"input": feed})[0], atol=5e-3)



def test_fp16_on_a_quantized_model_runs_it_as_it_is(tmp_path, monkeypatch, caplog):
    """--fp16 on an int8 QDQ model (QuantizeLinear/DequantizeLinear) on a GPU provider was
    'ONNX Runtime cannot load the model (... tensor(float16) ... QuantizeLinear)': the float16
    converter breaks the quantisation. The quantized model now runs as it is, with a warning."""
    from onnx import helper

    import geotile.model as model_module

    from .onnx_models import FLOAT, conv1x1, ort_run, save_graph

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(model_module, "choose_providers",
                        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    conv, weights = conv1x1("dq", "output", 3, 2, seed=8)
    nodes = [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]), conv]
    path = save_graph(tmp_path / "int8.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 2, "H", "W"])],
                      {**weights, "s": np.array(1 / 255, np.float32), "z": np.array(0, np.uint8)})
    batch = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path, fp16=True, activation="none")
    assert "--fp16 ignored" in caplog.text and "int8.onnx" in caplog.text
    np.testing.assert_allclose(model.run(batch), ort_run(path, batch)[0], atol=1e-5)


def test_a_model_replaced_while_loading_is_read_whole(tmp_path, monkeypatch):
    """A retrained model copied over the old one while predict loaded it: the graph came from
    the old file (ends in Sigmoid: no activation added) and the session from the new one
    (logits), so predict wrote logits as probabilities, exit 0 (or refused the new model in
    words about the old one). The model is read once: graph and session are one model."""
    import pathlib

    path = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", seed=0)
    retrained = pointwise_model(tmp_path / "new.onnx", activation="none", seed=1).read_bytes()
    read_bytes = pathlib.Path.read_bytes

    def copied_in_after_the_first_read(self):
        data = read_bytes(self)
        if self == path and not getattr(copied_in_after_the_first_read, "done", False):
            copied_in_after_the_first_read.done = True
            with open(path, "wb") as file:  # as cp writes it: in place
                file.write(retrained)
        return data

    monkeypatch.setattr(pathlib.Path, "read_bytes", copied_in_after_the_first_read)
    batch = np.random.default_rng(0).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(OnnxModel.from_path(path, providers="cpu").run(batch),
                               pointwise_reference(batch, seed=0), atol=1e-5)


def test_a_model_cut_short_is_called_an_unfinished_copy(tmp_path, run_cli, make_raster):
    """predict of a model still being copied in (or a copy that stopped) said 'not an ONNX
    model (the file cannot be parsed). Export it with torch.onnx.', sending the user to
    re-export a good model; now one line says it is cut short and to copy it again."""
    whole = pointwise_model(tmp_path / "whole.onnx").read_bytes()
    model = tmp_path / "m.onnx"
    model.write_bytes(whole[: len(whole) // 2])
    image = make_raster("img.tif", np.zeros((3, 16, 16), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "m.onnx: cut short" in result.output and "copy it again" in result.output
    assert "Export it" not in result.output
    assert not (tmp_path / "p.tif").exists()


def test_tensorrt_engines_of_retrained_external_weights_are_not_shared(tmp_path, monkeypatch):
    """A model with its weights beside it (m.onnx + m.bin), retrained: the .onnx is the same
    bytes, only m.bin differs. The TensorRT engine folder was keyed on the .onnx alone, so
    the new weights ran the old engine (the old model's predictions). The weights count."""
    import onnx
    import onnxruntime as ort
    from onnx.external_data_helper import convert_model_to_external_data

    import geotile.model as model_module
    from geotile.providers import PROVIDERS

    folders = []
    session = ort.InferenceSession

    def cpu_session(load, options, providers):
        folders.append(providers[0][1]["trt_engine_cache_path"])
        return session(load, options, providers=["CPUExecutionProvider"])

    monkeypatch.setenv("GEOTILE_TENSORRT_CACHE", str(tmp_path / "engines"))
    monkeypatch.setattr(model_module, "choose_providers", lambda requested: [
        PROVIDERS["tensorrt"], PROVIDERS["cpu"]])
    monkeypatch.setattr(ort, "InferenceSession", cpu_session)
    keys = set()
    for seed in (0, 1):
        folder = tmp_path / str(seed)
        folder.mkdir()
        proto = onnx.load(pointwise_model(folder / "plain.onnx", seed=seed))
        convert_model_to_external_data(proto, location="m.bin", size_threshold=0)
        onnx.save(proto, folder / "m.onnx")
        keys.add((folder / "m.onnx").read_bytes())
        OnnxModel.from_path(folder / "m.onnx", activation="none")
    assert len(keys) == 1  # the same .onnx file, other weights
    assert len(folders) == 2 and folders[0] != folders[1]


def test_activation_and_scaling_inside_model_local_functions_are_seen(tmp_path):
    """A model whose final Softmax and whose /255 sit in model-local functions (torch's
    export_modules_as_functions=True): its scores are taken as they are (no second
    activation) and uint8 pixels are fed as 0..255 (no second /255)."""
    from .test_onnx_graph import _function_model

    path = _function_model(tmp_path / "m.onnx")
    assert graph_activation(path) == "none"
    model = OnnxModel.from_path(path)
    pixels = np.full((1, 3, 2, 2), 255, np.uint8)
    np.testing.assert_allclose(model.prepare(pixels), 255.0)
    batch = np.random.default_rng(2).uniform(0, 255, (1, 3, 4, 4)).astype(np.float32)
    building = 1 / (1 + np.exp(-batch.sum(axis=1) / 255))  # softmax of (sum / 255, 0)
    expected = np.stack([building, 1 - building], axis=1)
    np.testing.assert_allclose(model.run(batch), expected, atol=1e-6)
