"""STAC documents given as labels: a label-extension Item (stac-extensions/label) stands for
its labels asset, never for its own footprint; other Items, Catalogs and Collections are
refused in one line.

A label Item's asset of role ``labels`` (or named ``labels``), of the kind ``label:type``
says (GeoJSON for "vector", a raster for "raster"), is the labels file, its href read
relative to the item. Vector labels are classed by the one ``label:properties`` field (or
the one ``label:classes`` names; none: one class), and the class names ``label:classes``
declares are the run's class values, so ids do not depend on which a tile holds. A raster
asset's ``classification:classes`` (value, name) name its ids; without them, the one list
of names label:classes gives names its ids 0, 1, ... (LandCoverNet: "No Data" first).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
from pathlib import Path

from geotile.errors import InputError

#: the GeoJSON/STAC types a STAC document has
STAC_TYPES = ("Feature", "Catalog", "Collection")
#: the largest file read to tell a STAC document (items are a few kB)
SNIFF_BYTES = 8 * 2**20
#: asset keys the extension names for labels
LABEL_KEYS = ("labels", "vector_labels", "raster_labels")
REMOTE = ("http://", "https://", "s3://", "gs://", "az://", "/vsicurl/", "/vsis3/")
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png")


def is_stac(document) -> bool:
    """Whether a parsed JSON document is a STAC Item, Catalog or Collection."""
    return (isinstance(document, dict) and "stac_version" in document
            and document.get("type") in STAC_TYPES)


def is_label_item(document) -> bool:
    """Whether a STAC document is an Item of the label extension."""
    if not is_stac(document) or document.get("type") != "Feature":
        return False
    properties = document.get("properties") or {}
    return any(str(e) == "label" or str(e).split("/")[3:4] == ["label"]
               for e in document.get("stac_extensions") or []) \
        or any(str(k).startswith("label:") for k in properties)


def stac_document(path) -> dict | None:
    """The parsed STAC document at local ``path``, None when it is none."""
    import stat

    path = Path(os.fspath(path))
    try:
        if path.suffix.lower() not in (".json", ".geojson"):
            return None
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > SNIFF_BYTES:
        return None
    document = _stac_version(str(path), (info.st_dev, info.st_ino, info.st_size,
                                         info.st_mtime_ns, info.st_ctime_ns))
    return None if document is None else copy.deepcopy(document)


@functools.lru_cache(maxsize=32)
def _stac_version(path: str, version: tuple) -> dict | None:
    """stac_document of one ``version`` of the file at ``path`` (device, inode, size, mtime,
    ctime), read once: make-masks and predict ask of one labels file or item several times
    (its labels, its catalog, its item, the inputs' files, the resume digest)."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    if b'"stac_version"' not in raw:
        return None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except ValueError:
        return None
    return document if is_stac(document) else None


@dataclasses.dataclass(frozen=True)
class LabelItem:
    """A label Item and the labels file it names."""

    item: Path
    labels: Path
    raster: bool
    #: label:properties (None: no class field)
    fields: tuple | None
    #: label:classes, {field: [class values]}
    classes: dict
    #: {name: id} of a raster asset's classification:classes
    raster_names: dict | None

    def class_field(self, given: str | None) -> str | None:
        """The class field: ``given``, else the item's one (InputError naming them when it
        declares several and label:classes does not single one out); without
        label:properties, the one field label:classes names with two classes or more (one
        class needs no field)."""
        if given is not None or self.raster:
            return given
        if not self.fields:
            named = [f for f, values in self.classes.items()
                     if isinstance(f, str) and f and len(values) > 1]
            if len(named) < 2:
                return named[0] if named else None
            fields, what = named, "label:classes"
        elif len(self.fields) == 1:
            return self.fields[0]
        else:
            named = [f for f in self.fields if f in self.classes]
            if len(named) == 1:
                return named[0]
            fields, what = self.fields, "label:properties"
        listed = ", ".join(map(str, fields))
        raise InputError(f"{self.item}: its {what} name {len(fields)} class fields "
                         f"({listed}); say which with --class-field {fields[0]}.")

    def class_values(self, field: str | None) -> list | None:
        """The class names label:classes declares for ``field`` (None: none, or ids)."""
        values = self.classes.get(field) if field is not None else None
        if not values or all(isinstance(v, int | float) for v in values):
            return None
        return [str(v) for v in values]


def label_item(path) -> LabelItem | None:
    """The label Item at ``path``; None when ``path`` is no STAC document; InputError in
    one line for another STAC document or a label Item whose labels cannot be read here."""
    document = stac_document(path)
    if document is None:
        return None
    path = Path(os.fspath(path))
    refusal = refusal_of(document, path)
    if refusal:
        raise InputError(refusal)
    properties = document.get("properties") or {}
    raster = properties.get("label:type") == "raster"
    key, href = _labels_asset(document, path, raster)
    fields = properties.get("label:properties", properties.get("label:property"))  # 0.8
    fields = tuple(fields) if isinstance(fields, list) and fields else None
    target = _local(href, path, key, f" with --class-field {fields[0]}"
                    if fields and len(fields) == 1 and not raster else "")
    classes = {c.get("name"): list(c.get("classes") or [])
               for c in properties.get("label:classes") or [] if isinstance(c, dict)}
    asset = document["assets"][key]
    return LabelItem(path, target, raster, fields, classes,
                     (_classification(asset) or _listed_names(classes)) if raster else None)


def labels_file(path):
    """``path``, or the labels file of the label Item at ``path`` (InputError for another
    STAC document)."""
    item = label_item(path)
    return path if item is None else item.labels


def refusal_of(document, path) -> str | None:
    """What to say of a STAC document given as labels that is no label Item (None: one)."""
    if is_label_item(document):
        return None
    kind = document.get("type")
    if kind == "Feature":
        return (f"{path}: a STAC Item of imagery, not labels: give the labels (its label "
                "item or their GeoJSON).")
    items = _linked_label_items(document, path)
    named = f" ({', '.join(items[:3])}{', ...' if len(items) > 3 else ''})" if items else ""
    return (f"{path}: a STAC {kind}, not labels: give one label item per image{named}, or "
            "their labels GeoJSON.")


def labels_refusal(document, path) -> str:
    """What read_labels says of any STAC document: its labels are read where labels are
    given (make-masks, tile --labels, evaluate), not here."""
    refusal = refusal_of(document, path)
    if refusal:
        return refusal
    try:
        target = label_item(path).labels
    except InputError as exc:
        return str(exc)
    return (f"{path}: a STAC label item, not vector labels: give its labels asset "
            f"({target}).")


def _labels_asset(document, path: Path, raster: bool) -> tuple[str, str]:
    """(key, href) of the item's labels asset of the kind ``raster`` says."""
    assets = {k: a for k, a in (document.get("assets") or {}).items()
              if isinstance(a, dict) and isinstance(a.get("href"), str)}
    named = {str(k) for link in document.get("links") or [] if isinstance(link, dict)
             and link.get("rel") == "source" for k in _listed(link.get("label:assets"))}
    labelled = {k: a for k, a in assets.items() if k in LABEL_KEYS or k in named or {
        "labels", "labels-raster", "labels-vector"} & set(a.get("roles") or [])}
    labelled = {k: a for k, a in labelled.items()
                if "labels-extent" not in (a.get("roles") or [])
                and _is_raster_asset(a) == raster}
    what = "raster" if raster else "GeoJSON"
    if not labelled:
        listed = ", ".join(assets) or "none"
        raise InputError(f"{path}: a STAC label item without a {what} labels asset (role "
                         f"'labels'; its assets: {listed}). Give the labels file itself.")
    if len(labelled) > 1:
        raise InputError(f"{path}: a STAC label item with {len(labelled)} {what} labels "
                         f"assets ({', '.join(labelled)}): give the one to read itself "
                         f"({labelled[next(iter(labelled))]['href']}).")
    key, asset = next(iter(labelled.items()))
    return key, asset["href"]


def _listed(value) -> list:
    """``value`` as a list (one string: itself)."""
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def _is_raster_asset(asset: dict) -> bool:
    media = str(asset.get("type") or "").lower()
    if media:
        return media.startswith("image/") or "geotiff" in media
    href = asset["href"].split("?")[0].lower()
    return href.endswith(RASTER_SUFFIXES) or "labels-raster" in (asset.get("roles") or [])


def _local(href: str, item: Path, key: str, hint: str = "") -> Path:
    """The local file of asset ``key``'s ``href`` (relative to the item); ``hint``: how
    to give that file in the item's stead."""
    if href.lower().startswith(REMOTE):
        name = href.split("?")[0].rstrip("/").rpartition("/")[2] or "labels"
        raise InputError(f"{item}: its labels asset {key!r} is remote ({href}): download it "
                         f"(to {item.parent / name}) and give that file{hint}.")
    target = local_path(href, item)
    if not target.exists():
        raise InputError(f"{item}: its labels asset {key!r} is not there ({target}): download "
                         "it beside the item, or give the labels file itself.")
    return target


def local_path(href: str, document: Path) -> Path:
    """The local path of a (non-remote) ``href`` of the STAC document at ``document``:
    relative to its folder, a file:// URI or absolute; percent-escapes decoded where the
    href as written names no file (``my%20labels.geojson``)."""
    from urllib.parse import unquote

    uri = href.lower().startswith("file:")
    if uri:  # file:///abs, file:/abs, file://localhost/abs
        href = href[5:]
        if href.startswith("//"):
            href = "/" + href[2:].partition("/")[2]
    paths = [Path(p) for p in dict.fromkeys([href, unquote(href)])]
    paths = [p if p.is_absolute() else document.parent / p for p in paths]
    return next((p for p in paths if p.exists()), paths[-1] if uri else paths[0])


def _classification(asset: dict) -> dict | None:
    """{name: value} of a raster asset's classification:classes (its own or its first
    band's), nodata classes aside; None without them."""
    classes = asset.get("classification:classes")
    bands = asset.get("raster:bands") or asset.get("bands") or []
    if classes is None and bands and isinstance(bands[0], dict):
        classes = bands[0].get("classification:classes")
    named = {str(c["name"]): int(c["value"]) for c in classes or []
             if isinstance(c, dict) and "name" in c and isinstance(c.get("value"), int)
             and not c.get("nodata") and 0 <= c["value"] <= 254}
    return named or None


def _listed_names(classes: dict) -> dict | None:
    """{name: value} of a raster item naming its values only in label:classes, one list of
    names by value (LandCoverNet's "No Data", "Water", ...: 0 is no data, a name make-masks
    writes as 255); None for several lists, values rather than names, or a first name
    that is no background or no data (["building"] of a 0/1 raster names its classes past
    0: its 0 named 'building' would be a class)."""
    from geotile.class_keys import is_background_name

    if len(classes) != 1:
        return None
    names = next(iter(classes.values()))
    if not names or not all(isinstance(n, str) for n in names) or len(names) > 255 \
            or not is_background_name(names[0]):
        return None
    return {name: value for value, name in enumerate(names)}


def _linked_label_items(document, path: Path) -> list[str]:
    """The local label items a Catalog/Collection links (rel item), as their paths."""
    found = []
    for link in (document.get("links") or [])[:200]:
        if not isinstance(link, dict) or link.get("rel") != "item":
            continue
        href = str(link.get("href") or "")
        if href.lower().startswith(REMOTE):
            continue
        target = path.parent / href.removeprefix("file://")
        linked = stac_document(target)
        if linked is not None and is_label_item(linked):
            found.append(os.path.normpath(target))
    return found


def item_labels(item: LabelItem, class_field, class_map, class_values) -> tuple:
    """(labels file, class field, class map, class values) for make-masks of ``item``: the
    options given win over what the item declares."""
    if item.raster:
        return item.labels, class_field, class_map or item.raster_names, class_values
    field = item.class_field(class_field)
    if class_map is None and class_values is None:
        class_values = item.class_values(field)
    return item.labels, field, class_map, class_values


def check_declared(labels, class_field: str, declared, source) -> None:
    """InputError naming a class value of ``labels`` that label:classes does not declare
    (it would shift the ids of the declared names)."""
    from geotile.class_keys import class_key

    if class_field not in labels.fields:
        return  # class_ids names the missing field
    known = {class_key(v) for v in declared}
    for value in [*labels.fields[class_field], *labels.values.get(class_field, [])]:
        if value is not None and str(value).strip() and class_key(str(value)) not in known:
            raise InputError(f"{source}: class {value!r} of field {class_field!r} is not "
                             f"among the label:classes its STAC item declares "
                             f"({', '.join(declared)}). Fix the item, or give --class-map.")
