"""`geotile vectorize`: prediction rasters to clean building polygons."""

from __future__ import annotations

import click

from geotile.cli.options import json_opt, output_opt, overwrite_opt


@click.command("vectorize", short_help="Turn class/probability rasters into polygons.")
@click.argument("rasters", nargs=-1, required=True, type=click.Path())  # /vsi...: as given
@output_opt("Vector file: .geojson (RFC 7946), .gpkg, .parquet (GeoParquet), .shp or .fgb "
            "(FlatGeobuf).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Probability rasters: p >= threshold is the class. Default: the raster's "
              "own threshold tag, else 0.5.")
@click.option("--min-area", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Drop polygons smaller than this (m2).")
@click.option("--simplify", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Simplification tolerance in metres (topology-preserving).")
@click.option("--fill-holes", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Fill holes smaller than this (m2).")
@click.option("--regularize", is_flag=True,
              help="Orthogonal outlines along each building's dominant direction.")
@click.option("--crs", default=None, metavar="CRS|source",
              help="Output CRS (e.g. EPSG:3857), or 'source' for the rasters'. Default: "
              "EPSG:4326 for GeoJSON (RFC 7946), the rasters' CRS for every other format. "
              "GeoJSON in another CRS carries a crs member, outside RFC 7946.")
@json_opt
@overwrite_opt
@click.pass_context
def vectorize(ctx, rasters, output, threshold, min_area, simplify, fill_holes, regularize, crs,
              as_json, overwrite):
    """Polygonize class or probability RASTERs into one vector file.

    One feature per connected region of a class (4-connectivity), holes kept,
    with properties class_id, class, area_m2, score (mean probability;
    probability rasters only) and source. Large rasters are processed in row
    bands and buildings cut by band seams, or crossing the edges of adjacent
    rasters given together, are merged back into one polygon.

    \b
    --json keys: output, features, per_class {class: count}, crs (of the
    output; null without one), sources (raster file names).

    \b
    Examples:
    $ geotile vectorize probabilities.tif -o buildings.geojson --min-area 10 --regularize
    $ geotile vectorize predictions/*.tif -o city.gpkg --simplify 0.5
    $ geotile vectorize probabilities.tif -o buildings.fgb --crs EPSG:3857
    """
    from geotile.vectorize import VectorizeOptions, vectorize_rasters

    options = VectorizeOptions(threshold=threshold, min_area=min_area, simplify=simplify,
                               fill_holes=fill_holes, regularize=regularize, crs=crs)
    summary = vectorize_rasters(rasters, output, options=options, overwrite=overwrite,
                                progress=ctx.obj["progress"])
    if as_json:
        import json

        click.echo(json.dumps(summary, indent=2))
    elif not ctx.obj["quiet"]:
        click.echo(f"{summary['output']}: {summary['features']} polygons")
