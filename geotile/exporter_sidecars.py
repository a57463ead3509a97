"""The files exporters write beside an ONNX model that carries no metadata, asked in turn:
a STAC MLM item whose model asset it is (:mod:`geotile.mlm_sidecars`), Hugging Face's
(Optimum: :mod:`geotile.hf_sidecars`), MMDeploy's
(:mod:`geotile.mmdeploy_sidecars`), PaddleSeg's and PaddleRS'
(:mod:`geotile.paddle_sidecars`), Raster Vision's (:mod:`geotile.rastervision_sidecars`),
TerraTorch's Lightning config (:mod:`geotile.terratorch_sidecars`), Esri's .emd
(:mod:`geotile.esri_sidecars`),
segmentation_models_pytorch's (:mod:`geotile.smp_sidecars`: normalisation only).
The first whose files declare a normalisation, or class names, gives them; the model's
metadata and the options override them (:class:`geotile.model.OnnxModel`)."""
from __future__ import annotations

from pathlib import Path


def sidecar_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                          ) -> tuple[dict[str, tuple], Path | None]:
    """(name -> (value, where), the file read) of the first exporter's normalisation beside
    ``model_path`` (:func:`~geotile.hf_sidecars.hf_normalization` and its peers: "mean",
    "std" of those ``wanted``, "scale" when ``scale``); ({}, None) without one."""
    from geotile.esri_sidecars import emd_file, esri_normalization
    from geotile.hf_sidecars import PREPROCESSOR, hf_folder, hf_normalization
    from geotile.mlm_sidecars import mlm_item, mlm_normalization
    from geotile.mmdeploy_sidecars import PIPELINE, mmdeploy_folder, mmdeploy_normalization
    from geotile.paddle_sidecars import paddle_folder, paddle_normalization
    from geotile.rastervision_sidecars import rv_file, rv_normalization
    from geotile.smp_sidecars import smp_normalization
    from geotile.terratorch_sidecars import terratorch_config, terratorch_normalization

    declared = mlm_normalization(model_path, wanted, scale)
    if declared:
        return declared, mlm_item(model_path)[0]
    declared = hf_normalization(model_path, wanted, scale)
    if declared:
        return declared, hf_folder(model_path) / PREPROCESSOR
    declared = mmdeploy_normalization(model_path, wanted, scale)
    if declared:
        return declared, mmdeploy_folder(model_path) / PIPELINE
    declared = paddle_normalization(model_path, wanted, scale)
    if declared:  # deploy.yaml or model.yml, as its values say
        return declared, paddle_folder(model_path) / next(iter(declared.values()))[1].split()[0]
    declared = rv_normalization(model_path, wanted, scale)
    if declared:
        return declared, rv_file(model_path)
    declared = terratorch_normalization(model_path, wanted, scale)
    if declared:
        return declared, terratorch_config(model_path)[0]
    declared = esri_normalization(model_path, wanted, scale)
    if declared:
        return declared, emd_file(model_path)
    return smp_normalization(model_path, wanted, scale)


def sidecar_channel_flip(model_path) -> tuple[str, Path, str] | None:
    """(where, the file, why a model of other than 3 channels is refused and how to undo
    it) of the first exporter's files beside ``model_path`` that say the model takes the
    image's R,G,B as B,G,R: Hugging Face's do_flip_channel_order
    (:func:`~geotile.hf_sidecars.hf_channel_flip`), MMDeploy's to_rgb false
    (:func:`~geotile.mmdeploy_sidecars.mmdeploy_channel_flip`), PaddleX's TransformsMode
    BGR (:func:`~geotile.paddle_sidecars.paddle_channel_flip`); None without one."""
    from geotile import hf_sidecars, mmdeploy_sidecars, paddle_sidecars

    where = hf_sidecars.hf_channel_flip(model_path)
    if where:
        return (where, hf_sidecars.hf_folder(model_path) / hf_sidecars.PREPROCESSOR,
                "which transformers' MobileViT processors flip differently (the fast one "
                "the first 3, the slow one all); set do_flip_channel_order false in it")
    where = mmdeploy_sidecars.mmdeploy_channel_flip(model_path)
    if where:
        return (where, mmdeploy_sidecars.mmdeploy_folder(model_path) / mmdeploy_sidecars.PIPELINE,
                "which mmseg converts only of 3-channel images; set to_rgb true in its "
                "Normalize")
    where = paddle_sidecars.paddle_channel_flip(model_path)
    if where:
        return (where, paddle_sidecars.paddle_folder(model_path) / paddle_sidecars.MODEL_YML,
                "which PaddleX reads as B,G,R only of 3-channel images; set TransformsMode "
                "RGB in it")
    return None


def sidecar_class_names(model_path, channels: int | None = None):
    """(class names, where, the file read) of the first exporter's files beside
    ``model_path`` that name them: an MLM item's classification:classes, Hugging Face's
    config.json, MMDeploy's detail.json, PaddleRS'
    model.yml or a Paddle export's label.txt, Raster Vision's learner-config.json, TerraTorch's
    config.yaml; (None,
    None, None) without any. ``channels``: the model's classes, where known (an MLM item's
    nodata classes are left out for them)."""
    from geotile.esri_sidecars import emd_file, esri_class_names
    from geotile.hf_sidecars import CONFIG, hf_class_names, hf_folder
    from geotile.mlm_sidecars import mlm_class_names, mlm_item
    from geotile.mmdeploy_sidecars import DETAIL, mmdeploy_class_names, mmdeploy_folder
    from geotile.paddle_sidecars import paddle_class_names
    from geotile.rastervision_sidecars import rv_class_names, rv_file
    from geotile.terratorch_sidecars import terratorch_class_names, terratorch_config

    value, where = mlm_class_names(model_path, channels)
    if value is not None:
        return value, where, mlm_item(model_path)[0]
    value, where = hf_class_names(model_path)
    if value is not None:
        return value, where, hf_folder(model_path) / CONFIG
    value, where = mmdeploy_class_names(model_path)
    if value is not None:
        return value, where, mmdeploy_folder(model_path) / DETAIL
    value, where, file = paddle_class_names(model_path)
    if value is not None:
        return value, where, file
    value, where = rv_class_names(model_path)
    if value is not None:
        return value, where, rv_file(model_path)
    value, where = terratorch_class_names(model_path)
    if value is not None:
        return value, where, terratorch_config(model_path)[0]
    value, where = esri_class_names(model_path, channels)
    if value is not None:
        return value, where, emd_file(model_path)
    return None, None, None


def sidecar_paths(model_path) -> list[Path]:
    """Every file of its exporter's that a model at ``model_path`` may be read with (a
    worker's cached model is loaded again when one of them changes)."""
    from geotile.exporter_files import named_sidecar_paths
    from geotile.mlm_sidecars import mlm_files

    return [*named_sidecar_paths(model_path), *mlm_files(model_path)]
