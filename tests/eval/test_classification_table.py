"""Table 2 (`overfeat_tf.eval.classification`): every vote of the table
equals `MultiScaleClassifier` run with that vote's settings."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize

from overfeat_tf.eval.classification import (
    Vote,
    maxima_function,
    vote_accuracy,
    vote_probabilities,
    vote_table,
)
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import MultiScaleClassifier
from overfeat_tf.specs import get_spec

CLASSES = 7


def _model(seed):
    model = OverFeat("tiny_accurate", num_classes=CLASSES)
    randomize(model, seed)
    return model


def test_votes_equal_the_multiscale_classifier():
    # Catches a table that mislabels its passes: mirrored and plain maxima
    # swapped or interleaved wrongly, scale i read from another scale's
    # slot, fine and coarse maps exchanged, flips dropped from "+ flips".
    rng = np.random.default_rng(0)
    model = _model(0)
    images = tf.constant(rng.uniform(0, 255, (2, 53, 81, 3)), tf.float32)
    maxima = {
        fine: maxima_function(model, fine)(images).numpy() for fine in (True, False)
    }
    for vote in (
        Vote((0,), flips=False, fine=True),
        Vote((2, 4), flips=False, fine=False),
        Vote((1, 3, 5), flips=True, fine=False),
        Vote((0, 1, 2, 3, 4, 5), flips=True, fine=True),
    ):
        want = MultiScaleClassifier(
            model, scales=vote.scales, flips=vote.flips, fine=vote.fine
        )(images)["probabilities"]
        np.testing.assert_allclose(
            vote_probabilities(maxima, vote),
            want,
            rtol=1e-5,
            atol=1e-7,
            err_msg=vote.label,
        )


def test_vote_accuracy_counts_top1_and_top5_by_rank():
    # One scale, no flips: the maxima are the class vector, ranking the
    # classes 0, 1, ..., 6. The four images' labels rank first, fifth,
    # sixth and second.
    # Catches a top-5 that counts four or six guesses, a top-1 from the
    # lowest score, and labels matched to the wrong images.
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]] * 4, np.float32)
    maxima = np.zeros((4, 1, 2, CLASSES), np.float32)
    maxima[:, 0, 0] = scores
    labels = np.array([0, 4, 5, 1])
    result = vote_accuracy({True: maxima}, labels, Vote((0,), flips=False))
    assert result == {"top1": 0.25, "top5": 0.75}


def test_vote_table_scores_each_example_against_its_own_label():
    # Catches labels shifted against the images, within or across batches
    # (batch size 2 over 5 images), or read from the wrong key.
    model = _model(3)
    # Horizontal ramps of rising contrast: this model's top-1 differs
    # between them (checked below), so a misaligned label shows.
    ramp = np.linspace(0.0, 1.0, 72)[None, :, None]
    images = np.stack(
        [np.broadcast_to(ramp * v, (60, 72, 3)) for v in (96, 128, 0, 160, 224)]
    ).astype(np.uint8)
    votes = [Vote((0, 1), True, True), Vote((3,), False, False)]
    top1 = [
        MultiScaleClassifier(model, scales=v.scales, flips=v.flips, fine=v.fine)(
            tf.constant(images, tf.float32)
        )["classes"][:, 0].numpy()
        for v in votes
    ]
    labels = top1[0]
    assert len(set(labels[:2])) == 2 and len(set(labels)) > 1, labels
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    table = vote_table(model, ds, votes=votes, batch_size=2, progress=False)
    assert table["examples"] == 5
    assert table["rows"][0]["top1"] == 1.0
    assert table["rows"][1]["top1"] == pytest.approx(np.mean(top1[1] == labels))
    assert [r["label"] for r in table["rows"]] == [v.label for v in votes]


@pytest.mark.parametrize("n_scales", [6, 7])
def test_default_rows_end_with_every_scale_once(n_scales):
    # A detector's spec has seven scales (fashion_detect) and its default
    # export votes over all seven: the table must hold that row, where the
    # paper's sets stop at six, and hold the six-scale row once, not twice,
    # for a six-scale spec. Catches the export's own vote missing from
    # Table 2 (bench/table2.py) and a duplicated last row.
    spec = get_spec("tiny_accurate")
    sides = [spec.window + 12 * m for m in range(n_scales)]
    spec = dataclasses.replace(spec, scales=tuple((s, s) for s in sides))
    model = OverFeat(spec, num_classes=CLASSES)
    randomize(model, 4)
    images = np.random.default_rng(4).uniform(0, 255, (2, 40, 48, 3))
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": images.astype(np.uint8), "label": np.array([1, 2])}
    )
    table = vote_table(model, ds, progress=False)
    sets = [tuple(r["scales"]) for r in table["rows"] if r["fine"] and r["flips"]]
    assert sets[:n_scales] == [(i,) for i in range(n_scales)]
    assert sets.count(tuple(range(n_scales))) == 1
    assert sets[-1] == tuple(range(n_scales))
    assert len(table["rows"]) == 4 * len(sets)


def test_vote_table_runs_only_the_strides_its_votes_read(monkeypatch):
    # Fine votes only (bench/scales_by_size.py's): no coarse passes. Catches
    # a table that runs both strides whatever its votes, twice the work.
    import overfeat_tf.eval.classification as table

    built = []

    def recording(model, fine=True, mode="aspect"):
        built.append(fine)
        return maxima_function(model, fine, mode)

    monkeypatch.setattr(table, "maxima_function", recording)
    images = np.random.default_rng(5).uniform(0, 255, (2, 40, 48, 3))
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": images.astype(np.uint8), "label": np.array([1, 2])}
    )
    rows = vote_table(_model(5), ds, votes=[Vote((0, 1))], progress=False)["rows"]
    assert built == [True] and len(rows) == 1
