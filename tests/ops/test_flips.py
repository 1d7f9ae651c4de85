"""Where mirror images hide bugs: the flipped pass's boxes, both flips' class
maxima, the centred window of non-square images, mirrored training targets.

Every regressor here has random, asymmetric outputs: a symmetric one (or a
zero one) gives the same boxes whether or not the x offsets of the mirrored
pass are mirrored back, and hides exactly the bugs these tests are for.
"""

import numpy as np
import pytest
import references
import tensorflow as tf
from conftest import randomize

from overfeat_tf import geometry
from overfeat_tf.data.pipeline import localization_dataset
from overfeat_tf.models import OverFeat, as_detector
from overfeat_tf.ops.boxes import window_grid
from overfeat_tf.ops.detect import MultiScaleDetector
from overfeat_tf.ops.localize import cell_predictions, localize_center, localize_maps
from overfeat_tf.ops.multiscale import MultiScaleClassifier
from overfeat_tf.specs import get_spec

# Each box's mean edges in its window's frame: left and right at 0.15 and 0.6
# of the window, nowhere near symmetric about its centre (0.5).
EDGES = np.array([0.1, 0.15, 0.8, 0.6], np.float32)


def _tame_regressor(model, seed):
    """Random weights everywhere, but the regressor's last layer scaled down
    about `EDGES`: boxes vary from cell to cell and class to class by ~0.1 of
    the window, and mostly stay inside the image (He-scaled random outputs
    are hundreds of pixels off, and clipping to the image would hide them)."""
    randomize(model, seed)
    last = model.regressor_layers[-2]  # `boxes` (the last) has no weights
    kernel, bias = last.get_weights()
    rng = np.random.default_rng(seed)
    groups = bias.shape[-1] // 4
    jitter = rng.uniform(-0.05, 0.05, bias.shape).astype(np.float32)
    last.set_weights([kernel * 0.05, np.tile(EDGES, groups) + jitter])
    return model


def _mirror(boxes, width):
    """`[..., 4]` boxes mirrored in an image `width` wide: x' = width - x."""
    y0, x0, y1, x1 = np.moveaxis(np.asarray(boxes), -1, 0)
    return np.stack([y0, width - x1, y1, width - x0], -1)


def _image(shape, seed):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


# 1. The box regression of the mirrored pass.


@pytest.mark.parametrize("regressor", ["single", "per_class"])
def test_flipped_pass_gives_the_mirrored_images_boxes(regressor):
    # The mirrored pass of image X runs the network on mirror(resize(X)); the
    # unmirrored pass of mirror(X) on resize(mirror(X)), the same pixels. So
    # its cell j (counted left to right in X) must hold the probabilities and,
    # decoded, the mirror of the boxes of cell (cols - 1 - j) of mirror(X),
    # and the other way round. Catches: the regressed x offsets of the flipped
    # pass decoded as if unflipped (`decode(..., flipped)`), the regression
    # map not reversed with the class map (`maps`), the mirrored windows
    # misplaced, `cell_predictions` decoding every cell as unflipped.
    model = _tame_regressor(OverFeat("tiny_accurate", 4, regressor=regressor), 3)
    clf = MultiScaleClassifier(model, scales=[0, 1], top_k=2)
    width = 110
    image = _image((2, 70, width, 3), 0)
    maps = clf.maps(image, regress=True)
    mirrored_maps = clf.maps(image[:, :, ::-1], regress=True)
    for listed in (maps, mirrored_maps):
        assert [m["flipped"] for m in listed] == [False, True, False, True]
    for index in range(len(maps)):
        mine = maps[index]
        # The same pixels: X's flipped pass is mirror(X)'s unflipped one.
        theirs = mirrored_maps[index ^ 1]
        probs, boxes, _ = cell_predictions([mine])
        other_probs, other_boxes, _ = cell_predictions([theirs])
        rows, cols = mine["probabilities"].shape[1:3]
        boxes = boxes.numpy().reshape(2, rows, cols, -1, 4)
        other_boxes = other_boxes.numpy().reshape(2, rows, cols, -1, 4)[:, :, ::-1]
        np.testing.assert_allclose(
            boxes, _mirror(other_boxes, width), rtol=1e-4, atol=2e-3
        )
        probs = probs.numpy().reshape(2, rows, cols, -1)
        other_probs = other_probs.numpy().reshape(2, rows, cols, -1)[:, :, ::-1]
        np.testing.assert_allclose(probs, other_probs, rtol=1e-4, atol=1e-6)
        # Not vacuous: the boxes are inside the image and differ between the
        # cells, and the mirror of a box is not the box.
        assert 0 < boxes[..., 1].mean() < boxes[..., 3].mean() < width
        assert np.ptp(boxes[..., 1]) > 1.0
        assert np.abs(_mirror(boxes, width) - boxes).max() > 5.0


def test_detector_on_the_mirrored_image_gives_the_mirrored_detections():
    # End to end: with both flips, the detector sees the same windows for X and
    # mirror(X), each of X's unflipped cells being one of mirror(X)'s flipped
    # ones. The merged detections must be the mirrored ones, with the same
    # classes and scores (cells enter the merge in another order; the merge's
    # result does not depend on it beyond float rounding).
    base = OverFeat("tiny_accurate", num_classes=3)
    randomize(base, 4)
    detector = _tame_regressor(as_detector(base, regressor="per_class"), 5)
    detect = MultiScaleDetector(detector, scales=[0], threshold=0.0, max_detections=8)
    width = 110
    image = _image((1, 70, width, 3), 1)
    out = {k: v.numpy() for k, v in detect(image).items()}
    mirrored = {k: v.numpy() for k, v in detect(image[:, :, ::-1]).items()}
    n = out["num_detections"][0]
    assert n > 1 and mirrored["num_detections"][0] == n
    np.testing.assert_array_equal(mirrored["classes"], out["classes"])
    np.testing.assert_allclose(mirrored["scores"], out["scores"], rtol=1e-5)
    np.testing.assert_allclose(
        _mirror(mirrored["boxes"][0, :n], width), out["boxes"][0, :n], atol=1e-2
    )
    assert np.abs(_mirror(out["boxes"][0, :n], width) - out["boxes"][0, :n]).max() > 5


# 2. The top-k classes of a scale take both flips' maxima.


def _hand_maps(unflipped, flipped):
    """One scale, both flips, 2x3 cells of 3 classes: every cell has the
    `[3]` probabilities of its flip, except cell (1, 2), which has the
    second row given. Regression: each cell's own window."""
    windows = window_grid(2, 3, 12, 85)
    maps = []
    for flip, (rest, peak) in ((False, unflipped), (True, flipped)):
        probs = np.tile(np.float32(rest), (1, 2, 3, 1))
        probs[0, 1, 2] = peak
        maps.append(
            {
                "scale": 0,
                "flipped": flip,
                "size": tf.constant([97, 109]),
                "probabilities": tf.constant(probs),
                "boxes": windows,
                "regression": tf.constant(
                    np.tile(np.float32([0, 0, 1, 1]), (1, 2, 3, 1))
                ),
            }
        )
    return maps


def test_a_class_peaking_only_in_the_flipped_pass_is_chosen():
    # Classes A, B, C = 0, 1, 2. Unflipped map: C 0.7 everywhere but one cell
    # where A is 0.9. Flipped map: C 0.7 everywhere but one cell where B is
    # 0.8. Peak over both flips: A 0.9, B 0.8, C 0.7 -> the top 2 are {A, B}.
    # The unflipped pass alone would choose {A, C}; the flipped alone (the
    # last map read overwriting the first) {B, C}; the mean of the two flips'
    # peaks (A (0.9 + 0.1) / 2 = 0.5, B (0.1 + 0.8) / 2 = 0.45, C 0.7) {C, A}.
    maps = _hand_maps(
        unflipped=([0.1, 0.2, 0.7], [0.9, 0.05, 0.05]),
        flipped=([0.1, 0.2, 0.7], [0.05, 0.8, 0.15]),
    )
    # A threshold no pair of boxes exceeds: each class merges into one box.
    out = localize_maps(maps, [97, 109], top_k=2, threshold=1e9, max_detections=3)
    n = int(out["num_detections"][0])
    assert sorted(out["classes"][0, :n].numpy()) == [0, 1]
    # Each chosen class is scored by its probabilities at every cell of both
    # flips: A (5 * 0.1 + 0.9) + (5 * 0.1 + 0.05) = 1.95, B (5 * 0.2 + 0.05)
    # + (5 * 0.2 + 0.8) = 2.85.
    classes, scores = out["classes"][0, :n].numpy(), out["scores"][0, :n].numpy()
    scores = dict(zip(classes, scores, strict=True))
    np.testing.assert_allclose([scores[0], scores[1]], [1.95, 2.85], rtol=1e-5)


# 3. The single centred window of the Fig. 9 baseline, on non-square images.


def _center_reference(model, images, top_k):
    """`localize_center` step by step: the short side resized to the window,
    the central window cut, the network run once, the top-k classes' boxes
    decoded in the central square of side `short` of the original image."""
    window = model.spec.window
    _, h, w, _ = images.shape
    short = min(h, w)
    size = (
        max(round(h * window / short), window),
        max(round(w * window / short), window),
    )
    resized = tf.image.resize(images, size, antialias=True).numpy()
    top, left = (size[0] - window) // 2, (size[1] - window) // 2
    crop = resized[:, top : top + window, left : left + window]
    out = model(crop, training=False)
    probs = out["predictions"].numpy()[:, 0, 0].astype(np.float64)
    raw = out["boxes"].numpy()[:, 0, 0].reshape(len(images), -1, 4)
    y0, x0 = (h - short) / 2, (w - short) / 2
    boxes = np.zeros((len(images), top_k, 4))
    scores = np.zeros((len(images), top_k))
    classes = np.zeros((len(images), top_k), np.int64)
    for b in range(len(images)):
        order = np.argsort(-probs[b], kind="stable")[:top_k]
        for r, c in enumerate(order):
            t = raw[b, c if raw.shape[1] > 1 else 0]
            box = [y0 + t[0] * short, x0 + t[1] * short, y0 + t[2] * short]
            box.append(x0 + t[3] * short)
            boxes[b, r] = np.clip(box, 0, [h, w, h, w])
            scores[b, r], classes[b, r] = probs[b, c], c
    return boxes, scores, classes


@pytest.mark.parametrize("regressor", ["single", "per_class"])
@pytest.mark.parametrize("hw", [(60, 100), (130, 70)], ids=["landscape", "portrait"])
def test_centred_window_of_a_non_square_image_equals_the_plain_computation(
    hw, regressor
):
    # Landscape 60x100: short 60 -> resized to 85x142 (100 * 85 / 60 = 141.7),
    # crop columns 28..113; its box lives in the original's central square
    # rows 0..60, columns 20..80. Portrait 130x70: 158x85, crop rows 36..121,
    # square rows 30..100. Catches: the height and width swapped in the
    # crop's offset or in the square's corner, the long side resized to the
    # window, the box decoded in the whole image or in resized pixels, a
    # per-class box read at another class.
    model = _tame_regressor(OverFeat("tiny_accurate", 5, regressor=regressor), 7)
    images = _image((2, *hw, 3), 2)
    got = {k: v.numpy() for k, v in localize_center(model, images, top_k=3).items()}
    boxes, scores, classes = _center_reference(model, images, 3)
    np.testing.assert_array_equal(got["classes"], classes)
    np.testing.assert_allclose(got["scores"], scores, rtol=1e-5)
    np.testing.assert_allclose(got["boxes"], boxes, atol=1e-3)
    np.testing.assert_array_equal(got["num_detections"], [3, 3])
    # Not vacuous: the boxes are not clipped away, so a box off by the
    # square's offset (20 or 30 px) could not hide.
    inside = (boxes > 1) & (boxes < np.array(hw * 2) - 1)
    assert inside.mean() > 0.9


# 6. The box targets of a mirrored training image.


def _scene():
    """A 194x266 image (its scale-0 size is 97x133, half of it) with two
    boxes; pixels of that scale: A y 10..90, x 20..60 (class 3); B y 30..80,
    x 90..125 (class 7)."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (194, 266, 3), dtype=np.uint8)
    pixels = np.array([[10, 20, 90, 60], [30, 90, 80, 125]], np.float32)
    bbox = pixels / np.array([97, 133, 97, 133], np.float32)
    return image, pixels, bbox, np.array([3, 7])


def test_mirrored_training_images_have_mirrored_box_targets():
    # localization_dataset mirrors about half of its training images: the
    # boxes must be mirrored with them, x' = W - x with the edges swapped (W
    # the width at the drawn scale, 133 here), before the targets are made.
    # Hand-worked, cell (0, 4), window rows 0..85, columns 48..133:
    # - unmirrored, A (x 20..60) lies 12/40 inside it, B (x 90..125) whole:
    #   targets B's, [30 / 85, 42 / 85, 80 / 85, 77 / 85], class 7;
    # - mirrored, A is x 73..113, whole (and rows 10..85 of 10..90: 75/80 of
    #   it), B is x 8..43, outside: A's [10 / 85, 25 / 85, 90 / 85, 65 / 85],
    #   class 3.
    # Catches: boxes not mirrored, mirrored without swapping their edges, or
    # in the height instead of the width.
    spec = get_spec("tiny_accurate")
    image, pixels, bbox, labels = _scene()
    copies = 8
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "image": np.repeat(image[None], copies, 0),
            "objects": {
                "bbox": np.repeat(bbox[None], copies, 0),
                "label": np.repeat(labels[None], copies, 0),
            },
        }
    )
    detection = dict(
        background=10, positive_coverage=0.5, min_box_size=0.5, negative_overlap=0.2
    )
    out = localization_dataset(
        ds, spec, 1, scales=[0], seed=5, shuffle_buffer=1, detection=detection
    )
    resized = tf.clip_by_value(
        tf.image.resize(tf.cast(image, tf.float32), [97, 133], antialias=True), 0, 255
    ).numpy()
    stride, window = geometry.fine_stride(spec), spec.window
    windows = window_grid(2, 5, stride, window).numpy()  # (97-85)/12+1, (133-85)/12+1
    hand = {
        False: ([30 / 85, 42 / 85, 80 / 85, 77 / 85], 7),
        True: ([10 / 85, 25 / 85, 90 / 85, 65 / 85], 3),
    }
    seen = set()
    for images, y in out:
        images, y = images.numpy()[0], y.numpy()[0]
        assert images.shape == (97, 133, 3) and y.shape == (2, 5, 7)
        flipped = np.allclose(images, resized[:, ::-1], atol=1e-3)
        assert flipped or np.allclose(images, resized, atol=1e-3)
        seen.add(flipped)
        boxes = _mirror(pixels, 133) if flipped else pixels
        targets, mask, box_class = references.regression_targets(
            windows, boxes, labels, 0.5
        )
        np.testing.assert_allclose(y[..., :4], targets, atol=1e-5)
        np.testing.assert_array_equal(y[..., 4], mask)
        np.testing.assert_array_equal(y[..., 5], box_class)
        cell = references.detection_labels(windows, boxes, labels, 10, 0.5, 0.5, 0.2)
        np.testing.assert_array_equal(y[..., 6], cell)
        want, label = hand[flipped]
        np.testing.assert_allclose(y[0, 4, :4], want, atol=1e-5)
        assert y[0, 4, 4] == 1 and y[0, 4, 5] == label
    assert seen == {False, True}  # both kinds of image were met
