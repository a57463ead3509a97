"""How datasets name an image's labels: the suffixes that tell a mask from its image.

Most datasets give a mask its image's name (INRIA, LoveDA, Vaihingen) or add a suffix
(``tile_mask.tif``, FloodNet's ``6467_lab.png``, Vaihingen's eroded
``top_mosaic_09cm_area1_noBoundary.tif``); some also mark the image: DeepGlobe's
``104_sat.jpg`` with ``104_mask.png`` in one folder, ISPRS Potsdam's
``top_potsdam_2_10_RGB.tif`` (``_RGBIR``, ``_IRRG``) with ``top_potsdam_2_10_label.tif``,
DroneDeploy's ``107f24d6e9-ortho.tif`` with ``107f24d6e9-label.png``. Both come down to one
scene name. FLAIR marks both by a prefix instead: ``IMG_000001.tif`` with ``MSK_000001.tif``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from geotile.name_keys import name_key, nfc

#: what may follow an image's stem in its mask's name (``tile_mask.tif``, ``tile-gt.png``;
#: any case; ISPRS's ``_label_noBoundary`` and ``_noBoundary``, FloodNet's ``_lab``,
#: SpaceNet 7's ``_Buildings``, DFC2022's UrbanAtlas ``_UA2012``, GeoNRW's ``_seg`` (its
#: <E>_<N>_seg.tif beside <E>_<N>_rgb.jp2 and _dem.tif), GID-15's ``_15label``,
#: Five-Billion-Pixels' ``_24label``, Chesapeake's ``_lc``, Sen1Floods11's ``_LabelHand``,
#: ``_S1OtsuLabelHand``, ``_S1OtsuLabelWeak`` and ``_S2IndexLabelWeak``, iSAID's semantic
#: ``_instance_color_RGB``, OSCD's change maps ``<city>-cm``, LandCover.ai's split.py
#: pieces ``<name>_<k>_m.png``, after a piece number alone: :func:`suffix_fits`); "" first: a mask
#: of the image's own name (in another folder) is the best match; of a scene's, the first
#: suffix found wins (Chesapeake's tile_lc.tif beside tile_buildings.tif: _lc)
MASK_SUFFIXES = ("", "_mask", "-mask", "_masks", "_label", "-label", "_labels", "_lab",
                 "_label_noBoundary", "_noBoundary", "_gt", "-gt", "_UA2012", "_seg", "_15label",
                 "_24label", "_lc", "_Buildings", "_LabelHand", "_S1OtsuLabelHand",
                 "_S1OtsuLabelWeak", "_S2IndexLabelWeak", "_instance_color_RGB", "-cm", "_m")
_LOWER_SUFFIXES = tuple(s.lower() for s in MASK_SUFFIXES)
#: what may follow the scene's name in an image's name (compared in lower case; the
#: Chesapeake CVPR tiles' NAIP _naip-new and _naip-old; Sen1Floods11's <chip>_S1Hand,
#: _S2Hand and _S1Weak)
IMAGE_SUFFIXES = ("_sat", "-sat", "_rgb", "_rgbir", "_irrg", "_image", "_img", "-ortho",
                  "_ortho", "_naip-new", "_naip-old", "_s1hand", "_s2hand", "_s1weak")
#: an image's name prefix and its mask's (FLAIR #1/#2: IMG_000001.tif, MSK_000001.tif)
PREFIXES = (("IMG_", "MSK_"),)


def scene_name(image_stem: str) -> str | None:
    """The scene an image's stem names once its image suffix is dropped (``104_sat`` ->
    ``104``), None when it has none."""
    lower = image_stem.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return image_stem[: -len(suffix)]
    return None


def _stem_and_scene(image_stem: str) -> list[str]:
    scene = scene_name(image_stem)
    return [image_stem] if scene is None else [image_stem, scene]


def prefixed_mask_name(image_stem: str) -> str | None:
    """The mask name of an image named by a dataset's image prefix (FLAIR's ``IMG_000001``:
    ``MSK_000001``, the prefix in the image's case), None for other names."""
    for image, mask in PREFIXES:
        head = image_stem[:len(image)]
        if head.lower() == image.lower() and len(image_stem) > len(image):
            return (mask.lower() if head.islower() else mask) + image_stem[len(image):]
    return None


#: SEN12MS's and DFC2020's patches: ROIs1158_spring_s2_1_p30 (s1_ SAR, s2_ optical), whose
#: land cover is ROIs1158_spring_lc_1_p30 (SEN12MS) or ROIs0000_validation_dfc_0_p0 (DFC2020)
_SEN12MS = re.compile(r"(ROIs\d+_[a-z]+_)s[12](_\d+_p\d+)", re.I)


def sen12ms_mask_names(image_stem: str) -> list[str]:
    """The land cover names of a SEN12MS or DFC2020 patch (``ROIs1158_spring_s2_1_p30``:
    ``ROIs1158_spring_lc_1_p30``, ``ROIs1158_spring_dfc_1_p30``); [] for other names."""
    match = _SEN12MS.fullmatch(image_stem)
    if match is None:
        return []
    return [f"{match[1]}{kind}{match[2]}" for kind in ("lc", "dfc")]


def mask_bases(image_stem: str) -> list[str]:
    """The names a mask of this image starts with: the image's stem, then its scene name
    (:func:`scene_name`) when it has an image suffix, or its mask name when it has an image
    prefix (:func:`prefixed_mask_name`), or a SEN12MS patch's land cover names
    (:func:`sen12ms_mask_names`)."""
    prefixed = prefixed_mask_name(image_stem)
    return (_stem_and_scene(image_stem) + ([] if prefixed is None else [prefixed])
            + sen12ms_mask_names(image_stem))


#: LandCover.ai's split.py names a piece <name>_<k> and its mask <name>_<k>_m: its _m
#: follows a piece number alone (a user's area_m.tif is no mask of area.tif)
_PIECE_NUMBER = re.compile(r"_\d+$")


def suffix_fits(base: str, suffix: str) -> bool:
    """Whether the mask suffix ``suffix`` (any case) may follow ``base``: ``_m`` only after a
    piece number (``M-33-20-D-c-4-2_0_m``)."""
    return suffix.lower() != "_m" or _PIECE_NUMBER.search(base) is not None


def _named(mask_stem: str, base: str, suffixes: tuple[str, ...] = _LOWER_SUFFIXES) -> bool:
    mask_stem, base = name_key(mask_stem), name_key(base)
    return mask_stem.startswith(base) and (rest := mask_stem[len(base):].lower()) in suffixes \
        and suffix_fits(base, rest)


def names_mask_with(mask_stem: str, base: str, suffix: str) -> bool:
    """Whether ``mask_stem`` is ``base`` + ``suffix`` (the suffix in any case)."""
    return _named(mask_stem, base, (suffix.lower(),))


def mask_name_splits(mask_stem: str) -> list[str]:
    """The bases ``mask_stem`` is a mask name of (:func:`names_mask_with`: a base and one
    of :data:`MASK_SUFFIXES`, any case), in NFC: ``names_mask_of(mask_stem, image)`` where
    one of them is among ``mask_bases(image)``, looked up rather than tried on each image."""
    stem = name_key(mask_stem)
    return list(dict.fromkeys(
        stem[:len(stem) - len(suffix)] for suffix in _LOWER_SUFFIXES
        if len(stem) >= len(suffix) and stem[len(stem) - len(suffix):].lower() == suffix
        and suffix_fits(stem[:len(stem) - len(suffix)], suffix)))


def names_mask_of(mask_stem: str, image_stem: str) -> bool:
    """Whether ``mask_stem`` is a mask name of the image: a base (:func:`mask_bases`) and
    one of :data:`MASK_SUFFIXES` (any case)."""
    return any(_named(mask_stem, base) for base in mask_bases(image_stem))


def mask_rank(mask_stem: str, image_stem: str) -> tuple[int, int] | None:
    """How early tile's pairing finds ``mask_stem`` among the image's mask names: (its base's
    place in :func:`mask_bases`, its suffix's in :data:`MASK_SUFFIXES`), least first
    (Chesapeake's tile_lc before tile_buildings); None when it names no mask of the image."""
    ranks = [(i, j) for i, base in enumerate(mask_bases(name_key(image_stem)))
             for j, suffix in enumerate(_LOWER_SUFFIXES)
             if _named(mask_stem, base, (suffix,))]
    return min(ranks, default=None)


def image_spelled_by(head: str, base: str, image_key: str) -> str | None:
    """The image's stem as a mask name spells it that starts with ``head``: ``base`` (one of
    :func:`mask_bases` of the image whose stem in NFC is ``image_key``) as the mask spells
    it, Unicode form included (``Zu\u0308rich_1`` for ``Zu\u0308rich_1_mask``,
    ``IMG_Zu\u0308rich`` for ``MSK_Zu\u0308rich``); None for a SEN12MS land cover name."""
    if name_key(image_key).startswith(base):  # the image's stem, or its scene
        return head + image_key[len(base):]
    for image, mask in PREFIXES:
        if base[:len(mask)].lower() == mask.lower():
            return image_key[:len(image)] + head[len(mask):]
    return None


def label_spelling(image, label_stem: str) -> str | None:
    """``image``'s file name as ``label_stem`` spells it, Unicode form included, where
    :func:`image_name` pairs the two: through a mask suffix or prefix
    (:func:`image_spelled_by`), or SpaceNet's rules (``Zu\u0308rich_1`` for
    ``RGB-PanSharpen_Zürich_1.tif``: RGB-PanSharpen_Zu\u0308rich_1.tif); None otherwise."""
    from pathlib import Path

    from geotile.input_paths import input_path
    from geotile.spacenet import id_spelling, image_id

    path = input_path(image)
    if not isinstance(path, Path):
        return None
    key = name_key(path.stem)
    for base in mask_bases(key):
        for suffix in MASK_SUFFIXES:
            if names_mask_with(label_stem, base, suffix):
                spelled = image_spelled_by(label_stem[:len(label_stem) - len(suffix)], base,
                                           nfc(path.stem))
                return None if spelled is None else spelled + path.suffix
    tail = next((label_stem[i:] for i in range(len(label_stem))
                 if name_key(label_stem[i:]) == key), None)  # buildings_Zürich_1
    return tail + path.suffix if tail is not None else id_spelling(path, image_id(label_stem))


def scene_of_mask(mask_stem: str, image_stem: str) -> str | None:
    """The image's scene when ``mask_stem`` names it and not the image itself
    (``top_potsdam_2_10_label`` for ``top_potsdam_2_10_RGB``: ``top_potsdam_2_10``)."""
    scene = scene_name(image_stem)
    if scene is None or _named(mask_stem, image_stem) or not _named(mask_stem, scene):
        return None
    return scene


#: SpaceNet 8's images: <Maxar catalog id (16 hex digits)>_<tile>, in PRE-event/ and
#: POST-event/ alike, both drawn on the tile's one annotations/<tile>.geojson; SpaceNet 4's:
#: [Pan-Sharpen_]Atlanta_nadir<angle>_catid_<catalog id>_<tile>, the 27 collects of a tile
#: drawn on its one geojson/spacenet-buildings/spacenet-buildings_<tile>.geojson
_CATALOG_TILE = re.compile(r"^(?:[A-Za-z]+_nadir\d+_catid_)?[0-9A-F]{16}_(?=.)")


def catalog_tile(image_stem: str) -> str | None:
    """The tile an image of SpaceNet 8's <catalog id>_<tile> or SpaceNet 4's
    <city>_nadir<angle>_catid_<catalog id>_<tile> names (``10500500C4DD7000_0_15_63`` ->
    ``0_15_63``; ``Pan-Sharpen_Atlanta_nadir7_catid_1030010003D22F00_732701_3730939`` ->
    ``732701_3730939``), None for other names."""
    from geotile.spacenet import image_id

    ident = image_id(image_stem)
    match = _CATALOG_TILE.match(ident)
    return ident[match.end():] if match else None


#: ISPRS's DSM names of its images: Potsdam's top_potsdam_2_10_RGB (_RGBIR, _IRRG) has
#: dsm_potsdam_02_10 (nDSM: ..._normalized_lastools), Vaihingen's top_mosaic_09cm_area1 has
#: dsm_09cm_matching_area1 (nDSM: ..._normalized)
_ISPRS_DSM = ((re.compile(r"top_potsdam_(\d+)_(\d+)(?:_(?:rgb|rgbir|irrg))?$", re.I),
               "dsm_potsdam_{0:02d}_{1:02d}"),
              (re.compile(r"top_mosaic_09cm_area(\d+)$", re.I), "dsm_09cm_matching_area{0}"))
#: a SAR scene's co-polarised band file (ASF HyP3's and OPERA RTC-S1's <scene>_VV.tif,
#: HyP3's dB <scene>_VV_dB.tif) and its cross-polarised partner's polarisation
_CO_POLARISED = re.compile(r"(.+_)(VV|HH)((?:_db)?)$", re.I)
_CROSS_POLARISED = str.maketrans("VHvh", "HVhv")  # of the second letter: VV -> VH


#: what follows an image's stem or scene in its elevation raster's name, beside it (GeoNRW's
#: <E>_<N>_dem.tif of <E>_<N>_rgb.jp2, DroneDeploy's -elev; compared in lower case)
ELEVATION_SUFFIXES = ("_dem", "_dsm", "_ndsm", "-elev", "_elev")


def _isprs_dsm_names(image_stem: str) -> list[str]:
    """ISPRS's DSM name of an image (``top_potsdam_2_10_RGB``: ``dsm_potsdam_02_10``), []
    for other names."""
    return [name.format(*map(int, match.groups())) for pattern, name in _ISPRS_DSM
            if (match := pattern.match(image_stem))]


def names_elevation(stem: str, image_stem: str) -> bool:
    """Whether the raster ``stem`` is by its name the image's elevation raster: ISPRS's DSM
    (``dsm_potsdam_02_10``) or nDSM (``dsm_potsdam_02_10_normalized_lastools``,
    ``dsm_09cm_matching_area1_normalized``), or the image's stem or scene name and one of
    :data:`ELEVATION_SUFFIXES` (``294_5628_dem`` of ``294_5628_rgb``); in NFC."""
    stem, image_stem = name_key(stem), name_key(image_stem)
    lower = stem.lower()
    return (any(stem == dsm or stem.startswith(f"{dsm}_normalized")
                for dsm in _isprs_dsm_names(image_stem))
            or any(lower == (base + suffix).lower() for base in _stem_and_scene(image_stem)
                   for suffix in ELEVATION_SUFFIXES))


def elevation_rasters(stems: list[str]) -> list[bool]:
    """For each of ``stems``, whether it names another one's elevation raster
    (:func:`names_elevation`): each stem looked up among the others' elevation names, not
    compared with every other (20,000 images: 400 million comparisons)."""
    keys = [name_key(s) for s in stems]
    named: dict[str, set[int]] = {}  # a lower-case elevation name: whose it is
    dsms: dict[str, set[int]] = {}  # an ISPRS DSM name: whose it is
    for j, stem in enumerate(keys):
        for base in _stem_and_scene(stem):
            for suffix in ELEVATION_SUFFIXES:
                named.setdefault((base + suffix).lower(), set()).add(j)
        for dsm in _isprs_dsm_names(stem):
            dsms.setdefault(dsm, set()).add(j)

    def of_other(i: int, stem: str) -> bool:
        owners = named.get(stem.lower(), set()) | dsms.get(stem, set())
        at = stem.find("_normalized")
        while at >= 0:  # an nDSM: dsm_potsdam_02_10_normalized_lastools
            owners = owners | dsms.get(stem[:at], set())
            at = stem.find("_normalized", at + 1)
        return bool(owners - {i})

    return [of_other(i, stem) for i, stem in enumerate(keys)]


def elevation_bases(image_stem: str) -> list[str]:
    """The names an image's elevation raster (DSM, nDSM) starts with, best first: the
    image's stem, its scene name (DroneDeploy's ``107f24d6e9-ortho``: ``107f24d6e9``, whose
    ``107f24d6e9-elev``), ISPRS's DSM name (``top_potsdam_2_10_RGB``:
    ``dsm_potsdam_02_10``), a SAR scene's cross-polarised band (``<scene>_VV``:
    ``<scene>_VH``; ``_HH``: ``_HV``; ``_VV_dB``: ``_VH_dB``)."""
    bases = _stem_and_scene(image_stem) + _isprs_dsm_names(image_stem)
    if match := _CO_POLARISED.match(image_stem):
        scene, co, db = match.groups()
        bases.append(f"{scene}{co[0]}{co[1].translate(_CROSS_POLARISED)}{db}")
    return bases


def names_elevation_of(stem: str, base: str, image_stem: str) -> bool:
    """Whether the file ``stem`` is ``base`` or starts with ``base_`` (``base-`` too when
    ``base`` is not the image's own stem, whose ``-`` may join another image's name); in
    NFC (:func:`name_key`)."""
    stem, base, image_stem = name_key(stem), name_key(base), name_key(image_stem)
    return (stem == base or stem.startswith(f"{base}_")
            or (base != image_stem and stem.startswith(f"{base}-")))


def image_name(a: str, b: str) -> str | None:
    """The image that an image's (or prediction's) stem ``a`` and a label's (or truth's)
    stem ``b`` name (SpaceNet's rules: product prefixes dropped, and
    ``buildings_AOI_2_Vegas_img1`` names ``AOI_2_Vegas_img1``; a dataset's image and mask
    names: DeepGlobe's ``104_sat`` and ``104_mask`` name ``104``, ``farm-ortho`` and
    ``farm-ortho_mask`` ``farm-ortho``), None when they differ. evaluate pairs folders and
    make-masks pairs label folders by it. Names are compared, and given, in NFC
    (:func:`name_key`)."""
    from geotile.spacenet import image_id

    a, b = nfc(a), nfc(b)  # compared by name_key, given as spelled
    if names_mask_of(b, a):
        return scene_of_mask(b, a) or a
    a, b = image_id(a), image_id(b)
    key_a, key_b = name_key(a), name_key(b)
    if key_a == key_b or key_a.endswith("_" + key_b):
        return b
    return a if key_b.endswith("_" + key_a) else None


def url_name(url: str) -> str:
    """The file name of a task's image URL (:func:`url_file_name`) in NFC (:func:`name_key`)."""
    return name_key(url_file_name(url))


def url_file_name(url: str) -> str:
    """The file name of a task's image URL as spelled: a path's, an http, s3 or gs URL's, or
    a local-files URL's ``?d=`` path's (percent-escapes decoded)."""
    from urllib.parse import parse_qs, unquote, urlparse

    parsed = urlparse(url.replace("\\", "/"))
    shown = parse_qs(parsed.query).get("d") if parsed.query else None
    target = shown[0] if shown else unquote(parsed.path)
    return PurePosixPath(target.replace("\\", "/")).name  # ?d=a%5Cb.jpg: Windows
