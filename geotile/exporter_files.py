"""The files beside an ONNX model that the exporters' readers know by name (Hugging Face's,
MMDeploy's, Paddle's, Raster Vision's, smp's, TerraTorch's): all but an MLM item's, which may
be any JSON file beside the model (:mod:`geotile.mlm_sidecars`)."""
from __future__ import annotations

from pathlib import Path


def named_sidecar_paths(model_path) -> list[Path]:
    """The files of :func:`geotile.exporter_sidecars.sidecar_paths` known by name (all but
    an MLM item, which may be any JSON file beside the model)."""
    from geotile.esri_sidecars import esri_files
    from geotile.hf_sidecars import CONFIG, PREPROCESSOR, hf_folder
    from geotile.mmdeploy_sidecars import mmdeploy_files
    from geotile.paddle_sidecars import paddle_files
    from geotile.rastervision_sidecars import rv_files
    from geotile.smp_sidecars import smp_files
    from geotile.terratorch_sidecars import terratorch_files

    beside = hf_folder(model_path)
    return [beside / PREPROCESSOR, beside / CONFIG, *mmdeploy_files(model_path),
            *paddle_files(model_path), *rv_files(model_path), *smp_files(model_path),
            *terratorch_files(model_path), *esri_files(model_path)]
