"""Detection: every window's class and box, accumulated per class (paper 5).

For each image, at every cell of every scale and flip
(`MultiScaleClassifier.maps(images, regress=True)`):

1. the detector's best object class (background, the last class, left
   out) and its probability; a cell whose probability is at least
   `threshold` gives a box, the regressor's (the class's own box for a
   per-class regressor), mapped to pixels of the original image;
2. per class, those boxes are combined, either
   - `"merge"` (the paper's, 4.3): `greedy_merge` fuses agreeing boxes into
     their mean, scored by the sum of their windows' probabilities, so a
     class whose windows agree on one box outscores scattered ones; or
   - `"nms"`: `tf.image.combined_non_max_suppression` keeps the best
     window of each cluster with its own probability (the usual detector's
     post-processing, for comparison);
3. boxes scoring under `min_score` are dropped (a score of exactly
   `min_score` is kept, by both methods) and the best
   `max_detections` of all classes are kept, in descending score.

Both methods see exactly the same boxes and scores, so evaluating them
side by side (`overfeat_tf.eval.detection`) measures the paper's claim
that accumulating boxes beats suppressing them.

Boxes come out as float32 `[ymin, xmin, ymax, xmax]` in pixels of the
original image, clipped to it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from overfeat_tf.ops.localize import (
    MERGE_THRESHOLD,
    cell_predictions,
    clip_boxes,
    map_images,
)
from overfeat_tf.ops.merge import greedy_merge_per_class
from overfeat_tf.ops.multiscale import MultiScaleClassifier

__all__ = ["DETECT_THRESHOLD", "METHODS", "MultiScaleDetector", "detect_maps"]

METHODS = ("merge", "nms")
DETECT_THRESHOLD = 0.3


def _check(method, max_detections):
    if method not in METHODS:
        raise ValueError(
            f"Unknown detection method. Expected one of {METHODS}. Received: {method!r}"
        )
    if max_detections < 1:
        raise ValueError(
            f"max_detections must be at least 1. Received: {max_detections!r}"
        )


def _candidates(maps, threshold):
    """(boxes `[b, N, 4]`, scores `[b, N]` (-1 where under the threshold),
    classes int32 `[b, N]`): each cell's best object class and its box."""
    probs, boxes, per_class = cell_predictions(maps)
    objects = probs[..., :-1]  # background is the last class
    score = tf.reduce_max(objects, -1)
    classes = tf.argmax(objects, -1, output_type=tf.int32)
    if per_class:
        cell_boxes = tf.gather(boxes, classes, axis=2, batch_dims=2)
    else:
        cell_boxes = boxes[:, :, 0]
    score = tf.where(score >= threshold, score, -1.0)
    return cell_boxes, score, classes


def _merge(boxes, scores, classes, merge_threshold, min_score, max_detections, jit):
    def one(args):
        image_boxes, image_scores, image_classes = args
        keep = image_scores >= 0.0
        b, s, c, n = greedy_merge_per_class(
            tf.boolean_mask(image_boxes, keep),
            tf.boolean_mask(image_scores, keep),
            tf.boolean_mask(image_classes, keep),
            merge_threshold,
            max_detections,
            jit,
        )
        # Rows are in descending score: the ones over min_score come first.
        valid = (tf.range(max_detections) < n) & (s >= min_score)
        count = tf.reduce_sum(tf.cast(valid, tf.int32))
        return (
            tf.where(valid[:, None], b, 0.0),
            tf.where(valid, s, 0.0),
            tf.where(valid, c, 0),
            count,
        )

    return map_images(one, (boxes, scores, classes), max_detections)


def _nms(boxes, scores, classes, num_classes, iou, min_score, max_detections):
    # Each cell scores its own class only, -1 for the others (as cells under
    # `threshold` score already), so no class borrows another's boxes.
    # Combined NMS keeps scores strictly over its `score_threshold`: the
    # float32 just under `min_score` keeps those of at least `min_score`, as
    # the merge does, and one under 0 still drops every -1.
    least = np.nextafter(np.float32(max(min_score, 0.0)), np.float32(-np.inf))
    own = tf.one_hot(classes, num_classes, on_value=True, off_value=False)
    per_class = tf.where(own, scores[..., None], -1.0)
    out = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :],
        per_class,
        max_output_size_per_class=max_detections,
        max_total_size=max_detections,
        iou_threshold=iou,
        score_threshold=float(least),
        clip_boxes=False,
    )
    count = out.valid_detections
    valid = tf.range(max_detections)[None] < count[:, None]
    return (
        out.nmsed_boxes,
        tf.where(valid, out.nmsed_scores, 0.0),
        tf.where(valid, tf.cast(out.nmsed_classes, tf.int32), 0),
        count,
    )


def detect_maps(
    maps,
    image_hw,
    threshold: float = DETECT_THRESHOLD,
    method: str = "merge",
    merge_threshold: float = MERGE_THRESHOLD,
    nms_iou: float = 0.5,
    min_score: float = 0.0,
    max_detections: int = 100,
    jit_compile: bool = False,
):
    """Steps 1-3 of the module docstring on a detector's `maps`.

    Args:
        maps: list of dicts from `MultiScaleClassifier.maps(images,
            regress=True)` of a detector (background the last class).
        image_hw: int `[2]`: the original images' (height, width).
        threshold: float: a cell's least object probability to give a box.
        method: str: `"merge"` or `"nms"`.
        merge_threshold: float: `greedy_merge`'s `match_score` threshold.
        nms_iou: float: the IoU over which NMS suppresses a box.
        min_score: float: the least final score kept, itself included
            (summed probabilities for `"merge"`, one window's for `"nms"`).
        max_detections: int: boxes returned per image.
        jit_compile: bool: merge through XLA (`greedy_merge`).

    Returns:
        dict of `boxes` float32 `[batch, max_detections, 4]` pixels,
        `scores` float32 `[batch, max_detections]`, `classes` int32
        `[batch, max_detections]` (object classes), `num_detections` int32
        `[batch]`; rows past `num_detections` are 0.
    """
    _check(method, max_detections)
    boxes, scores, classes = _candidates(maps, threshold)
    if method == "merge":
        b, s, c, n = _merge(
            boxes,
            scores,
            classes,
            merge_threshold,
            min_score,
            max_detections,
            jit_compile,
        )
    else:
        objects = maps[0]["probabilities"].shape[-1] - 1
        b, s, c, n = _nms(
            boxes, scores, classes, objects, nms_iou, min_score, max_detections
        )
    return {
        "boxes": clip_boxes(b, image_hw),
        "scores": s,
        "classes": c,
        "num_detections": n,
    }


class MultiScaleDetector:
    """Detects objects in whole images (module docstring).

    Args:
        model: `OverFeat` detector (`background=True`, with a regressor:
            `as_detector`, or trained by `overfeat train detect`).
        scales, flips, fine, mode, formulation: as `MultiScaleClassifier`.
        threshold, method, merge_threshold, nms_iou, min_score,
        max_detections, jit_compile: as `detect_maps`.

    `detect` is a `tf.function` over float32 `[batch, None, None, 3]` (RGB in
    [0, 255], one size per batch), traced once for every size; it returns
    `detect_maps`' dict. Calling the object runs the same without its own
    `tf.function` (eagerly, or inside an enclosing graph). `maps(images)`
    and `detect_maps` split the two halves, so one network pass can be
    post-processed both ways (`overfeat_tf.eval.detection`).
    """

    def __init__(
        self,
        model,
        scales=None,
        flips: bool = True,
        fine: bool = True,
        threshold: float = DETECT_THRESHOLD,
        method: str = "merge",
        merge_threshold: float = MERGE_THRESHOLD,
        nms_iou: float = 0.5,
        min_score: float = 0.0,
        max_detections: int = 100,
        mode: str = "aspect",
        formulation: str = "dilated",
        jit_compile: bool = False,
    ):
        if not getattr(model, "background", False):
            raise ValueError(
                f"{model.name} is not a detector (no background class): train "
                "one with `overfeat train detect` or make one with `as_detector`."
            )
        if getattr(model, "regressor", None) is None:
            raise ValueError(f"{model.name} has no box regressor.")
        _check(method, max_detections)
        self.classifier = MultiScaleClassifier(
            model, scales, flips, fine, 1, mode, formulation
        )
        self.model = model
        self.settings = {
            "threshold": float(threshold),
            "method": method,
            "merge_threshold": float(merge_threshold),
            "nms_iou": float(nms_iou),
            "min_score": float(min_score),
            "max_detections": int(max_detections),
            "jit_compile": bool(jit_compile),
        }
        self.max_detections = int(max_detections)
        self.detect = tf.function(
            self.__call__,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    @classmethod
    def from_export(cls, model, export, **overrides):
        """The detector an `overfeat_tf.config.ExportConfig` describes (as the
        SavedModel's detection signatures run it); `overrides` replace
        settings (`method="nms"`, `max_detections=100`)."""
        settings = {
            "scales": export.scales,
            "flips": export.flips,
            "fine": export.fine,
            "threshold": export.detect_threshold,
            "method": export.detect_method,
            "merge_threshold": export.merge_threshold,
            "nms_iou": export.nms_iou,
            "min_score": export.min_score,
            "max_detections": export.max_detections,
            "mode": export.scale_mode,
            "jit_compile": export.merge_jit,
        }
        settings.update(overrides)
        return cls(model, **settings)

    def maps(self, images):
        """`MultiScaleClassifier.maps(images, regress=True)`."""
        return self.classifier.maps(images, regress=True)

    def __call__(self, images):
        images = tf.convert_to_tensor(images, tf.float32)
        return detect_maps(self.maps(images), tf.shape(images)[1:3], **self.settings)
