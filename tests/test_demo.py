"""`overfeat demo`, shortened: classification, then detection with its box
regressor, one SavedModel, every task evaluated through it."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import build, run_cli
from PIL import Image

from overfeat_tf.demo import DEMO_SPLITS

LIMIT = 40  # test scenes evaluated per split


def _percent(text, label):
    match = re.search(rf"\| {label} \| [^|]+ \| ([\d.]+)% / ([\d.]+)% \|", text)
    assert match, text[-2000:]
    return float(match.group(1)), float(match.group(2))


@pytest.mark.slow
def test_demo_end_to_end_short(tfds_dir, tmp_path):
    for _, dataset in DEMO_SPLITS:
        build(dataset, tfds_dir)
    out = run_cli(
        "demo",
        "--out",
        str(tmp_path / "sm"),
        "--run-dir",
        str(tmp_path / "run"),
        "--data-dir",
        tfds_dir,
        "--limit",
        str(LIMIT),
        "--set",
        "train.epochs=1",
        "--set",
        "train.steps_per_epoch=6",
        "--set",
        "train.validation_steps=1",
        # One scale, no flips: the evaluations take seconds.
        "--set",
        "export.scales=[0]",
        "--set",
        "export.flips=false",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for step in range(1, 6):
        assert f"[{step}/5]" in text
    assert f"{LIMIT} classify, {LIMIT} localize, {LIMIT} detect" in text
    top1, top5 = _percent(text, "classification")
    assert 0 <= top1 <= top5 <= 100
    error1, error5 = _percent(text, "localization")
    assert 0 <= error5 <= error1 <= 100
    ap = re.search(r"\| detection \| AP50 [^|]+ \| ([\d.]+) / ([\d.]+) \|", text)
    assert ap and all(0 <= float(v) <= 1 for v in ap.groups()), text[-2000:]
    # The detector and the classifier each trained in the run folder.
    run = tmp_path / "run"
    # metrics.json holds what the table printed, and each step's seconds
    # within the total. Catches a file written before the evaluation or the
    # pictures (measures or steps missing), or one task's measures under
    # another's name. (Merge and NMS both score 0 this short: their order is
    # not checked here.)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 100 * metrics["classify"]["top1"] == pytest.approx(top1, abs=0.051)
    assert 100 * metrics["localize"]["error_top1"] == pytest.approx(error1, abs=0.051)
    assert round(metrics["detect"]["merge"]["AP50"], 3) == float(ap.group(1))
    assert round(metrics["detect"]["nms"]["AP50"], 3) == float(ap.group(2))
    stages = metrics["stages"]
    assert list(stages) == ["classify", "detect", "export", "evaluate", "pictures"]
    assert all(s > 0 for s in stages.values())
    assert sum(stages.values()) <= metrics["seconds"]
    assert (run / "model" / "model.keras").is_file()
    assert (run / "detect" / "model" / "model.keras").is_file()
    for task, _ in DEMO_SPLITS:
        with Image.open(run / "pictures" / f"{task}.png") as picture:
            assert picture.width > 4 * 112 and picture.height > 4 * 112
    # One SavedModel, every task's signatures, classify_bytes by default.
    version = tmp_path / "sm" / "fashion_demo" / "1"
    assert os.path.isfile(version / "saved_model.pb")
    serving = tf.saved_model.load(str(version))
    signatures = serving.signatures
    for name in ("classify", "localize", "detect"):
        assert {f"{name}_images", f"{name}_bytes"} <= set(signatures)
    # The printed accuracy is the SavedModel's on the test split's labels,
    # counted here afresh, and classify_bytes (serving_default) answers as
    # classify_images does. Catches an evaluation that scores the wrong
    # labels (shifted, another split's) or the wrong outputs, and a
    # detector that answers "background" to a classification request.
    test = tfds.load(DEMO_SPLITS[0][1], split=f"test[:{LIMIT}]", data_dir=tfds_dir)
    batch = next(iter(tfds.as_numpy(test.batch(LIMIT))))
    got = signatures["classify_images"](images=tf.constant(batch["image"]))
    classes = got["classes"].numpy()
    assert "background" not in {s.decode() for s in got["class_names"].numpy().ravel()}
    hits1 = int((classes[:, 0] == batch["label"]).sum())
    hits5 = int((classes == batch["label"][:, None]).any(axis=1).sum())
    assert top1 == pytest.approx(100 * hits1 / LIMIT, abs=0.051)
    assert top5 == pytest.approx(100 * hits5 / LIMIT, abs=0.051)
    encoded = [tf.io.encode_png(image).numpy() for image in batch["image"][:3]]
    by_bytes = signatures["serving_default"](image_bytes=tf.constant(encoded))
    np.testing.assert_array_equal(by_bytes["classes"], classes[:3])
