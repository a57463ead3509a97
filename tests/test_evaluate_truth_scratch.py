"""evaluate against truth in each image's pixels (COCO, CVAT, ...) burns its masks, and for
CVAT/Label Studio/VIA writes stand-in VRTs, in a temporary folder under TMPDIR: a TMPDIR that
is full, read-only or past a file-size limit is one line naming TMPDIR (never the temporary
file, whose name means nothing once it is gone), and the folder is gone after success and
after errors."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import assert_one_line_error
from tests.pixel_label_files import plain_png

H, W = 40, 50


def _prediction(path):
    array = np.zeros((H, W), np.uint8)
    array[10:30, 10:28] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                       dtype="uint8") as dst:
        dst.write(array[None])
    return path


def _coco(path):
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "img.png", "width": W, "height": H}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]],
                         "bbox": [10, 10, 20, 20], "area": 400}],
        "categories": [{"id": 1, "name": "building"}]}))
    return path


def _cvat(path):
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1'
                    "</version><meta><task><id>3</id><labels><label><name>building</name>"
                    "<type>any</type></label></labels></task></meta>"
                    f'<image id="0" name="img.png" width="{W}" height="{H}">'
                    '<box label="building" source="manual" occluded="0" xtl="10" ytl="10" '
                    'xbr="30" ybr="30" z_order="0"/></image></annotations>')
    return path


TRUTHS = {"coco": ("annotation.json", _coco), "cvat": ("annotations.xml", _cvat)}


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """TMPDIR (tmp_path/scratch), empty."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _inputs(tmp_path, kind):
    plain_png(tmp_path / "img.png", W, H)
    name, write = TRUTHS[kind]
    return _prediction(tmp_path / "pred" / "img.tif"), write(tmp_path / name)


@pytest.mark.parametrize("kind", sorted(TRUTHS))
def test_nothing_is_left_in_tmpdir_after_success_or_an_error(tmp_path, run_cli, scratch,
                                                             kind):
    prediction, truth = _inputs(tmp_path, kind)
    plain = run_cli("evaluate", prediction.parent, truth)
    assert plain.exit_code == 0, plain.output
    scores = json.loads(run_cli("evaluate", prediction.parent, truth, "--json").stdout)
    assert scores["foreground"]["tp"] == 360 and scores["foreground"]["fn"] == 40
    assert "TP 360  FP 0  FN 40" in plain.stdout
    one = json.loads(run_cli("evaluate", prediction, truth, "--json").stdout)
    assert one["classes"][1]["iou"] == 360 / 400
    wrong = _prediction(tmp_path / "other" / "nothing.tif")
    assert run_cli("evaluate", wrong, truth).exit_code == 1
    assert list(scratch.iterdir()) == []


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                  os.path.join(tempfile.gettempdir(), "geotile-truth-x1y2"))


def _read_only(*args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS),
                  os.path.join(tempfile.gettempdir(), "geotile-truth-x1y2"))


def _denied(*args, **kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES),
                          os.path.join(tempfile.gettempdir(), "geotile-truth-x1y2"))


def _not_permitted(*args, **kwargs):
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM),
                          os.path.join(tempfile.gettempdir(), "geotile-truth-x1y2"))


FULL = "Free space there, or set TMPDIR to a folder with room."
LOCKED = "Fix its permissions or set TMPDIR to a writable folder."


@pytest.mark.parametrize("kind", sorted(TRUTHS))
@pytest.mark.parametrize("failing, reason, advice", [
    (_no_space, "No space left on device", FULL),
    (_read_only, "Read-only file system", LOCKED),
    (_denied, "Permission denied", LOCKED),
    (_not_permitted, "Operation not permitted", LOCKED)])
@pytest.mark.parametrize("folder", [True, False])
def test_a_temporary_folder_that_cannot_be_made_is_one_line(tmp_path, run_cli, scratch,
                                                            monkeypatch, kind, failing,
                                                            reason, advice, folder):
    prediction, truth = _inputs(tmp_path, kind)
    monkeypatch.setattr(tempfile, "mkdtemp", failing)
    result = run_cli("evaluate", prediction.parent if folder else prediction, truth)
    assert_one_line_error(result, str(scratch), "TMPDIR", reason, advice)
    assert "geotile-truth" not in result.stderr


def test_a_stand_in_that_cannot_be_written_is_one_line(tmp_path, run_cli, scratch,
                                                       monkeypatch):
    """CVAT's stand-in VRTs on a full TMPDIR."""
    prediction, truth = _inputs(tmp_path, "cvat")
    write_text = Path.write_text

    def full(self, *args, **kwargs):
        if str(self).startswith(str(scratch)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    result = run_cli("evaluate", prediction.parent, truth)
    assert_one_line_error(result, str(scratch), "TMPDIR", "No space left on device",
                          "Free space")
    assert "geotile-truth" not in result.stderr
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("kind", sorted(TRUTHS))
def test_masks_past_a_file_size_limit_are_one_line_naming_tmpdir(tmp_path, kind):
    """A 1 kB file-size limit (a full disk's stand-in): the burnt masks cannot be written.
    It said '/tmp/geotile-truth-ib3gs4gw/img.tif: could not be written ... nothing was left
    under that name', a file the user never named and that is gone."""
    import resource

    prediction, truth = _inputs(tmp_path, kind)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1",
           "TMPDIR": str(scratch)}

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400, 400))

    for target in (prediction.parent, prediction):
        done = subprocess.run([sys.executable, "-m", "geotile", "evaluate", str(target),
                               str(truth)], capture_output=True, text=True, timeout=120,
                              env=env, preexec_fn=limit_files)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"Error: {scratch}: "), lines[0]
        assert "TMPDIR" in lines[0] and "ulimit -f" in lines[0], lines[0]
        assert "geotile-truth" not in lines[0], lines[0]
        assert list(scratch.iterdir()) == []
