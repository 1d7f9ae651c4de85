"""Detection training (paper 5): the shared loop with the detector's task."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import build, run_cli

from overfeat_tf.config import get_config
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.eval import coco_ap, evaluate_model_dir
from overfeat_tf.model_dir import load_model_dir, save_model_dir
from overfeat_tf.models import OverFeat
from overfeat_tf.train import DetectTask, train_detector

DATASET = "fashion_scenes/detection"


def _config(tfds_dir, tmp_path):
    config = get_config("fashion_detect")
    config.model.arch = "tiny_accurate"
    config.data.data_dir = tfds_dir
    config.data.shuffle_buffer = 50
    config.run.out_dir = str(tmp_path / "run")
    config.run.log_images = 2
    config.train.global_batch_size = 4
    config.train.base_batch_size = 4
    config.train.steps_per_epoch = 2
    config.train.validation_steps = 2
    config.train.epochs = 1
    config.train.verbose = 0
    config.train.base_learning_rate = 3e-3
    config.train.lr_decay_epochs = ()
    config.detect.scale_sides = (97, 133)
    config.export.max_detections = 8
    classifier = OverFeat("tiny_accurate", num_classes=10)
    config.detect.init_from = save_model_dir(classifier, tmp_path / "classifier")
    return config


def test_train_detect_from_a_classifier(tfds_dir, tmp_path):
    build(DATASET, tfds_dir)
    config = _config(tfds_dir, tmp_path)
    # The task's batches: the regressor's six targets and each cell's class.
    task = DetectTask(config)
    task.validate(config)
    model, _ = task.build(config)
    raw, _ = load_split(DATASET, "train", tfds_dir)
    # Two batches: one scale each, and at the smallest (97 px: 2x2 windows
    # of 85 px) a busy scene's cells can all be ignored.
    labels = set()
    for images, y in task.train_dataset(raw.take(8), config, model.spec, 4, 0):
        assert y.shape[-1] == 7
        assert y.shape[1:3] == ((images.shape[1] - 85) // 12 + 1,) * 2
        labels |= set(np.unique(y[..., 6].numpy()).astype(int))
    assert labels <= set(range(-1, 11)) and 10 in labels  # 10 = background
    assert labels & set(range(10))  # and some object cells

    result = train_detector(config)
    out = tmp_path / "run" / "detect"
    assert result["out_dir"] == str(out)
    history = result["history"]
    assert set(history) >= {
        "loss",
        "object_accuracy",
        "background_accuracy",
        "box_iou",
        "val_loss",
    }
    assert np.isfinite(history["loss"]).all()
    model, names = load_model_dir(out / "model")
    assert model.background and model.num_classes == 11
    assert names[1] == "Trouser" and names[-1] == "background"
    assert model.spec.scales == ((97, 97), (133, 133))  # the detector's own
    # TensorBoard has the detected boxes drawn on validation images.
    tags = set()
    for name in os.listdir(out / "logs" / "validation"):
        for event in tf.compat.v1.train.summary_iterator(
            str(out / "logs" / "validation" / name)
        ):
            tags |= {v.tag for v in event.summary.value}
    assert {"detections/0", "detections/1"} <= tags
    # `overfeat evaluate`'s library call: AP both ways, on 4 images.
    scores = evaluate_model_dir(out, DATASET, "test", tfds_dir, config.export, 4)
    assert scores["task"] == "detect" and scores["examples"] == 4
    for method in ("merge", "nms"):
        assert 0.0 <= scores[method]["AP"] <= scores[method]["AP50"] <= 1.0
    # A detector's localization error, as its `localize_*` signatures give
    # it. Bug caught: `task` ignored, a detector always scored by its AP.
    loc = evaluate_model_dir(
        out, DATASET, "test", tfds_dir, config.export, 4, "localize"
    )
    assert loc["task"] == "localize" and loc["examples"] == 4
    assert 0.0 <= loc["error_top5"] <= loc["error_top1"] <= 1.0
    assert loc["box_error_top1"] <= loc["error_top1"]
    # The command: the same call, a table of both methods.
    cli = run_cli(
        "evaluate", "--model", str(out), "--dataset", DATASET, "--split", "test",
        "--data-dir", tfds_dir, "--limit", "2",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "2 images: detection AP" in cli.stdout
    assert "merge" in cli.stdout and "nms" in cli.stdout
    # `--task` reaches the library (bug caught: the flag parsed, not passed).
    cli = run_cli(
        "evaluate", "--model", str(out), "--dataset", DATASET, "--split", "test",
        "--data-dir", tfds_dir, "--limit", "2", "--task", "localize",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "2 images: localization error top-1" in cli.stdout


def _held(targets):
    """NumPy: the share of each target box (window frame) inside its window."""
    y0, x0, y1, x1 = np.moveaxis(targets, -1, 0)
    inside = np.clip(np.minimum(y1, 1) - np.maximum(y0, 0), 0, None) * np.clip(
        np.minimum(x1, 1) - np.maximum(x0, 0), 0, None
    )
    return inside / np.maximum((y1 - y0) * (x1 - x0), 1e-9)


def test_box_coverage_trains_the_regressor_beyond_the_object_cells(tfds_dir, tmp_path):
    # The regressor's cells (channel 4) follow `detect.box_coverage`; the
    # classes (channel 6) keep `positive_coverage`. Bugs caught: the option
    # ignored (the same mask), or also applied to the class labels.
    build(DATASET, tfds_dir)
    config = _config(tfds_dir, tmp_path)
    config.detect.scale_sides = (133,)
    config.detect.positive_coverage = 0.7
    config.train.deterministic = True  # the same scenes in the same order
    raw, _ = load_split(DATASET, "train", tfds_dir)
    batches = {}
    for coverage in (None, 0.3):
        config.detect.box_coverage = coverage
        task = DetectTask(config)
        task.validate(config)
        model, _ = task.build(config)
        data = task.train_dataset(raw.take(8), config, model.spec, 4, 0)
        batches[coverage] = [y.numpy() for _, y in data]
    grew = 0
    for strict, loose in zip(batches[None], batches[0.3], strict=True):
        np.testing.assert_array_equal(strict[..., 6], loose[..., 6])
        tight, wide = strict[..., 4] > 0, loose[..., 4] > 0
        assert not (tight & ~wide).any()
        grew += int((wide & ~tight).sum())
        held = _held(loose[..., :4])
        assert (held[wide] >= 0.3 - 1e-4).all()
        assert (held[tight] >= 0.7 - 1e-4).all()
        # Every object cell trains the regressor either way.
        objects = (strict[..., 6] >= 0) & (strict[..., 6] < 10)
        assert not (objects & ~tight).any()
    assert grew > 0


def test_detect_checks_its_settings_before_building(tfds_dir, tmp_path):
    config = _config(tfds_dir, tmp_path)
    config.detect.scale_sides = (97, 100)
    with pytest.raises(ValueError, match=r"100 is not 85 \+ a multiple of .* 12"):
        DetectTask(config).validate(config)
    config.detect.scale_sides = (97,)
    config.detect.box_coverage = 0.0
    with pytest.raises(ValueError, match=r"box_coverage must be in \(0, 1\].*0\.0"):
        DetectTask(config).validate(config)
    config.detect.init_from = str(tmp_path / "nothing")
    out = run_cli(
        "train", "detect", "--preset", "fashion_detect", "--set",
        f"detect.init_from={tmp_path / 'nothing'}",
    )  # fmt: skip
    assert out.returncode == 2
    assert "no classification model" in out.stderr and "nothing" in out.stderr


def test_coco_ap_of_hand_made_detections():
    # Two images, three true boxes. A perfect answer has AP 1; a box shifted
    # to IoU 0.6 with its truth counts at 0.5 but not at 0.75; a wrong class
    # or nothing counts nowhere.
    truth = [
        {"boxes": [[10, 10, 50, 50], [60, 60, 90, 100]], "labels": [0, 1],
         "height": 120, "width": 120},
        {"boxes": [[0, 0, 40, 80]], "labels": [1], "height": 100, "width": 100},
    ]  # fmt: skip
    perfect = [
        {"boxes": t["boxes"], "scores": [0.9] * len(t["labels"]),
         "classes": t["labels"]}
        for t in truth
    ]  # fmt: skip
    ap = coco_ap(truth, perfect, 2)
    assert ap == {"AP": 1.0, "AP50": 1.0, "AP75": 1.0}
    # [0, 0, 40, 80] against [0, 16, 40, 96]: overlap 64 of 96 columns, IoU 2/3.
    shifted = [
        perfect[0],
        {"boxes": [[0, 16, 40, 96]], "scores": [0.8], "classes": [1]},
    ]
    ap = coco_ap(truth, shifted, 2)
    # AP is a mean over classes: class 0 keeps 1; class 1 finds one of two
    # boxes at IoU 0.75, precision 1 up to recall 1/2: 51 of COCO's 101
    # recall points.
    assert ap["AP50"] == 1.0
    assert ap["AP75"] == pytest.approx((1.0 + 51 / 101) / 2)
    wrong = [perfect[0], {"boxes": [[0, 0, 40, 80]], "scores": [0.8], "classes": [0]}]
    assert coco_ap(truth, wrong, 2)["AP50"] < 0.8
    nothing = [{"boxes": np.zeros((0, 4)), "scores": [], "classes": []}] * 2
    assert coco_ap(truth, nothing, 2) == {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with pytest.raises(ValueError, match="2 images of ground truth but 1"):
        coco_ap(truth, perfect[:1], 2)
