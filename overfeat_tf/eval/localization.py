"""ILSVRC localization error (paper 4.4) on any TFDS split with `objects`.

A guess is a class and a box. It is right when its class is the class of a
ground-truth box and its box overlaps that box with IoU >= 0.5 (ILSVRC's
criterion); an image counts as localized at top-k when any of its first k
guesses is right. The error is the fraction of images that are not. IoU
comes from `keras.utils.bounding_boxes.compute_iou`.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "evaluate_localizer",
    "ground_truth_batches",
    "localization_hits",
    "localize_signature",
]

IOU_THRESHOLD = 0.5


def localization_hits(
    boxes,
    classes,
    num_detections,
    true_boxes,
    true_labels,
    k: int,
    iou=IOU_THRESHOLD,
    check_class: bool = True,
):
    """Which images have a right guess among their first k.

    Args:
        boxes: float `[batch, D, 4]` guesses, normalised `[ymin, xmin, ymax,
            xmax]` (any one unit shared with `true_boxes`).
        classes: int `[batch, D]`. num_detections: int `[batch]`.
        true_boxes: float `[batch, G, 4]`, padded rows have label -1.
        true_labels: int `[batch, G]`.
        k: int. Guesses considered.
        iou: float. Overlap a right box needs.
        check_class: bool. False counts a box right whatever its class (the
            regressor's and merge's share of the error, apart from the
            classifier's).

    Returns:
        bool numpy array `[batch]`.
    """
    overlap = keras.utils.bounding_boxes.compute_iou(
        tf.cast(boxes, tf.float32), tf.cast(true_boxes, tf.float32), "yxyx"
    ).numpy()  # [b, D, G]
    classes, labels = np.asarray(classes), np.asarray(true_labels)
    same = classes[:, :, None] == labels[:, None, :]
    if not check_class:
        same = np.ones_like(same)
    right = ((overlap >= iou) & same & (labels[:, None, :] >= 0)).any(-1)  # [b, D]
    ranks = np.arange(right.shape[1])[None]
    counted = (ranks < k) & (ranks < np.asarray(num_detections)[:, None])
    return (right & counted).any(-1)


def ground_truth_batches(dataset, batch_size: int):
    """Batches of consecutive examples whose images share a size.

    A batch ends when it holds `batch_size` examples or when the next image
    differs in size: images are never padded, so a localizer sees each one
    as it is and its boxes are in that image's pixels. A dataset of one size
    (the embedded scenes) gives full batches; one of many sizes (ILSVRC,
    VOC, users' own) gives shorter ones, in the dataset's order.

    Args:
        dataset: `tf.data.Dataset` of TFDS examples with `image` and
            `objects` (`bbox` normalised, `label`).
        batch_size: int.

    Yields:
        (images uint8 `[b, h, w, 3]`, boxes float32 `[b, G, 4]` normalised,
        labels int32 `[b, G]`), numpy arrays; rows past an image's own boxes
        have label -1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1. Received: {batch_size!r}")

    def batch(rows):
        most = max(len(labels) for _, _, labels in rows)
        boxes = np.zeros((len(rows), most, 4), np.float32)
        labels = np.full((len(rows), most), -1, np.int32)
        for i, (_, b, c) in enumerate(rows):
            boxes[i, : len(c)], labels[i, : len(c)] = b, c
        return np.stack([image for image, _, _ in rows]), boxes, labels

    rows = []
    for example in dataset:
        image = example["image"].numpy()
        if rows and (len(rows) == batch_size or image.shape != rows[0][0].shape):
            yield batch(rows)
            rows = []
        objects = example["objects"]
        rows.append(
            (
                image,
                np.asarray(objects["bbox"], np.float32).reshape(-1, 4),
                np.asarray(objects["label"], np.int32).reshape(-1),
            )
        )
    if rows:
        yield batch(rows)


def evaluate_localizer(
    localize, dataset, batch_size: int = 50, ks=(1, 5), progress: bool = False
) -> dict:
    """Localization error of `localize` on a dataset.

    Args:
        localize: callable: float32 images `[b, h, w, 3]` -> dict with `boxes`
            (pixels), `classes`, `num_detections` (`MultiScaleLocalizer`).
        dataset: `tf.data.Dataset` of TFDS examples (`image`, `objects`).
        batch_size: int. At most this many images of one size at a time
            (`ground_truth_batches`).
        ks: guesses counted, e.g. (1, 5).
        progress: bool. A progress bar (Keras') of the images done.

    Returns:
        dict: `error_top<k>` per k (ILSVRC), `box_error_top<k>` (the same
        with any class), `examples`, `seconds`.
    """
    hits = {(k, c): 0 for k in ks for c in (True, False)}
    total = 0
    start = time.perf_counter()
    bar = keras.utils.Progbar(None, verbose=1 if progress else 0, unit_name="image")
    for images, boxes, labels in ground_truth_batches(dataset, batch_size):
        out = localize(tf.constant(images, tf.float32))
        h, w = images.shape[1], images.shape[2]
        guesses = out["boxes"].numpy() / np.array([h, w, h, w], np.float32)
        for k, check in hits:
            hits[k, check] += int(
                localization_hits(
                    guesses,
                    out["classes"],
                    out["num_detections"],
                    boxes,
                    labels,
                    k,
                    check_class=check,
                ).sum()
            )
        total += len(labels)
        bar.update(total)
    if not total:
        raise ValueError("The dataset to evaluate the localizer on has no examples.")
    result = {}
    for k in ks:
        result[f"error_top{k}"] = 1.0 - hits[k, True] / total
        result[f"box_error_top{k}"] = 1.0 - hits[k, False] / total
    result.update(examples=total, seconds=time.perf_counter() - start)
    return result


def localize_signature(signature):
    """A SavedModel's `localize_images` signature as `evaluate_localizer`'s
    `localize`: float images in, boxes in pixels out."""

    def localize(images):
        out = signature(images=tf.cast(images, tf.uint8))
        hw = tf.cast(tf.shape(images)[1:3], tf.float32)
        scale = tf.stack([hw[0], hw[1], hw[0], hw[1]])
        return {
            "boxes": out["detection_boxes"] * scale,
            "classes": out["detection_classes"],
            "num_detections": out["num_detections"],
        }

    return localize
