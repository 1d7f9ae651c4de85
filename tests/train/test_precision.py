"""train.mixed_precision and train.jit_compile: the GPU switches, run on the CPU."""

import keras
import numpy as np
import pytest
from conftest import build

from overfeat_tf.config import get_config
from overfeat_tf.train import train_classifier
from overfeat_tf.train.trainer import dtype_policy

DATASET = "fashion_scenes/classification"


class _Seen(keras.callbacks.Callback):
    """What the compiled trainer was: its policy, XLA and optimizer."""

    def on_train_begin(self, logs=None):
        self.policy = self.model.dtype_policy.name
        self.conv1 = self.model.get_layer("conv1").compute_dtype
        self.jit = self.model.jit_compile
        self.optimizer = type(self.model.optimizer).__name__


def _config(tfds_dir, out_dir, *overrides):
    config = get_config("fashion_small")
    config.model.arch = "tiny_accurate"
    config.data.data_dir = tfds_dir
    config.data.shuffle_buffer = 200
    config.run.out_dir = str(out_dir)
    config.run.tensorboard = False
    config.train.optimizer = "adam"
    config.train.base_learning_rate = 3e-3
    config.train.global_batch_size = 32
    config.train.base_batch_size = 32
    config.train.steps_per_epoch = 12
    config.train.validation_steps = 1
    config.train.epochs = 3
    config.train.lr_decay_epochs = ()
    config.train.verbose = 0
    for key, value in overrides:
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    return config


@pytest.mark.slow
def test_mixed_bfloat16_under_xla_trains(tfds_dir, tmp_path):
    # A few steps of the tiny network in bfloat16, compiled by XLA: the loss
    # finite and falling. Catches the policy or the switch never reaching
    # the trainer (the callback sees what was compiled) and a trained model
    # handed back computing in bfloat16 (an export would serve bfloat16).
    build(DATASET, tfds_dir)
    seen = _Seen()
    config = _config(
        tfds_dir,
        tmp_path,
        ("train.mixed_precision", "mixed_bfloat16"),
        ("train.jit_compile", True),
    )
    result = train_classifier(config, callbacks=[seen])
    assert seen.policy == "mixed_bfloat16" and seen.conv1 == "bfloat16"
    assert seen.jit is True
    loss = result["history"]["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0], loss
    assert result["model"].get_layer("conv1").compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.slow
def test_mixed_float16_scales_the_loss(tfds_dir, tmp_path):
    # float16 needs its loss scaled: the optimizer is Keras'
    # LossScaleOptimizer, and training still lowers the loss.
    build(DATASET, tfds_dir)
    seen = _Seen()
    config = _config(tfds_dir, tmp_path, ("train.mixed_precision", "mixed_float16"))
    config.train.epochs = 2
    result = train_classifier(config, callbacks=[seen])
    assert seen.policy == "mixed_float16" and seen.conv1 == "float16"
    assert seen.optimizer == "LossScaleOptimizer" and seen.jit is False
    loss = result["history"]["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0], loss


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="mixed_precision must be one of .* 'float8'"):
        with dtype_policy("float8"):
            pass
    assert keras.mixed_precision.global_policy().name == "float32"
