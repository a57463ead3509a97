"""Run geotile's stages and their peers side by side: `python -m benchmarks [--smoke]`.

Every implementation runs as its own process (start-up included, as a user runs it);
runs alternate between implementations, each case is repeated, and the table reports
the median wall time, the throughput and the peak RSS of the process (from wait4),
plus the ratio of geotile's median to each peer's (below 1: geotile is faster).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import inputs, models
from benchmarks.runner import (
    GEOTILE,
    HERE,
    PY,
    add_run,
    compile_geotile,
    load,
    machine,
    run_measured,
    run_once,
)

SYSTEM_PY = "/usr/bin/python3"


@dataclass
class Case:
    """One implementation of one stage."""

    stage: str
    name: str
    command: list[str]
    units: float  # megapixels (or features) processed, for the throughput column
    unit: str = "MP/s"
    geotile: bool = False
    fresh_dir: Path | None = None  # emptied (and created) before every run, untimed
    times: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds, all threads and processes


def gdal_python_tool(name: str) -> list[str] | None:
    """A GDAL Python utility run with the system Python (Debian's python3-gdal), if present."""
    tool = shutil.which(name)
    if tool is None or not Path(SYSTEM_PY).exists():
        return None
    probe = subprocess.run([SYSTEM_PY, "-c", "from osgeo import gdal"], capture_output=True)
    return [SYSTEM_PY, tool] if probe.returncode == 0 else None


def make_cases(size: int, buildings: int, unet_size: int, out: Path) -> list[Case]:
    tif, labels, mask = inputs.scene(size, buildings)
    mp = size * size / 1e6
    cases = [
        Case("make-masks", "geotile make-masks",
             [*GEOTILE, "make-masks", labels, tif, "-o", out / "m.tif", "--overwrite"], mp,
             geotile=True),
        Case("make-masks", "rasterio.features.rasterize script",
             [PY, "-m", "benchmarks.peers", "rasterize", labels, tif, out / "m_rio.tif"], mp),
        Case("tile", "geotile tile (256 px)",
             [*GEOTILE, "tile", tif, "--size", "256", "-o", out / "t" / "patches"], mp,
             geotile=True, fresh_dir=out / "t"),
        Case("tile", "naive per-patch rasterio loop",
             [PY, "-m", "benchmarks.peers", "naive_tile", tif, out / "t_naive", "256"], mp,
             fresh_dir=out / "t_naive"),
        Case("vectorize", "geotile vectorize",
             [*GEOTILE, "vectorize", mask, "-o", out / "v.gpkg", "--crs", "source",
              "--overwrite"], mp, geotile=True),
        Case("vectorize", "rasterio shapes + GeoPackage script (4-connected)",
             [PY, "-m", "benchmarks.peers", "shapes_gpkg", mask, out / "v_rio" / "v.gpkg"], mp,
             fresh_dir=out / "v_rio"),
    ]
    if shutil.which("gdal_rasterize"):
        with __import__("rasterio").open(tif) as src:
            left, bottom, right, top = src.bounds
        cases.append(Case("make-masks", "gdal_rasterize",
                          ["gdal_rasterize", "-q", "-burn", "1", "-ot", "Byte", "-te", left,
                           bottom, right, top, "-ts", size, size, "-co", "TILED=YES", "-co",
                           "COMPRESS=DEFLATE", labels, out / "m_gdal.tif"], mp))
    tiles = inputs.tiles(tif, 3)
    stage = f"make-masks (9 tiles of {size // 3} px, one labels file)"
    cases.append(Case(stage, "geotile make-masks", [*GEOTILE, "make-masks", labels, *tiles, "-o",
                                                    out / "mt"], mp, geotile=True,
                      fresh_dir=out / "mt"))
    if shutil.which("gdal_rasterize"):  # as a GDAL user would: one process per tile
        loop = []
        for tile in tiles:
            with __import__("rasterio").open(tile) as src:
                left, bottom, right, top = src.bounds
                loop.append(f"gdal_rasterize -q -burn 1 -ot Byte -te {left} {bottom} {right} "
                            f"{top} -ts {src.width} {src.height} -co TILED=YES -co "
                            f"COMPRESS=DEFLATE {labels} {out / 'mt_gdal' / tile.name}")
        cases.append(Case(stage, "gdal_rasterize per tile", ["sh", "-c", " && ".join(loop)], mp,
                          fresh_dir=out / "mt_gdal"))
    if (retile := gdal_python_tool("gdal_retile.py")) is not None:
        # geotile's patches: GeoTIFF, uncompressed, pixel-interleaved strips (no --co given)
        cases.append(Case("tile", "gdal_retile.py (256 px, same creation options)",
                          [*retile, "-q", "-ps", "256", "256", "-of", "GTiff", "-co",
                           "COMPRESS=NONE", "-co", "INTERLEAVE=PIXEL", "-co", "TILED=NO",
                           "-targetDir", out / "t_gdal", tif], mp, fresh_dir=out / "t_gdal"))
    if (polygonize := gdal_python_tool("gdal_polygonize.py")) is not None:
        # as its users run it on a class raster: the raster as its own -mask (background is
        # not polygonised), 4-connected (its default, as geotile), GeoPackage out
        cases.append(Case("vectorize", "gdal_polygonize.py -mask (4-connected, GPKG)",
                          [*polygonize, "-q", mask, "-mask", mask, "-f", "GPKG",
                           out / "v_gdal" / "v.gpkg"], mp, fresh_dir=out / "v_gdal"))
    # a city comes as tiles: geotile takes them all (joining buildings cut by tile edges) in
    # one process; a GDAL user runs gdal_polygonize.py once per tile
    mask_tiles = inputs.tiles(mask, 3)
    stage = f"vectorize (9 tiles of {size // 3} px)"
    cases.append(Case(stage, "geotile vectorize", [*GEOTILE, "vectorize", *mask_tiles, "-o",
                                                   out / "vt" / "v.gpkg", "--crs", "source"],
                      mp, geotile=True, fresh_dir=out / "vt"))
    if polygonize is not None:
        loop = [" ".join(map(str, [*polygonize, "-q", tile, "-mask", tile, "-f", "GPKG",
                                   out / "vt_gdal" / f"{tile.stem}.gpkg"]))
                for tile in mask_tiles]
        cases.append(Case(stage, "gdal_polygonize.py -mask per tile",
                          ["sh", "-c", " && ".join(loop)], mp, fresh_dir=out / "vt_gdal"))
    for label, model, image_size in (("tiny convnet", models.tiny_convnet(out / "tiny.onnx"),
                                      size),
                                     ("ResNet18 U-Net", models.resnet18_unet(out / "r18.onnx")[0],
                                      unet_size)):
        image = tif if image_size == size else inputs.scene(image_size, buildings // 10)[0]
        mp_image = image_size * image_size / 1e6
        stage = f"predict ({label}, {image_size} px)"
        cases += [
            Case(stage, "geotile predict", [*GEOTILE, "predict", model, image, "-o",
                                            out / "p.tif", "--tile-size", "256", "--overlap",
                                            "128", "--batch-size", "8", "--providers",
                                            "cpu", "--overwrite"], mp_image, geotile=True),
            Case(stage, "bare ONNX Runtime loop (floor, cpu)",
                 [PY, "-m", "benchmarks.peers", "bare_ort", model, image_size, image_size,
                  "256", "128", "8", "cpu"], mp_image),
            Case(stage, "naive per-patch paste + average",
                 [PY, "-m", "benchmarks.peers", "naive_predict", model, image, out / "p_n.tif",
                  "256", "128"], mp_image),
        ]
    for case in cases:
        case.command = [str(c) for c in case.command]
    return cases


def scaling_cases(sizes: list[int], out: Path, start_size: int = 256) -> list[Case]:
    """predict and vectorize at each size, plus ``start_size`` px for the fixed start-up
    cost (imports, model session) that the fitted exponent subtracts."""
    model = models.tiny_convnet(out / "tiny.onnx")
    cases = []
    for stage in ("predict", "vectorize"):
        for size in (start_size, *sizes):
            tif, _, mask = inputs.scene(size, max(10, size * size // 3_600_000 * 10))
            command = [*GEOTILE, "predict", model, tif, "-o", out / f"s{size}.tif",
                       "--providers", "cpu", "--overwrite"] if stage == "predict" else \
                [*GEOTILE, "vectorize", mask, "-o", out / f"s{size}.gpkg", "--crs", "source",
                 "--overwrite"]
            name = f"{size} px" + (" (start-up)" if size == start_size else "")
            cases.append(Case(f"scaling: {stage}", name, [str(c) for c in command],
                              size * size / 1e6, geotile=True))
    return cases


def run(cases: list[Case], repeat: int) -> None:
    for round_number in range(repeat):
        for case in cases:  # alternate: every implementation once per round
            if case.fresh_dir is not None:
                shutil.rmtree(case.fresh_dir, ignore_errors=True)
                case.fresh_dir.mkdir(parents=True)
            seconds, rss, cpu = run_measured(case.command)
            case.times.append(seconds)
            case.rss.append(rss)
            case.cpu.append(cpu)
            print(f"[{round_number + 1}/{repeat}] {case.stage}: {case.name} {seconds:.2f} s "
                  f"{rss:.0f} MB", flush=True)


def feature_count(path: Path) -> int | None:
    """Features in a vector file's first layer; None when the file is absent."""
    if not path.exists():
        return None
    import pyogrio

    return int(pyogrio.read_info(path)["features"])


def patch_layout(folder: Path) -> tuple[int, tuple | None]:
    """(number of .tif patches, (compression, tiled, interleave, dtype, count) of one)."""
    import rasterio

    patches = sorted(folder.rglob("*.tif"))
    if not patches:
        return 0, None
    with rasterio.open(patches[0]) as src:
        layout = (src.compression and src.compression.value, src.profile.get("tiled", False),
                  src.interleaving and src.interleaving.value,
                  src.dtypes[0], src.count)
    return len(patches), layout


#: what the compared stages write under out/ (cleared first: a comparison is of this run)
COMPARED_OUTPUTS = ("v.gpkg", "v_gdal", "v_rio", "vt", "vt_gdal", "t", "t_gdal", "m.tif",
                    "m_gdal.tif")


def clear_outputs(out: Path) -> None:
    """Remove the outputs an earlier run (another --stages, a smoke run) left to compare."""
    for name in COMPARED_OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def check_outputs(out: Path) -> list[str]:
    """One line per stage: do geotile's and the peers' outputs agree (what makes it fair)."""
    import rasterio

    lines = []
    counts = {name: feature_count(path) for name, path in
              (("geotile", out / "v.gpkg"), ("gdal_polygonize.py -mask", out / "v_gdal" /
                                              "v.gpkg"),
               ("rasterio shapes", out / "v_rio" / "v.gpkg"))}
    present = {k: v for k, v in counts.items() if v is not None}
    if present:
        same = "equal" if len(set(present.values())) == 1 else "DIFFERENT"
        lines.append("- vectorize outputs, features: " + ", ".join(
            f"{k} {v}" for k, v in present.items()) + f" ({same})")
    if (out / "vt" / "v.gpkg").exists() and any((out / "vt_gdal").glob("*.gpkg")):
        import geopandas as gpd

        ours = gpd.read_file(out / "vt" / "v.gpkg")
        theirs = [gpd.read_file(p) for p in sorted((out / "vt_gdal").glob("*.gpkg"))]
        area, their_area = ours.area.sum(), sum(f.area.sum() for f in theirs)
        same = "equal" if abs(area - their_area) <= 1e-6 * their_area else "DIFFERENT"
        lines.append(f"- vectorize, 9 tiles: geotile {len(ours)} polygons (joined across tile "
                     f"edges), gdal_polygonize.py {sum(map(len, theirs))} in 9 files; total "
                     f"area {area:.1f} vs {their_area:.1f} m2 ({same})")
    tiles = {name: patch_layout(out / folder) for name, folder in
             (("geotile", "t"), ("gdal_retile.py", "t_gdal"))}
    tiles = {k: v for k, v in tiles.items() if v[0]}
    if tiles:
        same = "equal" if len(set(tiles.values())) == 1 else "DIFFERENT"
        lines.append("- tile outputs, patches and (compression, tiled, interleave, dtype, "
                     "bands): " + ", ".join(f"{k} {n} {layout}" for k, (n, layout) in
                                            tiles.items()) + f" ({same})")
    masks = [out / "m.tif", out / "m_gdal.tif"]
    if all(m.exists() for m in masks):
        arrays = []
        for m in masks:
            with rasterio.open(m) as src:
                arrays.append(src.read(1))
        same = "equal" if np.array_equal(*arrays) else \
            f"{int((arrays[0] != arrays[1]).sum())} pixels differ"
        lines.append(f"- make-masks vs gdal_rasterize, mask pixels: {same}")
    return lines


def table(cases: list[Case], ratios: bool = True) -> list[str]:
    lines = ["| stage | implementation | median s | min-max s | CPU s | throughput | peak RSS MB "
             "| geotile / this | geotile / this (min) |", "|---|---|---|---|---|---|---|---|---|"]
    for stage in dict.fromkeys(c.stage for c in cases):
        group = [c for c in cases if c.stage == stage]
        ours = next((c for c in group if c.geotile), None) if ratios else None
        for case in group:
            median = statistics.median(case.times)
            ratio, ratio_min = ("", "") if ours is None or case is ours else \
                (f"{statistics.median(ours.times) / median:.2f}",
                 f"{min(ours.times) / min(case.times):.2f}")
            cpu = f"{statistics.median(case.cpu):.2f}" if case.cpu else ""
            lines.append(f"| {stage} | {case.name} | {median:.2f} | {min(case.times):.2f}-"
                         f"{max(case.times):.2f} | {cpu} | {case.units / median:.2f} {case.unit} | "
                         f"{max(case.rss):.0f} | {ratio} | {ratio_min} |")
    return lines


def scaling_exponent(cases: list[Case], stage: str, start_up: float = 0.0) -> float:
    """Slope of log(seconds - start_up) against log(pixels): 1 means time grows linearly."""
    group = [c for c in cases if c.stage == stage]
    pixels = np.log([c.units for c in group])
    seconds = np.log([max(statistics.median(c.times) - start_up, 1e-3) for c in group])
    return float(np.polyfit(pixels, seconds, 1)[0])


def start_up_seconds(cases: list[Case], stage: str) -> float:
    """The stage's fixed cost: its median time on the smallest raster (``start_size``)."""
    return statistics.median(next(c for c in cases if c.stage == stage).times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true",
                        help="also predict a 20000 px raster for peak memory (slow)")
    parser.add_argument("--gpu", action="store_true",
                        help="only predict, on the GPU providers (TensorRT, CUDA; fp32 and "
                        "fp16) against the bare loop, with NVML utilisation; needs a GPU and "
                        "nvidia-ml-py (benchmarks/gpu.py)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="--gpu: patches per batch (default: geotile's own)")
    parser.add_argument("--providers", default="",
                        help="--gpu: comma-separated providers instead of every GPU one that "
                        "loads (cpu checks the runner on a machine without a GPU)")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: RESULTS.md, with --gpu RESULTS-gpu.md (beside this; "
                        "the run's section goes first, earlier ones are kept); "
                        "a --smoke run's go to work/ (it checks the runner, not the speed)")
    parser.add_argument("--unet-size", type=int, default=2048,
                        help="side of the ResNet18 U-Net's orthotile in px (6000: the issue's "
                        "orthotile, ~1.5 min a run on 2 cores)")
    parser.add_argument("--stages", default="",
                        help="comma-separated stage prefixes to run (e.g. make-masks,tile,"
                        "vectorize); scaling is skipped then. Default: all")
    args = parser.parse_args()
    name = "RESULTS-gpu.md" if args.gpu else "RESULTS.md"
    args.output = args.output or (inputs.WORK / f"smoke-{name}" if args.smoke else HERE / name)
    compile_geotile()
    out = inputs.WORK / "out"
    out.mkdir(parents=True, exist_ok=True)
    if args.gpu:
        from benchmarks import gpu

        gpu.main(args, out)
        return
    if args.smoke:
        cases = make_cases(512, 100, 256, out)
        scaling = scaling_cases([384, 512], out, 128)
        repeat = 1
    else:
        cases = make_cases(6000, 10_000, args.unet_size, out)
        scaling = scaling_cases([2000, 4000, 8000], out)
        repeat = args.repeat
    if args.stages:
        wanted = tuple(args.stages.split(","))
        cases = [c for c in cases if c.stage.startswith(wanted)]
        scaling = []
    clear_outputs(out)
    load_before = load()
    run(cases, repeat)
    run(scaling, 1 if args.smoke else 2)
    stages = args.stages or "all stages"
    lines = [f"## Run of {time.strftime('%Y-%m-%d %H:%M')}: {stages}"
             f"{' (smoke run)' if args.smoke else ''}", "",
             f"Machine: {machine()}. Load average (1 min): {load_before} before, {load()} "
             "after.", "",
             f"Medians of {repeat} alternating runs; each run is a fresh process (start-up "
             "included). `geotile / this` is geotile's median divided by this "
             "implementation's (below 1: geotile is faster); `(min)` divides the fastest "
             "runs, the least disturbed by other load. `CPU s`: the median CPU time (user + "
             "system) of the command's processes, all threads.", "", *table(cases), "",
             "Outputs compared after the runs:", "", *check_outputs(out), ""]
    if scaling:
        lines += ["### Scaling (time vs pixels: exponent 1 = linear)", "",
                  *table(scaling, ratios=False), ""]
    for stage in ("scaling: predict", "scaling: vectorize") if scaling else ():
        start_up = start_up_seconds(scaling, stage)
        measured = [c for c in scaling if c.stage == stage][1:]
        lines.append(f"- {stage}: fitted exponent {scaling_exponent(measured, stage):.2f} "
                     f"on total time, {scaling_exponent(measured, stage, start_up):.2f} once "
                     f"the {start_up:.2f} s start-up (the smallest run) is taken off")
    if args.memory:
        big = inputs.blank(20000)
        seconds, rss = run_once([*GEOTILE, "predict", str(models.tiny_convnet(out / "tiny.onnx")),
                                 str(big), "-o", str(out / "big.tif"), "--providers", "cpu",
                                 "--overwrite"])
        lines += ["", f"- predict on 20000 x 20000 x 3 uint8 (tiny convnet): {seconds:.0f} s, "
                  f"peak RSS {rss:.0f} MB (its float32 probabilities alone would be 1600 MB)"]
    add_run(args.output, "# geotile benchmarks", lines)
    print(f"wrote {args.output} (this run first, earlier ones kept)")


if __name__ == "__main__":
    main()
