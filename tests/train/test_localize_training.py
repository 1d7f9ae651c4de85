"""Localization training (paper 4.2): the shared loop with the regressor's task."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import build

from overfeat_tf.config import get_config
from overfeat_tf.data.pipeline import load_split, localization_dataset
from overfeat_tf.eval import evaluate_model_dir
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.specs import get_spec
from overfeat_tf.train import train_classifier, train_localizer

DATASET = "fashion_scenes/localization"


def _config(tfds_dir, out_dir):
    config = get_config("fashion_localize")
    config.model.arch = "tiny_accurate"
    config.data.data_dir = tfds_dir
    config.run.out_dir = str(out_dir)
    config.run.log_images = 0
    config.train.global_batch_size = 8
    config.train.steps_per_epoch = 4
    config.train.validation_steps = 2
    config.train.epochs = 1
    config.train.verbose = 0
    config.train.optimizer = "adam"
    config.train.base_learning_rate = 3e-3
    config.train.base_batch_size = 8
    config.train.lr_decay_epochs = ()
    config.data.shuffle_buffer = 100
    return config


def test_localization_batches_hold_the_boxes_targets(tfds_dir):
    build(DATASET, tfds_dir)
    raw, _ = load_split(DATASET, "train", tfds_dir)
    spec = get_spec("tiny_accurate")
    ds = localization_dataset(raw.take(24), spec, 4, seed=1, shuffle_buffer=24)
    sizes = set()
    for images, y in ds:
        h, w = images.shape[1:3]
        sizes.add(h)
        assert y.shape[1:] == ((h - 85) // 12 + 1, (w - 85) // 12 + 1, 6)
        mask = y[..., 4].numpy()
        assert mask.sum() > 0  # one item per scene: some window holds half of it
        labels = y[..., 5].numpy()[mask > 0]
        # Every trained cell of an image names that image's one item's class.
        for b in range(4):
            assert len(set(y[b, ..., 5].numpy()[mask[b] > 0])) <= 1
        assert np.all((labels >= 0) & (labels < 10))
    assert len(sizes) > 1  # scales drawn per batch


def test_train_localize_from_a_classifier(tfds_dir, tmp_path):
    build(DATASET, tfds_dir)
    config = _config(tfds_dir, tmp_path / "run")
    classifier = train_classifier(config)
    before = classifier["model"].get_layer("conv3").get_weights()[0]
    config.localize.regressor = "per_class"
    config.train.epochs = 3
    result = train_localizer(config)
    out = tmp_path / "run" / "localize_per_class"
    assert result["out_dir"] == str(out)
    history = result["history"]
    assert set(history) >= {"loss", "box_iou", "val_loss", "val_box_iou"}
    assert history["loss"][-1] < history["loss"][0]
    assert np.isfinite(history["val_loss"]).all()
    model, names = load_model_dir(out / "model")
    assert model.regressor == "per_class" and names[1] == "Trouser"
    # Features frozen (paper 4.2): the classifier's weights are untouched.
    np.testing.assert_array_equal(model.get_layer("conv3").get_weights()[0], before)
    assert all(layer.trainable for layer in model.layers)
    assert "regressor: per_class" in (out / "config.yaml").read_text()
    assert os.listdir(out / "checkpoints") and os.listdir(out / "logs" / "train")
    boxes = model(tf.zeros((1, 97, 97, 3)))["boxes"]
    assert boxes.shape == (1, 1, 1, 40)
    # `overfeat evaluate`'s library call on the trained folder.
    config.export.scales = (0,)
    scores = evaluate_model_dir(out, DATASET, "validation", tfds_dir, config.export)
    assert scores["examples"] == 300
    assert 0 <= scores["box_error_top5"] <= scores["error_top5"] <= 1
    # A localizer has no background class to detect with: said before any
    # data is read (bug caught: a detection AP over its object classes).
    with pytest.raises(ValueError, match="not a detector"):
        evaluate_model_dir(out, DATASET, "test", tfds_dir, config.export, task="detect")


def test_localize_without_a_classifier_says_so(tmp_path):
    config = get_config("fashion_localize")
    config.run.out_dir = str(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no classification model"):
        train_localizer(config)


def test_train_localize_command_names_the_missing_classifier(tmp_path):
    from conftest import run_cli

    out = run_cli(
        "train", "localize", "--preset", "fashion_localize", "--set",
        f"run.out_dir={tmp_path / 'none'}",
    )  # fmt: skip
    assert out.returncode == 2
    assert "no classification model" in out.stderr and "none" in out.stderr
