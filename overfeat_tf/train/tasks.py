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
- `DetectTask` (paper 5): a detector (the classifier with a background
  class, `as_detector`) fine-tuned densely on whole images at the spec's
  scales, each cell labelled by `overfeat_tf.ops.boxes.detection_labels`;
  per image every object cell and a few background cells mined in the
  training step itself (`mine_negatives`: some at random, some the most
  offending under the current weights); the box regressor trained on the
  same images and features.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from overfeat_tf.data.pipeline import eval_dataset, localization_dataset, train_dataset
from overfeat_tf.model_dir import find_model_dir, load_model_dir
from overfeat_tf.models import OverFeat, as_detector, with_regressor
from overfeat_tf.ops.dense import DenseClassifier
from overfeat_tf.specs import get_spec

__all__ = [
    "ClassifyTask",
    "DenseBoxLoss",
    "DenseTrainer",
    "DetectTask",
    "CellAccuracy",
    "DetectionLoss",
    "LocalizeTask",
    "box_iou",
    "dataset_class_names",
    "dense_box_loss",
    "detection_loss",
    "mine_negatives",
    "training_model",
]


def dataset_class_names(dataset: str, data_dir=None) -> list[str] | None:
    """The class names of a TFDS dataset: its `label` feature's, else its
    `objects`' `label`'s; None if it has neither."""
    import tensorflow_datasets as tfds

    features = tfds.builder(dataset, data_dir=data_dir).info.features
    if "label" in features:
        return list(features["label"].names)
    if "objects" in features and "label" in features["objects"]:
        return list(features["objects"]["label"].names)
    return None


def _is_export(folder) -> bool:
    from overfeat_tf.serving.export import saved_model_path

    try:
        saved_model_path(folder)
    except ValueError:
        return False
    return True


def _init_folder(option: str, value, out_dir) -> str:
    """The classifier (or detector) a task starts from: a model or run folder,
    or an export (`saved_models/<name>`: the committed tree detector, say,
    fine-tuned on trees of one's own)."""
    folder = find_model_dir(value or out_dir)
    if not os.path.isfile(os.path.join(folder, "model.keras")) and not _is_export(
        folder
    ):
        raise ValueError(
            f"{option}: no classification model in {folder!r}. Train one first "
            "(`overfeat train classify`) or name a model or run folder, or an "
            "export."
        )
    return folder


def _load_init(folder):
    """(`OverFeat`, class names or None) of `_init_folder`'s folder."""
    if os.path.isfile(os.path.join(folder, "model.keras")):
        return load_model_dir(folder)
    from overfeat_tf.serving.export import load_exported_network

    return tuple(load_exported_network(folder)[:2])


def check_class_names(option, folder, model_names, data_names, dataset):
    """Refuses to train on from a model whose class columns (or per-class
    regressors) are kept but stand for other classes than the data's.

    The columns are kept by position: class i of the data trains the
    model's class i. So the names must be the same, in the same order (case
    aside). Nothing to check when either side's names are unknown.

    Raises:
        ValueError: naming both lists and what to do.
    """
    if not model_names or not data_names:
        return
    model_names, data_names = list(model_names), list(data_names)
    if [n.lower() for n in model_names] == [n.lower() for n in data_names]:
        return
    same_set = sorted(n.lower() for n in model_names) == sorted(
        n.lower() for n in data_names
    )
    how = "the same classes in another order" if same_set else "other classes"
    raise ValueError(
        f"{option}: {folder} was trained on the classes {model_names}, the "
        f"data ({dataset}) has {data_names}: {how}. Its class columns would be "
        "kept by position, each trained as another class. Name the data's "
        "classes as the model's (in the annotations: a dataset of your own "
        "numbers its classes in sorted order), or start from a model of "
        "another number of classes (a new class layer)."
    )


def training_model(model) -> keras.Model:
    """The classifier's logits as `[batch, classes]` at the training window.

    Shares every layer (and so every weight) with `model`.
    """
    logits = model.get_layer(model.spec.full_layers[-1].name).output
    # float32 logits under a mixed policy: the loss and metrics see them so.
    flat = keras.layers.Reshape((model.num_classes,), name="logits", dtype="float32")(
        logits
    )
    return keras.Model(model.input, flat, name=f"{model.name}_train")


class ClassifyTask:
    """The classifier (paper 3.1)."""

    name = "classify"
    # Its training pipeline reads images encoded and decodes what its crops
    # need (`train_dataset`, `random_resized_crop_flip`).
    decodes_train_images = True

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
            data.crops_per_image,
            data.flip_copies,
            data.antialias,
            data.resize_short_max,
            data.jpeg_only,
        )

    def examples_per_image(self, config) -> int:
        """Training examples each image gives per epoch."""
        return config.data.crops_per_image * (2 if config.data.flip_copies else 1)

    def eval_dataset(self, raw, config, spec, batch_size):
        return eval_dataset(raw, spec.window, config.data.resize_short, batch_size)

    def class_names(self, config, model):
        names = dataset_class_names(config.data.dataset, config.data.data_dir)
        return names if names and len(names) == model.num_classes else None

    def callbacks(self, config, model, raw_eval, out):
        return []

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


class DenseTrainer(keras.Model):
    """OverFeat's heads run densely at the fine stride on whole images.

    Shares every weight with `model` (an `OverFeat` with a regressor). The
    regressor always trains; the classifier trains when `classify` (the
    detector, paper 5), else it stays fixed (the localizer, paper 4.2); the
    feature layers train if `train_features`.

    Call: float `[batch, H, W, 3]` -> `[batch, h, w, R]`, the box map
    (R = 4 or 4 * classes); with `classify`, `[batch, h, w, classes + R]`:
    the class logits, then the box map.
    """

    def __init__(
        self, model, train_features: bool = False, classify: bool = False, **kwargs
    ):
        task = "detect" if classify else "localize"
        super().__init__(name=f"{model.name}_{task}", **kwargs)
        self.net = model
        self.classify = classify
        self.dense = DenseClassifier(model)
        regress = {layer.name for layer in model.regressor_layers}
        heads = {layer.name for layer in model.head_layers}
        for layer in model.layers:
            if layer.name in regress:
                layer.trainable = True
            elif layer.name in heads:
                layer.trainable = classify
            else:
                layer.trainable = train_features

    def call(self, images, training=False):
        prepool = self.dense.features(images, training=training)
        boxes = self.dense.regress_features(prepool, fine=True, training=training)
        boxes = tf.cast(boxes, tf.float32)  # float32 under a mixed policy too
        if not self.classify:
            return boxes
        logits = self.dense.logits_features(prepool, fine=True, training=training)
        return tf.concat([tf.cast(logits, tf.float32), boxes], -1)


class LocalizeTask:
    """The box regressor (paper 4.2), from a trained classifier."""

    name = "localize"
    decodes_train_images = False  # whole images at every scale

    def __init__(self, config):
        from overfeat_tf.models import REGRESSORS

        loc = config.localize
        if loc.regressor not in REGRESSORS:
            raise ValueError(
                f"localize.regressor must be one of {REGRESSORS}. "
                f"Received: {loc.regressor!r}"
            )
        self.init_folder = _init_folder(
            "localize.init_from", loc.init_from, config.run.out_dir
        )

    def validate(self, config):
        """Nothing beyond `__init__`'s check of the classifier folder."""

    def out_dir(self, config) -> str:
        return os.path.join(config.run.out_dir, f"localize_{config.localize.regressor}")

    def build(self, config):
        base, names = _load_init(self.init_folder)
        if names and base.background:
            names = names[:-1]  # background, last: no boxes of its own
        if config.localize.regressor == "per_class":
            # Each class's regressor trains on the boxes of the data's class
            # of that number.
            check_class_names(
                "localize.init_from", self.init_folder, names,
                dataset_class_names(config.data.dataset, config.data.data_dir),
                config.data.dataset,
            )  # fmt: skip
        config.model.arch, config.model.num_classes = base.spec.name, base.num_classes
        model = with_regressor(base, config.localize.regressor)
        trainer = DenseTrainer(model, config.localize.train_features)
        window = model.spec.window
        trainer(tf.zeros([1, window, window, 3]))  # built before fit (BackupAndRestore)
        return model, trainer

    def loss(self, reduction="sum_over_batch_size"):
        return DenseBoxLoss(reduction=reduction)

    def metrics(self):
        return [keras.metrics.MeanMetricWrapper(box_iou, name="box_iou")]

    def metric_sums(self, y_true, y_pred) -> dict:
        return {"box_iou": tf.reduce_sum(box_iou(y_true, y_pred))}

    def _min_coverage(self, config):
        return config.localize.min_coverage

    def _detection(self, config):
        """`localization_dataset`'s `detection` argument: None, boxes only."""
        return None

    def _dataset(self, raw, config, spec, batch_size, epoch, training):
        section = getattr(config, self.name)
        data, train = config.data, config.train
        return localization_dataset(
            raw,
            spec,
            batch_size,
            section.scales,
            train.seed,
            epoch,
            training=training,
            flips=section.flips,
            min_coverage=self._min_coverage(config),
            shuffle_buffer=data.shuffle_buffer,
            deterministic=train.deterministic,
            detection=self._detection(config),
        )

    def train_dataset(self, raw, config, spec, batch_size, epoch):
        return self._dataset(raw, config, spec, batch_size, epoch, True)

    def eval_dataset(self, raw, config, spec, batch_size):
        return self._dataset(raw, config, spec, batch_size, 0, False)

    def class_names(self, config, model):
        return ClassifyTask.class_names(self, config, model)

    def examples_per_image(self, config) -> int:
        """One: whole images, one per image per epoch."""
        return 1

    def callbacks(self, config, model, raw_eval, out):
        return []

    def finish(self, model):
        for layer in model.layers:  # saved models load with every layer trainable
            layer.trainable = True
        return model


def mine_negatives(labels, losses, background: int, random: int, hard: int, seed=None):
    """The cells that train a detector's classifier, chosen on the fly (paper 5).

    Per image: every object cell, the `hard` background cells with the
    highest loss under the current weights (the most offending), and
    `random` other background cells drawn uniformly. Ignored cells (-1)
    never train. No bootstrapping pass: this runs inside the training step,
    on the losses of the batch being trained.

    Args:
        labels: int `[batch, n]`: object class, `background`, or -1.
        losses: float `[batch, n]`: each cell's classification loss.
        background: int. random, hard: int, per image (fewer if the image
            has fewer background cells).
        seed: None or a `tf.random.stateless_uniform` seed `[2]`.

    Returns:
        bool `[batch, n]`.
    """
    labels = tf.cast(labels, tf.int32)
    losses = tf.stop_gradient(tf.cast(losses, tf.float32))
    n = tf.shape(labels)[1]
    negative = tf.equal(labels, background)
    positive = (labels >= 0) & tf.logical_not(negative)

    def top(keys, valid, k):
        k = tf.minimum(k, n)
        keys = tf.where(valid, keys, -1.0)
        values, index = tf.math.top_k(keys, k=k)
        hit = (
            tf.one_hot(index, n, dtype=tf.float32)
            * tf.cast(values >= 0.0, tf.float32)[..., None]
        )
        return tf.reduce_max(tf.concat([hit, tf.zeros_like(keys)[:, None]], 1), 1) > 0

    chosen = top(losses, negative, hard) if hard else tf.zeros_like(negative)
    if random:
        shape = tf.shape(losses)
        draw = (
            tf.random.uniform(shape)
            if seed is None
            else tf.random.stateless_uniform(shape, seed)
        )
        chosen |= top(draw, negative & tf.logical_not(chosen), random)
    return positive | chosen


def _split(y_pred, num_classes):
    y_pred = tf.cast(y_pred, tf.float32)
    return y_pred[..., :num_classes], y_pred[..., num_classes:]


def detection_loss(
    y_true, y_pred, num_classes, random_negatives, hard_negatives, box_weight
):
    """The detector's loss: softmax cross-entropy on the mined cells plus the
    regressor's L2 (`dense_box_loss`) times `box_weight`.

    Args:
        y_true: `[batch, h, w, 7]` from `localization_dataset(detection=...)`.
        y_pred: `[batch, h, w, num_classes + R]` from `DenseTrainer(classify=True)`.
        num_classes: int, background included (the last).
        random_negatives, hard_negatives: int. `mine_negatives`.
        box_weight: float.

    Returns:
        `[batch]`: per image, the mean cross-entropy over its mined cells (0
        if none) plus the weighted box loss.
    """
    logits, boxes = _split(y_pred, num_classes)
    labels = tf.cast(y_true[..., 6], tf.int32)
    shape = tf.shape(labels)
    flat_labels = tf.reshape(labels, [shape[0], -1])
    flat_logits = tf.reshape(logits, [shape[0], -1, num_classes])
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.maximum(flat_labels, 0), flat_logits
    )
    mined = tf.cast(
        mine_negatives(
            flat_labels, ce, num_classes - 1, random_negatives, hard_negatives
        ),
        tf.float32,
    )
    classify = tf.reduce_sum(ce * mined, 1) / tf.maximum(tf.reduce_sum(mined, 1), 1.0)
    return classify + box_weight * dense_box_loss(y_true[..., :6], boxes)


@keras.saving.register_keras_serializable(package="overfeat_tf")
class DetectionLoss(keras.losses.Loss):
    """`detection_loss` as a Keras loss (reduced over the batch)."""

    def __init__(
        self,
        num_classes,
        random_negatives=8,
        hard_negatives=8,
        box_weight=1.0,
        reduction="sum_over_batch_size",
        name="detection",
    ):
        super().__init__(name=name, reduction=reduction)
        self.num_classes = num_classes
        self.random_negatives = random_negatives
        self.hard_negatives = hard_negatives
        self.box_weight = box_weight

    def call(self, y_true, y_pred):
        return detection_loss(
            y_true,
            y_pred,
            self.num_classes,
            self.random_negatives,
            self.hard_negatives,
            self.box_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "random_negatives": self.random_negatives,
            "hard_negatives": self.hard_negatives,
            "box_weight": self.box_weight,
        }


def cell_hits(y_true, y_pred, num_classes, objects: bool):
    """(right, count) float32 scalars over a batch: of its object cells
    (`objects`) or its background cells, how many have their label as the
    most probable class, and how many there are."""
    logits, _ = _split(y_pred, num_classes)
    labels = tf.cast(y_true[..., 6], tf.int32)
    background = num_classes - 1
    which = (labels >= 0) & (labels < background) if objects else labels == background
    right = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels) & which
    return (
        tf.reduce_sum(tf.cast(right, tf.float32)),
        tf.reduce_sum(tf.cast(which, tf.float32)),
    )


class CellAccuracy(keras.metrics.Metric):
    """Accuracy over all object (or background) cells seen: right / count
    summed over batches, so images with few such cells weigh little."""

    def __init__(self, num_classes, objects: bool, name=None, **kwargs):
        kind = "object" if objects else "background"
        super().__init__(name=name or f"{kind}_accuracy", **kwargs)
        self.num_classes, self.objects = num_classes, objects
        self.right = self.add_variable((), "zeros", name="right")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        right, count = cell_hits(y_true, y_pred, self.num_classes, self.objects)
        self.right.assign_add(right)
        self.count.assign_add(count)

    def result(self):
        return tf.math.divide_no_nan(self.right, self.count)

    def reset_state(self):
        self.right.assign(0.0)
        self.count.assign(0.0)


class DetectTask(LocalizeTask):
    """The detector (paper 5), from a trained classifier (or detector).

    Shares the localizer's whole-image pipeline, adding each cell's class.
    """

    name = "detect"

    def __init__(self, config):
        self._config = config
        self.init_folder = _init_folder(
            "detect.init_from", config.detect.init_from, config.run.out_dir
        )

    def validate(self, config):
        """Refuses settings this task cannot train, before anything is built;
        loads the model it starts from."""
        from overfeat_tf import geometry
        from overfeat_tf.models import REGRESSORS

        det = config.detect
        if det.regressor not in REGRESSORS:
            raise ValueError(
                f"detect.regressor must be one of {REGRESSORS}. "
                f"Received: {det.regressor!r}"
            )
        self._base, base_names = _load_init(self.init_folder)
        spec = self._base.spec
        stride = geometry.fine_stride(spec)
        for side in det.scale_sides or ():
            if side < spec.window or (side - spec.window) % stride:
                raise ValueError(
                    f"detect.scale_sides: {side} is not {spec.window} + a "
                    f"multiple of the fine stride {stride} (e.g. "
                    f"{spec.window + stride * max(0, (side - spec.window) // stride)})."
                )
        if det.box_coverage is not None and not 0.0 < det.box_coverage <= 1.0:
            raise ValueError(
                "detect.box_coverage must be in (0, 1] (the share of a box a "
                f"window holds to train the regressor), or null. Received: "
                f"{det.box_coverage!r}"
            )
        if min(det.random_negatives, det.hard_negatives) < 0:
            raise ValueError("detect.random_negatives and hard_negatives must be >= 0.")
        self.object_names = dataset_class_names(
            config.data.dataset, config.data.data_dir
        )
        if self.object_names is None:
            raise ValueError(
                f"{config.data.dataset} has no `objects` with a `label` to detect."
            )
        objects = self._base.num_object_classes
        if base_names and self._base.background:
            base_names = base_names[:-1]  # background, last
        if len(self.object_names) == objects:  # `as_detector` keeps the columns
            check_class_names(
                "detect.init_from", self.init_folder, base_names,
                self.object_names, config.data.dataset,
            )  # fmt: skip

    def out_dir(self, config) -> str:
        return os.path.join(config.run.out_dir, "detect")

    def build(self, config):
        import dataclasses

        det = config.detect
        base = self._base  # loaded by `validate`
        spec = base.spec
        if det.scale_sides:
            spec = dataclasses.replace(
                spec, scales=tuple((s, s) for s in det.scale_sides)
            )
        objects = len(self.object_names)  # read by `validate`
        model = as_detector(base, objects, det.regressor, spec)
        config.model.arch, config.model.num_classes = spec.name, model.num_classes
        trainer = DenseTrainer(model, det.train_features, classify=True)
        window = spec.window
        trainer(tf.zeros([1, window, window, 3]))  # built before fit (BackupAndRestore)
        self.num_classes = model.num_classes
        return model, trainer

    def loss(self, reduction="sum_over_batch_size"):
        det = self._config.detect
        return DetectionLoss(
            self.num_classes,
            det.random_negatives,
            det.hard_negatives,
            det.box_weight,
            reduction=reduction,
        )

    def _box_iou(self, y_true, y_pred):
        return box_iou(y_true[..., :6], _split(y_pred, self.num_classes)[1])

    def metrics(self):
        return [
            CellAccuracy(self.num_classes, objects=True),
            CellAccuracy(self.num_classes, objects=False),
            keras.metrics.MeanMetricWrapper(self._box_iou, name="box_iou"),
        ]

    def metric_sums(self, y_true, y_pred) -> dict:
        """Per-batch sums for the multi-worker loop, which divides them by the
        examples seen: the cell accuracies enter as the batch's ratio times
        its size (a mean over batches)."""
        batch = tf.cast(tf.shape(y_true)[0], tf.float32)
        out = {"box_iou": tf.reduce_sum(self._box_iou(y_true, y_pred))}
        for kind, objects in (("object", True), ("background", False)):
            right, count = cell_hits(y_true, y_pred, self.num_classes, objects)
            out[f"{kind}_accuracy"] = tf.math.divide_no_nan(right, count) * batch
        return out

    def _min_coverage(self, config):
        det = config.detect
        return det.positive_coverage if det.box_coverage is None else det.box_coverage

    def _detection(self, config):
        det = config.detect
        return {
            "background": self.num_classes - 1,
            "positive_coverage": det.positive_coverage,
            "min_box_size": det.min_box_size,
            "negative_overlap": det.negative_overlap,
        }

    def class_names(self, config, model):
        return [*self.object_names, "background"]

    def callbacks(self, config, model, raw_eval, out):
        from overfeat_tf.train.callbacks import DetectionImages

        if not (config.run.tensorboard and config.run.log_images):
            return []
        return [
            DetectionImages(
                os.path.join(out, "logs", "validation"),
                model,
                raw_eval.take(config.run.log_images),
                config.export,
            )
        ]
