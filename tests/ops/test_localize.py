"""Localization: the regressor run densely, box targets, the merged pipeline."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat, with_regressor
from overfeat_tf.ops import FORMULATIONS, DenseClassifier
from overfeat_tf.ops.boxes import decode, encode, regression_targets, window_grid
from overfeat_tf.ops.localize import MultiScaleLocalizer, localize_maps
from overfeat_tf.ops.multiscale import MultiScaleClassifier


def _model(spec, regressor, seed, classes=5):
    model = OverFeat(spec, num_classes=classes, regressor=regressor)
    randomize(model, seed)
    return model


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("regressor", ["single", "per_class"])
def test_dense_box_map_equals_regressor_on_every_crop(regressor, formulation):
    # The central invariant, for the regressor: cell (i, j) of the fine map is
    # the network's box output for the crop at (i s, j s) (unpadded network).
    model = _model("tiny_accurate_valid", regressor, 3)
    dense = DenseClassifier(model, formulation)
    spec, s = model.spec, geometry.fine_stride(model.spec)
    w = spec.window
    image = np.random.default_rng(1).uniform(0, 255, (2, w + 2 * s, w + 3 * s, 3))
    image = image.astype(np.float32)
    got = dense.regress_features(dense.features(image)).numpy()
    assert got.shape == (2, 3, 4, 4 * (5 if regressor == "per_class" else 1))
    crops = [
        image[:, i * s : i * s + w, j * s : j * s + w]
        for i in range(3)
        for j in range(4)
    ]
    want = model.predict(np.concatenate(crops), verbose=0)["boxes"][:, 0, 0]
    want = want.reshape(3, 4, 2, -1).transpose(2, 0, 1, 3)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _numpy_targets(box, image_hw, size, flipped, i, j, stride, window):
    """Reference: the box as the network sees it at cell (i, j) of a scale.

    The original image is resized to `size` (and mirrored when `flipped`);
    the cell's window is at (i s, j' s) of that image, j' counted in the
    network's own (possibly mirrored) columns.
    """
    sy, sx = size[0] / image_hw[0], size[1] / image_hw[1]
    y0, x0, y1, x1 = box[0] * sy, box[1] * sx, box[2] * sy, box[3] * sx
    cols = (size[1] - window) // stride + 1
    if flipped:
        x0, x1 = size[1] - x1, size[1] - x0
        j = cols - 1 - j  # the maps list mirrored columns left to right
    oy, ox = i * stride, j * stride
    return np.array([y0 - oy, x0 - ox, y1 - oy, x1 - ox]) / window


@pytest.mark.parametrize("mode", ["aspect", "fixed"])
def test_targets_round_trip_at_every_scale_and_flip(mode):
    model = _model("tiny_accurate", "single", 0)
    clf = MultiScaleClassifier(model, mode=mode)
    image_hw = (150, 97)
    maps = clf.maps(np.zeros((1, *image_hw, 3), np.float32))
    stride, window = geometry.fine_stride(model.spec), model.spec.window
    rng = np.random.default_rng(0)
    assert len(maps) == 12
    for m in maps:
        windows = m["boxes"].numpy()
        size = tuple(m["size"].numpy())
        box = np.sort(rng.uniform(0, 150, 4).reshape(2, 2), 0).T.ravel()[[0, 2, 1, 3]]
        box = np.array([box[0], box[1] * 97 / 150, box[2], box[3] * 97 / 150])
        targets = encode(box, windows, m["flipped"]).numpy()
        for i, j in [(0, 0), (windows.shape[0] - 1, windows.shape[1] - 1), (1, 0)]:
            i = min(i, windows.shape[0] - 1)
            want = _numpy_targets(
                box, image_hw, size, m["flipped"], i, j, stride, window
            )
            np.testing.assert_allclose(targets[i, j], want, atol=1e-4)
        back = decode(targets, windows, m["flipped"]).numpy()
        np.testing.assert_allclose(back, np.broadcast_to(box, back.shape), atol=1e-3)


def test_regression_targets_take_the_box_the_window_holds_most_of():
    windows = window_grid(3, 3, 10, 20).numpy()  # 20 px windows every 10 px
    boxes = np.array([[0, 0, 10, 10], [15, 15, 45, 25], [100, 100, 120, 130]])
    out = regression_targets(windows, boxes, [4, 2, 1])
    mask, labels = out["mask"].numpy(), out["labels"].numpy()
    # By hand: box 0 (10x10) lies whole in window (0, 0) = [0, 0, 20, 20] and
    # at most a quarter in the others. Box 1 (rows 15-45, cols 15-25): window
    # (1, 1) = [10, 10, 30, 30] holds rows 15-30, 1/2 of it; (2, 1) = [20, 10,
    # 40, 30] holds 2/3; (2, 2) = [20, 20, 40, 40] only 2/3 * 1/2. Box 2 is
    # outside the grid.
    expected = np.zeros((3, 3))
    expected[0, 0] = 1
    expected[1, 1] = expected[2, 1] = 1
    np.testing.assert_array_equal(mask, expected)
    assert labels[0, 0] == 4 and labels[1, 1] == 2 and labels[2, 1] == 2
    np.testing.assert_allclose(out["targets"][0, 0], [0, 0, 0.5, 0.5])
    np.testing.assert_allclose(out["targets"][2, 1], [-0.25, 0.25, 1.25, 0.75])
    assert not out["targets"].numpy()[mask == 0].any()
    empty = regression_targets(windows, np.zeros((0, 4)), np.zeros((0,), np.int64))
    assert not empty["mask"].numpy().any()


@pytest.mark.parametrize("regressor", ["single", "per_class"])
def test_a_regressor_giving_the_true_box_makes_the_pipeline_return_it(regressor):
    # Replace the regressor's output with the exact targets of a known box at
    # every cell, scale and flip: merging must give back that box, scored by
    # the sum of the class's probabilities over the cells that voted for it.
    classes = 5
    model = _model("tiny_accurate", regressor, 4, classes)
    loc = MultiScaleLocalizer(model, top_k=2, threshold=0.05, max_detections=8)
    image = np.random.default_rng(2).uniform(0, 255, (2, 120, 140, 3)).astype("f4")
    truth = np.array([[10.0, 30.0, 90.0, 100.0], [40.0, 5.0, 110.0, 60.0]])
    per_class_boxes = np.array(
        [[5 + 3 * c, 8, 70 + 4 * c, 120 - c] for c in range(classes)]
    )
    maps = loc.maps(image)
    for m in maps:
        w = m["boxes"][None]
        if regressor == "single":
            t = encode(truth[:, None, None], w, m["flipped"])
        else:
            t = encode(
                per_class_boxes[None, None, None], w[:, :, :, None], m["flipped"]
            )
            t = tf.reshape(
                tf.tile(t, [2, 1, 1, 1, 1]),
                tf.concat([tf.shape(t)[:3] * [2, 1, 1], [-1]], 0),
            )
        m["regression"] = t
    out = {k: v.numpy() for k, v in localize_maps(maps, [120, 140], 2, 0.05, 8).items()}
    for b in range(2):
        # Reference score per class: the probabilities of every cell of every
        # scale where the class is among that scale's top 2.
        votes = np.zeros(classes)
        for scale in sorted({m["scale"] for m in maps}):
            ms = [m for m in maps if m["scale"] == scale]
            peak = np.max([m["probabilities"][b].numpy().max((0, 1)) for m in ms], 0)
            for c in np.argsort(-peak, kind="stable")[:2]:
                votes[c] += sum(m["probabilities"][b, ..., c].numpy().sum() for m in ms)
        n = out["num_detections"][b]
        assert n == (votes > 0).sum()
        order = np.argsort(-votes)[:n]
        np.testing.assert_array_equal(out["classes"][b, :n], order)
        np.testing.assert_allclose(out["scores"][b, :n], votes[order], rtol=1e-4)
        for row, c in enumerate(order):
            want = truth[b] if regressor == "single" else per_class_boxes[c]
            np.testing.assert_allclose(out["boxes"][b, row], want, atol=1e-2)


def test_localizer_traced_once_and_boxes_inside_the_image():
    model = _model("tiny_fast", "single", 5)
    loc = MultiScaleLocalizer(model, scales=[0, 2], max_detections=3)
    rng = np.random.default_rng(0)
    for hw in [(90, 120), (130, 85)]:
        out = loc.localize(rng.uniform(0, 255, (1, *hw, 3)).astype(np.float32))
        boxes = out["boxes"].numpy()[0, : int(out["num_detections"][0])]
        assert len(boxes) and np.all(boxes >= 0)
        assert np.all(boxes[:, [0, 2]] <= hw[0]) and np.all(boxes[:, [1, 3]] <= hw[1])
    assert loc.localize.experimental_get_tracing_count() == 1


def test_with_regressor_keeps_features_and_classifier():
    base = _model("tiny_accurate", None, 6)
    model = with_regressor(base, "per_class")
    image = np.random.default_rng(0).uniform(0, 255, (1, 85, 85, 3)).astype("f4")
    np.testing.assert_array_equal(model(image)["predictions"], base(image))
    assert model(image)["boxes"].shape == (1, 1, 1, 20)
    with pytest.raises(ValueError, match="no box regressor"):
        MultiScaleLocalizer(base)
