"""The benchmark runner cannot rot: its smoke mode runs every stage and writes the table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_a_row_per_stage(tmp_path):
    output = tmp_path / "RESULTS.md"
    subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--output", str(output)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
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
        assert float(cells[5]) > 10  # peak RSS of a Python process, in MB
    assert re.search(r"fitted exponent -?\d+\.\d+", text)
    # the peers' outputs are checked against geotile's: same features, patches, mask
    vectorize = next(line for line in text.splitlines() if "vectorize outputs" in line)
    assert vectorize.endswith("(equal)")
    assert "rasterio shapes" in vectorize
