"""Every `geotile ...` command the project shows its users parses as written.

The examples are read from the texts users read (each command's --help, README.md and
examples/README.md), never listed here, and each is handed to Click as the shell would
hand it over: the command must exist, every option given must exist and every value must
parse (types, choices, callbacks), so that an option renamed or removed, or a typo in an
example, fails here. Nothing runs: the work itself is checked by the other tests."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from geotile.cli.main import COMMANDS, cli, hoist_group_flags

ROOT = Path(__file__).parents[1]
READMES = (ROOT / "README.md", ROOT / "examples" / "README.md")


def _joined(lines):
    """``lines`` with a line ending in a backslash joined to the next (shell continuation)."""
    joined, pending = [], ""
    for line in lines:
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    return joined


def commands_in_markdown(text: str) -> list[str]:
    """The `geotile ...` lines of a Markdown file's indented code blocks (shell comments
    dropped), continuation lines joined."""
    found = []
    for line in _joined(text.splitlines()):
        if line.startswith("    ") and line.strip().startswith("geotile "):
            found.append(line.strip())
    return found


def commands_in_help(text: str) -> list[str]:
    """The `$ geotile ...` example lines of a --help text, continuation lines joined."""
    return [line.strip()[2:] for line in _joined(text.splitlines())
            if line.strip().startswith("$ geotile ")]


def help_text(*names: str) -> str:
    result = CliRunner().invoke(cli, [*names, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def documented_commands() -> list[tuple[str, str]]:
    """(where, command line) for every example in the help texts and the READMEs."""
    found = [("geotile --help", line) for line in commands_in_help(help_text())]
    for name in COMMANDS:
        found += [(f"geotile {name} --help", line)
                  for line in commands_in_help(help_text(name))]
    for readme in READMES:
        found += [(readme.relative_to(ROOT).as_posix(), line)
                  for line in commands_in_markdown(readme.read_text(encoding="utf-8"))]
    return found


EXAMPLES = documented_commands()


def _placeholders_for_existing_files(command: click.Command, args: list[str]) -> None:
    """Create, in the current folder, an empty file for each option value whose Click type
    requires an existing file (--class-map loveda.json): the examples name the user's files."""
    needs_file = {opt: param for param in command.params if isinstance(param, click.Option)
                  and isinstance(param.type, click.Path) and param.type.exists
                  for opt in param.opts}
    for position, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if option not in needs_file:
            continue
        if not equals:
            value = args[position + 1] if position + 1 < len(args) else ""
        if value and not Path(value).is_absolute():
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            Path(value).touch()


def parse_documented(line: str) -> click.Context:
    """Parse ``line`` (``geotile ...``) as Click would run it, without running it."""
    words = shlex.split(line, comments=True)
    assert words[0] == "geotile", line
    args = hoist_group_flags(words[1:])
    position = next((i for i, arg in enumerate(args) if not arg.startswith("-")), len(args))
    group_ctx = cli.make_context("geotile", args[:position + 1], resilient_parsing=False)
    name = args[position] if position < len(args) else ""
    command = cli.get_command(group_ctx, name)
    if command is None:
        raise click.UsageError(f"No such command {name!r}.", group_ctx)
    rest = args[position + 1:]
    _placeholders_for_existing_files(command, rest)
    return command.make_context(name, rest, parent=group_ctx, resilient_parsing=False)


def test_the_texts_show_examples_of_every_command():
    shown = {next(w for w in shlex.split(line, comments=True)[1:] if not w.startswith("-"))
             for _, line in EXAMPLES}
    assert set(COMMANDS) <= shown
    places = {where for where, _ in EXAMPLES}
    assert {"geotile --help", "README.md", "examples/README.md"} <= places
    assert {f"geotile {name} --help" for name in COMMANDS} <= places


@pytest.mark.parametrize(("where", "line"), EXAMPLES,
                         ids=[f"{where}: {line}"[:90] for where, line in EXAMPLES])
def test_a_documented_command_parses(where, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        parse_documented(line)
    except click.ClickException as exc:
        pytest.fail(f"{where}: `{line}` is refused: {exc.format_message()}")


def test_a_typo_in_an_example_is_caught(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(click.NoSuchOption):
        parse_documented("geotile tile tile.tif --masks mask.tif --sise 256 -o patches/")
    with pytest.raises(click.BadParameter):
        parse_documented("geotile tile tile.tif --masks mask.tif --edge drip -o patches/")
    with pytest.raises(click.UsageError):
        parse_documented("geotile tiles tile.tif -o patches/")


def test_continuations_and_comments_are_read_as_the_shell_reads_them():
    text = ("Intro `geotile nothing`\n\n    # a comment\n"
            "    geotile make-masks a.json b.tif \\\n        -o c.tif  # masks\n"
            "    yolo segment train\n")
    assert commands_in_markdown(text) == ["geotile make-masks a.json b.tif          -o c.tif  "
                                          "# masks"]
    assert commands_in_help("  $ geotile tile a.tif \\\n        --size 8\n") == [
        "geotile tile a.tif          --size 8"]


@pytest.mark.parametrize("names", [(), *((name,) for name in COMMANDS)])
def test_each_help_example_starts_its_own_line(names):
    """An example Click rewrapped into a paragraph (a blank line inside the examples ends
    the unwrapped block) runs into the line before: `... -o masks/ $ geotile ...`."""
    text = help_text(*names)
    assert [line for line in text.splitlines()
            if "$ geotile" in line and not line.strip().startswith("$ geotile")] == []


def documented(fragment: str, where: str = "README.md") -> list[str]:
    """The one documented command of ``where`` holding ``fragment``, as the shell splits it
    (its leading ``geotile`` dropped): the test runs what the text shows, not a copy."""
    lines = [line for place, line in EXAMPLES if place == where and fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return shlex.split(lines[0], comments=True)[1:]


def test_readme_hyperspectral_example_feeds_the_ranges_of_bands(run_cli, tmp_path,
                                                                monkeypatch):
    from .conftest import write_raster
    from .onnx_models import pointwise_model, pointwise_reference

    args = documented("ENMAP01_SPECTRAL_IMAGE.TIF")
    monkeypatch.chdir(tmp_path)
    pixels = np.random.default_rng(3).integers(0, 10000, (224, 12, 12)).astype(np.int16)
    write_raster(tmp_path / "ENMAP01_SPECTRAL_IMAGE.TIF", pixels)
    pointwise_model(tmp_path / "hsi.onnx", channels=200)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    fed = np.r_[0:130, 135:160, 165:210]  # 1-130,136-160,166-210: 200 bands
    expected = pointwise_reference(pixels[fed][np.newaxis] * 0.0001, channels=200)[0]
    with rasterio.open(tmp_path / "hsi.tif") as out:
        np.testing.assert_allclose(out.read(), expected, atol=1e-4)


def test_readme_multi_temporal_example_feeds_three_dates(run_cli, tmp_path, monkeypatch):
    from .conftest import write_raster
    from .onnx_models import temporal_model, temporal_weights

    args = documented("prithvi_crops.onnx")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(4)
    dates = [rng.random((7, 12, 12), dtype=np.float32) for _ in range(3)]
    for name, pixels in zip(("march.tif", "june.tif", "sept.tif"), dates, strict=True):
        write_raster(tmp_path / name, pixels)
    temporal_model(tmp_path / "prithvi_crops.onnx", layout="NCTHW", dates=3, channels=6)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    fed = np.stack([pixels[1:7] for pixels in dates])  # --bands 2,3,4,5,6,7 of each date
    scores = np.einsum("tc,tchw->chw", temporal_weights(3, 6), fed)
    with rasterio.open(tmp_path / "crops.tif") as out:
        np.testing.assert_array_equal(out.read(1), scores.argmax(axis=0))


def test_readme_apls_example_scores_road_csvs(run_cli, tmp_path, monkeypatch):
    from .conftest import write_raster
    from .test_spacenet_roads import SIZE, TRANSFORM, roads_csv

    args = documented("--apls")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "PS-RGB").mkdir()
    write_raster(tmp_path / "PS-RGB" / "PS-RGB_AOI_2_Vegas_img1.tif",
                 np.zeros((1, SIZE, SIZE), np.uint8), transform=TRANSFORM)
    roads_csv(tmp_path / "truth_roads.csv")
    roads_csv(tmp_path / "roads.csv")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "apls" in result.output.lower(), result.output
    got = json.loads(run_cli(*args, "--json").stdout)
    assert got["apls"] == 1.0 and got["apls_images"] == 1


def _lonlat_frame(shapes, **columns):
    """A GeoDataFrame of ``shapes`` (metres in UTM_CRS) in lon/lat, as Overture ships them."""
    import geopandas as gpd

    from .conftest import UTM_CRS

    return gpd.GeoDataFrame(columns, geometry=shapes, crs=UTM_CRS).to_crs("OGC:CRS84")


def test_readme_overture_examples_burn_the_release_folder_and_roads_only(
        run_cli, tmp_path, monkeypatch):
    import shapely

    from .conftest import UTM_ORIGIN, write_raster

    x0, y0 = UTM_ORIGIN
    folder_args = documented("theme=buildings/type=building/")
    roads_args = documented("segments.parquet")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiles").mkdir()
    write_raster(tmp_path / "tiles" / "t1.tif", np.zeros((20, 20), np.uint8))
    parts = tmp_path / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    for part, col in enumerate((1, 6)):  # 2 x 2 m: 4 x 4 px at 0.5 m in each part
        _lonlat_frame([shapely.box(x0 + col, y0 - 3, x0 + col + 2, y0 - 1)]).to_parquet(
            parts / f"part-0000{part}-5d1c.c000.zstd.parquet", write_covering_bbox=True)
    result = run_cli(*folder_args)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / "t1.tif") as mask:
        burnt = mask.read(1)
    assert np.count_nonzero(burnt) == 32 and (burnt[2:6, 2:6] == 1).all()
    assert (burnt[2:6, 12:16] == 1).all()
    road = shapely.LineString([(x0, y0 - 3), (x0 + 10, y0 - 3)])
    rail = shapely.LineString([(x0, y0 - 7), (x0 + 10, y0 - 7)])
    _lonlat_frame([road, rail], subtype=["road", "rail"]).to_parquet(
        tmp_path / "segments.parquet", write_covering_bbox=True)
    result = run_cli(*roads_args)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "roads" / "t1.tif") as mask:
        burnt = mask.read(1)
    assert burnt[6, :20].all() and not burnt[14].any()  # the road's row; the rail's none


def test_readme_sentinel1_example_pairs_each_vv_with_its_vh(run_cli, tmp_path, monkeypatch):
    from .conftest import write_raster
    from .onnx_models import pointwise_model, pointwise_reference

    args = documented("flood.onnx")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    scenes = ("S1A_IW_20230101T000000_DVP_RTC30_G_gpuned_ABCD",
              "S1A_IW_20230113T000000_DVP_RTC30_G_gpuned_EF01")
    (tmp_path / "rtc" / "vh").mkdir(parents=True)
    pairs = {}
    for scene in scenes:
        vv, vh = rng.gamma(1.0, 0.05, (2, 16, 16)).astype(np.float32)
        write_raster(tmp_path / "rtc" / f"{scene}_VV.tif", vv)
        write_raster(tmp_path / "rtc" / "vh" / f"{scene}_VH.tif", vh)
        pairs[scene] = np.stack([vv, vh])
    pointwise_model(tmp_path / "flood.onnx", channels=2)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    for scene, fed in pairs.items():
        with rasterio.open(tmp_path / "floods" / f"{scene}_VV.tif") as out:
            np.testing.assert_allclose(out.read(), pointwise_reference(
                fed[np.newaxis].astype(np.float64), channels=2)[0], atol=1e-5)


def _brightness_model(path):
    """An ONNX model (IR 10) whose one logit is 20 x (mean of the channels - 0.5): bright
    pixels (buildings here) are the class, dark ones background."""
    from onnx import TensorProto, helper

    from .onnx_models import save_graph

    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1),
             helper.make_node("Sub", ["mean", "half"], ["centred"]),
             helper.make_node("Mul", ["centred", "gain"], ["logits"])]
    return save_graph(path, nodes, [("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                      [("logits", TensorProto.FLOAT, ["N", 1, "H", "W"])],
                      {"half": np.float32(0.5), "gain": np.float32(20.0)}, opset=13,
                      ir_version=10)


def test_main_help_pipeline_runs_from_footprints_to_a_score(run_cli, tmp_path, monkeypatch):
    """`geotile --help`'s five commands, as written, chained on one SpaceNet-style tile."""
    import geopandas as gpd
    import shapely

    from .conftest import UTM_CRS, UTM_ORIGIN, write_raster

    steps = [documented(fragment, "geotile --help") for fragment in (
        "make-masks footprints.geojson", "tile tile.tif", "predict model.onnx",
        "vectorize probabilities.tif", "evaluate buildings.geojson")]
    monkeypatch.chdir(tmp_path)
    x0, y0 = UTM_ORIGIN
    boxes = [shapely.box(x0 + 2, y0 - 10, x0 + 10, y0 - 2),  # 16 x 16 px at 0.5 m
             shapely.box(x0 + 15, y0 - 20, x0 + 25, y0 - 12)]  # 20 x 16 px
    gpd.GeoDataFrame(geometry=boxes, crs=UTM_CRS).to_file("footprints.geojson")
    pixels = np.full((3, 300, 300), 30, np.uint8)
    pixels[:, 4:20, 4:20] = pixels[:, 24:40, 30:50] = 220
    write_raster(tmp_path / "tile.tif", pixels)
    _brightness_model(tmp_path / "model.onnx")
    outputs = [run_cli(*args) for args in steps]
    assert [r.exit_code for r in outputs] == [0] * 5, [r.output for r in outputs]
    with rasterio.open("mask.tif") as mask, rasterio.open("tile.tif") as tile:
        assert mask.transform == tile.transform and mask.crs == tile.crs
        np.testing.assert_array_equal(mask.read(1), pixels[0] == 220)
    assert len(list((tmp_path / "patches" / "images").glob("*.tif"))) == 4  # 300 px at 256
    with rasterio.open("probabilities.tif") as probabilities:
        assert probabilities.transform == tile.transform
        np.testing.assert_array_equal(probabilities.read(1) >= 0.5, pixels[0] == 220)
    found = gpd.read_file("buildings.geojson")  # EPSG:4326, 7 decimals: area_m2 exact
    assert found.crs == "EPSG:4326" and sorted(found["area_m2"]) == [64.0, 80.0]
    assert "TP 2  FP 0  FN 0" in outputs[-1].output


def test_vectorize_help_landcover_example_keeps_the_classes_over_their_min_areas(
        run_cli, tmp_path, monkeypatch):
    import geopandas as gpd

    from .conftest import write_raster

    args = documented("landcover.gpkg", "geotile vectorize --help")
    monkeypatch.chdir(tmp_path)
    classes = np.zeros((64, 64), np.uint8)
    classes[4:20, 4:20] = 1    # building, 64 m2: kept
    classes[50:55, 50:55] = 1  # building, 6.25 m2 < 10: dropped
    classes[30:34, 30:34] = 2  # tree, 4 m2: kept
    classes[40:42, 40:42] = 2  # tree, 1 m2 < 2: dropped
    classes[2:6, 40:60] = 3    # water: not asked for
    write_raster(tmp_path / "classes.tif", classes)
    with rasterio.open("classes.tif", "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "building", "tree",
                                                        "water"]))
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    found = gpd.read_file("landcover.gpkg")
    kept = sorted(zip(found["class"], found.area.round(3), strict=True))
    assert kept == [("building", 64.0), ("tree", 4.0)]


def test_evaluate_help_road_raster_example_scores_pixels_within_three_metres(
        run_cli, tmp_path, monkeypatch):
    from .conftest import write_raster

    args = documented("road_pred.tif", "geotile evaluate --help")
    monkeypatch.chdir(tmp_path)
    truth, predicted = np.zeros((2, 64, 64), np.uint8)
    truth[30:34] = 1
    predicted[33:37] = 1       # 1.5 m (3 px) below the truth: within 3 m
    predicted[50:52, :32] = 1  # 8 m away: a false road
    write_raster(tmp_path / "road_mask.tif", truth)
    write_raster(tmp_path / "road_pred.tif", predicted)
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["mode"] == "relaxed" and scores["rho_px"] == 6
    assert scores["recall"] == 1.0 and scores["precision"] == 256 / (256 + 64)


def test_readme_loveda_example_leaves_no_data_out_and_pairs_class_k_with_id_k_plus_1(
        run_cli, tmp_path, monkeypatch):
    from PIL import Image

    from .onnx_models import pointwise_model

    args = documented("loveda_mask.png", "README.md")
    monkeypatch.chdir(tmp_path)
    names = ["background", "building", "road", "water", "barren", "forest", "agriculture"]
    (tmp_path / "loveda.json").write_text(json.dumps(  # as the README's comment says
        {"no data": 0, **{name: k + 1 for k, name in enumerate(names)}}))
    pointwise_model(tmp_path / "loveda.onnx", channels=3, classes=len(names),
                    metadata={"class_names": {str(k): n for k, n in enumerate(names)}})
    rng = np.random.default_rng(6)
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save("img.png")
    assert run_cli("predict", "loveda.onnx", "img.png", "-o", "classes.tif",
                   "--output-type", "class").exit_code == 0
    with rasterio.open("classes.tif") as out:
        predicted = out.read(1)
    truth = (predicted + 1).astype(np.uint8)  # the model right everywhere...
    truth[:4] = 0                              # ...but where LoveDA has no data
    truth[4:8, :] = np.where(predicted[4:8] == 1, 3, 2)  # and wrong in rows 4-7
    Image.fromarray(truth).save("loveda_mask.png")
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == 28 * 32
    assert scores["accuracy"] == 24 * 32 / (28 * 32)


def test_make_masks_help_open_buildings_example_burns_the_confident_footprints(
        run_cli, tmp_path, monkeypatch):
    import gzip

    import geopandas as gpd
    import pandas as pd
    import shapely

    from .conftest import UTM_CRS, UTM_ORIGIN, write_raster

    args = documented("open_buildings.csv.gz", "geotile make-masks --help")
    monkeypatch.chdir(tmp_path)
    x0, y0 = UTM_ORIGIN
    write_raster(tmp_path / "tile.tif", np.zeros((3, 64, 64), np.uint8))
    boxes = gpd.GeoSeries([shapely.box(x0 + 2, y0 - 10, x0 + 10, y0 - 2),
                           shapely.box(x0 + 15, y0 - 20, x0 + 25, y0 - 12)], crs=UTM_CRS)
    centres = boxes.centroid.to_crs("EPSG:4326")
    boxes = boxes.to_crs("EPSG:4326")
    frame = pd.DataFrame({"latitude": centres.y, "longitude": centres.x,
                          "area_in_meters": [64.0, 80.0], "confidence": [0.9, 0.7],
                          "geometry": boxes.to_wkt(), "full_plus_code": ["a", "b"]})
    with gzip.open(tmp_path / "open_buildings.csv.gz", "wt") as csv:
        frame.to_csv(csv, index=False)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    with rasterio.open("mask.tif") as mask:
        burnt = mask.read(1)
    assert burnt.sum() == 256 and burnt[4:20, 4:20].all()  # the 0.9 one; not the 0.7 one
