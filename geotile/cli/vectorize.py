"""`geotile vectorize`: prediction rasters to clean building polygons."""

from __future__ import annotations

import click

from geotile.cli.options import INPUT_PATH, FloatRange, json_opt, output_opt, overwrite_opt


def _instance_options(command):
    """--instances and the marker rules of geotile.instances (kept apart from the rest)."""
    options = [
        click.option("--instances/--no-instances", default=None,
                     help="One polygon per building from footprint/boundary/contact bands "
                     "(marker watershed; splits touching buildings). Default: on when the "
                     "bands are described as footprint and boundary/contact."),
        click.option("--marker-threshold", type=FloatRange(0, 1), default=None,
                     help="--instances: markers need footprint > this. "
                     "Default: the raster's tag (from the model), else 0.5."),
        click.option("--boundary-threshold", type=FloatRange(0, 1), default=None,
                     help="--instances: markers need boundary < this. "
                     "Default: the raster's tag (from the model), else 0.5."),
        click.option("--contact-threshold", type=FloatRange(0, 1), default=None,
                     help="--instances: markers need contact < this. "
                     "Default: the raster's tag (from the model), else 0.5."),
        click.option("--marker-erosion", type=click.IntRange(min=0), default=None,
                     metavar="PX", help="--instances: erode markers by this many px. "
                     "Default: 1."),
        click.option("--min-marker", type=click.IntRange(min=1), default=None, metavar="PX",
                     help="--instances: drop markers smaller than this (px). Default: 4."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _per_class(value, option: str):
    """--min-area / --simplify: a number, or class=number pairs (usage error otherwise)."""
    from geotile.class_values import parse_per_class
    from geotile.errors import InputError

    try:
        return parse_per_class(value, option)
    except InputError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1], param_hint=option) from None


def _class_list(value) -> tuple[str, ...] | None:
    """--classes building,tree -> ("building", "tree")."""
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise click.BadParameter("give class names or ids, e.g. building,tree.",
                                 param_hint="--classes")
    return names


def _line_options(command):
    """--lines and --min-length: road centrelines (geotile.lines)."""
    command = click.option(
        "--min-length", type=FloatRange(min=0), default=None, metavar="M",
        help="--lines: prune spurs, isolated lines and loops shorter than M metres. "
        "Default: 3.")(command)
    return click.option(
        "--lines", is_flag=True, help="Road centrelines instead of polygons: skeleton of the "
        "thresholded raster (holes up to 10 m2, noise or a car, filled), spurs pruned, "
        "simplified (--simplify, at least one pixel); properties class_id, class, "
        "length_m, score, source.")(command)


@click.command("vectorize", short_help="Turn class/probability rasters into polygons.")
@click.argument("rasters", nargs=-1, required=True, type=INPUT_PATH)
@output_opt("Vector file: .geojson (RFC 7946), .gpkg (a layer named after the file, "
            "with a '_' before a name GDAL refuses: '#12', 'gpkg_x'; --overwrite replaces "
            "that layer, other layers are kept), .parquet or "
            ".geoparquet (GeoParquet), "
            ".shp or .fgb (FlatGeobuf); .csv: SpaceNet proposals of one class, no class column "
            "(ImageId from each raster's name, pixel WKT and lon/lat WKT, Confidence; a "
            "raster of several classes needs --classes to pick one; an instance-id mask, "
            "each id one piece (8-connected, as skimage labels), eight or more or wider than "
            "8 bits, gives one building per id); with --lines SpaceNet's road CSV "
            "(ImageId, WKT_Pix in each raster's pixels, length_m in metres; no "
            "travel_time_s).")
@click.option("--threshold", type=FloatRange(0, 1), default=None,
              help="Probability rasters: p >= threshold is the class. Default: the raster's "
              "own threshold tag, else 0.5.")
@click.option("--min-area", default="0", show_default=True, metavar="M2|CLASS=M2,...",
              callback=lambda ctx, param, value: _per_class(value, "--min-area"),
              help="Drop polygons smaller than this (m2); per class: car=2,building=10 "
              "(a plain number first is the default for the others: 5,car=2).")
@click.option("--simplify", default="0", show_default=True, metavar="M|CLASS=M,...",
              callback=lambda ctx, param, value: _per_class(value, "--simplify"),
              help="Simplification tolerance in metres: corners cutting off less than M "
              "squared go (Visvalingam-Whyatt), all classes together so that edges they "
              "share stay shared (an edge takes the smaller tolerance of its two sides); per "
              "class as --min-area: building=0.5,tree=1.")
@click.option("--classes", metavar="NAMES",
              callback=lambda ctx, param, value: _class_list(value),
              help="Keep only these classes (names or ids, comma-separated): building,tree.")
@click.option("--fill-holes", type=FloatRange(min=0), default=0.0, show_default=True,
              help="Fill holes smaller than this (m2).")
@click.option("--regularize", is_flag=True,
              help="Orthogonal outlines along each building's dominant direction "
              "(courtyards and other holes kept, regularised too). Buildings are the classes "
              "named with a word such as building, house, roof, footprint, garage, shed "
              "(an unnamed raster's class 1 is building); other classes (road, tree, '2') "
              "keep their outlines, whichever --classes are kept.")
@click.option("--crs", default=None, metavar="CRS|source",
              help="Output CRS (e.g. EPSG:3857, or a .prj file), or 'source' for the "
              "rasters'. Default: EPSG:4326 for GeoJSON (RFC 7946) and .csv "
              "(PolygonWKT_Geo in lon/lat, as SpaceNet's), the rasters' CRS for every other "
              "format. GeoJSON in another CRS carries a crs member, outside RFC 7946; "
              "rasters without CRS (plain photos: pixels) give \"crs\": null (GeoJSON "
              "2008's no CRS), which evaluate reads, other readers take as lon/lat.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Processes polygonizing row bands (and, with --instances, rasters) at "
              "once, on Linux. Default: one per CPU, up to 8; 1: this process only.")
@_instance_options
@_line_options
@json_opt
@overwrite_opt
@click.pass_context
def vectorize(ctx, rasters, output, threshold, min_area, simplify, classes, fill_holes, regularize,
              crs, workers, as_json, overwrite, **mode_args):
    """Polygonize class or probability RASTERs into one vector file.

    One feature per connected region of a class (4-connectivity), holes kept,
    with properties class_id, class, area_m2, score (mean probability;
    probability rasters only) and source. Large rasters are processed in row
    bands and buildings cut by band seams, or crossing the edges of adjacent
    rasters given together, are merged back into one polygon. With --instances
    (automatic for footprint/boundary/contact bands) touching buildings are
    split by a marker watershed, one polygon per building (seams joined too;
    adjacent tiles give the one raster's buildings, a few party walls may lie
    a pixel or two apart). The output does not depend on the order the
    rasters are given in: a polygon across raster edges has as source the
    first of its rasters by file name.

    A probability raster of one band is thresholded; several bands are a
    softmax (argmax; band 1 background unless its description names a
    class: then bands that sum to 1 are a softmax of the classes they name,
    every pixel one of them, others are thresholded as independent
    probabilities), or independent probabilities where tagged
    GEOTILE_BANDS=independent (band k class k, background where none
    reaches the threshold, or where band 1, named background, is the most
    probable; geotile predict tags its outputs). Bands without tags or
    descriptions that do not sum to 1 are refused, not guessed at.

    \b
    --json keys: output, features, per_class {class: count}, crs (of the
    output; null without one), sources (raster file names); with --lines,
    length_m (the lines' total length) and units ("m"; "coordinates" for
    rasters without CRS: length_m in their own units, pixels for photos).

    \b
    Examples:
    $ geotile vectorize probabilities.tif -o buildings.geojson --min-area 10 \\
          --regularize
    $ geotile vectorize predictions/*.tif -o city.gpkg --simplify 0.5
    $ geotile vectorize probabilities.tif -o buildings.fgb --crs EPSG:3857
    $ geotile vectorize footprint_boundary_contact.tif -o houses.gpkg --instances
    $ geotile vectorize classes.tif -o landcover.gpkg --classes building,tree \\
          --min-area tree=2,building=10 --simplify 0.5
    $ geotile vectorize roads.tif -o centrelines.gpkg --lines --min-length 5
    $ geotile vectorize predictions/ -o city.gpkg

    A RASTER may be a folder (its rasters) or a quoted pattern ('predictions/*.tif').
    """
    from geotile.input_files import expand_inputs

    rasters = expand_inputs(rasters)
    from geotile.vectorize import VectorizeOptions
    from geotile.vectorize_modes import vectorize_rasters

    options = VectorizeOptions(threshold=threshold, min_area=min_area, simplify=simplify,
                               fill_holes=fill_holes, regularize=regularize, crs=crs,
                               classes=classes, workers=workers)
    summary = vectorize_rasters(rasters, output, options=options, overwrite=overwrite,
                                progress=ctx.obj["progress"], **mode_args)
    if as_json:
        import json

        click.echo(json.dumps(summary, indent=2, default=str))
    elif not ctx.obj["quiet"]:
        n = summary["features"]
        click.echo(f"{summary['output']}: {n} "
                   + ("line" if "length_m" in summary else "polygon")
                   + ("s" if n != 1 else "")
                   + (f", {summary['length_m']:g} "
                      + ("units (no CRS)" if summary["units"] == "coordinates" else "m")
                      if "length_m" in summary else ""))
