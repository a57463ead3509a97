"""A STAC Catalog or Collection given as LABELS to make-masks: each IMAGE takes the labels
of the label item whose ``rel="source"`` link leads to it.

Every item of the catalog is read (``rel="item"`` and ``rel="child"`` links, followed
recursively; local files only; :data:`MAX_DEPTH` catalogs deep and :data:`MAX_DOCUMENTS`
documents at most; links that cycle refused). A label item's source link leads to a source
imagery item, whose ``data``/``visual``/``image`` assets (by key or role, hrefs relative to
that item) are its images, or to an image file itself. An IMAGE is a label item's when the
resolved paths are equal, else when the file names are. Class names are run-wide, from
every item's ``label:classes`` (:func:`geotile.label_folders.with_run_values` gives them
the same ids in every mask).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from geotile.errors import InputError

#: catalogs deep, and STAC documents read, at most (a cycle or a bomb stops there)
MAX_DEPTH = 32
MAX_DOCUMENTS = 100_000
#: keys (or roles) of a source item's assets that are its image
IMAGE_ASSETS = ("data", "visual", "image")


def is_catalog(path) -> bool:
    """Whether local ``path`` is a STAC Catalog or Collection."""
    from geotile.stac_labels import stac_document

    document = stac_document(path)
    return document is not None and document.get("type") in ("Catalog", "Collection")


@dataclasses.dataclass
class Walk:
    """What a walk of a catalog found: its label items (path: document), the links it did
    not follow (remote, or to no file here)."""

    catalog: Path
    items: dict = dataclasses.field(default_factory=dict)
    read: int = 0
    skipped: int = 0


def walk(catalog) -> Walk:
    """The label items of ``catalog``; InputError in one line for links that cycle, or a
    catalog deeper than MAX_DEPTH or of more than MAX_DOCUMENTS documents."""
    found = Walk(Path(os.fspath(catalog)))
    _walk(found, found.catalog, [])
    return found


def _walk(found: Walk, path: Path, ancestors: list) -> None:
    from geotile.stac_labels import REMOTE, is_label_item, local_path, stac_document

    key = os.path.realpath(path)
    if key in ancestors:
        raise InputError(f"{found.catalog}: its links cycle ({path} links back to a catalog "
                         "above it): fix that rel=\"child\" link.")
    if len(ancestors) >= MAX_DEPTH:
        raise InputError(f"{found.catalog}: catalogs more than {MAX_DEPTH} deep (at {path}): "
                         "give a catalog nearer its items.")
    found.read += 1
    if found.read > MAX_DOCUMENTS:
        raise InputError(f"{found.catalog}: more than {MAX_DOCUMENTS} STAC documents: give "
                         "a sub-catalog of the images' items.")
    document = stac_document(path)
    if document is None:
        found.skipped += 1
        return
    if document.get("type") == "Feature":
        if is_label_item(document):
            found.items.setdefault(key, (path, document))
        return
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") not in ("item", "child") \
                or not isinstance(link.get("href"), str):
            continue
        if link["href"].lower().startswith(REMOTE):
            found.skipped += 1
            continue
        target = local_path(link["href"], path)
        if os.path.realpath(target) in found.items:
            continue
        _walk(found, target, [*ancestors, key])


def source_images(path: Path, document: dict) -> list[Path]:
    """The local image files a label item's source links lead to, and the imagery items
    they lead through (an IMAGE may be its item: Open Cities AI's 665946/665946.json)."""
    from geotile.stac_labels import RASTER_SUFFIXES, REMOTE, local_path, stac_document

    images = []
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != "source" \
                or not isinstance(link.get("href"), str) \
                or link["href"].lower().startswith(REMOTE):
            continue
        target = local_path(link["href"], path)
        if target.suffix.lower() in RASTER_SUFFIXES:  # the image itself
            images.append(target)
            continue
        source = stac_document(target)
        if source is None or source.get("type") != "Feature":
            continue
        images.append(target)
        for key, asset in (source.get("assets") or {}).items():
            if not isinstance(asset, dict) or not isinstance(asset.get("href"), str) \
                    or asset["href"].lower().startswith(REMOTE):
                continue
            if key in IMAGE_ASSETS or set(IMAGE_ASSETS) & set(asset.get("roles") or []):
                images.append(local_path(asset["href"], target))
    return images


def pair_items(catalog, images) -> tuple[list[Path], Walk]:
    """Each image's label item of ``catalog`` (by resolved path, else by file name), in
    the order of ``images``; InputError in one line for an image no label item names, or
    that two name."""
    from geotile.input_paths import input_path

    found = walk(catalog)
    by_path: dict = {}
    by_name: dict = {}
    for key, (path, document) in found.items.items():
        for image in source_images(path, document):
            by_path.setdefault(os.path.realpath(image), {})[key] = path
            by_name.setdefault(image.name, {})[key] = path
    paired = []
    for image in images:
        image = input_path(image)
        items = by_path.get(os.path.realpath(image)) if isinstance(image, Path) else None
        items = items or by_name.get(image.name) or {}
        if len(items) > 1:
            names = " and ".join(str(p) for p in list(items.values())[:2])
            raise InputError(f"{image}: label items {names} of {catalog} both name it as "
                             "their source: keep one label item per image.")
        if not items:
            raise InputError(_unnamed(image, catalog, found, by_name))
        paired.append(next(iter(items.values())))
    return paired, found


def _unnamed(image, catalog, found: Walk, by_name: dict) -> str:
    named = list(by_name)[:2]
    example = f", naming {' and '.join(named)}" if named else \
        ", naming no local image" if found.items else ""
    also = f"; {found.skipped} links not followed (remote, or not here)" if found.skipped \
        else ""
    return (f"{image}: no label item of {catalog} names it as its source ("
            f"{len(found.items)} label items found{example}{also}). Give its label item a "
            "rel=\"source\" link to it, or leave the image out.")


def plan(catalog, images, outputs, *, class_field=None, class_map=None, labels_crs=None,
         layer=None, overwrite: bool = False, resume: bool = False,
         where: str | None = None) -> tuple[list, list | None]:
    """(each image's label item, the run's class values or None) for make-masks of a
    catalog, refusing before anything is written (as :func:`geotile.label_folders.plan`;
    ``where``, checked against each item's labels here, is applied as they are read: the
    classes stay those the items declare, else those of the features it selects)."""
    from geotile.label_folders import check_outputs, check_pairing, run_class_values
    from geotile.stac_labels import label_item

    check_pairing(images, outputs)
    paired, found = pair_items(catalog, images)
    items = {p: label_item(p) for p in dict.fromkeys(paired)}
    kinds = {item.raster for item in items.values()}
    if len(kinds) > 1:
        raster = next(p for p, item in items.items() if item.raster)
        vector = next(p for p, item in items.items() if not item.raster)
        raise InputError(f"{catalog}: its label items are rasters ({raster}) and vectors "
                         f"({vector}): give the images of one kind at a time.")
    check_outputs(outputs, [*items, *(i.labels for i in items.values()), *images],
                  overwrite, resume)
    if where is not None and kinds != {True}:  # each item's labels: refused before any mask
        from geotile.label_filter import check_where
        from geotile.labels import field_schema

        for item in items.values():
            check_where(item.labels, where, field_schema(item.labels, layer))
    if kinds == {True} or class_map is not None:
        return paired, None
    fields = {p: item.class_field(class_field) for p, item in items.items()}
    if len(set(fields.values())) > 1:
        (a, one), (b, other) = list({f: p for p, f in fields.items()}.items())[:2]
        raise InputError(f"{catalog}: its label items class by different fields ({one}: "
                         f"{a}, {other}: {b}): say which with --class-field {a}.")
    field = next(iter(fields.values()))
    if field is None:
        return paired, None
    values: dict = {}
    undeclared = []
    for item in items.values():
        declared = item.class_values(field)
        if declared is None and not item.classes.get(field):
            undeclared.append(item.labels)
        values.update(dict.fromkeys(declared or []))
    for _path, document in found.items.values():  # the items of no image given, alike
        values.update(dict.fromkeys(_declared(document, field)))
    if undeclared:  # no label:classes: the names their files hold
        values.update(dict.fromkeys(
            run_class_values(undeclared, field, labels_crs, layer, where)))
    return paired, list(values) or None


def _declared(document: dict, field: str) -> list[str]:
    """The class names a label item's label:classes declare for ``field`` (not ids)."""
    properties = document.get("properties") or {}
    for classes in properties.get("label:classes") or []:
        if isinstance(classes, dict) and classes.get("name") == field:
            values = list(classes.get("classes") or [])
            if values and not all(isinstance(v, int | float) for v in values):
                return [str(v) for v in values]
    return []
