#!/usr/bin/env bash
# The GPU benchmark on a bare GPU machine that has Python 3.12, numpy, onnx, click, tqdm,
# pytest, nvidia-ml-py and CUDA 13 / cuDNN 9 as pip packages (nvidia-*), but no registry:
# the wheels it lacks (rasterio, affine, cligj, click-plugins, shapely) and onnxruntime-gpu
# 1.31.1 (its wheel unpacked and xz-compressed, split into parts: ortpart.N; its Python-only
# tools apart: ortextra.tar.xz) are brought in
# $PARTS. Writes the GPU tests' log, the benchmark's log and RESULTS-gpu.md under $1.
#   bash benchmarks/gpu-machine.sh OUT_FOLDER
set -uo pipefail
out=${1:?usage: gpu-machine.sh OUT_FOLDER}
parts=${PARTS:-/tmp/parts}
site=/tmp/site
mkdir -p "$out" "$site"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$parts"/*.whl || exit 1
cat "$parts"/ortpart.* | python3 -c "
import sys, tarfile
tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('$site', filter='tar')
" || exit 1
# the Python-only part (onnxruntime.transformers: its float16 converter), apart
python3 -c "
import pathlib, tarfile
extra = pathlib.Path('$parts/ortextra.tar.xz')
if extra.exists():
    tarfile.open(extra).extractall('$site', filter='tar')
" || exit 1
export PYTHONPATH="$site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.used,clocks.sm --format=csv
python3 -c "import onnxruntime as o, rasterio, click; print('onnxruntime', o.__version__,
o.get_available_providers(), 'rasterio', rasterio.__version__, 'click', click.__version__)
from geotile.providers import usable_providers; print('usable:', usable_providers())
import onnxruntime.transformers.float16"
if [ "${VARIANTS:-0}" = 1 ]; then  # the session settings' table instead (gpu_variants.py)
    python3 -c "from pathlib import Path; from benchmarks import models
Path('benchmarks/work/out').mkdir(parents=True, exist_ok=True)
models.resnet18_unet(Path('benchmarks/work/out/r18.onnx'))"
    python3 -m benchmarks.gpu_variants benchmarks/work/out/r18.onnx 2>&1 | tee "$out/variants.md"
    exit
fi
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 \
    | tee "$out/gpu-tests.log" | tail -4
timeout "${BENCH_TIMEOUT:-400}" python3 -m benchmarks --gpu --repeat "${REPEAT:-3}" \
    --providers "${PROVIDERS:-cuda}" --output "$out/RESULTS-gpu.md" 2>&1 | tee "$out/bench.log" \
    | grep -v '^\['
tail -25 "$out/RESULTS-gpu.md"
