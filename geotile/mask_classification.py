"""Mask classification exports (transformers' MaskFormer, Mask2Former, OneFormer): no
per-pixel class logits, but Q queries, each a class distribution ``class_queries_logits``
[N, Q, K+1] (the last class is "no object") and a mask ``masks_queries_logits`` [N, Q, h, w]
(1/4 of the window). :func:`semantic_scores` combines them per window as transformers'
``post_process_semantic_segmentation`` does (K per-class scores), upsampled to the window as
it does, then divided by their sum at each pixel (:func:`class_shares`: 0..1, the argmax
unchanged), which geotile blends and argmaxes like any other probabilities. (Mask2Former's
processor first resizes the mask logits to 384 x 384 before the sigmoid; geotile combines
them at the model's own 1/4 resolution, as MaskFormer's and OneFormer's do.)
"""
from __future__ import annotations

import numpy as np

#: the output names transformers gives the two heads
CLASS_QUERIES, MASK_QUERIES = "class_queries_logits", "masks_queries_logits"
#: output names of detections (boxes), whose masks are one per detection, not queries of
#: classes: mmdet/MMDeploy's dets, torchvision's and detectron2's boxes, DETR's pred_boxes,
#: TensorFlow's detection_boxes
DETECTION_OUTPUTS = ("dets", "boxes", "bboxes", "pred_boxes", "detection_boxes")


def mask_class_pair(names: list[str], shapes: list) -> tuple[int, int] | None:
    """(index of the class queries, index of the mask queries) among outputs ``names`` of
    ``shapes`` (declared or probed; a dimension may be None or a name): by transformers' names,
    else by shape, [N, Q, K+1] beside [N, Q, h, w] of the same fixed Q (K + 1 >= 2; [N, h, w]
    beside an NHWC map [N, h, w, K], K not w or h = w, are two maps) where those are the only two
    outputs and neither is named as detections; else None."""
    if CLASS_QUERIES in names and MASK_QUERIES in names:
        return names.index(CLASS_QUERIES), names.index(MASK_QUERIES)
    # by shape only a model of these two outputs, and none of detections (MMDeploy's Mask
    # R-CNN: dets [N, Q, 5] beside one mask per detection [N, Q, h, w])
    if len(names) != 2 or any(n.lower() in DETECTION_OUTPUTS for n in names):
        return None
    found = []
    for c, classes in enumerate(shapes):
        for m, masks in enumerate(shapes):
            if classes is None or masks is None or len(classes) != 3 or len(masks) != 4:
                continue
            queries, labels = classes[1], classes[2]
            # [N, h, w] beside an NHWC map [N, h, w, K]: two maps, whose "labels" are the
            # masks' first spatial axis, and whose last axis (K) is not their second (w), as
            # a square window's mask queries' is (K + 1 = h: 20 classes at 80 px), or whose
            # "queries" are their own first spatial axis (K = w: 16 classes at 1/4 of 64 px)
            two_maps = masks[2] == labels and (masks[3] != masks[2] or masks[1] == masks[2])
            if isinstance(queries, int) and isinstance(labels, int) and labels >= 2 \
                    and queries >= 1 and masks[1] == queries and not two_maps:
                found.append((c, m))
    return found[0] if len(found) == 1 else None


def semantic_scores(class_logits: np.ndarray, mask_logits: np.ndarray) -> np.ndarray:
    """float32 [N, K, h, w] from class queries [N, Q, K+1] and mask queries [N, Q, h, w], as
    transformers computes them: softmax over the K+1 classes, "no object" dropped, times the
    sigmoid of each query's mask, summed over the queries (0..Q: see :func:`class_shares`)."""
    logits = class_logits.astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        masks = 1.0 / (1.0 + np.exp(-mask_logits.astype(np.float32)))
    return np.einsum("nqc,nqhw->nchw", probs[..., :-1].astype(np.float32), masks)


def class_shares(scores: np.ndarray) -> np.ndarray:
    """:func:`semantic_scores` (upsampled to the window) divided by their sum over the
    classes at each pixel: 0..1, summing to 1 (0 where no query covers the pixel), with the
    argmax transformers takes (in place)."""
    total = scores.sum(axis=1, keepdims=True)
    np.divide(scores, total, out=scores, where=total > 0)
    scores[np.broadcast_to(total <= 0, scores.shape)] = 0
    return scores
