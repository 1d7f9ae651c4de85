"""Localization: regressed boxes at every window, scale and flip, merged (paper 4.3).

For each image:

(a) at each scale, the top k classes by their spatial maximum (over every
    cell of both flips of that scale);
(b) for each of those classes, the box the regressor predicts at every cell
    of that scale and flip (the class's own box for a per-class regressor),
    mapped to pixels of the original image and scored by the class's
    probability at that cell;
(c) the union over scales;
(d-g) per class, the greedy merge (`overfeat_tf.ops.merge`): agreeing boxes
    become their mean, scored by the sum of their windows' scores;

and the merged boxes of all classes ranked by that accumulated score. A
class whose windows agree on one box outscores a class that wins a few
windows with scattered boxes, which is the paper's argument for merging
over suppression.

A detector localizes its object classes only: background is never among
the k classes of step (a).

Boxes come out as float32 `[ymin, xmin, ymax, xmax]` in pixels of the
original image, clipped to it.
"""

from __future__ import annotations

import tensorflow as tf

from overfeat_tf.ops.boxes import decode
from overfeat_tf.ops.merge import greedy_merge_per_class
from overfeat_tf.ops.multiscale import MultiScaleClassifier

__all__ = [
    "MERGE_THRESHOLD",
    "MultiScaleLocalizer",
    "cell_predictions",
    "clip_boxes",
    "localize_center",
    "localize_maps",
    "map_images",
]

# The paper gives none: the best of 0.3 / 0.6 / 1.0 on the validation split of
# fashion_scenes/localization (bench/localization.py).
MERGE_THRESHOLD = 0.3


def _flat(maps, key, batch, width):
    return tf.concat([tf.reshape(m[key], [batch, -1, width]) for m in maps], axis=1)


def cell_predictions(maps):
    """Every cell of every scale and flip, flattened, with its boxes decoded.

    Args:
        maps: list of dicts from `MultiScaleClassifier.maps(images, regress=True)`.

    Returns:
        (probabilities float32 `[batch, N, classes]`, boxes float32
        `[batch, N, R, 4]` pixels of the original image (R = 1 for a single
        regressor, `classes` per class), per_class bool); N counts the cells
        of all maps in order.
    """
    probs0 = maps[0]["probabilities"]
    batch, classes = tf.shape(probs0)[0], probs0.shape[-1]
    per_class = maps[0]["regression"].shape[-1] == 4 * classes and classes != 1
    width = 4 * classes if per_class else 4
    probs = _flat(maps, "probabilities", batch, classes)  # [b, N, C]
    raw = _flat(maps, "regression", batch, width)  # [b, N, R*4]
    raw = tf.reshape(raw, [batch, tf.shape(raw)[1], -1, 4])  # [b, N, R, 4]
    windows = tf.concat([tf.reshape(m["boxes"], [-1, 4]) for m in maps], 0)
    flipped = tf.concat(
        [tf.fill([tf.size(m["boxes"]) // 4], m["flipped"]) for m in maps], 0
    )
    boxes = decode(raw, windows[None, :, None, :], flipped[None, :, None])
    return probs, boxes, per_class


def clip_boxes(boxes, image_hw):
    """Clips pixel boxes `[..., 4]` to an image of (height, width) `image_hw`."""
    hw = tf.cast(image_hw, tf.float32)
    return tf.clip_by_value(boxes, 0.0, tf.stack([hw[0], hw[1], hw[0], hw[1]]))


def map_images(one, elems, max_detections: int):
    """`tf.map_fn` of a per-image merge over the batch.

    `one(per-image elems)` returns (boxes float32 `[max_detections, 4]`,
    scores `[max_detections]`, classes int32 `[max_detections]`, count
    int32 scalar); so does this, batch-major.
    """
    return tf.map_fn(
        one,
        elems,
        fn_output_signature=(
            tf.TensorSpec([max_detections, 4], tf.float32),
            tf.TensorSpec([max_detections], tf.float32),
            tf.TensorSpec([max_detections], tf.int32),
            tf.TensorSpec([], tf.int32),
        ),
    )


def localize_maps(
    maps,
    image_hw,
    top_k: int = 5,
    threshold: float = MERGE_THRESHOLD,
    max_detections: int = 5,
    jit_compile: bool = False,
    num_object_classes: int | None = None,
):
    """Steps (a)-(g) of the module docstring on `MultiScaleClassifier.maps`.

    Args:
        maps: list of dicts from `maps(images, regress=True)`.
        image_hw: int `[2]`: the original images' (height, width).
        top_k: int: classes kept per scale (step a).
        threshold: float: the merge's `match_score` threshold.
        max_detections: int: boxes returned per image.
        jit_compile: bool: run the merge loop through XLA (`greedy_merge`).
        num_object_classes: int or None: only the first this many classes
            are localized (a detector's objects, background left out); None:
            every class.

    Returns:
        dict of `boxes` float32 `[batch, max_detections, 4]` pixels,
        `scores` float32 `[batch, max_detections]` (accumulated
        probabilities), `classes` int32 `[batch, max_detections]`,
        `num_detections` int32 `[batch]`; rows past `num_detections` are 0.
    """
    probs, boxes, per_class = cell_predictions(maps)
    probs = probs[..., :num_object_classes]  # a per-class box is still at its class
    classes = probs.shape[-1]

    # (a) per scale: top-k classes by spatial maximum over both flips, among
    # the localized classes only: a detector's background peaks highest
    # almost everywhere and must not take one of the k places.
    scales = sorted({m["scale"] for m in maps})
    slot = {s: i for i, s in enumerate(scales)}
    best = [None] * len(scales)
    for m in maps:
        peak = tf.reduce_max(m["probabilities"][..., :classes], axis=[1, 2])  # [b, C]
        i = slot[m["scale"]]
        best[i] = peak if best[i] is None else tf.maximum(best[i], peak)
    k = min(top_k, classes)
    chosen = []
    for peak in best:
        _, top = tf.math.top_k(peak, k=k)
        chosen.append(tf.reduce_max(tf.one_hot(top, classes, dtype=tf.int32), 1))
    chosen = tf.stack(chosen, axis=1)  # [b, S, C]
    cell_slot = tf.concat(
        [tf.fill([tf.size(m["boxes"]) // 4], slot[m["scale"]]) for m in maps], 0
    )
    candidate = tf.gather(chosen, cell_slot, axis=1) > 0  # [b, N, C]

    def one(args):
        image_probs, image_boxes, image_candidate = args
        where = tf.cast(tf.where(image_candidate), tf.int32)  # [M, 2]: cell, class
        cell, cls = where[:, 0], where[:, 1]
        which = tf.stack([cell, cls if per_class else tf.zeros_like(cls)], 1)
        b, s, c, n = greedy_merge_per_class(
            tf.gather_nd(image_boxes, which),
            tf.gather_nd(image_probs, where),
            cls,
            threshold,
            max_detections,
            jit_compile,
        )
        return b, s, c, n

    b, s, c, n = map_images(one, (probs, boxes, candidate), max_detections)
    return {
        "boxes": clip_boxes(b, image_hw),
        "scores": s,
        "classes": c,
        "num_detections": n,
    }


class MultiScaleLocalizer:
    """Localizes objects in whole images as the paper does (module docstring).

    Args:
        model: `OverFeat` with a regressor (`with_regressor`, or trained by
            `overfeat train localize`).
        scales, flips, fine, mode, formulation: as `MultiScaleClassifier`.
        top_k: int. Classes kept per scale (paper 4.3 (a)).
        threshold: float. The merge's `match_score` threshold.
        max_detections: int. Boxes returned per image.
        jit_compile: bool. Merge through XLA (faster for thousands of boxes).

    `localize` is a `tf.function` over float32 `[batch, None, None, 3]` (RGB
    in [0, 255], one size per batch), traced once for every size; it returns
    `localize_maps`' dict. Calling the object runs the same without its own
    `tf.function` (eagerly, or inside an enclosing graph).
    """

    def __init__(
        self,
        model,
        scales=None,
        flips: bool = True,
        fine: bool = True,
        top_k: int = 5,
        threshold: float = MERGE_THRESHOLD,
        max_detections: int = 5,
        mode: str = "aspect",
        formulation: str = "dilated",
        jit_compile: bool = False,
    ):
        if getattr(model, "regressor", None) is None:
            raise ValueError(
                f"{model.name} has no box regressor: train one with "
                "`overfeat train localize` or add one with `with_regressor`."
            )
        if max_detections < 1:
            raise ValueError(
                f"max_detections must be at least 1. Received: {max_detections!r}"
            )
        self.classifier = MultiScaleClassifier(
            model,
            scales,
            flips,
            fine,
            min(top_k, model.num_object_classes),
            mode,
            formulation,
        )
        self.model = model
        self.top_k = top_k
        self.threshold = float(threshold)
        self.max_detections = max_detections
        self.jit_compile = jit_compile
        self.localize = tf.function(
            self.__call__,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    @classmethod
    def from_export(cls, model, export):
        """The localizer an `overfeat_tf.config.ExportConfig` describes (as the
        SavedModel's localization signatures run it)."""
        return cls(
            model,
            scales=export.scales,
            flips=export.flips,
            fine=export.fine,
            top_k=export.top_k,
            threshold=export.merge_threshold,
            max_detections=export.max_detections,
            mode=export.scale_mode,
            jit_compile=export.merge_jit,
        )

    def maps(self, images):
        """`MultiScaleClassifier.maps(images, regress=True)`."""
        return self.classifier.maps(images, regress=True)

    def __call__(self, images):
        images = tf.convert_to_tensor(images, tf.float32)
        return localize_maps(
            self.maps(images),
            tf.shape(images)[1:3],
            self.top_k,
            self.threshold,
            self.max_detections,
            self.jit_compile,
            self.classifier.num_object_classes,
        )


def localize_center(model, images, top_k: int = 5):
    """The single-window baseline of the paper's Fig. 9: one centred window.

    The image's shorter side is resized to the window and the central
    window-sized square is classified and regressed once: its top-k
    classes, each with the regressor's box for it, in original pixels.

    Args:
        model: `OverFeat` with a regressor.
        images: float `[batch, h, w, 3]` RGB in [0, 255].
        top_k: int.

    Returns:
        dict as `localize_maps`' (`scores` are the window's probabilities).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    window = model.spec.window
    hw = tf.cast(tf.shape(images)[1:3], tf.float32)
    short = tf.reduce_min(hw)
    size = tf.cast(tf.round(hw * window / short), tf.int32)
    resized = tf.image.resize(images, tf.maximum(size, window), antialias=True)
    top = (tf.shape(resized)[1] - window) // 2
    left = (tf.shape(resized)[2] - window) // 2
    crop = resized[:, top : top + window, left : left + window]
    out = model(crop, training=False)
    probs = tf.cast(out["predictions"][:, 0, 0], tf.float32)
    if model.classifier_activation is None:
        probs = tf.nn.softmax(probs)
    raw = tf.reshape(
        tf.cast(out["boxes"][:, 0, 0], tf.float32), [tf.shape(crop)[0], -1, 4]
    )
    scores, classes = tf.math.top_k(probs, k=top_k)
    which = classes if raw.shape[1] != 1 else tf.zeros_like(classes)
    targets = tf.gather(raw, which, batch_dims=1)  # [b, k, 4]
    # The window in original pixels: the central square of side `short`.
    y0, x0 = (hw[0] - short) / 2, (hw[1] - short) / 2
    boxes = decode(targets, tf.stack([y0, x0, y0 + short, x0 + short]))
    limit = tf.stack([hw[0], hw[1], hw[0], hw[1]])
    return {
        "boxes": tf.clip_by_value(boxes, 0.0, limit),
        "scores": scores,
        "classes": classes,
        "num_detections": tf.fill([tf.shape(crop)[0]], top_k),
    }
