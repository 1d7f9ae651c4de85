"""Detection (paper 5): cell labels, negatives mined on the fly, the pipeline."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize
from references import detection_labels as reference_labels

from overfeat_tf.models import OverFeat, as_detector
from overfeat_tf.ops.boxes import coverage, detection_labels, encode, window_grid
from overfeat_tf.ops.detect import MultiScaleDetector, detect_maps
from overfeat_tf.train.tasks import mine_negatives

OBJECTS = 3  # object classes of the test detectors; background is class 3


def test_cell_labels_of_hand_worked_windows():
    windows = window_grid(3, 4, 10, 20).numpy()  # 20 px windows every 10 px
    boxes = np.array(
        [
            [0, 0, 16, 16],  # 16x16: whole in window (0, 0), big enough
            [22, 22, 28, 28],  # 6x6: too small for any window (0.3 of its side)
            [10, 30, 40, 60],  # 30x30: no window holds half of it
        ],
        np.float32,
    )
    got = detection_labels(windows, boxes, [2, 1, 0], background=3).numpy()
    # By hand (rows = y 0/10/20, cols = x 0/10/20/30; overlap = intersection
    # over the smaller of box and window):
    # (0,0) [0,0,20,20] holds box 0 whole -> 2.
    # (0,1) [0,10,20,30] holds 16x6 of box 0 (38% of it: not positive,
    #       touches 0.375 > 0.2) -> ignored.
    # (0,2) [0,20,20,40]: box 2 overlaps 10x10 = 25% of the window -> ignored.
    # (0,3) [0,30,20,50]: box 2 overlaps 10x20 = 50% -> ignored.
    # (1,0) [10,0,30,20]: box 0 6x16 = 37.5% of it -> ignored.
    # (1,1) [10,10,30,30]: box 1 whole (too small), touches 1.0 -> ignored.
    # (1,2), (1,3), (2,2), (2,3): inside box 2's area by 50%+ of the window.
    # (2,0) [20,0,40,20]: touches nothing -> background.
    # (2,1) [20,10,40,30]: holds box 1 whole -> ignored.
    want = np.array(
        [
            [2, -1, -1, -1],
            [-1, -1, -1, -1],
            [3, -1, -1, -1],
        ]
    )
    np.testing.assert_array_equal(got, want)
    # Box 2 at half the size threshold becomes positive where a window holds it.
    got = detection_labels(windows, boxes, [2, 1, 0], 3, min_box_size=0.2).numpy()
    assert got[1, 1] == 1  # box 1 (6 px) >= 0.2 * 20 px now
    empty = detection_labels(windows, np.zeros((0, 4)), np.zeros(0, np.int32), 3)
    np.testing.assert_array_equal(empty.numpy(), np.full((3, 4), 3))


@pytest.mark.parametrize("seed", range(6))
def test_cell_labels_equal_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    windows = window_grid(6, 7, 12, 40).numpy()
    n = int(rng.integers(0, 7))
    corner = rng.uniform(0, 100, (n, 2))
    size = rng.uniform(4, 70, (n, 2))
    boxes = np.concatenate([corner, corner + size], 1).astype(np.float32)
    labels = rng.integers(0, 5, n)
    settings = dict(
        positive_coverage=rng.uniform(0.3, 0.8),
        min_box_size=rng.uniform(0.2, 0.8),
        negative_overlap=rng.uniform(0.05, 0.4),
    )
    got = detection_labels(windows, boxes, labels, 5, **settings).numpy()
    want = reference_labels(windows, boxes, labels, 5, *settings.values())
    np.testing.assert_array_equal(got, want)


def test_mining_keeps_positives_the_hardest_and_random_negatives():
    bg = 4
    labels = np.array([[0, bg, bg, -1, 2, bg, bg, bg, -1, bg]] * 2)
    losses = np.array(
        [
            [0.1, 5.0, 0.2, 9.0, 0.3, 3.0, 0.1, 4.0, 8.0, 0.5],
            [0.1, 0.1, 0.2, 9.0, 0.3, 0.1, 6.0, 0.1, 8.0, 7.0],
        ],
        np.float32,
    )
    # Hard only: the two background cells of highest loss per image (ignored
    # cells 3 and 8 have the highest losses of all and must never count).
    got = mine_negatives(labels, losses, bg, random=0, hard=2).numpy()
    want = np.zeros_like(got)
    want[:, [0, 4]] = True  # positives
    want[0, [1, 7]] = True
    want[1, [6, 9]] = True
    np.testing.assert_array_equal(got, want)
    # Random: 3 more background cells, never a chosen, positive or ignored one.
    for s in range(5):
        got = mine_negatives(labels, losses, bg, 3, 2, seed=[s, 1]).numpy()
        assert (got.sum(1) == 2 + 2 + 3).all()
        assert not got[:, [3, 8]].any()
        assert got[:, [0, 4]].all() and got[want].all()
    # More asked than there are: all background cells, no error.
    got = mine_negatives(labels, losses, bg, 10, 10).numpy()
    np.testing.assert_array_equal(got, labels >= 0)


def _detector(regressor="single", seed=0):
    base = OverFeat("tiny_accurate", num_classes=OBJECTS)
    randomize(base, seed)
    return as_detector(base, regressor=regressor)


def _plant(maps, truth, truth_classes, per_class, rng):
    """Sets every map by hand: cells whose window holds half of a planted box
    (the first such box) say its class with probability 0.5-0.9 and regress
    exactly that box; other cells say background (0.9) and regress noise.
    Returns, per planted box, the probabilities of its cells (the reference
    scores)."""
    votes = [[] for _ in truth]
    classes = OBJECTS + 1
    for m in maps:
        windows = m["boxes"].numpy()  # [h, w, 4] pixels
        h, w = windows.shape[:2]
        batch = m["probabilities"].shape[0]
        probs = np.full((batch, h, w, classes), 0.1 / OBJECTS, np.float32)
        probs[..., -1] = 0.9
        width = 4 * classes if per_class else 4
        regression = rng.normal(0, 1, (batch, h, w, width)).astype(np.float32)
        taken = np.zeros((h, w), bool)
        for k, (box, cls) in enumerate(zip(truth, truth_classes, strict=True)):
            held = (coverage(box, windows).numpy() >= 0.5) & ~taken
            taken |= held
            p = rng.uniform(0.5, 0.9, (batch, h, w)).astype(np.float32)
            probs[:, held] = 0.0
            probs[:, held, cls] = p[:, held]
            probs[:, held, -1] = 1 - p[:, held]
            votes[k] += list(p[:, held].ravel())
            t = encode(box, windows, m["flipped"]).numpy()
            at = slice(4 * cls, 4 * cls + 4) if per_class else slice(0, 4)
            regression[:, held, at] = t[held]
        m["probabilities"] = tf.constant(probs)
        m["regression"] = tf.constant(regression)
    return votes


@pytest.mark.parametrize("regressor", ["single", "per_class"])
def test_planted_boxes_come_out_of_merge_and_nms(regressor):
    det = _detector(regressor)
    rng = np.random.default_rng(4)
    detector = MultiScaleDetector(det, scales=[0, 2], threshold=0.3)
    image = rng.uniform(0, 255, (1, 120, 140, 3)).astype(np.float32)
    truth = np.array([[10, 12, 80, 90], [50, 60, 115, 135]], np.float32)
    maps = detector.maps(image)
    votes = _plant(maps, truth, [1, 2], regressor == "per_class", rng)
    assert all(len(v) >= 2 for v in votes)  # several windows per planted box
    merged = detect_maps(maps, [120, 140], 0.3, "merge", max_detections=4)
    nms = detect_maps(maps, [120, 140], 0.3, "nms", nms_iou=0.5, max_detections=4)
    for out, score in ((merged, sum), (nms, max)):
        out = {k: v.numpy()[0] for k, v in out.items()}
        assert out["num_detections"] == 2
        order = np.argsort(-np.array([score(v) for v in votes]))
        np.testing.assert_array_equal(out["classes"][:2], np.array([1, 2])[order])
        np.testing.assert_allclose(out["boxes"][:2], truth[order], atol=1e-3)
        want = [score(votes[k]) for k in order]
        np.testing.assert_allclose(out["scores"][:2], want, rtol=1e-5)
        assert not out["boxes"][2:].any() and not out["scores"][2:].any()


@pytest.mark.parametrize("method", ["merge", "nms"])
def test_padded_outputs_for_no_one_and_many_boxes(method):
    det = _detector()
    rng = np.random.default_rng(5)
    detector = MultiScaleDetector(det, scales=[0], flips=False)
    maps = detector.maps(rng.uniform(0, 255, (2, 97, 97, 3)).astype(np.float32))
    windows = maps[0]["boxes"].numpy()
    _plant(maps, np.zeros((0, 4), np.float32), [], False, rng)
    out = detect_maps(maps, [97, 97], 0.3, method, max_detections=3)
    assert out["boxes"].shape == (2, 3, 4) and out["scores"].shape == (2, 3)
    np.testing.assert_array_equal(out["num_detections"], [0, 0])
    assert not out["boxes"].numpy().any() and not out["scores"].numpy().any()
    # One cell over the threshold: one box, its own, in image 1 only.
    probs = maps[0]["probabilities"].numpy()
    probs[1, 0, 1] = [0.0, 0.7, 0.0, 0.3]
    maps[0]["probabilities"] = tf.constant(probs)
    regression = maps[0]["regression"].numpy()
    regression[1, 0, 1] = [0.1, 0.2, 0.6, 0.9]
    maps[0]["regression"] = tf.constant(regression)
    out = {
        k: v.numpy()
        for k, v in detect_maps(maps, [97, 97], 0.3, method, max_detections=3).items()
    }
    np.testing.assert_array_equal(out["num_detections"], [0, 1])
    wy0, wx0, wy1, wx1 = windows[0, 1]
    box = [wy0 + 0.1 * 85, wx0 + 0.2 * 85, wy0 + 0.6 * 85, wx0 + 0.9 * 85]
    np.testing.assert_allclose(out["boxes"][1, 0], np.clip(box, 0, 97), atol=1e-3)
    np.testing.assert_allclose(out["scores"][1], [0.7, 0, 0], atol=1e-6)
    assert out["classes"][1, 0] == 1
    # Many: four far-apart boxes of one class, three kept, best first.
    probs[1] = [0.0, 0.0, 0.0, 1.0]
    cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for n, (i, j) in enumerate(cells):
        probs[1, i, j] = [0.0, 0.0, 0.5 + 0.1 * n, 0.5 - 0.1 * n]
        regression[1, i, j] = [0.02 * n, 0.0, 0.02 * n + 0.05, 0.05]  # tiny, apart
    maps[0]["probabilities"] = tf.constant(probs)
    maps[0]["regression"] = tf.constant(regression)
    out = {
        k: v.numpy()
        for k, v in detect_maps(maps, [97, 97], 0.3, method, max_detections=3).items()
    }
    np.testing.assert_array_equal(out["num_detections"], [0, 3])
    np.testing.assert_allclose(out["scores"][1], [0.8, 0.7, 0.6], atol=1e-6)
    assert (out["classes"][1] == 2).all()
    # A least final score: the rows under it are dropped and zeroed.
    out = detect_maps(maps, [97, 97], 0.3, method, min_score=0.65, max_detections=3)
    out = {k: v.numpy() for k, v in out.items()}
    np.testing.assert_array_equal(out["num_detections"], [0, 2])
    np.testing.assert_allclose(out["scores"][1], [0.8, 0.7, 0.0], atol=1e-6)
    assert not out["boxes"][1, 2].any() and out["boxes"][1, :2].any(1).all()
    # At the boundary: a box scoring exactly `min_score` is kept by both
    # methods ("at least"), and dropped one float32 step above it.
    at = float(probs[1, 1, 0, 2])  # the 0.7 cell's float32 probability
    above = float(np.nextafter(np.float32(at), np.float32(1)))
    for least, count in ((at, 2), (above, 1)):
        out = detect_maps(
            maps, [97, 97], 0.3, method, min_score=least, max_detections=3
        )
        np.testing.assert_array_equal(out["num_detections"].numpy(), [0, count])


def test_as_detector_keeps_the_classifier_and_adds_background():
    base = OverFeat("tiny_accurate", num_classes=OBJECTS, regressor="single")
    randomize(base, 1)
    det = as_detector(base)
    assert det.background and det.num_classes == OBJECTS + 1
    assert det.background_class == OBJECTS and det.num_object_classes == OBJECTS
    last = base.spec.full_layers[-1].name
    for layer in base.layers:
        weights = det.get_layer(layer.name).get_weights()
        for a, b in zip(layer.get_weights(), weights, strict=True):
            if layer.name == last:
                np.testing.assert_array_equal(b[..., :OBJECTS], a)
                assert not b[..., OBJECTS:].any()  # background starts at zero
            else:
                np.testing.assert_array_equal(a, b)
    # Other data's classes: a new class layer, the rest kept.
    other = as_detector(base, num_object_classes=1)
    assert other.num_classes == 2
    np.testing.assert_array_equal(
        other.get_layer("conv1").get_weights()[0],
        base.get_layer("conv1").get_weights()[0],
    )
    with pytest.raises(ValueError, match="not a detector"):
        MultiScaleDetector(base)


def _background_heavy_detector(regressor):
    """A detector whose background column outweighs every object's at every
    cell (object columns still differing from cell to cell), regressing boxes
    near their windows, so cells of one class merge."""
    det = _detector(regressor, seed=6)
    fc9 = det.get_layer("fc9")
    fc9.kernel.assign(fc9.kernel * 0.05)
    bias = np.zeros(OBJECTS + 1, np.float32)
    bias[-1] = 3.0
    fc9.bias.assign(bias)
    last = det.get_layer("regress3")
    last.kernel.assign(last.kernel * 0.05)
    last.bias.assign(np.resize(np.float32([0.2, 0.1, 0.8, 0.9]), last.bias.shape))
    return det


@pytest.mark.parametrize("regressor", ["single", "per_class"])
def test_a_detector_classifies_and_localizes_objects_only(regressor):
    """Whole-image classification and localization of a detector vote over
    its object classes: each window's object probabilities are its softmax
    over every class (background included), never renormalised without
    background, and background is neither returned nor localized."""
    from overfeat_tf.ops.localize import MultiScaleLocalizer, localize_maps
    from overfeat_tf.ops.multiscale import MultiScaleClassifier

    det = _background_heavy_detector(regressor)
    images = np.random.default_rng(7).uniform(0, 255, (2, 110, 130, 3))
    images = images.astype(np.float32)
    classifier = MultiScaleClassifier(det, scales=[0, 2], top_k=OBJECTS)
    maps = classifier.maps(images, regress=True)
    probs = [m["probabilities"].numpy() for m in maps]
    assert all(p.shape[-1] == OBJECTS + 1 for p in probs)
    assert all((p.argmax(-1) == OBJECTS).all() for p in probs)
    want = np.mean([p[..., :OBJECTS].max(axis=(1, 2)) for p in probs], axis=0)
    out = classifier(images)
    np.testing.assert_allclose(out["probabilities"].numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(out["classes"].numpy(), np.argsort(-want, 1))
    with pytest.raises(ValueError, match=r"top_k must be in 1\.\.3"):
        MultiScaleClassifier(det, top_k=OBJECTS + 1)

    # Localization: the merge of the same cells with the background column
    # taken out by hand (a per-class regressor's background boxes with it).
    # Background peaks highest at every scale, so a localizer that ranks it
    # among the top k localizes k - 1 object classes, and none at k = 1.
    trimmed = []
    for m in maps:
        m = dict(m, probabilities=m["probabilities"][..., :OBJECTS])
        if regressor == "per_class":
            m["regression"] = m["regression"][..., : 4 * OBJECTS]
        trimmed.append(m)
    for top_k in (1, 2):
        localizer = MultiScaleLocalizer(
            det, scales=[0, 2], top_k=top_k, max_detections=4
        )
        got = {k: v.numpy() for k, v in localizer(images).items()}
        assert got["num_detections"].min() >= 1
        assert got["classes"].max() < OBJECTS
        want = localize_maps(trimmed, [110, 130], top_k=top_k, max_detections=4)
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value.numpy(), rtol=1e-5, atol=1e-4)
    # At k = 1 and one scale, the class localized is the object class with
    # the highest spatial maximum over both flips (NumPy).
    one = MultiScaleLocalizer(det, scales=[2], top_k=1, max_detections=4)
    got = one(images)
    peaks = np.max(
        [
            m["probabilities"][..., :OBJECTS].numpy().max((1, 2))
            for m in one.maps(images)
        ],
        axis=0,
    )
    for b in range(2):
        n = int(got["num_detections"][b])
        assert n >= 1
        assert set(got["classes"][b, :n].numpy()) == {peaks[b].argmax()}
