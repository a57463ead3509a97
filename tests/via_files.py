"""VIA 2 JSON entries written as VIA's other files: the CSV export (as via-2.x.y's
pack_via_metadata('csv') writes it) and a VIA 3 project (as via-3.x.y's
project_import_via2_json lays one out, with options of ids as VIA 3 makes them)."""

from __future__ import annotations

import json

HEADER = ("filename,file_size,file_attributes,region_count,region_id,region_shape_attributes,"
          "region_attributes")


def _cell(value: dict) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return '"' + text.replace('"', '""') + '"'


def via_csv(path, *entries, header=HEADER):
    """VIA 2's CSV export of VIA 2 JSON ``entries``: one row per region, one of region_count
    0 for an image without regions; no newline after the last row, as VIA writes it."""
    lines = [header]
    for entry in entries:
        prefix = f"{entry['filename']},{entry['size']},{_cell(entry['file_attributes'])}"
        regions = entry["regions"]
        lines += [f"{prefix},{len(regions)},{i},{_cell(r['shape_attributes'])},"
                  f"{_cell(r['region_attributes'])}" for i, r in enumerate(regions)]
        if not regions:
            lines.append(prefix + ',0,0,"{}","{}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _xy(shape: dict) -> list:
    """VIA 3's xy of VIA 2 shape_attributes (an ellipse loses its theta: VIA 3 has none)."""
    name = shape["name"]
    if name == "rect":
        return [2, shape["x"], shape["y"], shape["width"], shape["height"]]
    if name == "circle":
        return [3, shape["cx"], shape["cy"], shape["r"]]
    if name == "ellipse":
        return [4, shape["cx"], shape["cy"], shape["rx"], shape["ry"]]
    if name == "point":
        return [1, shape["cx"], shape["cy"]]
    points = [v for p in zip(shape["all_points_x"], shape["all_points_y"], strict=True)
              for v in p]
    return [7 if name == "polygon" else 6, *points]


def via3_project(path, *entries, xy=None, files=None, views=None):
    """A VIA 3 project of VIA 2 JSON ``entries`` (``xy``: {filename: [xy...]} replacing
    their regions' shapes; ``files``/``views``: more of each): each region attribute a
    select of options {"0": first name, ...}, each image its own view."""
    names: dict[str, dict[str, None]] = {}
    for entry in entries:
        for region in entry["regions"]:
            for key, value in region["region_attributes"].items():
                names.setdefault(key, {}).setdefault(value, None)
    attribute = {str(i): {"aname": key, "anchor_id": "FILE1_Z0_XY1", "type": 4, "desc": "",
                          "options": {str(k): v for k, v in enumerate(values)},
                          "default_option_id": ""}
                 for i, (key, values) in enumerate(names.items(), 1)}
    ids = {key: {v: str(k) for k, v in enumerate(values)} for key, values in names.items()}
    aids = {a["aname"]: aid for aid, a in attribute.items()}
    file, view, metadata = {}, {}, {}
    for fid, entry in enumerate(entries, 1):
        file[str(fid)] = {"fid": fid, "fname": entry["filename"], "type": 2, "loc": 1,
                          "src": ""}
        view[str(fid)] = {"fid_list": [fid]}
        shapes = (xy or {}).get(entry["filename"]) or [_xy(r["shape_attributes"])
                                                       for r in entry["regions"]]
        for k, (shape, region) in enumerate(zip(shapes, entry["regions"], strict=True)):
            metadata[f"{fid}_m{k}"] = {
                "vid": str(fid), "flg": 0, "z": [], "xy": shape,
                "av": {aids[key]: ids[key][value]
                       for key, value in region["region_attributes"].items()}}
        metadata[f"{fid}_file"] = {"vid": str(fid), "flg": 0, "z": [], "xy": [], "av": {}}
    file.update(files or {})
    view.update(views or {})
    document = {"project": {"pid": "__VIA_PROJECT_ID__", "rev": "__VIA_PROJECT_REV_ID__",
                            "rev_timestamp": "__VIA_PROJECT_REV_TIMESTAMP__",
                            "pname": "Unnamed VIA Project", "data_format_version": "3.1.1",
                            "creator": "VGG Image Annotator", "created": 1,
                            "vid_list": list(view)},
                "config": {"file": {"loc_prefix": {"1": "", "2": "", "3": "", "4": ""}},
                           "ui": {}},
                "attribute": attribute, "file": file, "view": view, "metadata": metadata}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path
