"""`overfeat demo`, shortened: trains, exports, evaluates through the SavedModel."""

import os
import re

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import build, run_cli

DATASET = "fashion_scenes/classification"


@pytest.mark.slow
def test_demo_end_to_end_short(tfds_dir, tmp_path):
    build(DATASET, tfds_dir)
    out = run_cli(
        "demo",
        "--out",
        str(tmp_path / "sm"),
        "--run-dir",
        str(tmp_path / "run"),
        "--data-dir",
        tfds_dir,
        "--set",
        "train.epochs=2",
        "--set",
        "train.steps_per_epoch=20",
        # One scale, no flips: the SavedModel classifies the 1000 test scenes
        # in seconds (the preset's six scales and flips take twelve passes).
        "--set",
        "export.scales=[0]",
        "--set",
        "export.flips=false",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for step in ("[1/3] Training", "[2/3] Exporting", "[3/3] Classifying"):
        assert step in text
    match = re.search(
        r"Test split \((\d+) images\): top-1 ([\d.]+)%, top-5 ([\d.]+)%", text
    )
    assert match, text[-2000:]
    assert int(match.group(1)) == 1000
    top1, top5 = float(match.group(2)), float(match.group(3))
    assert 0 <= top1 <= top5 <= 100
    assert os.path.isfile(tmp_path / "sm" / "fashion_demo" / "1" / "saved_model.pb")
    assert os.path.isfile(tmp_path / "sm" / "models.config")
    # The printed accuracy is the SavedModel's on the test split's labels,
    # counted here afresh. Catches an evaluation that scores the wrong
    # labels (shifted, another split's) or the wrong outputs.
    serving = tf.saved_model.load(str(tmp_path / "sm" / "fashion_demo" / "1"))
    classify = serving.signatures["classify_images"]
    test = tfds.load(DATASET, split="test", data_dir=tfds_dir)
    hits1 = hits5 = 0
    for batch in tfds.as_numpy(test.batch(200)):
        classes = classify(images=tf.constant(batch["image"]))["classes"].numpy()
        hits1 += int((classes[:, 0] == batch["label"]).sum())
        hits5 += int((classes == batch["label"][:, None]).any(axis=1).sum())
    assert top1 == pytest.approx(hits1 / 10, abs=0.051)
    assert top5 == pytest.approx(hits5 / 10, abs=0.051)
