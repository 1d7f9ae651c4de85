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
# A table row: model, then "a% / b%" twice and "x / y" twice.
ROW = re.compile(
    r"^\| ([^|]+?) \| ([\d.]+)% / ([\d.]+)% \| ([\d.]+)% / ([\d.]+)% \| "
    r"([\d.]+) / ([\d.]+) \| ([\d.]+) / ([\d.]+) \|$",
    re.M,
)


@pytest.mark.slow
def test_demo_end_to_end_short(tfds_dir, tmp_path):
    for _, dataset in DEMO_SPLITS:
        build(dataset, tfds_dir)
    saved = tmp_path / "sm" / "fashion_demo"
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
        # The model beside the run's: the run's own export (the committed
        # model's seven scales would take minutes), so both rows must agree.
        "--committed",
        str(saved),
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
    # Each stage says when it starts and ends.
    for step in range(1, 8):
        assert f"[{step}/7]" in text
    assert text.count("      done in ") == 7
    assert "(1 epochs of 6 steps)" in text  # --set over the quick schedule
    assert f"{LIMIT} classify, {LIMIT} localize, {LIMIT} detect" in text
    rows = ROW.findall(text)
    assert [r[0] for r in rows] == ["this run", str(saved / "1")], text[-2000:]
    run_row, committed_row = rows
    top1, top5, error1, error5 = map(float, run_row[1:5])
    assert 0 <= top1 <= top5 <= 100
    assert 0 <= error5 <= error1 <= 100
    assert all(0 <= float(v) <= 1 for v in run_row[5:])
    # The same SavedModel on the same scenes: the same numbers. Catches the
    # second row evaluated on other scenes (or another split).
    assert committed_row[1:] == run_row[1:]
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
    assert round(metrics["detect"]["merge"]["AP50"], 3) == float(run_row[5])
    assert round(metrics["detect"]["nms"]["AP50"], 3) == float(run_row[6])
    assert metrics["committed"]["saved_model"] == str(saved / "1")
    stages = metrics["stages"]
    assert list(stages) == [
        "datasets",
        "classify",
        "detect",
        "export",
        "evaluate",
        "committed",
        "pictures",
    ]
    assert all(s > 0 for s in stages.values())
    assert sum(stages.values()) <= metrics["seconds"]
    assert (run / "model" / "model.keras").is_file()
    assert (run / "detect" / "model" / "model.keras").is_file()
    for task, _ in DEMO_SPLITS:
        with Image.open(run / "pictures" / f"{task}.png") as picture:
            assert picture.width > 4 * 112 and picture.height > 4 * 112
    # Four localized (128 px) and four detected (192 px) scenes, of each model.
    assert metrics["pictures"][-2:] == [
        str(run / "pictures" / "overview.png"),
        str(run / "pictures" / "committed.png"),
    ]
    for name in ("overview.png", "committed.png"):
        with Image.open(run / "pictures" / name) as picture:
            assert picture.width >= 4 * 192 and picture.height >= 128 + 192
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
