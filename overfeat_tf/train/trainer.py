"""Training OverFeat under a `tf.distribute` strategy: one loop for every task.

`train(config, task)` runs the whole job: input pipelines from TFDS, the
model and the paper's SGD recipe built under the strategy's scope, and
`keras` `fit` with TensorBoard, per-epoch checkpoints, `BackupAndRestore`
(a killed run resumes where it stopped) and `TerminateOnNaN`. The task
(`overfeat_tf.train.tasks`) brings its model, loss, metrics and pipelines:
`train_classifier(config)` trains the classifier (paper 3.1),
`train_localizer(config)` the box regressor (paper 4.2), `train_detector(config)`
the detector (paper 5).

Keras 3 `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585),
so `"multi_worker"` runs a custom loop over the same model, loss, optimizer and
pipeline: `strategy.run` of one SGD step per batch, gradients all-reduced by
the optimizer, each worker reading its own shard of the data.

Outputs, under `config.run.out_dir` (the localizer: its
`localize_<regressor>/` folder; the detector: `detect/`):

    config.yaml                  the resolved config
    logs/train, logs/validation  TensorBoard (loss, top-1, top-5, learning rate, inputs)
    checkpoints/epoch_NNN.weights.h5   the last three epochs, written atomically
    backup/                      BackupAndRestore's state (removed after success)
    model/                       the trained model folder (model.keras, class_names.txt)
    history.json                 per-epoch metrics
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from overfeat_tf.config import Config, save_config
from overfeat_tf.data.own_data import use_own_data
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.model_dir import save_model_dir
from overfeat_tf.models import policy_scope, with_policy
from overfeat_tf.train.callbacks import (
    AtomicCheckpoint,
    EpochCounter,
    InputImages,
    SeedSync,
)
from overfeat_tf.train.optimizers import TorchSGD
from overfeat_tf.train.strategy import make_strategy
from overfeat_tf.train.tasks import (
    ClassifyTask,
    DetectTask,
    LocalizeTask,
    training_model,
)

__all__ = [
    "build_optimizer",
    "learning_rate_schedule",
    "train",
    "train_classifier",
    "train_detector",
    "train_localizer",
    "training_model",
]


def learning_rate_schedule(train, steps_per_epoch: int):
    """The paper's step schedule (3.1), scaled linearly with the global batch.

    `lr = base_learning_rate * global_batch_size / base_batch_size`, multiplied
    by `lr_decay_factor` after each epoch of `lr_decay_epochs` (paper: 5e-2 at
    batch 128, halved after epochs 30, 50, 60, 70 and 80).
    """
    lr = train.base_learning_rate * train.global_batch_size / train.base_batch_size
    boundaries = [int(e) * steps_per_epoch for e in train.lr_decay_epochs]
    values = [lr * train.lr_decay_factor**i for i in range(len(boundaries) + 1)]
    if not boundaries:
        return lr
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


POLICIES = ("none", "mixed_bfloat16", "mixed_float16")


def dtype_policy(name: str):
    """Builds Keras layers under `name` (`train.mixed_precision`) inside
    (a `policy_scope`; `"none"` is float32).

    Raises:
        ValueError: if `name` is not one of `POLICIES`.
    """
    if name not in POLICIES:
        raise ValueError(
            f"train.mixed_precision must be one of {POLICIES}. Received: {name!r}"
        )
    return policy_scope("float32" if name == "none" else name)


def build_optimizer(train, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (paper 3.1) or Adam, with `train`'s weight decay.

    SGD is `overfeat_tf.train.optimizers.TorchSGD`: the update of Torch7's
    `optim.sgd`, the paper's framework, with `train.dampening`. Weight decay
    `train.weight_decay` is, by `train.weight_decay_mode`:

    - "l2" (the paper presets): coupled, `weight_decay * w` added to the
      gradient before the momentum, on every parameter, biases too (Torch7;
      SGD only);
    - "decoupled": `w -= lr * weight_decay * w` beside each step, kernels
      only (Keras' `weight_decay`; AdamW for Adam).
    """
    schedule = learning_rate_schedule(train, steps_per_epoch)
    mode = train.weight_decay_mode
    if mode not in ("l2", "decoupled"):
        raise ValueError(
            f"train.weight_decay_mode must be 'l2' or 'decoupled'. Received: {mode!r}"
        )
    coupled = mode == "l2"
    decoupled = None if coupled else (train.weight_decay or None)
    if train.optimizer == "sgd":
        optimizer = TorchSGD(
            schedule,
            momentum=train.momentum,
            dampening=train.dampening,
            l2=train.weight_decay if coupled else 0.0,
            weight_decay=decoupled,
        )
    elif train.optimizer == "adam":
        if coupled and train.weight_decay:
            raise ValueError(
                "train.weight_decay_mode 'l2' (coupled, Torch7's) is SGD's; "
                "Adam decays decoupled (AdamW): set it to 'decoupled'."
            )
        optimizer = keras.optimizers.Adam(schedule, weight_decay=decoupled)
    else:
        raise ValueError(
            f"train.optimizer must be 'sgd' or 'adam'. Received: {train.optimizer!r}"
        )
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def _check_split(config, n_examples):
    if n_examples < config.train.global_batch_size and not config.train.steps_per_epoch:
        raise ValueError(
            f"The train split gives {n_examples} examples an epoch, fewer than "
            f"one global batch of {config.train.global_batch_size}."
        )


def train_classifier(config: Config, callbacks=()) -> dict:
    """Trains the classifier (paper 3.1) as `config` says: `train` with
    `ClassifyTask`."""
    return train(config, ClassifyTask(), callbacks)


def train_localizer(config: Config, callbacks=()) -> dict:
    """Trains the box regressor (paper 4.2) from the classifier that
    `config.localize.init_from` names (default: `config.run.out_dir`'s):
    `train` with `LocalizeTask`. Writes to `<run.out_dir>/localize_<regressor>`."""
    return train(config, LocalizeTask(config), callbacks)


def train_detector(config: Config, callbacks=()) -> dict:
    """Trains the detector (paper 5) from the classifier that
    `config.detect.init_from` names (default: `config.run.out_dir`'s):
    `train` with `DetectTask`. Writes to `<run.out_dir>/detect`."""
    return train(config, DetectTask(config), callbacks)


def train(config: Config, task, callbacks=()) -> dict:
    """Trains `task`'s model as `config` says; see the module docstring.

    Args:
        config: `overfeat_tf.config.Config`.
        task: `ClassifyTask`, `LocalizeTask` or `DetectTask`
            (`overfeat_tf.train.tasks`).
        callbacks: extra Keras callbacks (not used by `"multi_worker"`).

    Returns:
        dict: `history` (per-epoch metrics), `model_dir` (the saved model
        folder), `out_dir`, `model` (the trained `OverFeat`).
    """
    strategy = make_strategy(config.distribute.strategy, config.distribute.cpu_devices)
    train_config = config.train
    data = config.data
    # Annotations of one's own (data.data_path): checked and built into a
    # TFDS dataset before anything else, which `data.dataset` then names.
    use_own_data(config, task.name)
    raw_train, n_train = load_split(
        data.dataset,
        data.train_split,
        data.data_dir,
        data.manual_dir,
        decode=not task.decodes_train_images,
    )
    raw_eval, _ = load_split(
        data.dataset, data.eval_split, data.data_dir, data.manual_dir
    )
    # Seeded after the splits are loaded: building a dataset on first use
    # draws from the global generators, and a run must not depend on
    # whether its data was already built.
    keras.utils.set_random_seed(train_config.seed)
    if train_config.deterministic:
        tf.config.experimental.enable_op_determinism()
    n_examples = n_train * task.examples_per_image(config)
    _check_split(config, n_examples)
    task.validate(config)
    steps = train_config.steps_per_epoch or n_examples // train_config.global_batch_size
    out = task.out_dir(config)
    with strategy.scope(), dtype_policy(train_config.mixed_precision):
        model, trainer = task.build(config)
    os.makedirs(out, exist_ok=True)
    if _is_chief(strategy):
        save_config(config, os.path.join(out, "config.yaml"))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="input_epoch")
    if train_config.verbose:
        print(
            f"{type(strategy).__name__}: {strategy.num_replicas_in_sync} "
            f"replica(s) in sync, global batch {train_config.global_batch_size}, "
            f"{steps} steps per epoch",
            flush=True,
        )

    if config.distribute.strategy == "multi_worker":
        history = _train_custom_loop(
            config, task, strategy, model, trainer, raw_train, steps, epoch, out
        )
    else:
        history = _train_fit(
            config,
            task,
            strategy,
            model,
            trainer,
            raw_train,
            raw_eval,
            steps,
            epoch,
            out,
            list(callbacks),
        )
    model = with_policy(task.finish(model), "float32")
    model_dir = os.path.join(out, "model")
    if not _is_chief(strategy):
        # Other workers write beside the chief's folder, never over it.
        resolver = strategy.cluster_resolver
        model_dir = os.path.join(
            out, "workers", f"{resolver.task_type}_{resolver.task_id}"
        )
        save_model_dir(model, model_dir, overwrite=True)
    else:
        names = task.class_names(config, model)
        save_model_dir(model, model_dir, class_names=names, overwrite=True)
        with open(os.path.join(out, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
    return {"history": history, "model_dir": model_dir, "out_dir": out, "model": model}


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def _train_fit(
    config,
    task,
    strategy,
    model,
    trainer,
    raw_train,
    raw_eval,
    steps,
    epoch,
    out,
    callbacks,
):
    train = config.train
    spec = model.spec
    with strategy.scope():
        trainer.compile(
            optimizer=build_optimizer(train, steps),
            loss=task.loss(),
            metrics=task.metrics(),
            # Under mixed_float16 Keras wraps the optimizer in a
            # LossScaleOptimizer (compile's auto_scale_loss).
            jit_compile="auto" if train.jit_compile is None else train.jit_compile,
        )
    batch = train.global_batch_size
    train_ds = task.train_dataset(raw_train, config, spec, batch, epoch)
    train_ds = train_ds.repeat().take(steps)
    eval_ds = task.eval_dataset(raw_eval, config, spec, batch)
    if train.validation_steps:
        eval_ds = eval_ds.take(train.validation_steps)
    all_callbacks = [
        EpochCounter(epoch),
        keras.callbacks.BackupAndRestore(
            os.path.join(out, "backup"), double_checkpoint=True
        ),
        SeedSync(),
        keras.callbacks.TerminateOnNaN(),
        AtomicCheckpoint(os.path.join(out, "checkpoints"), model),
    ]
    if config.run.tensorboard:
        logs = os.path.join(out, "logs")
        all_callbacks.append(keras.callbacks.TensorBoard(logs))
        if config.run.log_images:
            images = next(iter(train_ds))[0][: config.run.log_images]
            all_callbacks.append(InputImages(os.path.join(logs, "train"), images))
    all_callbacks += task.callbacks(config, model, raw_eval, out)
    result = trainer.fit(
        train_ds,
        epochs=train.epochs,
        validation_data=eval_ds,
        callbacks=all_callbacks + callbacks,
        verbose=train.verbose,
        shuffle=False,  # the pipeline shuffles, by (seed, epoch)
    )
    return {k: [float(v) for v in vs] for k, vs in result.history.items()}


def _train_custom_loop(
    config, task, strategy, model, trainer, raw_train, steps, epoch, out
):
    """One SGD step per batch via `strategy.run`; see the module docstring."""
    train = config.train
    spec, global_batch = model.spec, train.global_batch_size
    with strategy.scope():
        optimizer = build_optimizer(train, steps)
        if train.mixed_precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(trainer.trainable_variables)
    loss_fn = task.loss(reduction=None)

    def dataset_fn(context):
        shard = raw_train.shard(context.num_input_pipelines, context.input_pipeline_id)
        batch = context.get_per_replica_batch_size(global_batch)
        return task.train_dataset(shard, config, spec, batch, epoch).repeat()

    dataset = strategy.distribute_datasets_from_function(dataset_fn)

    def gradients(images, labels):
        with tf.GradientTape() as tape:
            outputs = trainer(images, training=True)
            loss = tf.nn.compute_average_loss(
                loss_fn(labels, outputs), global_batch_size=global_batch
            )
            # Scaled under mixed_float16 (the LossScaleOptimizer unscales
            # the gradients and skips a step whose gradients overflowed).
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, trainer.trainable_variables)
        return loss, grads, task.metric_sums(labels, outputs)

    if train.jit_compile:
        # XLA compiles each replica's forward and backward pass; the update,
        # whose all-reduce crosses workers, stays outside it.
        gradients = tf.function(gradients, jit_compile=True)

    def replica_step(images, labels):
        loss, grads, sums = gradients(images, labels)
        optimizer.apply_gradients(zip(grads, trainer.trainable_variables, strict=True))
        return {"loss": loss, **sums}

    @tf.function
    def train_step(iterator):
        images, labels = next(iterator)
        results = strategy.run(replica_step, args=(images, labels))
        return {
            k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in results.items()
        }

    # Checkpoints every epoch; a restarted job resumes after the last one.
    chief = _is_chief(strategy)
    task_id = getattr(strategy.cluster_resolver, "task_id", 0)
    backup = os.path.join(out, "backup" if chief else f"backup_worker_{task_id}")
    checkpoint = tf.train.Checkpoint(model=trainer, optimizer=optimizer, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, backup, max_to_keep=1)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint)
    start = int(epoch.numpy())
    writer = (
        tf.summary.create_file_writer(os.path.join(out, "logs", "train"))
        if chief
        else None
    )
    history = {}
    progress = keras.utils.Progbar(steps, verbose=train.verbose if chief else 0)
    for e in range(start, train.epochs):
        epoch.assign(e)
        iterator = iter(dataset)
        totals = {}
        for step in range(steps):
            results = {k: float(v) for k, v in train_step(iterator).items()}
            for k, v in results.items():
                totals[k] = totals.get(k, 0.0) + v
            progress.update(step + 1, [("loss", results["loss"])])
        # The loss is a mean per batch; the metrics are sums over examples.
        logs = {
            k: v / (steps if k == "loss" else steps * global_batch)
            for k, v in totals.items()
        }
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(optimizer.learning_rate)
        )
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
        if writer is not None:
            with writer.as_default():
                for k, v in logs.items():
                    tf.summary.scalar(f"epoch_{k}", v, step=e)
            writer.flush()
        epoch.assign(e + 1)
        manager.save()
    return history
