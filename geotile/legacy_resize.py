"""PyTorch's bilinear upsampling exported before opset 11: ONNX's Upsample (opset 7-9) and
Resize (opset 10) interpolate with asymmetric coordinates, PyTorch's ``F.interpolate``
(align_corners=False, the only one those opsets export) with half-pixel ones, so the map
ONNX Runtime gives is shifted from the model's own by (scale - 1) / 2 output px."""
from __future__ import annotations

#: the modes of those ops that interpolate (nearest is asymmetric in PyTorch too)
_LINEAR = {"linear", "bilinear"}


def asymmetric_upsampling(model) -> str:
    """Why the map of a PyTorch export (its producer_name) is shifted, naming the first
    linear Upsample/Resize before opset 11 (not of scales 1) and its shift, else ""."""
    from geotile.onnx_graph import attribute, constant_values, default_opset

    if model is None or not model.producer_name.lower().startswith("pytorch"):
        return ""
    opset = default_opset(model)
    if opset is None or opset >= 11:
        return ""
    values = constant_values(model.graph)
    for node in model.graph.node:
        if node.op_type not in ("Upsample", "Resize") or str(
                attribute(node, "mode", "nearest")).lower() not in _LINEAR:
            continue
        scales = values.get(node.input[1]) if len(node.input) > 1 else None
        scales = attribute(node, "scales") if scales is None else list(scales.ravel())
        if scales and all(s == 1 for s in scales):
            continue  # the same size: no coordinates to differ
        factor = max(scales) if scales else None
        shift = f"{(factor - 1) / 2:g} px for its x{factor:g}" if factor else \
            "(scale - 1) / 2 px"
        label = f"{node.op_type} {node.name!r}" if node.name else node.op_type
        return (f"its {label} (opset {opset}) interpolates with ONNX's asymmetric "
                f"coordinates, not PyTorch's half-pixel ones: its map is shifted {shift} from "
                "the model's own. Re-export it with opset_version=11 or later.")
    return ""
