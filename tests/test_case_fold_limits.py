"""Names that a case-insensitive disk (NTFS, APFS, exFAT) keeps apart are different files:
Straße_1 and Strasse_1 are two places, ﬁeld_1 and field_1 two names; str.casefold merged
them (ß -> ss, ﬁ -> fi), pairing one place's labels with the other's image, exit 0."""

from __future__ import annotations

import pytest

from geotile.name_keys import name_key
from tests.pixel_label_files import read_mask
from tests.test_case_only_names import _image
from tests.test_other_spelling_beside import FORMATS

PAIRS = [("Straße_1", "Strasse_1"), ("ﬁeld_1", "field_1"), ("STRAẞE_1", "STRASSE_1")]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_names_a_disk_keeps_apart_have_other_keys(a, b):
    assert name_key(a) != name_key(b)


def test_case_still_folds():
    assert name_key("TILE_1.TIF") == name_key("tile_1.tif")
    assert name_key("STRASSE_1") == name_key("strasse_1")
    assert name_key("Zu\u0308rich") == name_key("ZÜRICH")


@pytest.mark.parametrize(("image", "listed"), PAIRS)
def test_yolo_labels_of_another_place_are_not_burnt(tmp_path, run_cli, image, listed):
    """labels/Strasse_1.txt (and a.txt) for images a.tif and Straße_1.tif: Straße_1 took
    Strasse_1's square (exit 0, a 'letter case' warning); now it is background."""
    images = [_image(tmp_path, "a.tif"), _image(tmp_path, f"{image}.tif")]
    labels = FORMATS["yolo"](tmp_path, "a")
    (labels / f"{listed}.txt").write_text((labels / "a.txt").read_text())
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "out" / "a.tif")[0][10, 10] == 1
    assert not read_mask(tmp_path / "out" / f"{image}.tif")[0].any()
    assert "letter case" not in result.output
