"""Peer implementations run as separate processes: `python -m benchmarks.peers NAME ARGS...`.

- rasterize: a plain rasterio.features.rasterize script (make-masks peer)
- naive_tile: a per-patch rasterio loop, one window read and one file per patch (tile peer)
- bare_ort: the floor for predict: the same ONNX Runtime session settings running the same
  number of patches and batch size on pre-generated inputs, no I/O, no blending
- naive_predict: read one window, run it, paste, uniform average (predict peer)
- shapes_gpkg: rasterio.features.shapes + shapely + GeoPackage (vectorize peer)
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np


def rasterize(labels: str, image: str, output: str) -> None:
    import geopandas as gpd
    import rasterio
    from rasterio.features import rasterize as burn

    with rasterio.open(image) as src:
        frame = gpd.read_file(labels).to_crs(src.crs)
        mask = burn(frame.geometry, out_shape=src.shape, transform=src.transform, dtype="uint8")
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1,
                   "dtype": "uint8", "crs": src.crs, "transform": src.transform, "tiled": True,
                   "compress": "deflate"}
    with rasterio.open(output, "w", **profile) as dst:
        dst.write(mask, 1)


def naive_tile(image: str, outdir: str, size: str) -> None:
    import rasterio
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    size_px = int(size)
    os.makedirs(outdir, exist_ok=True)
    with rasterio.open(image) as src:
        for y in range(0, src.height, size_px):
            for x in range(0, src.width, size_px):
                window = Window(x, y, min(size_px, src.width - x), min(size_px, src.height - y))
                data = src.read(window=window)
                profile = dict(src.profile, width=window.width, height=window.height,
                               transform=window_transform(window, src.transform), tiled=False)
                profile.pop("blockxsize", None)
                profile.pop("blockysize", None)
                profile["compress"] = None
                with rasterio.open(f"{outdir}/{y}_{x}.tif", "w", **profile) as dst:
                    dst.write(data)


def _session(model: str, provider: str = "cpu", fp16: bool = False):
    """A session as its users make one: all graph optimisations, every core; on TensorRT
    the engine and timing caches on disk (benchmarks/work/trt-cache) and fp16 if asked,
    CUDA and the CPU behind it."""
    import onnxruntime as ort

    if provider != "cpu":  # CUDA/cuDNN from pip packages, loaded as their users load them
        from geotile.providers import usable_providers

        usable_providers()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 1
    providers: list = []
    if provider == "tensorrt":
        cache = os.path.join(os.path.dirname(__file__), "work", "trt-cache")
        os.makedirs(cache, exist_ok=True)
        providers.append(("TensorrtExecutionProvider", {
            "trt_engine_cache_enable": "True", "trt_engine_cache_path": cache,
            "trt_timing_cache_enable": "True", "trt_timing_cache_path": cache,
            "trt_fp16_enable": "True" if fp16 else "False"}))
    if provider in ("tensorrt", "cuda"):
        providers.append("CUDAExecutionProvider")
    return ort.InferenceSession(model, options, providers=[*providers, "CPUExecutionProvider"])


def _grid_count(width: int, height: int, size: int, overlap: int) -> int:
    stride = size - overlap

    def axis(n):
        return 1 if n <= size else math.ceil((n - size) / stride) + 1

    return axis(width) * axis(height)


def bare_ort(model: str, width: str, height: str, size: str, overlap: str, batch: str,
             provider: str = "cpu", precision: str = "fp32") -> None:
    """Prints ``{"seconds": ...}``: the loop's own time, without imports, the session and
    one warm-up run. On a GPU every batch has one shape (the last padded, as geotile pads
    it): a new shape makes the CUDA provider search cuDNN's algorithms again, which is
    start-up, not throughput."""
    import json
    import time

    session = _session(model, provider, fp16=precision == "fp16")
    size_px, batch_n = int(size), int(batch)
    count = _grid_count(int(width), int(height), size_px, int(overlap))
    inputs = np.random.default_rng(0).random((batch_n, 3, size_px, size_px), np.float32)
    name = session.get_inputs()[0].name
    session.run(None, {name: inputs})
    started = time.perf_counter()
    for start in range(0, count, batch_n):
        n = batch_n if provider != "cpu" else min(batch_n, count - start)
        session.run(None, {name: inputs[:n]})
    print(json.dumps({"seconds": time.perf_counter() - started, "windows": count}))


def naive_predict(model: str, image: str, output: str, size: str, overlap: str) -> None:
    import rasterio
    from rasterio.windows import Window

    session = _session(model)
    name = session.get_inputs()[0].name
    size_px, stride = int(size), int(size) - int(overlap)
    with rasterio.open(image) as src:
        total = np.zeros((src.height, src.width), np.float32)
        hits = np.zeros((src.height, src.width), np.float32)
        for y in range(0, max(1, src.height - int(overlap)), stride):
            for x in range(0, max(1, src.width - int(overlap)), stride):
                window = Window(x, y, size_px, size_px)
                data = src.read(window=window, boundless=True, fill_value=0)
                out = session.run(None, {name: data[np.newaxis].astype(np.float32) / 255})[0]
                h, w = min(size_px, src.height - y), min(size_px, src.width - x)
                total[y : y + h, x : x + w] += out[0, 0, :h, :w]
                hits[y : y + h, x : x + w] += 1
        profile = dict(src.profile, count=1, dtype="uint8", nodata=None, compress="deflate")
    with rasterio.open(output, "w", **profile) as dst:
        dst.write(np.rint(total / hits * 255).astype(np.uint8), 1)


def shapes_gpkg(raster: str, output: str) -> None:
    import geopandas as gpd
    import rasterio
    import shapely
    from rasterio.features import shapes

    with rasterio.open(raster) as src:
        data = src.read(1)
        polygons = [shapely.geometry.shape(g) for g, v in
                    shapes(data, mask=data > 0, connectivity=4, transform=src.transform)]
        crs = src.crs
    gpd.GeoDataFrame(geometry=polygons, crs=crs).to_file(output, driver="GPKG")


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    globals()[name](*arguments)
