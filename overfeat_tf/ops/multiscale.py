"""Multi-scale, fine-stride classification of whole images (paper 3.3).

For each image: resize it to each of the spec's scales (and mirror it), run
the network densely at the fine stride, take each class's spatial maximum per
scale and flip, average those vectors over scales and flips, and keep the
top k.

Scale sizes for an image of any aspect ratio
---------------------------------------------
A spec lists its scales as (height, width) pairs (`NetworkSpec.scales`, the
paper's Table 5 for accurate). For an image of height h and width w, scale i
gets the shorter side `S_i = min(scales[i])` and the longer side
`S_i * max(h, w) / min(h, w)` rounded to the nearest size of the form
`window + m * fine_stride` (m >= 0), so that every scale tiles the fine grid
exactly and a mirrored image's windows fall on the same grid. Aspect ratios
beyond `MAX_ASPECT` (3) are squeezed to it, which bounds the work per image
(a 1x4000 strip is classified as if it were 1x3). The short sides
of the presets are already of that form (accurate: 245, 281, 317, 389, 425,
461 = 221 + 12 * {2, 5, 8, 14, 17, 20}). With `mode="fixed"` every image is
resized to exactly the listed sizes, as in Table 5.
"""

from __future__ import annotations

import tensorflow as tf

from overfeat_tf import geometry
from overfeat_tf.ops.dense import DenseClassifier

__all__ = ["MAX_ASPECT", "MultiScaleClassifier", "aggregate", "scale_sizes"]

MODES = ("aspect", "fixed")
MAX_ASPECT = 3.0


def scale_sizes(spec, image_size, mode: str = "aspect") -> list[tuple[int, int]]:
    """The input sizes of the scale pyramid for one image (plain Python).

    Args:
        spec: `NetworkSpec`.
        image_size: (height, width) of the original image.
        mode: str. `"aspect"` (keep the image's aspect ratio, see the module
            docstring) or `"fixed"` (the spec's sizes as they are).

    Returns:
        list of (height, width), one per scale.
    """
    if mode not in MODES:
        raise ValueError(
            f"Unknown scale mode. Expected one of {MODES}. Received: {mode!r}"
        )
    if mode == "fixed":
        return [tuple(hw) for hw in spec.scales]
    h, w = image_size
    window, s = spec.window, geometry.fine_stride(spec)
    sizes = []
    for hw in spec.scales:
        short = min(hw)
        ratio = min(max(h, w) / min(h, w), MAX_ASPECT)
        m = max(0, int(round((short * ratio - window) / s)))
        long = window + m * s
        sizes.append((short, long) if h <= w else (long, short))
    return sizes


def _scale_sizes_tf(spec, image_hw, mode):
    """`scale_sizes` on a dynamic `[2]` int32 image size: list of `[2]` tensors."""
    if mode == "fixed":
        return [tf.constant(hw, tf.int32) for hw in spec.scales]
    h, w = tf.cast(image_hw[0], tf.float64), tf.cast(image_hw[1], tf.float64)
    window, s = spec.window, geometry.fine_stride(spec)
    ratio = tf.minimum(tf.maximum(h, w) / tf.minimum(h, w), MAX_ASPECT)
    sizes = []
    for hw in spec.scales:
        short = min(hw)
        # round-half-to-even, as Python's round() in `scale_sizes`.
        m = tf.maximum(tf.math.round((short * ratio - window) / s), 0.0)
        long = window + tf.cast(m, tf.int32) * s
        short = tf.constant(short, tf.int32)
        sizes.append(tf.where(h <= w, tf.stack([short, long]), tf.stack([long, short])))
    return sizes


def aggregate(maps):
    """Votes per-scale class maps into one class vector (paper 3.3, steps i-ii).

    Args:
        maps: list of float tensors `[batch, h_i, w_i, classes]`, one per
            scale and flip (sizes may differ).

    Returns:
        `[batch, classes]`: the mean over the list of each class's spatial max.
    """
    return tf.add_n([tf.reduce_max(m, axis=[1, 2]) for m in maps]) / len(maps)


class MultiScaleClassifier:
    """Classifies whole images with OverFeat's multi-scale dense voting.

    Args:
        model: `overfeat_tf.models.OverFeat` (softmax or logits output; logits
            are turned into probabilities before voting).
        scales: None (all of the spec's scales) or a list of scale indices
            into `model.spec.scales`, e.g. `[0, 1, 3, 5]` for the paper's four
            scales (1, 2, 4, 6).
        flips: bool. Also classify the mirrored image.
        fine: bool. Fine (offset pooling) or coarse stride.
        top_k: int. Number of classes returned.
        mode: str. `"aspect"` or `"fixed"` scale sizes (module docstring).
        formulation: str. Dense formulation, see `overfeat_tf.ops.dense`.

    `classify` is a `tf.function` over float32 `[batch, None, None, 3]` (RGB in
    [0, 255], one size per batch) that never retraces for a new image size.
    It returns `{"classes": int32 [batch, k], "scores": [batch, k],
    "probabilities": [batch, classes]}`.

    A detector (`model.background`) votes over its object classes only: each
    window's probabilities are its softmax over all classes, background
    included, so a window of bare background gives every object a low
    score instead of a share of a renormalised one; `"probabilities"` then
    has `model.num_object_classes` columns and background is never
    returned. `maps` keeps every class, background last.
    """

    def __init__(
        self,
        model,
        scales=None,
        flips: bool = True,
        fine: bool = True,
        top_k: int = 5,
        mode: str = "aspect",
        formulation: str = "dilated",
    ):
        spec = model.spec
        if not spec.scales:
            raise ValueError(f"Spec {spec.name!r} lists no scales.")
        indices = range(len(spec.scales)) if scales is None else list(scales)
        bad = [i for i in indices if not 0 <= i < len(spec.scales)]
        if bad or not indices:
            raise ValueError(
                f"Scale indices must be in 0..{len(spec.scales) - 1}. Received: "
                f"scales={scales!r}"
            )
        if mode not in MODES:
            raise ValueError(
                f"Unknown scale mode. Expected one of {MODES}. Received: {mode!r}"
            )
        objects = getattr(model, "num_object_classes", model.num_classes)
        if not 1 <= top_k <= objects:
            raise ValueError(
                f"top_k must be in 1..{objects}. Received: top_k={top_k!r}"
            )
        self.model = model
        self.num_object_classes = objects
        self.spec = spec
        self.scale_indices = tuple(indices)
        self.flips = flips
        self.fine = fine
        self.top_k = top_k
        self.mode = mode
        self.dense = DenseClassifier(model, formulation)
        self.trace_count = 0
        self.classify = tf.function(
            self._traced_classify,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    def _probabilities(self, class_map):
        class_map = tf.cast(class_map, tf.float32)
        if self.model.classifier_activation is None:
            return tf.nn.softmax(class_map)
        return class_map

    def maps(self, images, regress: bool = False):
        """Per-scale, per-flip class maps and each cell's window.

        Args:
            images: float `[batch, height, width, 3]`, RGB in [0, 255].
            regress: bool. Also run the model's box regressor on the same
                features (paper 4.1).

        Returns:
            list of dicts, scales in order, the unflipped pass before the
            mirrored one at each scale:
            - `"scale"`: int, index into `spec.scales`;
            - `"flipped"`: bool;
            - `"size"`: int32 `[2]`, the resized input (height, width);
            - `"probabilities"`: `[batch, h, w, classes]`. For the mirrored
              pass the map is mirrored back, so column j always covers the
              windows left to right, as in the unflipped map;
            - `"boxes"`: float32 `[h, w, 4]`, each cell's window as
              `[ymin, xmin, ymax, xmax]` in pixels of the original image;
            - with `regress`, `"regression"`: float32 `[batch, h, w, 4]` (or
              `4 * classes`), the regressor's output at each cell, columns
              ordered as in `"probabilities"`; for the mirrored pass these
              are edges in the mirrored window's frame
              (`overfeat_tf.ops.boxes.decode(..., flipped=True)`).
        """
        images = tf.convert_to_tensor(images, tf.float32)
        shape = tf.shape(images)
        image_hw = shape[1:3]
        all_sizes = _scale_sizes_tf(self.spec, image_hw, self.mode)
        stride = (
            geometry.fine_stride(self.spec)
            if self.fine
            else geometry.total_stride(self.spec)
        )
        window = float(self.spec.window)
        out = []
        for index in self.scale_indices:
            size = all_sizes[index]
            resized = tf.image.resize(images, size, method="bilinear", antialias=True)
            y_scale = tf.cast(image_hw[0], tf.float32) / tf.cast(size[0], tf.float32)
            x_scale = tf.cast(image_hw[1], tf.float32) / tf.cast(size[1], tf.float32)
            for flipped in (False, True) if self.flips else (False,):
                x = tf.reverse(resized, axis=[2]) if flipped else resized
                prepool = self.dense.features(x)
                probs = self._probabilities(
                    self.dense.classify_features(prepool, fine=self.fine)
                )
                regression = (
                    self.dense.regress_features(prepool, fine=self.fine)
                    if regress
                    else None
                )
                map_hw = tf.shape(probs)[1:3]
                rows = tf.cast(tf.range(map_hw[0]) * stride, tf.float32)
                cols = tf.cast(tf.range(map_hw[1]) * stride, tf.float32)
                if flipped:
                    # Mirrored cell j starts at x = j * s of the mirrored image, i.e.
                    # ends at width - j * s of this one; reverse to go left to right.
                    probs = tf.reverse(probs, axis=[2])
                    if regress:
                        regression = tf.reverse(regression, axis=[2])
                    cols = tf.cast(size[1], tf.float32) - tf.reverse(cols, [0]) - window
                ymin, xmin = tf.meshgrid(rows, cols, indexing="ij")
                boxes = tf.stack(
                    [
                        ymin * y_scale,
                        xmin * x_scale,
                        (ymin + window) * y_scale,
                        (xmin + window) * x_scale,
                    ],
                    axis=-1,
                )
                entry = {
                    "scale": index,
                    "flipped": flipped,
                    "size": size,
                    "probabilities": probs,
                    "boxes": boxes,
                }
                if regress:
                    entry["regression"] = tf.cast(regression, tf.float32)
                out.append(entry)
        return out

    def _traced_classify(self, images):
        self.trace_count += 1  # Python side effect: runs once per trace.
        return self._classify(images)

    def _classify(self, images):
        probabilities = aggregate([m["probabilities"] for m in self.maps(images)])
        probabilities = probabilities[:, : self.num_object_classes]
        scores, classes = tf.math.top_k(probabilities, k=self.top_k)
        return {"classes": classes, "scores": scores, "probabilities": probabilities}

    def __call__(self, images):
        """`classify` without its own `tf.function`: runs eagerly, or inside an
        enclosing graph (a SavedModel signature) as part of it."""
        return self._classify(tf.convert_to_tensor(images, tf.float32))
