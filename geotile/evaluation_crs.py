"""The two sides of an evaluation in one frame: the CRS each declares (or is given), the
prediction reprojected to the truth's, lon/lat geometries made whole at the antimeridian,
and a warning where the two cover different ground."""

from __future__ import annotations

import logging

import numpy as np

from geotile.crs_identity import one_crs
from geotile.errors import InputError
from geotile.label_set import header_crs
from geotile.user_warnings import warn

log = logging.getLogger("geotile")


def in_truth_crs(predicted, truth):
    """``predicted`` reprojected to the CRS of ``truth`` where both carry one (GeoSeries,
    GeoDataFrames, GeometryArrays; a list carries none: taken to be in the truth's); an
    InputError when only one of two such carries a CRS."""
    crs = getattr(predicted, "crs", None), getattr(truth, "crs", None)
    if hasattr(predicted, "crs") and hasattr(truth, "crs") and (crs[0] is None) != (
            crs[1] is None):
        missing, other = ("predicted", "truth") if crs[0] is None else ("truth", "predicted")
        declared = (crs[1] or crs[0]).to_string()
        raise InputError(f"the {missing} geometries carry no CRS while the {other} ones are in "
                         f"{declared}: set it ({missing}.set_crs(...)) before scoring.")
    if None not in crs and not one_crs(*crs, ellipsoid_only=True):  # one spelled two ways:
        # as they are
        log.info("reprojecting the predictions to the truth's CRS %s", crs[1].to_string())
        predicted = reprojected(predicted, crs[1], "the predictions", "the truth")
    return predicted


def declared_crs(path, layer: str | None = None, override: str | None = None):
    """The CRS a vector file will be scored in, from its header (``override``: --labels-crs
    or --prediction-crs) as a pyproj CRS; None where it declares none or cannot be read
    here (reading it later says why)."""
    from pyproj import CRS

    try:
        if override is not None:
            return CRS.from_user_input(override)
        from pyogrio import read_info

        from geotile.input_paths import ogr_path
        from geotile.labels import no_crs

        if no_crs(path):  # "crs": null, which GDAL reads as lon/lat
            return None
        crs = read_info(ogr_path(path), layer=layer)["crs"]
        return None if header_crs(crs, path) is None else CRS.from_user_input(crs)
    except Exception:  # scoring reads the file and names its problem
        return None


def reprojected(frame, crs, source, other):
    """``frame`` (of ``source``) in ``crs`` (of ``other``); an InputError naming both where
    PROJ cannot transform between them (a local site grid and a map CRS, two site grids)."""
    import geopandas as gpd
    from pyproj.exceptions import ProjError

    from geotile.label_set import densified, warn_inexact
    from geotile.proj_grids import crs_name

    if len(frame) and frame.crs is not None:
        warn_inexact(frame.crs, crs, frame.total_bounds, source)
        # long edges split first, as make-masks moves them: both burn and score one curve
        dense = gpd.GeoSeries(densified(np.asarray(frame.geometry.values), frame.crs),
                              index=frame.index, crs=frame.crs)
        if isinstance(frame, gpd.GeoSeries):
            frame = dense.rename(frame.name)
        else:
            frame = frame.copy()
            frame[frame.geometry.name] = dense
    try:
        moved = frame.to_crs(crs)
    except ProjError as exc:
        raise InputError(
            f"{source}: its CRS ({crs_name(frame.crs)}) cannot be transformed to that of "
            f"{other} ({crs_name(crs)}): they share no datum (a local site grid?). Give both "
            "in one CRS (--prediction-crs when the file declares a wrong one).") from exc
    if frame.crs is not None and len(frame):
        from geotile.proj_grids import check_grid_download

        check_grid_download(frame.geometry.values, moved.geometry.values, frame.crs, crs,
                            str(source))
    if not moved.crs.is_geographic or not len(moved):
        return moved
    from geotile.label_set import closed_round_poles

    # a ring round a pole comes out of PROJ as a zigzag of longitudes: a cap, as the
    # truth's (RFC 7946) is
    geometries, polar = closed_round_poles(np.asarray(moved.geometry.values, dtype=object))
    if not polar.any():
        return moved
    if isinstance(moved, gpd.GeoSeries):
        return gpd.GeoSeries(geometries, index=moved.index, crs=moved.crs, name=moved.name)
    return moved.set_geometry(list(geometries), crs=moved.crs)


def same_crs(prediction_frame, truth_frame, prediction, truth, prediction_crs=None,
              labels_crs=None):
    """(prediction, truth) frames in the truth's CRS; lon/lat geometries cut at the
    antimeridian (RFC 7946) or wrapped round the globe by PROJ made whole. ``prediction_crs``
    / ``labels_crs``: the options that gave the frames' CRS, if any (else their files)."""
    from geotile.labels import check_geographic_coordinates

    prediction_frame, truth_frame = _both_in_pixels(
        prediction_frame, truth_frame, prediction, truth, prediction_crs, labels_crs)
    prediction_frame = _in_the_others_frame(prediction_frame, truth_frame, prediction, truth)
    truth_frame = _in_the_others_frame(truth_frame, prediction_frame, truth, prediction)
    check_geographic_coordinates(truth_frame, truth)
    check_geographic_coordinates(prediction_frame, prediction, "--prediction-crs")
    if (prediction_frame.crs is None) != (truth_frame.crs is None):
        missing = prediction if prediction_frame.crs is None else truth
        option = "--prediction-crs" if prediction_frame.crs is None else "--labels-crs"
        raise InputError(f"{missing}: the file declares no CRS while the other one does. "
                         f"Pass {option} EPSG:xxxx to say what its coordinates are in.")
    if prediction_frame.crs is not None and one_crs(prediction_frame.crs, truth_frame.crs,
                                                      ellipsoid_only=True):
        prediction_frame = prediction_frame.set_crs(truth_frame.crs, allow_override=True)
    elif prediction_frame.crs is not None:
        log.info("reprojecting %s to the truth's CRS %s", prediction,
                 truth_frame.crs.to_string())
        prediction_frame = reprojected(prediction_frame, truth_frame.crs, prediction, truth)
    return _one_longitude_range(_whole_at_antimeridian(prediction_frame),
                                _whole_at_antimeridian(truth_frame))


def _both_in_pixels(prediction_frame, truth_frame, prediction, truth, prediction_crs,
                    labels_crs):
    """Both frames in no CRS, said in a warning, where neither file declares a CRS (GeoJSON
    without a crs member, read as lon/lat: :func:`geotile.pixel_labels.declared_crs`) and the
    coordinates of one cannot be lon/lat (a photo's pixels, as users write Labelme-like
    files), when the other's lie on the same ground and span over a degree (a unit): pixels
    too. Others as they are (those beyond lon/lat then refused)."""
    from geotile.labels import check_geographic_coordinates
    from geotile.pixel_labels import declared_crs

    frames = (prediction_frame, truth_frame)
    if any(option is not None for option in (prediction_crs, labels_crs)) or any(
            f.crs is None or declared_crs(f.crs, path) is not None or not len(f)
            for f, path in zip(frames, (prediction, truth), strict=True)):
        return frames
    beyond = []
    for frame, path in zip(frames, (prediction, truth), strict=True):
        try:
            check_geographic_coordinates(frame, path)
            beyond.append(False)
        except InputError:
            beyond.append(True)
    if not any(beyond):
        return frames  # lon/lat as far as they tell
    if not all(beyond):
        within = frames[beyond.index(False)].total_bounds
        if max(within[2] - within[0], within[3] - within[1]) <= 1 or \
                _apart(prediction_frame, truth_frame):
            return frames  # lon/lat elsewhere, or a single place in degrees: refused later
    from geotile.errors import GeotileWarning

    minx, miny = frames[beyond.index(True)].total_bounds[:2]
    warn(f"{prediction}, {truth}: coordinates like ({minx:.0f}, {miny:.0f}) are not "
         "longitude/latitude and neither file declares a CRS: both read in no CRS "
         "(pixel coordinates, say). Pass --labels-crs and --prediction-crs if they "
         "are in one.", GeotileWarning)
    return without_crs(prediction_frame), without_crs(truth_frame)


def _in_the_others_frame(frame, other, source, other_source):
    """``frame`` without its CRS when it claims degrees that its coordinates cannot be (a
    GeoJSON's default EPSG:4326) while ``other`` declares none: both are in one undeclared
    frame (pixels, as vectorize writes a plain image's polygons to GeoJSON), said in a
    warning."""
    from geotile.errors import GeotileWarning
    from geotile.labels import check_geographic_coordinates

    if other.crs is not None or frame.crs is None or not len(frame):
        return frame
    try:
        check_geographic_coordinates(frame, source)
    except InputError:
        minx, miny = frame.total_bounds[:2]
        warn(f"{source}: coordinates like ({minx:.0f}, {miny:.0f}) are not "
             f"longitude/latitude; read, as {other_source}'s, in no CRS (pixel "
             "coordinates, say). Pass --labels-crs/--prediction-crs if they are in "
             "one.", GeotileWarning)
        return without_crs(frame)
    return frame


def without_crs(frame):
    """``frame`` in no CRS (geopandas < 1.0 refuses ``set_crs(None)``)."""
    try:
        return frame.set_crs(None, allow_override=True)
    except ValueError:
        frame = frame.copy()
        frame.crs = None
        return frame


def _whole_at_antimeridian(frame):
    """A lon/lat ``frame`` whose geometries cut at 180 are made whole (longitudes past 180):
    else a building there matches nothing."""
    if frame.crs is None or not frame.crs.is_geographic or not len(frame):
        return frame
    import shapely

    from geotile.label_set import rejoined_at_antimeridian

    geometries = np.asarray(frame.geometry.values, dtype=object)
    whole = rejoined_at_antimeridian(geometries)
    if whole is geometries:
        return frame
    for i in np.flatnonzero(whole != geometries).tolist():  # its two halves: one polygon
        whole[i] = shapely.union_all(shapely.get_parts(whole[i]))
    return frame.set_geometry(whole, crs=frame.crs)


def _one_longitude_range(*frames):
    """Lon/lat ``frames`` with geometries moved by 360 degrees so that all of them lie in one
    longitude range, cut in the widest gap between them: a building just east of 180
    (-179.99) meets its truth made whole past 180 (179.9997..180.0004). Only where some
    geometry reaches past +-180 or lies within a degree of it on both sides."""
    if any(f.crs is None or not f.crs.is_geographic for f in frames):
        return frames
    import shapely

    geometries = [np.asarray(f.geometry.values, dtype=object) for f in frames]
    bounds = [shapely.bounds(g) if len(g) else np.zeros((0, 4)) for g in geometries]
    xs = [b[:, ::2].mean(axis=1) for b in bounds]  # box centres; nan: empty
    known = np.concatenate(xs)
    edges = np.concatenate([b[:, ::2] for b in bounds]).ravel()
    edges = edges[np.isfinite(edges)]
    beyond = edges.size and (edges.max() > 180 or edges.min() < -180)
    if not beyond and not ((known > 179).any() and (known < -179).any()):
        return frames  # nothing astride 180 nor on both sides of it: left as they are
    known = np.sort((known[np.isfinite(known)] + 180) % 360 - 180)
    if not len(known):
        return frames
    gaps = np.diff(np.append(known, known[0] + 360))  # the last one across 180
    widest = int(np.argmax(gaps))
    cut = known[widest] + gaps[widest] / 2 if widest < len(known) - 1 else -np.inf
    out = []
    for frame, g, x in zip(frames, geometries, xs, strict=True):
        lon = (x + 180) % 360 - 180
        shift = np.round((np.where(lon < cut, lon + 360, lon) - x) / 360) * 360
        shift[~np.isfinite(shift)] = 0
        if not shift.any():
            out.append(frame)
            continue
        g = g.copy()
        for offset in np.unique(shift[shift != 0]).tolist():
            moved = shift == offset
            g[moved] = shapely.transform(g[moved], lambda xy, d=offset: xy + np.array([d, 0.0]))
        out.append(frame.set_geometry(g, crs=frame.crs))
    return tuple(out)


def warn_if_apart(pred_frame, truth_frame, prediction, truth, outcome: str,
                  margin: float = 0.0, crs_options: tuple | None = None) -> None:
    """Warn when the two frames' extents (same CRS) are farther apart than ``margin`` and
    than a tenth of their larger side (a road's box has no height: a prediction just
    beyond the buffer is not other ground): a CRS or longitude/latitude mix-up, or
    another image's file, scores 0 (``outcome``) rather than an error. Empty geometries
    are no ground: a side of only those is not warned of. ``crs_options``: the
    (--prediction-crs, --labels-crs) given: a side without one whose CRS is a guess
    (:func:`geotile.labels.assumed_crs`) is refused where apart, its note warned of else."""
    apart = _apart(pred_frame, truth_frame, margin)
    if crs_options is not None:
        _judge_guesses(apart, prediction, truth, crs_options, outcome)
    if apart:
        log.warning("%s and %s cover different ground (no feature of one near the other's): "
                    "%s. Check their CRS (longitude and latitude swapped?) and that they are "
                    "of one image.", prediction, truth, outcome)


def _judge_guesses(apart: bool, prediction, truth, crs_options, outcome: str) -> None:
    """InputError naming a side whose CRS was assumed, not declared, where the two lie
    apart (UTM metres over 1e5 pass for degrees: ``outcome`` is the guess's, not the
    model's); else the note that a Parquet file without 'geo' metadata was read as lon/lat
    (held back at read: :func:`geotile.object_scores.read_vector_or_empty`)."""
    from geotile.labels import assumed_crs, lonlat_note

    for path, other, option, given in ((truth, prediction, "--labels-crs", crs_options[1]),
                                       (prediction, truth, "--prediction-crs",
                                        crs_options[0])):
        if given is not None or (guess := assumed_crs(path)) is None:
            continue
        if apart:
            crs = declared_crs(other)
            likely = f" ({option} {crs.to_string()}, the CRS of {other}, if it is in it)" \
                if crs is not None and not crs.is_geographic else ""
            raise InputError(
                f"{path}: no feature lies near those of {other} ({outcome}), and its CRS is "
                f"a guess: {guess[0]}. Pass {option} with the CRS its coordinates are in"
                f"{likely}.")
        if guess[1] is not None:
            warn(lonlat_note(path, guess[1], option))


def _apart(pred_frame, truth_frame, margin: float = 0.0) -> bool:
    """Whether the two frames' extents (same CRS, empty geometries apart) are farther apart
    than ``margin`` and than a tenth of their larger side (:func:`warn_if_apart`)."""
    import shapely

    frames = [f[~(shapely.is_missing(f.geometry.values) | shapely.is_empty(f.geometry.values))]
              if len(f) else f for f in (pred_frame, truth_frame)]
    if not len(frames[0]) or not len(frames[1]):
        return False
    a, b = frames[0].total_bounds, frames[1].total_bounds
    margin = max(margin, 0.1 * max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]))
    return bool(not np.isfinite([*a, *b]).all() or a[0] > b[2] + margin or
                b[0] > a[2] + margin or a[1] > b[3] + margin or b[1] > a[3] + margin)
