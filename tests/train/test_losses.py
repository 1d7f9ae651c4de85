"""The dense training losses against slow NumPy references, and which cells the
on-the-fly negative mining may choose (paper 4.2, 5)."""

import numpy as np
import pytest
import references

from overfeat_tf.train.tasks import dense_box_loss, detection_loss, mine_negatives

CLASSES = 4  # detector classes in these tests: objects 0-2, background 3
BACKGROUND = CLASSES - 1


def test_object_cells_of_highest_loss_are_never_hard_negatives():
    # The object cells carry the highest losses of the image: a mining that
    # ranks every labelled cell (not only background ones) would spend its
    # `hard` picks on them, and since they are chosen anyway the image would
    # train on fewer negatives than asked.
    bg = BACKGROUND
    labels = np.array(
        [
            [0, bg, 2, bg, bg, -1, bg, 1, bg, bg],
            [bg, 1, bg, bg, 0, bg, -1, bg, 2, bg],
        ]
    )
    losses = np.array(
        [
            [9.0, 1.0, 8.0, 3.0, 0.5, 7.0, 2.0, 6.0, 0.2, 0.1],
            [0.1, 9.5, 0.4, 2.5, 9.0, 1.5, 8.5, 0.3, 7.5, 0.2],
        ],
        np.float32,
    )
    got = mine_negatives(labels, losses, bg, random=0, hard=2).numpy()
    want = np.zeros_like(got)
    # Objects: image 0 cells 0, 2, 7; image 1 cells 1, 4, 8.
    want[0, [0, 2, 7]] = want[1, [1, 4, 8]] = True
    # Background by loss, image 0: cell 3 (3.0), cell 6 (2.0), cell 1 (1.0)...
    # -> 3 and 6; image 1: cell 3 (2.5), cell 5 (1.5), cell 2 (0.4)... -> 3, 5.
    want[0, [3, 6]] = want[1, [3, 5]] = True
    np.testing.assert_array_equal(got, want)
    # Random picks never land on an object (or ignored) cell either: exactly
    # 3 objects + 2 hard + 2 random per image, whatever the draw. With 5 of
    # 10 cells not background, a draw over every cell would hit one in a
    # seed or two.
    for s in range(20):
        got = mine_negatives(labels, losses, bg, 2, 2, seed=[s, 7]).numpy()
        np.testing.assert_array_equal(got.sum(1), [7, 7])
        assert got[want].all()
        assert not got[labels == -1].any()
        assert (labels[got] >= 0).all()


def _random_batch(rng, per_class, detection=True):
    """A batch of dense targets and predictions of random sizes, with masked
    and ignored cells, and nonzero targets where the mask is 0 (the loss must
    not read them)."""
    batch = int(rng.integers(1, 4))
    rows, cols = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    shape = (batch, rows, cols)
    targets = rng.normal(0.5, 0.5, (*shape, 4))
    mask = (rng.uniform(size=shape) < rng.uniform(0.2, 0.8)).astype(float)
    mask[0] = 0.0 if rng.uniform() < 0.3 else mask[0]  # at times an image with none
    box_class = rng.integers(0, CLASSES - 1, shape)
    channels = [targets, mask[..., None], box_class[..., None]]
    if detection:
        cell = rng.choice([-1, 0, 1, 2, BACKGROUND], shape, p=[0.2, 0.1, 0.1, 0.1, 0.5])
        channels.append(cell[..., None])
    y_true = np.concatenate(channels, -1).astype(np.float32)
    width = 4 * CLASSES if per_class else 4
    boxes = rng.normal(0.5, 0.5, (*shape, width))
    logits = rng.normal(0.0, 2.0, (*shape, CLASSES))
    y_pred = np.concatenate([logits, boxes], -1) if detection else boxes
    return y_true, y_pred.astype(np.float32)


@pytest.mark.parametrize("per_class", [False, True])
def test_dense_box_loss_equals_the_numpy_reference(per_class):
    # Catches: the mask forgotten (masked cells' nonzero targets counted), the
    # mean taken over every cell instead of the trained ones, a per-class
    # regressor read at the wrong class's four channels.
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y_true, y_pred = _random_batch(rng, per_class, detection=False)
        got = dense_box_loss(y_true, y_pred).numpy()
        want = references.dense_box_loss(y_true, y_pred)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=seed)


def test_dense_box_loss_hand_worked():
    # One image, 1x2 cells: cell 0 trains on class 1's box, cell 1 does not.
    # Prediction at cell 0, class 1's channels 4..7: [0.1, 0.2, 0.9, 0.6] vs
    # target [0, 0, 1, 1]: 0.01 + 0.04 + 0.01 + 0.16 = 0.22, over 1 cell.
    y_true = np.zeros((1, 1, 2, 6), np.float32)
    y_true[0, 0, 0] = [0, 0, 1, 1, 1, 1]
    y_true[0, 0, 1] = [5, 5, 5, 5, 0, 0]  # not trained: its targets never count
    y_pred = np.zeros((1, 1, 2, 8), np.float32)
    y_pred[0, 0, 0] = [9, 9, 9, 9, 0.1, 0.2, 0.9, 0.6]
    np.testing.assert_allclose(dense_box_loss(y_true, y_pred), [0.22], rtol=1e-5)


@pytest.mark.parametrize("per_class", [False, True])
def test_detection_loss_equals_the_numpy_reference(per_class):
    # Hard negatives and the box term are deterministic: with no random
    # negatives (or more than there are background cells left) the loss is
    # the reference's exactly. With random ones it must lie between the
    # reference's picks of the lowest- and highest-loss remaining cells.
    # Catches: object or ignored cells mined as negatives, the mean over every
    # cell instead of the mined ones, background taken as another class, the
    # box term unweighted or read from the logits' channels.
    exact = bounded = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y_true, y_pred = _random_batch(rng, per_class)
        hard = int(rng.integers(0, 4))
        random = int(rng.choice([0, 2, 50]))
        weight = float(rng.choice([0.0, 0.5, 2.0]))
        got = detection_loss(y_true, y_pred, CLASSES, random, hard, weight).numpy()
        low, high = (
            references.detection_loss(
                y_true, y_pred, CLASSES, random, hard, weight, pick
            )
            for pick in ("low", "high")
        )
        if np.allclose(low, high):
            np.testing.assert_allclose(got, low, rtol=1e-5, atol=1e-6, err_msg=seed)
            exact += 1
        else:
            assert np.all(got >= low - 1e-5) and np.all(got <= high + 1e-5), seed
            bounded += 1
    assert exact >= 5 and bounded >= 3  # both kinds of case were met


def test_detection_loss_hand_worked():
    # 1x3 cells: an object (class 0), background, ignored; hard = 1, no
    # random, box weight 0. Logits [0, 0, 0, 0] everywhere: every cell's
    # cross-entropy is log 4. The ignored cell's is the same but it must not
    # count; the mean over the 2 mined cells is log 4 = 1.3863.
    y_true = np.zeros((1, 1, 3, 7), np.float32)
    y_true[0, 0, :, 6] = [0, BACKGROUND, -1]
    y_pred = np.zeros((1, 1, 3, CLASSES + 4), np.float32)
    got = detection_loss(y_true, y_pred, CLASSES, 0, 1, 0.0).numpy()
    np.testing.assert_allclose(got, [np.log(4.0)], rtol=1e-6)
    # The object cell now sure of class 0 (logit 10): its loss ~4.5e-5, and the
    # mean is (log 4 + 4.5e-5) / 2; the ignored cell's loss changes nothing.
    y_pred[0, 0, 0, 0] = 10.0
    y_pred[0, 0, 2, 1] = 50.0
    want = (np.log(4.0) + references.cross_entropy([10, 0, 0, 0], 0)) / 2
    got = detection_loss(y_true, y_pred, CLASSES, 0, 1, 0.0).numpy()
    np.testing.assert_allclose(got, [want], rtol=1e-5)
