"""Detection AP (COCO's measures, through pycocotools) on any TFDS split with `objects`.

`coco_ap` hands ground truth and detections to `pycocotools`' `COCOeval`:
AP (mean over IoU 0.50:0.95), AP50 and AP75, over up to 100 detections
per image; crowd regions (COCO's `iscrowd`) are ignored, as pycocotools
ignores them. `box_precision_recall` is a box precision and recall at IoU
0.4 after DeepForest's (greedy by score, class-agnostic, pooled: its
docstring tells how it departs from DeepForest's) of the boxes a detector
gives at its operating point.
`evaluate_detector` runs a detector's network once per image and
post-processes the same cells both ways (`overfeat_tf.ops.detect`):
the paper's greedy merge and non-maximum suppression, so the two are
compared on identical raw predictions. `positive_scales` tells, before
any training, which ground-truth boxes a detector's scales can train as
objects at all.
"""

from __future__ import annotations

import contextlib
import io
import time

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "MAX_DETECTIONS",
    "box_precision_recall",
    "coco_ap",
    "evaluate_detect_signature",
    "evaluate_detector",
    "positive_scales",
    "signature_detections",
]

MAX_DETECTIONS = 100  # COCO's


def _xywh(boxes):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack(
        [
            boxes[:, 1],
            boxes[:, 0],
            boxes[:, 3] - boxes[:, 1],
            boxes[:, 2] - boxes[:, 0],
        ],
        1,
    )


def coco_ap(ground_truth, detections, num_classes: int) -> dict:
    """COCO AP, AP50, AP75 of detections against ground truth (pycocotools).

    Args:
        ground_truth: list, per image, of dicts with `boxes` float `[n, 4]`
            `[ymin, xmin, ymax, xmax]` pixels, `labels` int `[n]`, `height`,
            `width`, and optionally `crowd` bool `[n]` (crowd regions:
            ignored, neither found nor missed).
        detections: list (same images, same order) of dicts with `boxes`
            `[m, 4]` pixels, `scores` `[m]`, `classes` int `[m]`.
        num_classes: int. Object classes (0..num_classes - 1).

    Returns:
        dict: `AP`, `AP50`, `AP75` in [0, 1] (0 when nothing was detected).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(ground_truth) != len(detections):
        raise ValueError(
            f"{len(ground_truth)} images of ground truth but {len(detections)} "
            "of detections."
        )
    images, annotations, results = [], [], []
    for i, (truth, found) in enumerate(zip(ground_truth, detections, strict=True)):
        height, width = int(truth["height"]), int(truth["width"])
        images.append({"id": i, "height": height, "width": width})
        labels = np.reshape(truth["labels"], -1)
        crowd = np.reshape(truth.get("crowd", np.zeros(len(labels), bool)), -1)
        for box, label, is_crowd in zip(
            _xywh(truth["boxes"]), labels, crowd, strict=True
        ):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": int(bool(is_crowd)),
                }
            )
        for box, score, label in zip(
            _xywh(found["boxes"]),
            np.reshape(found["scores"], -1),
            np.reshape(found["classes"], -1),
            strict=True,
        ):
            results.append(
                {
                    "image_id": i,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "score": float(score),
                }
            )
    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints
        truth = COCO()
        truth.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": c + 1} for c in range(num_classes)],
        }
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [max(float(v), 0.0) for v in evaluation.stats[:3]]  # -1: no ground truth
    return {"AP": stats[0], "AP50": stats[1], "AP75": stats[2]}


def _iou(a, b):
    """(IoU, intersection over `a`'s area), float64 `[n, m]` each, of boxes
    `a` `[n, 4]` and `b` `[m, 4]` (`[ymin, xmin, ymax, xmax]`)."""
    a, b = np.reshape(a, (-1, 1, 4)), np.reshape(b, (1, -1, 4))
    low, high = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    common = np.prod(np.clip(high - low, 0, None), -1)
    area_a = np.prod(a[..., 2:] - a[..., :2], -1)
    area_b = np.prod(b[..., 2:] - b[..., :2], -1)
    union = np.maximum(area_a + area_b - common, 1e-12)
    return common / union, common / np.maximum(area_a, 1e-12)


def box_precision_recall(ground_truth, detections, iou: float = 0.4) -> dict:
    """Box precision and recall at IoU over `iou`, after DeepForest's.

    What it computes: in each image, the detections, best score first, are
    matched greedily one to one: each takes the still unmatched true box it
    has the highest IoU with, if that IoU is over `iou` (`IoU > 0.4`, as
    DeepForest's `iou_threshold`); a true box matches one detection at
    most. Classes play no part (class-agnostic, as DeepForest's box
    measures). The counts are pooled over every box of the dataset:
    precision = matched / detections, recall = matched / true boxes.

    Where DeepForest differs: it pairs boxes by `linear_sum_assignment` (the
    Hungarian method) on their intersection areas, scores ignored, and then
    thresholds the pairs' IoU; and it averages each image's precision and
    recall, dropping images without true boxes (their detections, all
    false, count nowhere), so an image of 2 trees weighs as much as one of
    200. The numbers are close on images of similar counts, not equal.

    A detection that matches no box but lies over `iou` inside a crowd
    region (its intersection over its own area, as pycocotools measures
    crowds) is left out; crowd regions are never missed.

    Args:
        ground_truth, detections: as `coco_ap`; each image's detections in
            any order (they are sorted by score here).
        iou: float. DeepForest's default, 0.4.

    Returns:
        dict: `precision` (matched / detections counted, 0 with none),
        `recall` (matched / true boxes, crowds aside, 0 with none),
        `detections`, `boxes` (those counts) and `matched`.
    """
    matched = counted = boxes = 0
    for truth, found in zip(ground_truth, detections, strict=True):
        true_boxes = np.reshape(np.asarray(truth["boxes"], np.float64), (-1, 4))
        crowd = np.reshape(truth.get("crowd", np.zeros(len(true_boxes), bool)), -1)
        crowd = crowd.astype(bool)
        boxes += int((~crowd).sum())
        found_boxes = np.reshape(np.asarray(found["boxes"], np.float64), (-1, 4))
        order = np.argsort(
            -np.reshape(np.asarray(found["scores"], float), -1), kind="stable"
        )
        overlap, inside = _iou(found_boxes[order], true_boxes)
        free = ~crowd
        for row in range(len(order)):
            candidates = np.where(free, overlap[row], -1.0)
            best = int(np.argmax(candidates)) if len(candidates) else -1
            if best >= 0 and candidates[best] > iou:
                free[best] = False
                matched += 1
                counted += 1
            elif not (crowd.any() and inside[row][crowd].max() > iou):
                counted += 1
    return {
        "precision": matched / counted if counted else 0.0,
        "recall": matched / boxes if boxes else 0.0,
        "detections": counted,
        "boxes": boxes,
        "matched": matched,
    }


def _truth(example) -> dict:
    """`coco_ap`'s ground truth of one TFDS example (`image`, `objects`,
    where it has them `objects/is_crowd`)."""
    image = example["image"]
    h, w = int(image.shape[0]), int(image.shape[1])
    objects = example["objects"]
    truth = {
        "boxes": objects["bbox"].numpy() * [h, w, h, w],
        "labels": objects["label"].numpy(),
        "height": h,
        "width": w,
    }
    if "is_crowd" in objects:
        truth["crowd"] = objects["is_crowd"].numpy().astype(bool)
    return truth


def _operating_point(found, min_score: float, max_detections: int) -> dict:
    """The detections an export gives (scores at least `min_score`, the first
    `max_detections`) out of the longer, unfiltered list AP is measured on."""
    keep = np.flatnonzero(np.asarray(found["scores"]) >= min_score)[:max_detections]
    return {k: np.asarray(v)[keep] for k, v in found.items()}


def evaluate_detector(
    detector,
    dataset,
    methods=("merge", "nms"),
    max_detections=MAX_DETECTIONS,
    progress: bool = False,
) -> dict:
    """AP of a detector on a dataset, post-processed by each method.

    Args:
        detector: `overfeat_tf.ops.detect.MultiScaleDetector`. Its threshold,
            merge and NMS settings apply; each method keeps up to
            `max_detections` boxes per image with no `min_score`, so AP
            sees the whole ranking.
        dataset: `tf.data.Dataset` of TFDS examples (`image`, `objects`).
        methods: tuple of `"merge"` and / or `"nms"`.
        max_detections: int. Boxes kept per image (default COCO's 100).
        progress: bool. A progress bar (Keras') of the images done.

    Returns:
        dict: per method a dict of `coco_ap`'s measures and DeepForest's
        `precision_iou40`, `recall_iou40` (`box_precision_recall` of the
        boxes the detector's own `min_score` and `max_detections` keep),
        plus `examples`, `seconds`.
    """
    from overfeat_tf.ops.detect import detect_maps

    settings = {
        **detector.settings,
        "min_score": 0.0,
        "max_detections": max_detections,
    }
    post = {
        method: tf.function(
            lambda maps, hw, m=method: detect_maps(
                maps, hw, **{**settings, "method": m}
            ),
            reduce_retracing=True,
        )
        for method in methods
    }
    maps_fn = tf.function(detector.maps, reduce_retracing=True)
    truth, found = [], {m: [] for m in methods}
    start = time.perf_counter()
    bar = _progress_bar(progress)
    for example in dataset:
        truth.append(_truth(example))
        h, w = truth[-1]["height"], truth[-1]["width"]
        maps = maps_fn(tf.cast(example["image"], tf.float32)[None])
        for method in methods:
            out = post[method](maps, tf.constant([h, w]))
            n = int(out["num_detections"][0])
            found[method].append(
                {
                    "boxes": out["boxes"][0, :n].numpy(),
                    "scores": out["scores"][0, :n].numpy(),
                    "classes": out["classes"][0, :n].numpy(),
                }
            )
        bar.update(len(truth))
    objects = detector.model.num_object_classes
    result = {}
    for m in methods:
        kept = [
            _operating_point(
                f, detector.settings["min_score"], detector.settings["max_detections"]
            )
            for f in found[m]
        ]
        pr = box_precision_recall(truth, kept, 0.4)
        result[m] = {
            **coco_ap(truth, found[m], objects),
            "precision_iou40": pr["precision"],
            "recall_iou40": pr["recall"],
        }
    result.update(examples=len(truth), seconds=time.perf_counter() - start)
    return result


def _progress_bar(progress: bool):
    return keras.utils.Progbar(None, verbose=1 if progress else 0, unit_name="image")


def signature_detections(detect, dataset, progress: bool = False) -> tuple[list, list]:
    """A SavedModel's `detect_images` signature run on every example.

    Args:
        detect: the signature (or any function of `images` uint8 `[1, h, w,
            3]` giving its outputs: `detection_boxes` normalised,
            `detection_scores`, `detection_classes`, `num_detections`). Its
            exported settings apply, `max_detections` and `min_score`
            included.
        dataset: `tf.data.Dataset` of TFDS examples (`image`, `objects`).
        progress: bool. A progress bar (Keras') of the images done.

    Returns:
        (ground truth, detections): per example, `coco_ap`'s dicts, the
        boxes in pixels of the image.
    """
    truth, found = [], []
    bar = _progress_bar(progress)
    for example in dataset:
        truth.append(_truth(example))
        h, w = truth[-1]["height"], truth[-1]["width"]
        out = detect(images=tf.cast(example["image"], tf.uint8)[None])
        n = int(out["num_detections"][0])
        found.append(
            {
                "boxes": out["detection_boxes"][0, :n].numpy() * [h, w, h, w],
                "scores": out["detection_scores"][0, :n].numpy(),
                "classes": out["detection_classes"][0, :n].numpy(),
            }
        )
        bar.update(len(truth))
    return truth, found


def evaluate_detect_signature(
    detect, dataset, num_classes: int, progress: bool = False
) -> dict:
    """AP of a SavedModel's `detect_images` signature on a dataset.

    Args:
        detect, dataset, progress: as `signature_detections`.
        num_classes: int. Object classes.

    Returns:
        dict: `coco_ap`'s measures, plus `examples`, `seconds`.
    """
    start = time.perf_counter()
    truth, found = signature_detections(detect, dataset, progress)
    result = coco_ap(truth, found, num_classes)
    result.update(examples=len(truth), seconds=time.perf_counter() - start)
    return result


def positive_scales(
    dataset,
    spec,
    positive_coverage: float = 0.5,
    min_box_size: float = 0.5,
    negative_overlap: float = 0.2,
) -> dict:
    """For every ground-truth box, the scales at which some cell trains on it.

    Detection training labels a cell with a box's class only where the
    cell's window holds `positive_coverage` of the box and the box is not
    much smaller than the window (`overfeat_tf.ops.boxes.detection_labels`).
    A box too small for the largest scale, or too large for the smallest,
    never trains as an object and is rarely found. This runs the training
    pipeline's own labelling (each image resized to each of `spec.scales`
    as `localization_dataset` does, the fine stride's windows) on each box
    alone; beside other boxes a cell goes to the box it holds most of, so
    this is what the scales allow at best.

    Args:
        dataset: `tf.data.Dataset` of TFDS examples (`image`, `objects`).
        spec: the detector's `NetworkSpec` (its `scales`: the detector's
            `detect.scale_sides`, as `overfeat train detect` sets them).
        positive_coverage, min_box_size, negative_overlap: float, as in
            `DetectConfig`.

    Returns:
        dict: `root` float `[n]`, the square root of each box's area in the
        image's own pixels; `positive` bool `[n, len(spec.scales)]`.
    """
    from overfeat_tf import geometry
    from overfeat_tf.ops.boxes import detection_labels, window_grid
    from overfeat_tf.ops.multiscale import _scale_sizes_tf

    window, stride = spec.window, geometry.fine_stride(spec)
    settings = {
        "positive_coverage": positive_coverage,
        "min_box_size": min_box_size,
        "negative_overlap": negative_overlap,
    }

    @tf.function(reduce_retracing=True)
    def labelled(hw, boxes):
        columns = []
        for size in _scale_sizes_tf(spec, hw, "aspect"):
            rows = (size[0] - window) // stride + 1
            cols = (size[1] - window) // stride + 1
            windows = window_grid(rows, cols, stride, window)
            h, w = tf.cast(size[0], tf.float32), tf.cast(size[1], tf.float32)
            pixels = boxes * tf.stack([h, w, h, w])
            columns.append(
                tf.map_fn(
                    lambda box, windows=windows: tf.reduce_any(
                        detection_labels(windows, box[None], [0], 1, **settings) == 0
                    ),
                    pixels,
                    fn_output_signature=tf.bool,
                )
            )
        return tf.stack(columns, 1)

    roots, positive = [np.zeros(0)], [np.zeros((0, len(spec.scales)), bool)]
    for example in dataset:
        hw = tf.shape(example["image"])[:2]
        boxes = tf.reshape(tf.cast(example["objects"]["bbox"], tf.float32), [-1, 4])
        if not boxes.shape[0]:
            continue
        size = boxes.numpy() * np.tile(hw.numpy(), 2)
        roots.append(np.sqrt((size[:, 2] - size[:, 0]) * (size[:, 3] - size[:, 1])))
        positive.append(labelled(hw, boxes).numpy())
    return {"root": np.concatenate(roots), "positive": np.concatenate(positive)}
