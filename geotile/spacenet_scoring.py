"""SpaceNet's scorer on its own CSV files: proposals against truth, image by image, as
solaris ``eval_iou_spacenet_csv`` does (see :func:`evaluate_csvs`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from geotile.errors import GeotileWarning, InputError, UsageError
from geotile.plurals import counted
from geotile.spacenet import GEO_CRS, read_csv
from geotile.user_warnings import warn

log = logging.getLogger("geotile")


@dataclass
class CsvEvaluation:
    """SpaceNet scores of a proposal CSV against a truth CSV: per image and in total."""

    scores: object  # geotile.object_scores.ObjectScores, summed over images
    per_image: dict[str, object]
    min_area: float
    coordinates: str
    mode: str = "object"
    #: the two tables and, per image, the rows scored (proposals in scoring order, truth)
    tables: tuple | None = None
    rows: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    inputs: tuple = ()  # the two CSVs, which an errors file never replaces

    def outcome_frames(self, output=None) -> list:
        """Per image, TP/FP/FN polygons (geotile.error_layers.outcome_frame): map coordinates
        (PolygonWKT_Geo, EPSG:4326) when both files have them, else pixel ones (no CRS, one
        warning naming ``output`` and why; an InputError for a .geojson ``output``)."""
        from geotile.error_layers import outcome_frame

        pred, true = self.tables
        why = _no_geo(self.inputs, self.tables)
        geo = why is None
        if not geo and self.per_image:
            _refuse_pixel_geojson(output, why)
            warn(f"{output or 'the errors'}: in pixel coordinates (x right, y down "
                 f"from each image's top-left corner), without a CRS: {why}. For map "
                 "coordinates give both files PolygonWKT_Geo polygons (vectorize -o "
                 "x.csv writes them).", GeotileWarning)
        scored = (lambda t: t.pixel) if self.coordinates == "pixel" else (lambda t: t.geo)
        frames = []
        for image, scores in self.per_image.items():
            p_rows, t_rows = self.rows[image]
            shown = (pred.geo[p_rows], true.geo[t_rows]) if geo else None
            frames.append(outcome_frame(scored(pred)[p_rows], scored(true)[t_rows], scores,
                                        image=image, confidence=pred.confidence[p_rows],
                                        crs=GEO_CRS if geo else None, shown=shown))
        return frames

    def as_dict(self) -> dict:
        """As a folder's: the totals, predictions and truths scored (after --min-area),
        min_area, coordinates ("pixel" or "geo"), images and per_image."""
        counts = {i: {"predictions": len(self.rows[i][0]), "truths": len(self.rows[i][1])}
                  if i in self.rows else {} for i in self.per_image}
        return {"mode": "object", **self.scores.as_dict(),
                "predictions": sum(c.get("predictions", 0) for c in counts.values()),
                "truths": sum(c.get("truths", 0) for c in counts.values()),
                "min_area": self.min_area, "coordinates": self.coordinates,
                "images": len(self.per_image),
                "per_image": {i: {**{k: v for k, v in s.as_dict().items()
                                     if k != "iou_threshold"}, **counts[i]}
                              for i, s in self.per_image.items()}}

    def table(self) -> str:
        s = self.scores
        lines = [f"Objects (SpaceNet metric, IoU > {s.iou_threshold:g}, min area "
                 f"{self.min_area:g} px^2, {self.coordinates} coordinates): "
                 f"{counted(len(self.per_image), 'image')}",
                 f"  TP {s.tp}  FP {s.fp}  FN {s.fn}",
                 f"  precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}"]
        if len(self.per_image) > 1:
            from geotile.score_tables import image_table

            lines += image_table({i: c.as_dict() for i, c in self.per_image.items()})
        return "\n".join(lines)


def _no_geo(paths, tables) -> str | None:
    """Why the errors of two CSVs' tables are in pixel coordinates (each file without a
    PolygonWKT_Geo polygon on every building, and why), or None."""
    said = [t.geo_problem(os.path.basename(os.fspath(p))) for p, t in zip(paths, tables,
                                                                         strict=True)]
    return "; ".join(s for s in said if s) or None


def _refuse_pixel_geojson(output, why: str | None) -> None:
    """An InputError when ``output`` is a .geojson and ``why`` says the errors are in pixel
    coordinates (RFC 7946: EPSG:4326 only)."""
    if why and str(output).lower().endswith(".geojson"):
        raise InputError(f"{output}: {why}, so the errors are in pixel coordinates, which "
                         "GeoJSON (EPSG:4326) cannot hold. Give --errors a .gpkg or .fgb file, "
                         "or both files PolygonWKT_Geo polygons.")


def check_errors_output(prediction: str | os.PathLike, truth: str | os.PathLike,
                        output: str | os.PathLike) -> None:
    """Before scoring two CSVs: an InputError when their errors could not be written to
    ``output`` (a .geojson while they are in pixel coordinates)."""
    if str(output).lower().endswith(".geojson"):
        _refuse_pixel_geojson(output, _no_geo((prediction, truth),
                                              (read_csv(prediction), read_csv(truth))))


def evaluate_csvs(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                  iou: float = 0.5, min_area: float = 20.0) -> CsvEvaluation:
    """Score a SpaceNet proposal CSV against a truth CSV image by image, as SpaceNet's scorer
    (solaris ``eval_iou_spacenet_csv``) does: pixel WKT (Geo when a file has no pixel WKT),
    truth polygons of area < ``min_area`` and proposals of area <= ``min_area`` left out,
    proposals in decreasing Confidence (file order among ties), one-to-one matches at
    IoU > ``iou``; totals are summed over every ImageId of either file."""
    import shapely

    from geotile.object_scores import ObjectScores, match_polygons

    pred, true = read_csv(prediction), read_csv(truth)
    for path, table in ((prediction, pred), (truth, true)):
        if table.roads:
            raise InputError(f"{path}: a SpaceNet road CSV (WKT_Pix lines, in each image's "
                             "pixels): evaluate_road_csvs scores its lines in metres, given "
                             "the images its ImageIds name.")
    if (pred.has_pixel or not len(pred)) and (true.has_pixel or not len(true)):
        coordinates, pred_shapes, true_shapes = "pixel", pred.pixel, true.pixel
    elif (pred.has_geo or not len(pred)) and (true.has_geo or not len(true)):
        coordinates, pred_shapes, true_shapes = "geo", pred.geo, true.geo
    else:
        raise InputError(f"{prediction} and {truth} share no coordinate column with a "
                         "polygon on every row (PolygonWKT_Pix or PolygonWKT_Geo).")
    if coordinates == "geo" and min_area > 0:
        log.warning("%s / %s: no pixel coordinates (PolygonWKT_Pix); the %g px^2 minimum-area "
                    "rule is not applied", prediction, truth, min_area)
        min_area = 0.0
    if len(pred) and len(true) and not set(pred.images) & set(true.images):
        raise _no_shared_image(prediction, pred.images, truth, true.images)
    total = ObjectScores(0, 0, 0, iou)
    per_image, kept = {}, {}
    for image in sorted(set(true.images) | set(pred.images)):
        t_rows = true.rows_of(image)
        if len(t_rows):  # zero-area truth can never match and is not a false negative either
            area = shapely.area(true_shapes[t_rows])
            t_rows = t_rows[(area >= min_area) & (area > 0)]
        rows = pred.rows_of(image)
        rows = rows[np.argsort(-np.nan_to_num(pred.confidence[rows], nan=-np.inf),
                               kind="stable")]
        rows = rows[shapely.area(pred_shapes[rows]) > min_area] if len(rows) else rows
        scores = match_polygons(list(pred_shapes[rows]), list(true_shapes[t_rows]), iou)
        per_image[image] = scores
        kept[image] = rows, t_rows
        total = ObjectScores(total.tp + scores.tp, total.fp + scores.fp, total.fn + scores.fn,
                             iou, total.matches + scores.matches)
    return CsvEvaluation(total, per_image, min_area, coordinates, tables=(pred, true),
                         rows=kept, inputs=(prediction, truth))


def evaluate_road_csvs(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                       images=None, buffer: float = 2.0, labels_crs: str | None = None,
                       prediction_crs: str | None = None, labels_layer: str | None = None,
                       apls: bool = False):
    """Line scores (:mod:`geotile.line_metrics`) where one file or both are SpaceNet road
    CSVs, in each image's pixels: ``images`` (an image or prediction raster, a folder or
    pattern of them) places each ImageId's lines through its geotransform, so that they are
    measured in ground metres. Two CSVs are scored image by image and summed
    (:class:`geotile.line_folders.ManyLineScores`), as SpaceNet scores each image alone; a
    CSV against a vector file of lines as two line files (:func:`~geotile.evaluate_lines`).
    SpaceNet 8's building polygons beside its roads are left out with one warning.
    ``apls``: APLS too (per image; two CSVs: and their mean, as SpaceNet totals it)."""
    from geotile.line_metrics import read_lines, score_line_frames
    from geotile.spacenet import is_road_csv, is_spacenet_csv

    paths = (prediction, truth)
    roads = [is_road_csv(p) for p in paths]
    for path, other, road in ((prediction, truth, roads[0]), (truth, prediction, roads[1])):
        if not road and is_spacenet_csv(path):
            raise InputError(f"{path} is a SpaceNet building CSV (PolygonWKT_Pix) and {other} "
                             "a road CSV (WKT_Pix): compare buildings with buildings, roads "
                             "with roads.")
    for option, value, side in (("--prediction-crs", prediction_crs, 0),
                                ("--labels-crs", labels_crs, 1), ("--layer", labels_layer, 1)):
        if value is not None and roads[side]:
            raise UsageError(f"{option} names a vector file's CRS or layer; "
                             f"{paths[side]} is a SpaceNet road CSV, placed by its images: "
                             "leave it out.")
    csv_path = prediction if roads[0] else truth
    if images is None:
        raise InputError(f"{csv_path}: a SpaceNet road CSV is in each image's pixels "
                         "(WKT_Pix), in no metres: give --image FOLDER (the images or "
                         "prediction rasters its ImageIds name), whose geotransforms place "
                         "and measure its lines.")
    rasters = _rasters(images)
    tables = {p: _lines_of(p) for p, road in zip(paths, roads, strict=True) if road}
    if apls:
        from geotile.apls import say_if_timed

        say_if_timed((p, tables[p].extra) for p in (truth, prediction) if p in tables)
    sources: dict = {}
    placed = _images_of(tables, rasters, images, sources)
    if all(roads):
        from geotile.line_folders import ManyLineScores

        pred, true = tables[prediction], tables[truth]
        per_image, files, left_out = {}, {}, []
        groups = _same_images(pred, true, sources)
        if len(pred.images) and len(true.images) and not any(p and t for p, t in groups):
            raise _no_shared_image(prediction, pred.images, truth, true.images)
        for ids in groups:
            frames = _placed_alike([_frame(t, i, placed) for t, i in
                                    zip((pred, true), ids, strict=True)], placed)
            image = (ids[1] or ids[0])[0]  # the truth's ImageId
            per_image[image] = score_line_frames(*frames, prediction, truth, buffer, apls=apls)
            files[image] = (os.fspath(prediction), os.fspath(truth))
            if not ids[0]:
                left_out.append(image)
        return ManyLineScores(per_image, files, buffer, left_out=left_out)
    frames = [_frame(tables[p], None, placed) if road else
              read_lines(p, crs, layer) for p, road, crs, layer in
              ((prediction, roads[0], prediction_crs, None),
               (truth, roads[1], labels_crs, labels_layer))]
    if apls:
        _warn_of_cut_roads(tables[csv_path], frames[0 if roads[0] else 1], placed, csv_path,
                           truth if roads[0] else prediction, frames[1 if roads[0] else 0],
                           not roads[0])
    return score_line_frames(*_placed_alike(frames, placed), prediction, truth, buffer,
                             apls=apls)


def _warn_of_cut_roads(table, frame, placed: dict, path, other, other_frame,
                       truth: bool) -> None:
    """A road CSV (the truth where ``truth``) scored with APLS against a file of whole
    roads (``other_frame``): say so
    when its lines stop at image edges a pixel from another image's and the other file's
    do not (:mod:`geotile.image_edge_pieces`); the gap allowed is 1.5 of the coarsest
    placed pixel (a diagonal step and a half)."""
    import shapely

    from geotile.crs_identity import one_crs
    from geotile.image_edge_pieces import warn_if_lines_cut

    if frame.crs is not None and other_frame.crs is not None and \
            not one_crs(other_frame.crs, frame.crs, ellipsoid_only=True):
        other_frame = other_frame.to_crs(frame.crs)

    names = sorted(set(table.image_ids))  # in _frame's order
    images = [name for name in names for _ in table.rows_of(name)]
    pixels = [max(abs(t.a), abs(t.e)) for t, _ in (placed.get(n, (None, None)) for n in names)
              if t is not None]
    if pixels and len(images) == len(frame):
        warn_if_lines_cut(frame.geometry.values, images, 1.5 * max(pixels), path, other,
                          shapely.get_parts(other_frame.geometry.values), truth=truth)


def _no_shared_image(prediction, pred_ids, truth, true_ids) -> InputError:
    """The refusal of two CSVs whose ImageIds name no image of both (another city's
    submission?): how many each holds and two of each."""
    held = []
    for path, ids in ((prediction, pred_ids), (truth, true_ids)):
        ids = sorted(set(ids))
        shown = ", ".join(repr(i) for i in ids[:2]) + (", ..." if len(ids) > 2 else "")
        held.append(f"{path} holds {counted(len(ids), 'ImageId')} ({shown})")
    return InputError(f"{held[0]} and {held[1]}: they share no ImageId, so every score "
                      "would be 0 (the wrong file, another city's?). Name the proposals' "
                      "images as the truth does (vectorize takes ImageId from the image name "
                      "without its product prefix).")


def _same_images(pred, true, sources: dict) -> list[tuple[list, list]]:
    """The ImageIds of two road CSV tables that name one image, (the prediction's, the
    truth's), in the order of that image's ImageId: ids placed on one raster (vectorize's
    AOI_2_Vegas_img1 and the file stem SN3_roads_train_AOI_2_Vegas_PS-RGB_img1), or, where
    ``sources`` (ImageId: raster) places neither, the same without product prefixes."""
    from geotile.spacenet import image_id

    groups: dict[str, tuple[list, list]] = {}
    for side, table in enumerate((pred, true)):
        for image in table.images:
            key = image_id(sources[image]) if image in sources else image_id(image)
            groups.setdefault(key, ([], []))[side].append(image)
    return [groups[key] for key in sorted(groups)]


def _placed_alike(frames: list, placed: dict) -> list:
    """``frames`` where a road CSV's frame of no lines (LINESTRING EMPTY alone, or an ImageId
    of none not in --image), which no image placed, takes the other frame's CRS, else a
    placed image's: it has no coordinates to be in another, and is measured in metres as
    the CSV's lines are."""
    crs = next((f.crs for f in frames if f.crs is not None),
               next((c for _, c in placed.values()), None))
    return [f.set_crs(crs) if f.crs is None and not len(f) and crs is not None else f
            for f in frames]


def _rasters(images) -> list:
    """The rasters of --image: a file, a folder or a pattern."""
    from geotile.input_files import expand_inputs

    rasters = list(expand_inputs([images]))
    if not rasters:
        raise InputError(f"{images}: holds no raster. Give the images (or prediction "
                         "rasters) the road CSV's ImageIds name.")
    return rasters


def _lines_of(path):
    """The table of a road CSV, its polygons (SpaceNet 8's buildings) left out with one
    warning."""
    import shapely

    from geotile.masks import line_parts

    table = read_csv(path)
    lines = line_parts(table.pixel)[3] if len(table) else np.zeros(0, bool)
    blank = shapely.is_empty(table.pixel) if len(table) else lines
    other = ~lines & ~blank
    if other.any():
        n = int(other.sum())
        are = "is a polygon" if n == 1 else "are polygons"
        warn(f"{path}: {counted(n, 'row')} {are}, not lines (buildings beside "
             "roads), left out of the line scores.", GeotileWarning)
        keep = np.flatnonzero(~other)
        table.image_ids, table.pixel = table.image_ids[keep], table.pixel[keep]
    return table


def _images_of(tables: dict, rasters: list, images, sources: dict | None = None) -> dict:
    """{ImageId: (transform, CRS)} of the rasters that the tables' ImageIds name (``sources``
    filled with {ImageId: raster}); an InputError for an ImageId with lines that none names,
    or a raster without a CRS."""
    from geotile.name_keys import other_spelling_beside, warn_other_case
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster
    from geotile.spacenet import check_in_image, id_spelling, match_image

    placed, sizes = {}, {}
    sources = {} if sources is None else sources
    for path, table in tables.items():
        ids = set(table.images)
        for raster in rasters:
            found = match_image(raster, ids)
            if found is None or sources.get(found) == raster:
                continue
            spelled = id_spelling(raster, found)  # Zürich_1 NFC: not the NFD file beside
            if spelled is not None and other_spelling_beside(raster, spelled) is not None:
                continue
            if spelled is not None:  # TILE_1 for tile_1.tif: paired, said
                warn_other_case(raster, spelled, path)
            with open_raster(raster) as src:
                crs, transform, size = map_crs(src), src.transform, (src.width, src.height)
            if found in placed and placed[found] != (transform, crs):
                raise InputError(f"{sources[found]} and {raster} are both ImageId {found!r} "
                                 "on other pixel grids (PAN and MUL?); give --image a folder "
                                 "of one product (the one the CSV's pixels are of).")
            if found in placed:
                continue
            if crs is None:
                raise InputError(f"{raster}: the image has no CRS, so its pixels measure no "
                                 "metres; assign one (gdal_edit.py -a_srs EPSG:xxxx) to score "
                                 f"{path}'s lines in metres.")
            placed[found], sources[found], sizes[found] = (transform, crs), raster, size
        for found in set(table.images) & set(placed):  # another product's pixels?
            check_in_image(path, found, table.pixel[table.rows_of(found)], sources[found],
                           *sizes[found])
        missing = sorted(set(table.image_ids) - set(placed))
        if missing:
            more = f" (and {len(missing) - 1} other ImageIds of lines)" if len(missing) > 1 \
                else ""
            raise InputError(f"{path}: no image of --image {images} is ImageId "
                             f"{missing[0]!r}{more}; give the folder holding every image it "
                             "names (ImageId: the image name without its product prefix, "
                             "PS-RGB_AOI_2_Vegas_img1 -> AOI_2_Vegas_img1).")
    return placed


def _frame(table, image: str | list | None, placed: dict):
    """The lines of ``image`` (an ImageId, a list of them; None: every image's), in the
    first one's CRS, in map coordinates, placed through their images' geotransforms."""
    import geopandas as gpd

    from geotile.ground_scale import to_crs
    from geotile.spacenet import pixel_to_map

    frames = []
    names = sorted(set(table.image_ids)) if image is None else \
        [image] if isinstance(image, str) else image
    for name in names:
        rows = table.rows_of(name)
        transform, crs = placed.get(name, (None, None))
        frame = gpd.GeoDataFrame(geometry=list(pixel_to_map(table.pixel[rows], transform))
                                 if len(rows) else [], crs=crs)
        frames.append(frame)
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=None)
    crs = next((f.crs for f in frames if f.crs is not None), None)
    frames = [f if f.crs in (None, crs) or not len(f) else to_crs(f, crs) for f in frames]
    return gpd.GeoDataFrame(gpd.pd.concat([f.set_crs(crs, allow_override=True)
                                           for f in frames], ignore_index=True), crs=crs)
