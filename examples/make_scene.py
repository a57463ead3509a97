"""Generate a synthetic aerial orthotile with buildings and their true footprints.

The scene is an RGB uint8 GeoTIFF in UTM zone 16N at 0.4 m/px: grass with
texture, a road network, trees with shadows, and buildings (rotated rectangles
and L-shapes) with varied roof colours, gable shading and cast shadows. With
``--terraced N`` it also draws N rows of 2-6 touching houses (terraced and
semi-detached: shared walls, one ridge along the row, each house its own roof
colour, a thin dark line on every party wall), the case a plain threshold
merges into one polygon. The footprints are written as GeoJSON in the raster's
CRS. Deterministic per seed (and --terraced 0 gives the scenes made before
the option existed).

    python examples/make_scene.py --seed 7 --size 1600 --terraced 10 -o examples/data/scene
"""

from __future__ import annotations

import argparse
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from shapely import affinity

CRS = "EPSG:32616"
PIXEL = 0.4
ORIGIN = (440000.0, 3740000.0)
ROOF_COLOURS = [(150, 60, 50), (170, 90, 70), (120, 120, 125), (90, 95, 105), (200, 190, 170),
                (60, 70, 85), (180, 170, 150), (140, 75, 45)]


def _smooth_noise(rng, shape, scale):
    """Low-frequency noise by upsampling a coarse random grid (no scipy needed)."""
    coarse = rng.normal(0, 1, (shape[0] // scale + 2, shape[1] // scale + 2))
    up = np.kron(coarse, np.ones((scale, scale)))[: shape[0], : shape[1]]
    kernel = np.ones(scale) / scale
    up = np.apply_along_axis(lambda r: np.convolve(r, kernel, "same"), 1, up)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, "same"), 0, up)


def _building(rng, cx, cy):
    """A rotated rectangle or L-shape in map units, around (cx, cy)."""
    width, depth = rng.uniform(7, 20), rng.uniform(6, 14)
    shape = shapely.box(-width / 2, -depth / 2, width / 2, depth / 2)
    if rng.random() < 0.35:
        wing = shapely.box(width / 2 - rng.uniform(3, width / 2), depth / 2 - 1,
                           width / 2, depth / 2 + rng.uniform(4, 9))
        shape = shape.union(wing)
    shape = affinity.rotate(shape, rng.uniform(0, 180), origin=(0, 0))
    return affinity.translate(shape, cx, cy)


def _terraced_row(rng, cx, cy):
    """2-6 touching houses along a rotated axis: (houses, party walls, ridge line)."""
    count = int(rng.integers(2, 7))
    widths = rng.uniform(5.5, 8.5, count)
    depth = rng.uniform(8, 11)
    edges = np.concatenate([[0.0], np.cumsum(widths)]) - widths.sum() / 2
    houses = [shapely.box(a, -depth / 2, b, depth / 2) for a, b in pairwise(edges)]
    walls = [shapely.LineString([(x, -depth / 2), (x, depth / 2)]) for x in edges[1:-1]]
    ridge = shapely.LineString([(edges[0], 0), (edges[-1], 0)])
    angle = rng.uniform(0, 180)

    def place(geometry):
        return affinity.translate(affinity.rotate(geometry, angle, origin=(0, 0)), cx, cy)

    return [place(h) for h in houses], [place(w) for w in walls], place(ridge)


#: the land-cover classes of --landcover, in the ISPRS Potsdam colours (geotile's
#: `--palette potsdam`): grass is low vegetation, roads are impervious surfaces
LANDCOVER = {"impervious_surfaces": (255, 255, 255), "building": (0, 0, 255),
             "low_vegetation": (0, 255, 255), "tree": (0, 255, 0)}


def make_scene(seed: int, size: int, terraced: int = 0):
    """Return (rgb uint8 (3, size, size), transform, list of footprint polygons); ``terraced``
    rows of touching houses are drawn first (their footprints come first)."""
    image, transform, footprints, _ = draw_scene(seed, size, terraced)
    return image, transform, footprints


def draw_scene(seed: int, size: int, terraced: int = 0):
    """make_scene's (image, transform, footprints) and the scene's layers: {"road": mask,
    "tree": mask, "building": mask, "centrelines": the road centre LineStrings}."""
    rng = np.random.default_rng(seed)
    transform = from_origin(*ORIGIN, PIXEL, PIXEL)
    shape = (size, size)
    extent = size * PIXEL
    # grass with texture
    base = np.array([85, 115, 60], float)[:, None, None]
    image = base + 18 * _smooth_noise(rng, shape, 24)[None] + rng.normal(0, 6, (3, *shape))
    # roads: a few straight streets
    centrelines = []
    for _ in range(max(2, size // 500)):
        x = rng.uniform(0, extent)
        centrelines.append(shapely.LineString([(ORIGIN[0] + x, ORIGIN[1]),
                                               (ORIGIN[0] + x + rng.uniform(-40, 40),
                                                ORIGIN[1] - extent)]))
        y = rng.uniform(0, extent)
        centrelines.append(shapely.LineString([(ORIGIN[0], ORIGIN[1] - y),
                                               (ORIGIN[0] + extent,
                                                ORIGIN[1] - y + rng.uniform(-40, 40))]))
    roads = [line.buffer(4) for line in centrelines]  # 8 m wide streets
    road_mask = rasterize(roads, out_shape=shape, transform=transform).astype(bool)
    image[:, road_mask] = np.array([105, 105, 108])[:, None] + rng.normal(0, 4, road_mask.sum())
    road_union = shapely.union_all(roads)
    # terraced rows, then single buildings, not on roads and not overlapping each other
    footprints: list = []
    ridges: list = []  # per footprint: the ridge line of its row (None: its own long axis)
    walls: list = []
    rows = 0
    for _ in range(terraced * 20):  # up to 20 tries per row
        if rows == terraced:
            break
        cx = ORIGIN[0] + rng.uniform(25, extent - 25)
        cy = ORIGIN[1] - rng.uniform(25, extent - 25)
        houses, party_walls, ridge = _terraced_row(rng, cx, cy)
        row = shapely.union_all(houses)
        if row.buffer(2).intersects(road_union):
            continue
        if footprints and shapely.STRtree(footprints).query(row.buffer(3),
                                                            predicate="intersects").size:
            continue
        footprints.extend(houses)
        ridges.extend([ridge] * len(houses))
        walls.extend(party_walls)
        rows += 1
    for _ in range(int((size / 100) ** 2 * 2.2)):
        cx = ORIGIN[0] + rng.uniform(10, extent - 10)
        cy = ORIGIN[1] - rng.uniform(10, extent - 10)
        candidate = _building(rng, cx, cy)
        if candidate.buffer(2).intersects(road_union):
            continue
        if footprints and shapely.STRtree(footprints).query(candidate.buffer(2.5),
                                                            predicate="intersects").size:
            continue
        footprints.append(candidate)
        ridges.append(None)
    # cast shadows towards the south-east, then roofs on top
    shadows = [affinity.translate(poly, 1.6, -1.2) for poly in footprints]
    if shadows:
        shadow_mask = rasterize(shadows, out_shape=shape, transform=transform).astype(bool)
        image[:, shadow_mask] *= 0.45
        ids = rasterize(zip(footprints, range(1, len(footprints) + 1), strict=True),
                        out_shape=shape, transform=transform, dtype="int32")
        rows, cols = np.nonzero(ids)
        order = np.argsort(ids[rows, cols], kind="stable")
        rows, cols = rows[order], cols[order]
        bounds = np.searchsorted(ids[rows, cols], np.arange(1, len(footprints) + 2))
        for k, poly in enumerate(footprints):
            r, c = rows[bounds[k] : bounds[k + 1]], cols[bounds[k] : bounds[k + 1]]
            colour = np.array(ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))], float)
            colour *= rng.uniform(0.85, 1.15)
            # gable: the two halves of the roof along its long axis are lit differently
            if ridges[k] is None:
                coords = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)[:3]
                edges = np.diff(coords, axis=0)
                long_edge = edges[np.argmax(np.hypot(*edges.T))]
                centre = np.array(poly.centroid.coords[0])
            else:  # a terraced house: one ridge along the whole row
                ends = np.asarray(ridges[k].coords)
                long_edge, centre = ends[1] - ends[0], ends[0]
            normal = np.array([-long_edge[1], long_edge[0]]) / np.hypot(*long_edge)
            xs, ys = transform * (c + 0.5, r + 0.5)
            side = (xs - centre[0]) * normal[0] + (ys - centre[1]) * normal[1]
            shade = np.where(side > 0, 1.12, 0.82)
            texture = rng.normal(0, 5, r.size)
            for band in range(3):
                image[band, r, c] = colour[band] * shade + texture
        if walls:  # party walls: a thin darker line between touching roofs
            wall_mask = rasterize([w.buffer(0.25) for w in walls], out_shape=shape,
                                  transform=transform, all_touched=True).astype(bool)
            image[:, wall_mask & (ids > 0)] *= 0.6
    # trees: dark green blobs with shadows, never on buildings
    building_mask = rasterize(footprints, out_shape=shape, transform=transform).astype(bool) \
        if footprints else np.zeros(shape, bool)
    trees = [shapely.Point(ORIGIN[0] + rng.uniform(0, extent),
                           ORIGIN[1] - rng.uniform(0, extent)).buffer(rng.uniform(1.5, 4))
             for _ in range(int((size / 100) ** 2 * 1.5))]
    tree_mask = rasterize(trees, out_shape=shape, transform=transform).astype(bool) & \
        ~building_mask & ~road_mask
    image[:, tree_mask] = np.array([40, 70, 35])[:, None] + rng.normal(0, 8, tree_mask.sum())
    image += rng.normal(0, 3, image.shape)
    layers = {"road": road_mask & ~building_mask, "tree": tree_mask, "building": building_mask,
              "centrelines": centrelines}
    return np.clip(image, 0, 255).astype(np.uint8), transform, footprints, layers


def write_layers(stem: Path, transform, layers: dict) -> tuple[Path, Path]:
    """Write <stem>_landcover.tif (an RGB label raster in the Potsdam colours: roads, buildings,
    grass, trees) and <stem>_roads.geojson (road centrelines, 8 m wide streets)."""
    labels = np.empty((3, *layers["road"].shape), np.uint8)
    labels[:] = np.array(LANDCOVER["low_vegetation"], np.uint8)[:, None, None]
    for name, key in (("impervious_surfaces", "road"), ("tree", "tree"),
                      ("building", "building")):
        labels[:, layers[key]] = np.array(LANDCOVER[name], np.uint8)[:, None]
    landcover = stem.with_name(stem.name + "_landcover.tif")
    height, width = layers["road"].shape
    with rasterio.open(landcover, "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint8", crs=CRS, transform=transform, compress="deflate") as dst:
        dst.write(labels)
    roads = stem.with_name(stem.name + "_roads.geojson")
    if roads.exists():
        roads.unlink()
    gpd.GeoDataFrame({"class": ["road"] * len(layers["centrelines"])},
                     geometry=layers["centrelines"], crs=CRS).to_file(roads, driver="GeoJSON")
    return landcover, roads


def write_scene(seed: int, size: int, stem: Path, terraced: int = 0,
                landcover: bool = False) -> tuple[Path, Path]:
    """Write <stem>.tif and <stem>_footprints.geojson (and with ``landcover`` the layers of
    :func:`write_layers`); return the first two paths."""
    image, transform, footprints, layers = draw_scene(seed, size, terraced)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tif, geojson = stem.with_suffix(".tif"), stem.with_name(stem.name + "_footprints.geojson")
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": CRS, "transform": transform, "tiled": True, "blockxsize": 256,
               "blockysize": 256, "compress": "jpeg", "jpeg_quality": 90,
               "photometric": "ycbcr"}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(image)
    frame = gpd.GeoDataFrame({"building_id": range(1, len(footprints) + 1)},
                             geometry=footprints, crs=CRS)
    if geojson.exists():
        geojson.unlink()
    frame.to_file(geojson, driver="GeoJSON")
    if landcover:
        write_layers(stem, transform, layers)
    return tif, geojson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=1600)
    parser.add_argument("--terraced", type=int, default=0, metavar="N",
                        help="also draw N rows of touching houses (default 0; the bundled "
                        "held-out scene has 10)")
    parser.add_argument("--landcover", action="store_true",
                        help="also write <stem>_landcover.tif (an RGB label raster in the ISPRS "
                        "Potsdam colours) and <stem>_roads.geojson (road centrelines)")
    parser.add_argument("-o", "--output", type=Path, default=Path("examples/data/scene"),
                        help="path stem: writes <stem>.tif and <stem>_footprints.geojson")
    args = parser.parse_args()
    tif, geojson = write_scene(args.seed, args.size, args.output, args.terraced, args.landcover)
    print(f"{tif}\n{geojson}")
    if args.landcover:
        print(f"{args.output}_landcover.tif\n{args.output}_roads.geojson")


if __name__ == "__main__":
    main()
