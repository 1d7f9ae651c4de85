"""Keras callbacks of the training runs."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from overfeat_tf.files import atomic_file

__all__ = [
    "AtomicCheckpoint",
    "DetectionImages",
    "EpochCounter",
    "InputImages",
    "SeedSync",
]


class EpochCounter(keras.callbacks.Callback):
    """Sets the epoch variable the input pipeline reads (`train_dataset`)."""

    def __init__(self, variable: tf.Variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class SeedSync(keras.callbacks.Callback):
    """Puts every dropout seed stream where the step count says it should be.

    Keras saves weights and optimizer state but not the counters of the layers'
    seed generators. Each counter advances once per training step, so after a
    restore (`BackupAndRestore`) setting it to the optimizer's step count
    resumes the exact random masks of an uninterrupted run. Place it after
    `BackupAndRestore`.
    """

    def on_train_begin(self, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        for layer in self.model._flatten_layers():
            generator = getattr(layer, "seed_generator", None)
            if generator is not None:
                state = generator.state
                state.assign(tf.stack([state[0], tf.cast(step, state.dtype)]))


class InputImages(keras.callbacks.Callback):
    """Writes a few training inputs to TensorBoard when training starts.

    (Keras' own `TensorBoard` callback writes the loss, the metrics and the
    learning rate.)

    Args:
        log_dir: str. Folder of the TensorBoard run (the `train` writer).
        images: float `[n, h, w, 3]` in [0, 255].
    """

    def __init__(self, log_dir, images):
        super().__init__()
        self.log_dir = log_dir
        self.images = images

    def on_train_begin(self, logs=None):
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            tf.summary.image(
                "inputs",
                tf.cast(self.images, tf.float32) / 255.0,
                step=0,
                max_outputs=len(self.images),
            )
        writer.close()


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves weights every epoch as `epoch_NNN.weights.h5`, never half-written.

    Each file is written under a temporary name and renamed into place; the
    `keep` newest are kept.
    """

    def __init__(self, directory, model=None, keep: int = 3):
        super().__init__()
        self.directory = directory
        self.target = model
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.weights.h5")
        with atomic_file(path, ".weights.h5") as tmp:
            (self.target or self.model).save_weights(tmp)
        saved = sorted(f for f in os.listdir(self.directory) if f.startswith("epoch_"))
        for old in saved[: -self.keep]:
            os.remove(os.path.join(self.directory, old))


class DetectionImages(keras.callbacks.Callback):
    """Writes validation images with true and detected boxes to TensorBoard
    after every epoch: ground truth in green, detections in red (the
    detector as the export settings run it, `MultiScaleDetector`).

    Args:
        log_dir: str. Folder of the TensorBoard run (the `validation` writer).
        model: the `OverFeat` detector being trained.
        examples: `tf.data.Dataset` of a few TFDS examples (`image`, `objects`).
        export: `overfeat_tf.config.ExportConfig`.
    """

    def __init__(self, log_dir, model, examples, export):
        super().__init__()
        self.log_dir = log_dir
        self.net = model
        self.examples = [(e["image"], e["objects"]["bbox"]) for e in examples]
        self.export = export
        self.detector = None

    def on_train_begin(self, logs=None):
        from overfeat_tf.ops.detect import MultiScaleDetector

        self.detector = MultiScaleDetector.from_export(self.net, self.export)

    def on_epoch_end(self, epoch, logs=None):
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            for i, (image, true_boxes) in enumerate(self.examples):
                out = self.detector.detect(tf.cast(image, tf.float32)[None])
                hw = tf.cast(tf.shape(image)[:2], tf.float32)
                n = int(out["num_detections"][0])
                found = out["boxes"][0, :n] / tf.concat([hw, hw], 0)
                picture = tf.cast(image, tf.float32)[None] / 255.0
                picture = tf.image.draw_bounding_boxes(
                    picture, tf.cast(true_boxes, tf.float32)[None], [[0.0, 1.0, 0.0]]
                )
                picture = tf.image.draw_bounding_boxes(
                    picture, found[None], [[1.0, 0.0, 0.0]]
                )
                tf.summary.image(f"detections/{i}", picture, step=epoch)
        writer.close()
