"""The serving graph: multi-scale classification and features as a `tf.Module`.

Signatures (batch-major in and out; scales, flips, stride and k fixed at
export):

- `classify_images`: `images` uint8 `[batch, height, width, 3]` (one size per
  batch, any size) -> `classes` int32 `[batch, k]`, `scores` float32
  `[batch, k]`, `class_names` string `[batch, k]`.
- `classify_bytes` (= `serving_default`): `image_bytes` string `[batch]`, each
  an encoded JPEG / PNG / GIF / BMP / WebP of any size (grey and RGBA become RGB,
  a GIF gives its first frame) -> the same outputs.
- `features`: `images` uint8 `[batch, height, width, 3]` -> `features`
  float32, the map of the configured layer (paper 3.2).

A model with a box regressor also gets (paper 4.3, `MultiScaleLocalizer`):

- `localize_images`: `images` uint8 `[batch, height, width, 3]` and
- `localize_bytes`: `image_bytes` string `[batch]`, each ->
  `detection_boxes` float32 `[batch, N, 4]` (`[ymin, xmin, ymax, xmax]`
  normalised to the original image), `detection_scores` float32
  `[batch, N]` (the summed probabilities of the windows merged into each
  box), `detection_classes` int32 `[batch, N]`, `detection_class_names`
  string `[batch, N]`, `num_detections` int32 `[batch]`; N is
  `max_detections`, rows past `num_detections` are zeros.

A detector (a model with a background class, `overfeat train detect`) also
gets (paper 5, `MultiScaleDetector`):

- `detect_images`: `images` uint8 `[batch, height, width, 3]` and
- `detect_bytes`: `image_bytes` string `[batch]` -> the same five outputs:
  the boxes of the cells whose best object class passes
  `export.detect_threshold`, merged per class (`export.detect_method`),
  scored by their summed probabilities (one window's with NMS), at most
  `max_detections` scoring at least `export.min_score`.

A detector's `classify_*` and `localize_*` answer with its object classes
only (each window's probabilities its softmax over every class, background
included; `MultiScaleClassifier`), so one detector with its regressor
serves all three tasks of the paper.

`serving_default` is `export.serving_default` (`classify_bytes` unless
the config says `detect_bytes` or `localize_bytes`).

Bad input is never answered with garbage: empty, truncated or undecodable
bytes, and images of more than `export.max_pixels` pixels (for encoded
images, the size their header claims, checked before decoding:
`overfeat_tf.images.decode_image`), fail the request with an
`InvalidArgumentError` that says what was wrong. Images smaller than the
window are upscaled by the scale pyramid like any other.
"""

from __future__ import annotations

import types

import tensorflow as tf

from overfeat_tf.config import ExportConfig
from overfeat_tf.images import assert_pixels, decode_image
from overfeat_tf.models import feature_extractor, with_policy
from overfeat_tf.ops.detect import MultiScaleDetector
from overfeat_tf.ops.localize import MultiScaleLocalizer
from overfeat_tf.ops.multiscale import MultiScaleClassifier

__all__ = ["PRECISIONS", "ServingModule"]

# `export.precision`: the Keras dtype policy the exported network computes in.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


class ServingModule(tf.Module):
    """OverFeat's whole inference, in the graph, for `tf.saved_model.save`.

    Args:
        model: `OverFeat`.
        class_names: list of str, one per class (default: "class_<i>").
        export: `overfeat_tf.config.ExportConfig`.
    """

    def __init__(self, model, class_names=None, export=None):
        super().__init__(name="overfeat_serving")
        export = export or ExportConfig()
        if export.precision not in PRECISIONS:
            raise ValueError(
                f"export.precision must be one of {tuple(PRECISIONS)}. "
                f"Received: {export.precision!r}"
            )
        model = with_policy(model, PRECISIONS[export.precision])
        # Track the tf.Variables under the Keras variables, not the model (nor
        # the Keras variables): only then does saved_model_cli's TF1 session
        # loader restore the very handles the graph reads ("Could not find
        # variable fc9/bias" otherwise).
        self.model_variables = [v.value for v in model.variables]
        layer = export.features_layer or model.last_conv.name
        # Held out of tf.Module's tracking for the same reason.
        self._untracked = types.SimpleNamespace(
            features=feature_extractor(model, layer)
        )
        names = class_names or [f"class_{i}" for i in range(model.num_classes)]
        if len(names) != model.num_classes:
            raise ValueError(
                f"Expected {model.num_classes} class names. Received: {len(names)}."
            )
        self._names = tf.constant(names)
        self._classifier = MultiScaleClassifier(
            model,
            scales=export.scales,
            flips=export.flips,
            fine=export.fine,
            top_k=min(export.top_k, model.num_object_classes),
            mode=export.scale_mode,
        )
        self._max_pixels = export.max_pixels
        self._serving_default = export.serving_default
        self._localizer = self._detector = None
        if getattr(model, "regressor", None) is not None:
            self._localizer = MultiScaleLocalizer.from_export(model, export)
            self.localize_images, self.localize_bytes = self._box_functions(
                self._localizer
            )
        if getattr(model, "background", False):
            self._detector = MultiScaleDetector.from_export(model, export)
            self.detect_images, self.detect_bytes = self._box_functions(self._detector)
        self.classify_images = tf.function(
            self._classify_images,
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
            ],
        )
        self.classify_bytes = tf.function(
            self._classify_bytes,
            input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
        )
        self.features = tf.function(
            self._features_fn,
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
            ],
        )

    @property
    def class_names(self) -> list[str]:
        """list of str: the name of each class, as the signatures return them."""
        return [name.decode() for name in self._names.numpy()]

    def _box_functions(self, runner):
        """(`*_images`, `*_bytes`) `tf.function`s of a localizer or detector."""
        images_fn = tf.function(
            lambda images: self._boxes_images(runner, images),
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
            ],
        )
        bytes_fn = tf.function(
            lambda image_bytes: self._boxes_bytes(runner, image_bytes),
            input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
        )
        return images_fn, bytes_fn

    def signatures(self) -> dict:
        """The signatures for `tf.saved_model.save`: name -> `tf.function`.

        The functions are handed over untraced (each has its input
        signature): `tf.saved_model.save` traces them in its own context,
        once; concrete functions traced before it would be traced again
        there.

        Raises:
            ValueError: if `export.serving_default` names a signature this
                model does not have.
        """
        out = {
            "classify_bytes": self.classify_bytes,
            "classify_images": self.classify_images,
            "features": self.features,
        }
        for task, runner in (("localize", self._localizer), ("detect", self._detector)):
            if runner is not None:
                out[f"{task}_images"] = getattr(self, f"{task}_images")
                out[f"{task}_bytes"] = getattr(self, f"{task}_bytes")
        if self._serving_default not in out:
            raise ValueError(
                f"export.serving_default: this model has no "
                f"{self._serving_default!r} signature. Expected one of "
                f"{sorted(out)}."
            )
        return {"serving_default": out[self._serving_default], **out}

    def _check_size(self, images, what):
        shape = tf.shape(images)
        checks = [
            assert_pixels(shape[-3:-1], self._max_pixels, f"{what} of"),
            tf.debugging.assert_positive(
                tf.reduce_min(shape[-3:-1]), message=f"{what} have no pixels"
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(images)

    def _outputs(self, result):
        classes = result["classes"]
        return {
            "classes": classes,
            "scores": result["scores"],
            "class_names": tf.gather(self._names, classes),
        }

    def _classify_images(self, images):
        images = self._check_size(images, "images")
        return self._outputs(self._classifier(tf.cast(images, tf.float32)))

    def _decode(self, data):
        return decode_image(data, self._max_pixels, "an image of image_bytes")

    def _classify_bytes(self, image_bytes):
        k = self._classifier.top_k

        def one(data):
            image = tf.cast(self._decode(data), tf.float32)[None]
            out = self._classifier(image)
            return out["classes"][0], out["scores"][0]

        classes, scores = tf.map_fn(
            one,
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec([k], tf.int32),
                tf.TensorSpec([k], tf.float32),
            ),
        )
        return self._outputs({"classes": classes, "scores": scores})

    def _detections(self, result, image_hw):
        hw = tf.cast(image_hw, tf.float32)
        scale = tf.stack([hw[..., 0], hw[..., 1], hw[..., 0], hw[..., 1]], -1)
        classes = result["classes"]
        valid = tf.range(tf.shape(classes)[1])[None] < result["num_detections"][:, None]
        return {
            "detection_boxes": result["boxes"] / scale[:, None, :],
            "detection_scores": result["scores"],
            "detection_classes": classes,
            "detection_class_names": tf.where(
                valid, tf.gather(self._names, classes), ""
            ),
            "num_detections": result["num_detections"],
        }

    def _boxes_images(self, runner, images):
        images = self._check_size(images, "images")
        result = runner(tf.cast(images, tf.float32))
        hw = tf.tile(tf.shape(images)[None, 1:3], [tf.shape(images)[0], 1])
        return self._detections(result, hw)

    def _boxes_bytes(self, runner, image_bytes):
        n = runner.max_detections

        def one(data):
            image = self._decode(data)
            out = runner(tf.cast(image, tf.float32)[None])
            return (
                out["boxes"][0],
                out["scores"][0],
                out["classes"][0],
                out["num_detections"][0],
                tf.shape(image)[:2],
            )

        boxes, scores, classes, count, hw = tf.map_fn(
            one,
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec([n, 4], tf.float32),
                tf.TensorSpec([n], tf.float32),
                tf.TensorSpec([n], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([2], tf.int32),
            ),
        )
        result = {
            "boxes": boxes,
            "scores": scores,
            "classes": classes,
            "num_detections": count,
        }
        return self._detections(result, hw)

    def _features_fn(self, images):
        images = self._check_size(images, "images")
        extractor = self._untracked.features
        features = extractor(tf.cast(images, tf.float32), training=False)
        return {"features": tf.cast(features, tf.float32)}
