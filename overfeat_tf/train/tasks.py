"""What each of OverFeat's tasks brings to the one training loop.

A task gives the model to train (built under the strategy's scope), the
Keras model that `fit` runs, its loss and metrics, and its input pipelines;
`overfeat_tf.train.trainer.train` does the rest (strategy, optimizer,
callbacks, checkpoints, TensorBoard, resume, the multi-worker loop) the
same way for every task.

- `ClassifyTask` (paper 3.1): random window crops and flips, softmax
  cross-entropy, top-1 / top-5.
- `LocalizeTask` (paper 4.2): the box regressor trained densely on whole
  images at the spec's scales from a trained classifier, its feature layers
  fixed (optionally trained too), L2 loss on the cells whose window holds
  at least half of a box, mean IoU of those cells' boxes.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from overfeat_tf.data.pipeline import eval_dataset, localization_dataset, train_dataset
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.models import OverFeat, with_regressor
from overfeat_tf.ops.dense import DenseClassifier
from overfeat_tf.specs import get_spec

__all__ = [
    "ClassifyTask",
    "DenseBoxLoss",
    "DenseRegressorTrainer",
    "LocalizeTask",
    "box_iou",
    "dense_box_loss",
    "training_model",
]


def training_model(model) -> keras.Model:
    """The classifier's logits as `[batch, classes]` at the training window.

    Shares every layer (and so every weight) with `model`.
    """
    logits = model.get_layer(model.spec.full_layers[-1].name).output
    flat = keras.layers.Reshape((model.num_classes,), name="logits")(logits)
    return keras.Model(model.input, flat, name=f"{model.name}_train")


class ClassifyTask:
    """The classifier (paper 3.1)."""

    name = "classify"

    def validate(self, config):
        """Refuses a config this task cannot train, before anything is built."""
        spec = get_spec(config.model.arch)
        if config.model.num_classes < 5:
            raise ValueError(
                f"model.num_classes must be at least 5 (top-5 accuracy). "
                f"Received: {config.model.num_classes}"
            )
        if config.data.resize_short < spec.window:
            raise ValueError(
                f"data.resize_short ({config.data.resize_short}) is smaller than "
                f"the {spec.name!r} window ({spec.window})."
            )

    def out_dir(self, config) -> str:
        return config.run.out_dir

    def build(self, config):
        """(model to save, Keras model that trains). Call under the scope."""
        model = OverFeat(
            get_spec(config.model.arch), num_classes=config.model.num_classes
        )
        return model, training_model(model)

    def loss(self, reduction="sum_over_batch_size"):
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction
        )

    def metrics(self):
        return [
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ]

    def metric_sums(self, labels, logits) -> dict:
        """Per-batch sums of the metrics, for the multi-worker loop."""
        top1 = tf.equal(tf.argmax(logits, -1, tf.int32), labels)
        top5 = tf.math.in_top_k(labels, logits, 5)
        return {
            "top1": tf.reduce_sum(tf.cast(top1, tf.float32)),
            "top5": tf.reduce_sum(tf.cast(top5, tf.float32)),
        }

    def train_dataset(self, raw, config, spec, batch_size, epoch):
        data, train = config.data, config.train
        return train_dataset(
            raw,
            spec.window,
            data.resize_short,
            batch_size,
            train.seed,
            epoch,
            data.shuffle_buffer,
            train.deterministic,
        )

    def eval_dataset(self, raw, config, spec, batch_size):
        return eval_dataset(raw, spec.window, config.data.resize_short, batch_size)

    def finish(self, model):
        return model


def _select(y_true, y_pred):
    """(targets, mask, predicted edges) of `localization_dataset`'s targets."""
    targets, mask = y_true[..., :4], y_true[..., 4]
    y_pred = tf.cast(y_pred, tf.float32)
    if y_pred.shape[-1] != 4:  # per class: the cell's class's own four
        label = tf.cast(y_true[..., 5], tf.int32)
        shape = tf.shape(y_pred)
        grouped = tf.reshape(y_pred, tf.concat([shape[:3], [-1, 4]], 0))
        y_pred = tf.gather(grouped, label, axis=3, batch_dims=3)
    return targets, mask, y_pred


def dense_box_loss(y_true, y_pred):
    """L2 loss of the regressor over the cells that train (paper 4.2).

    Args:
        y_true: `[batch, h, w, 6]` from `localization_dataset`.
        y_pred: `[batch, h, w, 4]` or `[batch, h, w, 4 * classes]`.

    Returns:
        `[batch]`: per image, the squared error of the four edges summed and
        averaged over its training cells (0 for an image with none).
    """
    targets, mask, pred = _select(y_true, y_pred)
    error = tf.reduce_sum(tf.square(pred - targets), -1) * mask
    return tf.reduce_sum(error, [1, 2]) / tf.maximum(tf.reduce_sum(mask, [1, 2]), 1.0)


@keras.saving.register_keras_serializable(package="overfeat_tf")
class DenseBoxLoss(keras.losses.Loss):
    """`dense_box_loss` as a Keras loss (reduced over the batch)."""

    def __init__(self, reduction="sum_over_batch_size", name="box_l2"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return dense_box_loss(y_true, y_pred)


def box_iou(y_true, y_pred):
    """Per image, the mean IoU of predicted and true boxes over training cells.

    Both are in the cells' window frames, so IoU is computed there (it is
    invariant to the frame's scale), with `keras.utils.bounding_boxes`.
    """
    targets, mask, pred = _select(y_true, y_pred)
    shape = tf.shape(targets)
    flat_t = tf.reshape(targets, [-1, 1, 4])
    flat_p = tf.reshape(pred, [-1, 1, 4])
    iou = keras.utils.bounding_boxes.compute_iou(flat_t, flat_p, "yxyx")
    iou = tf.reshape(iou, shape[:3]) * mask
    return tf.reduce_sum(iou, [1, 2]) / tf.maximum(tf.reduce_sum(mask, [1, 2]), 1.0)


class DenseRegressorTrainer(keras.Model):
    """The box regressor run densely at the fine stride on whole images.

    Shares every weight with `model` (an `OverFeat` with a regressor); only
    the regressor trains, and the feature layers too if `train_features`.

    Call: float `[batch, H, W, 3]` -> `[batch, h, w, 4 or 4 * classes]`.
    """

    def __init__(self, model, train_features: bool = False, **kwargs):
        super().__init__(name=f"{model.name}_localize", **kwargs)
        self.net = model
        self.dense = DenseClassifier(model)
        regress = {layer.name for layer in model.regressor_layers}
        classify = {layer.name for layer in model.head_layers}
        for layer in model.layers:
            if layer.name in regress:
                layer.trainable = True
            elif layer.name in classify:
                layer.trainable = False
            else:
                layer.trainable = train_features

    def call(self, images, training=False):
        prepool = self.dense.features(images, training=training)
        return self.dense.regress_features(prepool, fine=True, training=training)


class LocalizeTask:
    """The box regressor (paper 4.2), from a trained classifier."""

    name = "localize"

    def __init__(self, config):
        from overfeat_tf.models import REGRESSORS

        loc = config.localize
        if loc.regressor not in REGRESSORS:
            raise ValueError(
                f"localize.regressor must be one of {REGRESSORS}. "
                f"Received: {loc.regressor!r}"
            )
        folder = loc.init_from or config.run.out_dir
        if os.path.isdir(os.path.join(folder, "model")):
            folder = os.path.join(folder, "model")
        if not os.path.isfile(os.path.join(folder, "model.keras")):
            raise ValueError(
                f"localize.init_from: no classification model in {folder!r}. "
                "Train one first (`overfeat train classify` with the same "
                "config) or name a model folder."
            )
        self.init_folder = folder

    def validate(self, config):
        """Nothing beyond `__init__`'s check of the classifier folder."""

    def out_dir(self, config) -> str:
        return os.path.join(config.run.out_dir, f"localize_{config.localize.regressor}")

    def build(self, config):
        base, _ = load_model_dir(self.init_folder)
        config.model.arch, config.model.num_classes = base.spec.name, base.num_classes
        model = with_regressor(base, config.localize.regressor)
        trainer = DenseRegressorTrainer(model, config.localize.train_features)
        window = model.spec.window
        trainer(tf.zeros([1, window, window, 3]))  # built before fit (BackupAndRestore)
        return model, trainer

    def loss(self, reduction="sum_over_batch_size"):
        return DenseBoxLoss(reduction=reduction)

    def metrics(self):
        return [keras.metrics.MeanMetricWrapper(box_iou, name="box_iou")]

    def metric_sums(self, y_true, y_pred) -> dict:
        return {"box_iou": tf.reduce_sum(box_iou(y_true, y_pred))}

    def _dataset(self, raw, config, spec, batch_size, epoch, training):
        loc, data, train = config.localize, config.data, config.train
        return localization_dataset(
            raw,
            spec,
            batch_size,
            loc.scales,
            train.seed,
            epoch,
            training=training,
            flips=loc.flips,
            min_coverage=loc.min_coverage,
            shuffle_buffer=data.shuffle_buffer,
            deterministic=train.deterministic,
        )

    def train_dataset(self, raw, config, spec, batch_size, epoch):
        return self._dataset(raw, config, spec, batch_size, epoch, True)

    def eval_dataset(self, raw, config, spec, batch_size):
        return self._dataset(raw, config, spec, batch_size, 0, False)

    def finish(self, model):
        for layer in model.layers:  # saved models load with every layer trainable
            layer.trainable = True
        return model
