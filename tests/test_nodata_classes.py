"""A class raster whose declared nodata is one of its classes (geotile.nodata_classes):
refused by vectorize, evaluate, tile --masks and make-masks, in one line naming the file,
the value, its pixels and the fix; nodata that is no class read as before."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import numpy as np
import pytest

from .conftest import assert_one_line_error


def _buildings() -> np.ndarray:
    """A 0/1 building mask of two buildings."""
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 10:20] = 1
    mask[30:50, 30:45] = 1
    return mask


def _classes() -> np.ndarray:
    """Class ids 0..3: buildings 1, roads 2, water 3."""
    ids = np.zeros((64, 64), np.uint8)
    ids[10:20, 10:20] = 1
    ids[30:50, 30:45] = 2
    ids[55:60, :] = 3
    return ids


def _image(make_raster):
    return make_raster("ortho.tif", np.random.default_rng(0).integers(
        0, 255, (3, 64, 64)).astype(np.uint8))


def _refused(result, path, value: int, pixels: int) -> None:
    assert_one_line_error(result, str(path), f"nodata value {value} is class {value}",
                          f"{pixels} pixels", f"gdal_edit.py -unsetnodata {path.name}",
                          "-a_nodata 255")


@pytest.mark.parametrize("extra", [[], ["--regularize"], ["--lines"], ["--instances"]])
def test_vectorize_refuses_a_0_1_mask_declaring_nodata_1(make_raster, run_cli, tmp_path,
                                                         extra):
    """gdal_translate -a_nodata 1 on a building mask: '0 polygons', exit 0 before."""
    mask = _buildings()
    raster = make_raster("b.tif", mask, nodata=1)
    out = tmp_path / "b.geojson"
    _refused(run_cli("vectorize", raster, "-o", out, *extra), raster, 1,
             int((mask == 1).sum()))
    assert not out.exists()


def test_vectorize_refuses_nodata_inside_the_class_ids(make_raster, run_cli, tmp_path):
    """Nodata 2 among ids 1, 2, 3: the roads were dropped, exit 0."""
    ids = _classes()
    raster = make_raster("c.tif", ids, nodata=2)
    _refused(run_cli("vectorize", raster, "-o", tmp_path / "c.gpkg"), raster, 2,
             int((ids == 2).sum()))


def test_a_named_class_or_one_given_to_classes_is_refused(make_raster, run_cli, tmp_path):
    """Ids 0..2 with nodata 2 on top of the run: named 'road' (its tag) or given to
    --classes, it is a class; unnamed, it may be a collar's no data and is read so."""
    ids = _classes()
    ids[ids == 3] = 2  # 0, 1, 2: the nodata at the top of the run
    named = make_raster("named.tif", ids, nodata=2)
    import rasterio

    with rasterio.open(named, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "building", "road"]))
    pixels = int((ids == 2).sum())
    result = run_cli("vectorize", named, "-o", tmp_path / "n.geojson")
    _refused(result, named, 2, pixels)
    assert "named 'road'" in result.stderr
    plain = make_raster("plain.tif", ids, nodata=2)
    result = run_cli("vectorize", plain, "-o", tmp_path / "p.geojson", "--classes", "1,2")
    _refused(result, plain, 2, pixels)
    out = tmp_path / "one.geojson"
    assert run_cli("vectorize", plain, "-o", out).exit_code == 0
    assert set(gpd.read_file(out)["class_id"]) == {1}


def test_a_nodata_named_no_data_stays_no_data(make_raster, run_cli, tmp_path):
    """Ids 1..3 and nodata 2 named 'no data': no class, left out as declared."""
    ids = _classes()
    raster = make_raster("c.tif", ids, nodata=2)
    import rasterio

    with rasterio.open(raster, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(
            ["background", "building", "no data", "water"]))
    out = tmp_path / "c.geojson"
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(out)["class_id"]) == {1, 3}


@pytest.mark.parametrize("nodata", [255, 0, None])
def test_vectorize_reads_genuine_nodata_as_before(make_raster, run_cli, tmp_path, nodata):
    """A 0/1 mask with a collar of 255 declared nodata, one declaring nodata 0 (its
    background) and one declaring none give the same two buildings."""
    mask = _buildings()
    if nodata == 255:
        mask[:, :5] = 255
    raster = make_raster("b.tif", mask, nodata=nodata)
    out = tmp_path / "b.geojson"
    result = run_cli("vectorize", raster, "-o", out, "--crs", "source")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    assert len(frame) == 2
    assert sorted(frame.area.round(2)) == [100 * 0.25, 300 * 0.25]


@pytest.mark.parametrize("nodata", [-1.0, float("nan")])
def test_probabilities_with_nodata_are_read_as_before(make_raster, run_cli, tmp_path,
                                                      nodata):
    """A float probability raster declaring nodata -1 or NaN over a collar."""
    p = np.where(_buildings() == 1, 0.9, 0.1).astype(np.float32)
    p[:, :5] = nodata
    raster = make_raster("p.tif", p, nodata=nodata)
    out = tmp_path / "p.geojson"
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == 2


@pytest.mark.parametrize("side", ["truth", "prediction"])
def test_evaluate_refuses_a_class_declared_nodata(make_raster, run_cli, side):
    """Either raster declaring its class 1 nodata scored accuracy 1.0 on background alone."""
    mask = _buildings()
    bad = make_raster("bad.tif", mask, nodata=1)
    good = make_raster("good.tif", mask)
    pair = (good, bad) if side == "truth" else (bad, good)
    _refused(run_cli("evaluate", *pair), bad, 1, int((mask == 1).sum()))


def test_evaluate_refuses_a_nodata_its_class_map_names(make_raster, run_cli, tmp_path):
    ids = _classes()
    ids[ids == 3] = 2
    truth = make_raster("truth.tif", ids, nodata=2)
    prediction = make_raster("pred.tif", ids)
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"building": 1, "road": 2}))
    result = run_cli("evaluate", prediction, truth, "--class-map", class_map)
    _refused(result, truth, 2, int((ids == 2).sum()))
    assert "--class-map" in result.stderr


def test_evaluate_scores_a_truth_with_a_nodata_collar_as_before(make_raster, run_cli):
    mask = _buildings()
    truth = mask.copy()
    truth[:, :5] = 255
    result = run_cli("evaluate", make_raster("p.tif", mask),
                     make_raster("t.tif", truth, nodata=255), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pixels"] == int((truth != 255).sum())


def test_tile_refuses_a_mask_declaring_its_class_nodata(make_raster, run_cli, tmp_path):
    """Patches of buildings were counted nodata (positive_fraction 0), exit 0."""
    mask = _buildings()
    raster = make_raster("m.tif", mask, nodata=1)
    out = tmp_path / "tiles"
    _refused(run_cli("tile", _image(make_raster), "--masks", raster, "-o", out,
                     "--size", "32"), raster, 1, int((mask == 1).sum()))
    assert not out.exists()


def test_tile_keeps_a_mask_with_a_nodata_collar(make_raster, run_cli, tmp_path):
    mask = _buildings()
    mask[:, :5] = 255
    out = tmp_path / "tiles"
    result = run_cli("tile", _image(make_raster), "--masks",
                     make_raster("m.tif", mask, nodata=255), "-o", out, "--size", "32")
    assert result.exit_code == 0, result.output
    with open(out / "index.csv") as f:
        rows = list(csv.DictReader(f))
    import rasterio

    positives = 0
    for row in rows:  # the buildings in the patches, the collar their nodata
        with rasterio.open(out / row["mask"]) as src:
            patch = src.read(1)
            assert src.nodata == 255
        positives += int((patch == 1).sum())
        assert float(row["nodata_fraction"]) == (patch == 255).mean()
    assert positives == int((mask == 1).sum())


@pytest.mark.parametrize("ids, nodata", [(_buildings(), 1), (_classes(), 2)])
def test_make_masks_refuses_a_label_raster_declaring_a_class_nodata(
        make_raster, run_cli, tmp_path, ids, nodata):
    """Its buildings became the ignore value 255: '0 labelled pixels, 400 ignored'."""
    labels = make_raster("labels.tif", ids, nodata=nodata)
    out = tmp_path / "mask.tif"
    _refused(run_cli("make-masks", labels, _image(make_raster), "-o", out), labels,
             nodata, int((ids == nodata).sum()))
    assert not out.exists()


@pytest.mark.parametrize("nodata", [0, 255])
def test_make_masks_reads_genuine_nodata_as_before(make_raster, run_cli, tmp_path, nodata):
    """Nodata 0 of a 0/1 mask is background; a collar of 255 is ignored."""
    import rasterio

    ids = _buildings()
    if nodata == 255:
        ids[:, :5] = 255
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", make_raster("labels.tif", ids, nodata=nodata),
                     _image(make_raster), "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        written = src.read(1)
    np.testing.assert_array_equal(written == 1, ids == 1)
    assert (written == 255).sum() == (ids == 255).sum()


def test_predict_class_output_declares_no_class_nodata(make_raster, run_cli, tmp_path):
    """predict's class raster of 3 classes over an image with a nodata collar declares
    255, no class id: read back, vectorize and evaluate take its classes whole."""
    import rasterio

    from .onnx_models import pointwise_model

    image = np.random.default_rng(1).integers(1, 255, (3, 48, 48)).astype(np.uint8)
    image[:, :, :6] = 0
    ortho = make_raster("ortho.tif", image, nodata=0)
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    out = tmp_path / "classes.tif"
    result = run_cli("predict", model, ortho, "-o", out, "--output-type", "class",
                     "--tile-size", 16)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        ids = src.read(1)
        assert src.nodata == 255
    assert (ids[:, :6] == 255).all() and (ids[:, 6:] < 3).all()
    shapes = tmp_path / "classes.gpkg"
    assert run_cli("vectorize", out, "-o", shapes).exit_code == 0
    held = set(np.unique(ids[:, 6:]).tolist()) - {0}
    assert set(gpd.read_file(shapes)["class_id"]) - {0} == held
    result = run_cli("evaluate", out, out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pixels"] == int((ids != 255).sum())


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_a_make_masks_mask_declaring_nodata_1_is_refused_beside_its_255(
        make_raster, run_cli, tmp_path, dtype):
    """A make-masks mask (0/1 and 255 where unknown) re-declared nodata 1: its 255 is the
    ignore value, no class id that would make 1 anything but the building class."""
    mask = _buildings()
    mask[:, :5] = 255
    raster = make_raster("m.tif", mask.astype(dtype), nodata=1)
    _refused(run_cli("vectorize", raster, "-o", tmp_path / "m.geojson"), raster, 1,
             int((mask == 1).sum()))


def test_evaluate_lines_and_folders_refuse_a_class_declared_nodata(make_raster, run_cli,
                                                                    tmp_path):
    """Road lines scored with --buffer, and a folder of truths: the truth's class 1
    declared nodata is refused there too, naming the file."""
    roads = np.zeros((64, 64), np.uint8)
    roads[20:22, :] = 1
    bad = make_raster("roads_nd.tif", roads, nodata=1)
    _refused(run_cli("evaluate", make_raster("roads.tif", roads), bad, "--buffer", 2), bad,
             1, int(roads.sum()))
    for folder, nodata in (("pred", None), ("truth", 1)):
        (tmp_path / folder).mkdir()
        make_raster(f"{folder}/a.tif", _buildings(), nodata=nodata)
    _refused(run_cli("evaluate", tmp_path / "pred", tmp_path / "truth"),
             tmp_path / "truth" / "a.tif", 1, int(_buildings().sum()))


def _land_cover_with_collar(make_raster, name: str, nodata: int = 250):
    """An NLCD-like land-cover raster: codes 11..95 inside a collar of ``nodata``, which its
    attribute table (category names) calls ``name``."""
    from geotile.categories import write_categories

    ids = np.zeros((64, 64), np.uint8)
    for row, code in zip(range(4, 60, 14), (11, 41, 82, 90), strict=True):
        ids[row:row + 14, 4:60] = code
    ids[:4], ids[60:], ids[:, :4], ids[:, 60:] = nodata, nodata, nodata, nodata
    raster = make_raster("lc.tif", ids, nodata=nodata)
    names = [""] * (max(nodata, 90) + 1)
    names[11], names[41], names[82], names[90] = ("Open Water", "Deciduous Forest",
                                                  "Cultivated Crops", "Woody Wetlands")
    names[nodata] = name
    write_categories(raster, names)
    return raster, ids


@pytest.mark.parametrize("name", [
    "Fill Value", "Unclassified", "Sin datos", "Keine Daten", "Pas de données", "Sem dados",
    "Nessun dato", "Brak danych", "Geen gegevens", "Não observado", "Not observed",
    "Out of bounds", "Outside study area"])
def test_a_nodata_named_no_data_in_other_words_is_read_as_no_data(make_raster, run_cli,
                                                                   tmp_path, name):
    """A land-cover product's nodata 250 (Annual NLCD) or 27 (MapBiomas' 'Não observado')
    named no data as producers and QGIS users write it ('Fill Value', 'Sin datos', 'Keine
    Daten'...) was refused as a class by every command: it is the collar's no data."""
    raster, ids = _land_cover_with_collar(make_raster, name)
    out = tmp_path / "lc.gpkg"
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(out)["class_id"]) == {11, 41, 82, 90}
    result = run_cli("evaluate", raster, raster, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
    image = _image(make_raster)
    assert run_cli("tile", image, "--masks", raster, "-o", tmp_path / "t", "--size",
                   32).exit_code == 0
    mask = tmp_path / "m.tif"
    result = run_cli("make-masks", raster, image, "-o", mask)
    assert result.exit_code == 0, result.output
    import rasterio

    with rasterio.open(mask) as src:
        assert (src.read(1)[ids == 250] == 255).all()  # no data: make-masks' ignore value


@pytest.mark.parametrize("name", ["Background", "Clouds", "Water"])
def test_a_nodata_named_a_class_over_a_collar_is_still_refused(make_raster, run_cli, name):
    """A class name on the declared nodata is a class, wherever its pixels lie."""
    raster, ids = _land_cover_with_collar(make_raster, name, nodata=7)
    _refused(run_cli("vectorize", raster, "-o", raster.with_suffix(".gpkg")), raster, 7,
             int((ids == 7).sum()))
