"""`overfeat demo`, shortened: trains, exports, evaluates through the SavedModel."""

import os
import re

import pytest
from conftest import build, run_cli


@pytest.mark.slow
def test_demo_end_to_end_short(tfds_dir, tmp_path):
    build("fashion_scenes/classification", tfds_dir)
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
