"""Built-in palettes of colour-coded labels (ISPRS, DeepGlobe, UAVid, DroneDeploy, iSAID,
SECOND, Five Billion Pixels)
and which of them a raster's colours are: the advice to give a colour-coded raster met
without --palette."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geotile.raster import alpha_bands, sample_pixels

#: ISPRS 2D semantic labelling (Potsdam, Vaihingen) colours, in class id order 1..6
POTSDAM = {
    "impervious_surfaces": (255, 255, 255),
    "building": (0, 0, 255),
    "low_vegetation": (0, 255, 255),
    "tree": (0, 255, 0),
    "car": (255, 255, 0),
    "clutter": (255, 0, 0),
}
#: DeepGlobe land cover (its challenge's order); black, 'unknown' (clouds...), is not scored
DEEPGLOBE = {
    "urban_land": (0, 255, 255),
    "agriculture_land": (255, 255, 0),
    "rangeland": (255, 0, 255),
    "forest_land": (0, 255, 0),
    "water": (0, 0, 255),
    "barren_land": (255, 255, 255),
    "ignore": (0, 0, 0),
}
#: UAVid's classes, background clutter its label 0
UAVID = {
    "background": (0, 0, 0),
    "building": (128, 0, 0),
    "road": (128, 64, 128),
    "tree": (0, 128, 0),
    "low_vegetation": (128, 128, 0),
    "static_car": (192, 0, 192),
    "moving_car": (64, 0, 128),
    "human": (64, 64, 0),
}
#: DroneDeploy's segmentation benchmark, as its README gives the colours (BGR there) and
#: its label ids 1..6; magenta its IGNORE (missing labels, the scene's edges)
DRONEDEPLOY = {
    "building": (230, 25, 75),
    "clutter": (145, 30, 180),
    "vegetation": (60, 180, 75),
    "water": (245, 130, 48),
    "ground": (255, 255, 255),
    "car": (0, 130, 200),
    "ignore": (255, 0, 255),
}
#: iSAID's semantic masks (P0001_instance_color_RGB.png), background 0 and its 15 classes
#: in the iSAID devkit's order, as mmsegmentation's converter reads them
ISAID = {
    "background": (0, 0, 0),
    "ship": (0, 0, 63),
    "storage_tank": (0, 63, 63),
    "baseball_diamond": (0, 63, 0),
    "tennis_court": (0, 63, 127),
    "basketball_court": (0, 63, 191),
    "ground_track_field": (0, 63, 255),
    "bridge": (0, 127, 63),
    "large_vehicle": (0, 127, 127),
    "small_vehicle": (0, 0, 127),
    "helicopter": (0, 0, 191),
    "swimming_pool": (0, 0, 255),
    "roundabout": (0, 191, 127),
    "soccer_ball_field": (0, 127, 191),
    "plane": (0, 127, 255),
    "harbor": (0, 100, 155),
}
#: SECOND's semantic change maps (label1/, label2/: each date's classes where the two
#: differ), white no change (0), then its classes in Bi-SRNet's and open-cd's order
SECOND = {
    "background": (255, 255, 255),
    "water": (0, 0, 255),
    "ground": (128, 128, 128),
    "low_vegetation": (0, 128, 0),
    "tree": (0, 255, 0),
    "building": (128, 0, 0),
    "playground": (255, 0, 0),
}
#: Five Billion Pixels' Annotation__color/<image>_24label.tif: its 24 classes in the order
#: of its Annotation__index ids 1..24 (as its devkit and mmsegmentation's FBP configs list
#: them); black, unlabeled (index 0), is ignored
FBP = {
    "unlabeled": (0, 0, 0),
    "industrial_area": (200, 0, 0),
    "paddy_field": (0, 200, 0),
    "irrigated_field": (150, 250, 0),
    "dry_cropland": (150, 200, 150),
    "garden_land": (200, 0, 200),
    "arbor_forest": (150, 0, 250),
    "shrub_forest": (150, 150, 250),
    "park": (200, 150, 200),
    "natural_meadow": (250, 200, 0),
    "artificial_meadow": (200, 200, 0),
    "river": (0, 0, 200),
    "urban_residential": (250, 0, 150),
    "lake": (0, 150, 200),
    "pond": (0, 200, 250),
    "fish_pond": (150, 200, 250),
    "snow": (250, 250, 250),
    "bareland": (200, 200, 200),
    "rural_residential": (200, 150, 150),
    "stadium": (250, 200, 150),
    "square": (150, 150, 0),
    "road": (250, 150, 150),
    "overpass": (250, 150, 0),
    "railway_station": (250, 200, 250),
    "airport": (200, 150, 0),
}
PALETTES = {"potsdam": POTSDAM, "vaihingen": POTSDAM, "deepglobe": DEEPGLOBE,
            "uavid": UAVID, "dronedeploy": DRONEDEPLOY, "isaid": ISAID, "second": SECOND,
            "fbp": FBP}
#: the built-in palettes of colours of their own (vaihingen's are potsdam's)
OWN_PALETTES = ("potsdam", "deepglobe", "uavid", "dronedeploy", "isaid", "second", "fbp")
#: GID-15's colour labels (<image>_15label): 15 of Five Billion Pixels' colours, whose ids
#: (1..24) are not GID-15's (1..15), so that --palette fbp is not advised for them
GID15_SUFFIX = "_15label"
#: colours off a palette colour by at most this in every band take its class (_Snap)
NEAR = 16
#: a colour of this share of a label raster's sampled pixels is a class: a palette
#: without it is not the raster's (palette_advice)
OWN_COLOUR_SHARE = 0.01


def sampled_colours(label) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colour codes of a sample of an RGB raster's pixels (a few blocks) and
    their pixel counts; pixels of alpha 0 or of the raster's nodata left out."""
    alpha = [b for b in alpha_bands(label) if b > 3][:1]
    sample = sample_pixels(label, [1, 2, 3, *alpha]).reshape(3 + len(alpha), -1)
    keep = sample[3] > 0 if alpha else np.ones(sample.shape[1], bool)
    if label.nodata is not None:  # the label's own nodata is no colour
        keep &= ~(sample[:3] == label.nodata).all(axis=0)
    rgb = sample[:3, keep].astype(np.int32)
    return np.unique(rgb[0] << 16 | rgb[1] << 8 | rgb[2], return_counts=True)


def near_colours(colours: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Which colour codes are within NEAR in every band of one of ``others``."""
    near = np.zeros(len(colours), bool)
    bands = np.stack([colours >> 16, colours >> 8 & 255, colours & 255])
    for code in np.asarray(others, np.int64):
        rgb_of = np.array([code >> 16, code >> 8 & 255, code & 255])[:, None]
        near |= (np.abs(bands - rgb_of) <= NEAR).all(axis=0)
    return near


def isprs_boundaries(palette, path) -> bool:
    """Whether ``palette`` is ISPRS's (potsdam, vaihingen) and ``path`` one of its
    "noBoundary" label files, whose black (0, 0, 0) marks the eroded class boundaries that
    its benchmark leaves unscored: to ignore, as no colour of a class."""
    return isinstance(palette, str) and palette.lower() in ("potsdam", "vaihingen") \
        and "noboundary" in Path(str(path)).stem.lower()


def palette_advice(label) -> str:
    """The --palette to give colour-coded labels (an open raster): the built-in palette
    whose colours (within NEAR) cover most of a sample of its pixels, the most of them
    (ties: the one with fewest colours absent), else a JSON palette. A palette leaving out
    a colour of at least OWN_COLOUR_SHARE of the pixels (a class of another dataset's, not
    JPEG's thin spread of strays) is none to give: GID's red built-up was told deepglobe.
    The black edges of ISPRS's "noBoundary" labels (by the file's name) are to be ignored;
    GID-15's labels (its _15label names) are not told Five Billion Pixels' palette."""
    if (colour := one_colour_on_black(label)) is not None:  # a binary mask in a colour
        return ('--palette palette.json ({"background": [0, 0, 0], "building": '
                f"{list(colour)}}}: a mask of black and one colour)")
    colours, counts = sampled_colours(label)
    if isprs_boundaries("potsdam", label.name):
        counts = np.where(colours == 0, 0, counts)  # black: ignored with --palette potsdam
    best, best_key = None, (0, 0)
    gid15 = Path(label.name).stem.lower().endswith(GID15_SUFFIX)
    for name in OWN_PALETTES:
        if name == "fbp" and gid15:  # FBP's colours, but GID-15's own ids 1..15
            continue
        codes = np.array([r << 16 | g << 8 | b for r, g, b in PALETTES[name].values()],
                         np.int64)
        covered = near_colours(colours, codes)
        if (counts[~covered] >= OWN_COLOUR_SHARE * counts.sum()).any():
            continue
        key = (int(counts[covered].sum()), -int((~near_colours(codes, colours)).sum()))
        if key > best_key:
            best, best_key = name, key
    if best is not None and best_key[0] > counts.sum() / 2:
        return f"--palette {best}"
    return ('--palette palette.json ({"building": [0, 0, 255], ...}, one colour per class; '
            f"its colours are not those of a built-in palette: {', '.join(OWN_PALETTES)})")


def one_colour_on_black(src, codes=None) -> tuple[int, int, int] | None:
    """The colour of a uint8 RGB raster holding black and one colour of 0s and 255s alone,
    not grey (S2Looking's building masks drawn in red, a binary mask in a colour): its
    positive class; None for any other (its pixels sampled; ``codes``: the sample's
    colours as R << 16 | G << 8 | B, when read)."""
    if src.count < 3 or src.dtypes[0] != "uint8":
        return None
    if codes is None:
        sample = sample_pixels(src, [1, 2, 3]).reshape(3, -1).astype(np.int32)
        codes = sample[0] << 16 | sample[1] << 8 | sample[2]
    colours = np.unique(codes)  # one number per colour: a sort of rows is 20x slower
    if len(colours) != 2 or colours[0] != 0:
        return None
    colour = tuple(int(colours[1]) >> shift & 255 for shift in (16, 8, 0))
    if not set(colour) <= {0, 255} or min(colour) == 255:
        return None
    return colour
