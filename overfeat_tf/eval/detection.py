"""Detection AP (COCO's measures, through pycocotools) on any TFDS split with `objects`.

`coco_ap` hands ground truth and detections to `pycocotools`' `COCOeval`:
AP (mean over IoU 0.50:0.95), AP50 and AP75, over up to 100 detections
per image. `evaluate_detector` runs a detector's network once per image
and post-processes the same cells both ways (`overfeat_tf.ops.detect`):
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
            `width`.
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
        for box, label in zip(
            _xywh(truth["boxes"]), np.reshape(truth["labels"], -1), strict=True
        ):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
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


def _truth(example) -> dict:
    """`coco_ap`'s ground truth of one TFDS example (`image`, `objects`)."""
    image = example["image"]
    h, w = int(image.shape[0]), int(image.shape[1])
    return {
        "boxes": example["objects"]["bbox"].numpy() * [h, w, h, w],
        "labels": example["objects"]["label"].numpy(),
        "height": h,
        "width": w,
    }


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
        dict: per method a dict of `coco_ap`, plus `examples`, `seconds`.
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
    result = {m: coco_ap(truth, found[m], objects) for m in methods}
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
