"""The benchmark runner cannot rot: its smoke mode runs every stage and writes the table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_a_row_per_stage(tmp_path):
    output = tmp_path / "RESULTS.md"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--output",
                          str(output)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = output.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    stages = {row.split("|")[1].strip() for row in rows}
    assert {"make-masks", "tile", "vectorize", "scaling: predict", "scaling: vectorize"} <= stages
    assert any(s.startswith("predict (ResNet18 U-Net") for s in stages)
    for row in rows[1:]:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        if cells[0] == "stage":
            continue
        assert float(cells[2]) > 0  # median seconds
        assert float(cells[4]) > 0  # CPU seconds of the process tree
        assert float(cells[6]) > 10  # peak RSS of a Python process, in MB
    assert re.search(r"fitted exponent -?\d+\.\d+", text)
    # the peers' outputs are checked against geotile's: same features, patches, mask
    vectorize = next(line for line in text.splitlines() if "vectorize outputs" in line)
    assert vectorize.endswith("(equal)")
    assert "rasterio shapes" in vectorize


def test_overlap_study_scores_each_setting_and_keeps_the_rest_of_results(tmp_path):
    import rasterio
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    from benchmarks import overlap

    with rasterio.open(ROOT / "examples/data/scene.tif") as src:  # a 256 px corner
        window = Window(0, 0, 256, 256)
        profile = dict(src.profile, width=256, height=256,
                       transform=window_transform(window, src.transform))
        with rasterio.open(tmp_path / "crop.tif", "w", **profile) as dst:
            dst.write(src.read(window=window))
    results = tmp_path / "RESULTS.md"
    results.write_text("# benchmarks\n\n## Overlap and tile size\n\nold\n\n## Other\n\nkeep\n")
    overlap.main(["--image", str(tmp_path / "crop.tif"), "--sizes", "128",
                  "--overlaps", "0.5,0.25", "--work", str(tmp_path / "work"),
                  "--output", str(results)])
    text = results.read_text()
    assert text.count("## Overlap and tile size") == 1 and "old" not in text
    assert text.endswith("## Other\n\nkeep\n")
    rows = [line for line in text.splitlines() if line.startswith("| 128 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["50 %", "25 %"]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[2] in ("4.00", "1.78")  # windows per pixel
        assert float(cells[3]) > 0  # predict seconds
        # the crop holds a few of the scene's footprints: F1 is low by construction here
        assert 0 < float(cells[4]) <= 1 and 0.3 < float(cells[5]) <= 1  # F1, precision
        assert 0.5 < float(cells[7]) <= 1  # pixel IoU


def test_workers_smoke_run_checks_outputs_and_keeps_the_measured_section(tmp_path):
    import pytest

    pytest.importorskip("distributed")
    from benchmarks import workers

    results = tmp_path / "RESULTS.md"
    results.write_text("# benchmarks\n\n## Dask workers (issue 15)\n\nmeasured\n\n"
                       "## Dask workers (issue 15) (smoke run)\n\nold\n")
    workers.main(["--smoke", "--output", str(results)])
    text = results.read_text()
    assert "measured" in text and "old" not in text
    rows = [line.split("|")[1:-1] for line in text.splitlines()
            if line.startswith(("| predict |", "| make-masks |"))]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        ("predict", "single process"), ("predict", "--workers 2"),
        ("make-masks", "single process"), ("make-masks", "--workers 2")]
    for cells in rows:
        assert float(cells[2]) > 0 and float(cells[6]) > 10  # seconds; RSS of a Python
        assert float(cells[7]) >= float(cells[6])  # the tree holds the largest process
    assert rows[1][8].strip() == "identical (8 files)"  # one probability raster per tile
    assert rows[3][8].strip().startswith("identical")


def test_memory_smoke_run_measures_each_command(tmp_path):
    output = tmp_path / "memory.md"
    subprocess.run([sys.executable, "-m", "benchmarks.memory", "--smoke", "--output",
                    str(output)], cwd=ROOT, check=True, capture_output=True, timeout=300)
    rows = [line for line in output.read_text().splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    assert [row.split("|")[1].split()[0] for row in rows] == ["predict", "make-masks",
                                                               "vectorize", "vectorize"]
    assert "--channels footprint,boundary,contact" in rows[1] and "--no-instances" in rows[2]
    assert "--instances" in rows[3]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert float(cells[3]) > 0 and float(cells[4]) > 10  # MP/s; peak RSS in MB


def test_gpu_runner_reports_start_up_apart_and_the_stages(tmp_path):
    """The GPU benchmark's runner, on the CPU provider (CI has no GPU): every case has a
    timed row with start-up apart and km^2/h, geotile's stage breakdown and a verdict."""
    output = tmp_path / "RESULTS-gpu.md"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--gpu", "--smoke", "--providers",
                          "cpu", "--output", str(output)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = output.read_text()
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| ") and "---" not in line]
    timed = [r for r in rows if len(r) == 11 and r[0] != "case"]
    assert {r[0] for r in timed} == {"tiny convnet, 512 px, cpu, fp32",
                                     "ResNet18 U-Net, 512 px, cpu, fp32",
                                     "ResNet18 U-Net, 768 px, cpu, fp32"}
    assert sorted(r[1] for r in timed) == sorted(["geotile predict",
                                                  "bare ONNX Runtime loop (cpu)"] * 3)
    for case, name, first, wall, inner, start_up, rate, area, ratio, *_ in timed:
        assert 0 < float(inner) < float(wall)
        # the large orthotile runs once, with no untimed run (it is not TensorRT)
        assert first == "-" if "768 px" in case else float(first) > 0
        assert abs(float(wall) - float(inner) - float(start_up)) <= 0.011
        assert abs(float(area) - float(rate) * 324) <= 0.5 * 324  # km^2/h at 0.3 m
        assert (ratio != "") == (name == "geotile predict")
    stages = [r for r in rows if len(r) == 8 and r[0] != "case"]
    assert len(stages) == 3
    for _, _inner, *seconds, share in stages:
        assert all(float(s) >= 0 for s in seconds) and float(seconds[2]) > 0  # model
        assert share.endswith("%")
    assert text.count("(target >= 0.9: ") == 3 and text.count("(target >= 30: ") == 3


def test_outputs_left_by_an_earlier_run_are_not_compared(tmp_path):
    from benchmarks.__main__ import check_outputs, clear_outputs

    (tmp_path / "v_gdal").mkdir()
    (tmp_path / "v_gdal" / "v.gpkg").write_bytes(b"stale")
    (tmp_path / "m.tif").write_bytes(b"stale")
    (tmp_path / "tiny.onnx").write_bytes(b"a model, kept")
    clear_outputs(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]
    assert check_outputs(tmp_path) == []  # nothing left that this run did not write


def test_a_run_goes_first_in_results_and_keeps_earlier_runs_and_notes(tmp_path):
    """A benchmark run (a partial one: --stages) replaced the whole RESULTS.md, the notes of
    every earlier round with it."""
    from benchmarks.runner import add_run

    results = tmp_path / "RESULTS.md"
    results.write_text("# geotile benchmarks\n\n## Round 1\n\nnotes on round 1\n")
    add_run(results, "# geotile benchmarks", ["## Run of today", "", "| a | b |"])
    assert results.read_text() == ("# geotile benchmarks\n\n## Run of today\n\n| a | b |\n\n"
                                   "## Round 1\n\nnotes on round 1\n")
    # the same run reporting again (the GPU runner, after each round) replaces its section
    add_run(results, "# geotile benchmarks", ["## Run of today", "", "| a | c |"])
    assert results.read_text().count("## Run of today") == 1
    assert "| a | c |" in results.read_text() and "notes on round 1" in results.read_text()
    fresh = tmp_path / "new.md"
    add_run(fresh, "# geotile benchmarks", ["## Run of today", "", "x"])
    assert fresh.read_text() == "# geotile benchmarks\n\n## Run of today\n\nx\n"
