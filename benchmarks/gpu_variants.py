"""Which CUDA session settings move the model stage: `python -m benchmarks.gpu_variants MODEL`.

The ResNet18 U-Net's windows of a 6000 px orthotile (256 px, 128 px overlap) run through
ONNX Runtime's CUDA provider in equal batches (the last one padded, as geotile does), after
warm-up runs, on random inputs: fp32/fp16 x batch 16/32/64 x NHWC kernels off/on; then two
batches in flight (two threads on one session, or two sessions); then the inputs and outputs
kept on the GPU (IO binding), the floor that copies and host work leave out. Prints one
Markdown row per variant: seconds for the orthotile's windows and megapixels per second.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from benchmarks.peers import _grid_count

SIZE, TILE, OVERLAP = 6000, 256, 128


def session(model: str, nhwc: bool):
    import onnxruntime as ort

    from geotile.providers import usable_providers

    usable_providers()  # CUDA/cuDNN from pip packages
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 1
    cuda = ("CUDAExecutionProvider", {"prefer_nhwc": "1" if nhwc else "0"})
    return ort.InferenceSession(model, options, providers=[cuda, "CPUExecutionProvider"])


def batches(batch: int) -> int:
    return -(-_grid_count(SIZE, SIZE, TILE, OVERLAP) // batch)


def plain(sessions, batch: int, threads: int) -> float:
    """Seconds for the orthotile's batches, ``threads`` batches in flight (sessions used in
    turn)."""
    name = sessions[0].get_inputs()[0].name
    feed = np.random.default_rng(0).random((batch, 3, TILE, TILE), np.float32)
    for s in sessions:
        for _ in range(3):
            s.run(None, {name: feed})
    count = batches(batch)
    todo = iter(range(count))
    lock = threading.Lock()

    def worker(index: int) -> None:
        s = sessions[index % len(sessions)]
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            s.run(None, {name: feed})

    started = time.perf_counter()
    if threads == 1:
        for _ in range(count):
            sessions[0].run(None, {name: feed})
    else:
        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    return time.perf_counter() - started


def resident(s, batch: int) -> float:
    """Seconds with input and output on the GPU: the model alone."""
    import onnxruntime as ort

    feed = np.random.default_rng(0).random((batch, 3, TILE, TILE), np.float32)
    value = ort.OrtValue.ortvalue_from_numpy(feed, "cuda", 0)
    binding = s.io_binding()
    binding.bind_ortvalue_input(s.get_inputs()[0].name, value)
    for output in s.get_outputs():
        binding.bind_output(output.name, "cuda")
    for _ in range(3):
        s.run_with_iobinding(binding)
    binding.synchronize_outputs()
    started = time.perf_counter()
    for _ in range(batches(batch)):
        s.run_with_iobinding(binding)
    binding.synchronize_outputs()
    return time.perf_counter() - started


def main(model: str) -> None:
    from geotile.model_file import float16_copy

    half = str(float16_copy(model))
    megapixels = SIZE * SIZE / 1e6
    print("| precision | batch | NHWC | in flight | s | MP/s |\n|---|---|---|---|---|---|",
          flush=True)

    def row(precision, batch, nhwc, flight, seconds):
        print(f"| {precision} | {batch} | {nhwc} | {flight} | {seconds:.2f} | "
              f"{megapixels / seconds:.1f} |", flush=True)

    for precision, path in (("fp32", model), ("fp16", half)):
        for nhwc in (False, True):
            s = session(path, nhwc)
            for batch in (16, 32, 64):
                row(precision, batch, nhwc, 1, plain([s], batch, 1))
            row(precision, 16, nhwc, "2 threads", plain([s], 16, 2))
            row(precision, 64, nhwc, "resident", resident(s, 64))
        row(precision, 16, False, "2 sessions",
            plain([session(path, False), session(path, False)], 16, 2))


if __name__ == "__main__":
    main(*sys.argv[1:])
