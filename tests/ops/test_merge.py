"""The greedy merge (paper 4.3) against its NumPy reference, and its properties."""

import numpy as np
import pytest
import tensorflow as tf
from references import greedy_merge as reference_merge
from references import match_score as reference_score

from overfeat_tf.ops.merge import greedy_merge, greedy_merge_per_class, match_score

SIG = [tf.TensorSpec([None, 4]), tf.TensorSpec([None]), tf.TensorSpec([])]
merge = tf.function(greedy_merge, input_signature=SIG)


def random_boxes(rng, n, clustered):
    """Clusters of jittered boxes (merges happen) or boxes scattered widely."""
    if clustered:
        k = max(1, n // 15)
        centres = rng.uniform(20, 400, (k, 2))
        sizes = rng.uniform(15, 150, (k, 2))
        member = rng.integers(0, k, n)
        centre = centres[member] + rng.normal(0, 5, (n, 2))
        size = sizes[member] * rng.uniform(0.8, 1.25, (n, 2))
    else:
        centre = rng.uniform(0, 2000, (n, 2))
        size = rng.uniform(4, 120, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
    return boxes.astype(np.float32), rng.uniform(0, 1, n).astype(np.float32)


def assert_same(out, expected_boxes, expected_scores):
    boxes, scores, num = (t.numpy() for t in out)
    assert num == len(expected_scores)
    np.testing.assert_allclose(scores[:num], expected_scores, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(boxes[:num], expected_boxes, atol=2e-3)
    assert not boxes[num:].any() and not scores[num:].any()


def test_match_score_equals_reference():
    rng = np.random.default_rng(0)
    a, _ = random_boxes(rng, 300, clustered=True)
    a[:4] = [[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 0, 9], [7, 7, 9, 9]]  # no area
    b = np.concatenate([a[1::2], a[::2]])
    np.testing.assert_allclose(
        match_score(a, b).numpy(), reference_score(a, b), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("seed", range(100))
def test_equals_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    n = [0, 1, 2, 500][seed] if seed < 4 else int(rng.integers(0, 501) ** 0.85)
    boxes, scores = random_boxes(rng, n, clustered=seed % 3 != 0)
    threshold = rng.uniform(0.3, 1.2)
    assert_same(
        merge(boxes, scores, threshold), *reference_merge(boxes, scores, threshold)
    )


def test_hand_worked_case():
    # A = [0,0,10,10], B = [0,2,10,12], C = [0,1,10,11], D far away.
    # A-C and B-C: centres 1 apart / size 10 = 0.1, IoU 90/110 -> 0.2818.
    # A-B: 0.2 + (1 - 80/120) = 0.5333. A and C merge first, into
    # [0, 0.5, 10, 10.5]; against B: 0.15 + (1 - 85/115) = 0.4109 <= 0.45, so
    # B joins: the mean of the three input boxes, [0, 1, 10, 11] (the mean of
    # the pair's mean and B would be [0, 1.25, 10, 11.25]), score 1 + 2 + 4.
    boxes = [[0, 0, 10, 10], [0, 2, 10, 12], [0, 1, 10, 11], [100, 100, 120, 130]]
    scores = [1.0, 2.0, 4.0, 0.5]
    np.testing.assert_allclose(
        match_score(boxes[0], boxes[1]).numpy(), 0.2 + 1 / 3, 1e-6
    )
    assert_same(
        merge(boxes, scores, 0.45),
        np.array([[0, 1, 10, 11], [100, 100, 120, 130]]),
        np.array([7.0, 0.5]),
    )
    # Below A-C's 0.2818 nothing merges; between it and 0.4109 only A and C.
    assert_same(
        merge(boxes, scores, 0.28), np.array(boxes)[[2, 1, 0, 3]], [4, 2, 1, 0.5]
    )
    assert_same(
        merge(boxes, scores, 0.4),
        np.array([[0, 0.5, 10, 10.5], [0, 2, 10, 12], [100, 100, 120, 130]]),
        [5.0, 2.0, 0.5],
    )


def test_identical_boxes_merge_into_one_with_the_summed_score():
    boxes = np.tile([[3.0, 4.0, 50.0, 70.0]], (37, 1))
    scores = np.linspace(0.1, 1.0, 37)
    out = merge(boxes, scores, 0.0)
    assert_same(out, boxes[:1], [scores.sum()])


def test_distant_boxes_never_merge():
    rng = np.random.default_rng(3)
    grid = (
        np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2) * 500.0
    )
    boxes = np.concatenate([grid, grid + rng.uniform(20, 80, (144, 2))], 1)
    scores = rng.uniform(0, 1, 144)
    order = np.argsort(-scores)
    assert_same(merge(boxes, scores, 3.0), boxes[order], scores[order])


@pytest.mark.parametrize("seed", range(5))
def test_input_order_does_not_change_the_result(seed):
    rng = np.random.default_rng(100 + seed)
    boxes, scores = random_boxes(rng, 150, clustered=True)
    perm = rng.permutation(150)
    a = [t.numpy() for t in merge(boxes, scores, 0.8)]
    b = [t.numpy() for t in merge(boxes[perm], scores[perm], 0.8)]
    assert a[2] == b[2]
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a[0], b[0], atol=1e-3)


@pytest.mark.parametrize("seed", range(5))
def test_each_merge_removes_one_box_and_scores_add_up(seed):
    # With unit scores a merged box's score counts the boxes in it.
    rng = np.random.default_rng(200 + seed)
    boxes, _ = random_boxes(rng, 200, clustered=True)
    out = [t.numpy() for t in merge(boxes, np.ones(200, np.float32), 0.9)]
    _, scores, num = out
    assert 1 <= num < 200
    np.testing.assert_allclose(scores.sum(), 200.0, rtol=1e-6)
    assert np.all(scores[:num] >= 1) and np.allclose(
        scores[:num], np.round(scores[:num])
    )
    # Merges performed: sum over merged boxes of (count - 1) = 200 - num.
    assert (scores[:num] - 1).sum() == pytest.approx(200 - num)
    # Each merged box is the mean of some of the inputs: inside their hull.
    assert np.all(out[0][:num, :2] >= boxes[:, :2].min(0) - 1e-3)


def test_traced_once_for_every_n():
    calls = []

    @tf.function(input_signature=SIG)
    def traced(b, s, t):
        calls.append(1)
        return greedy_merge(b, s, t)

    rng = np.random.default_rng(5)
    for n in (0, 3, 40):
        traced(*random_boxes(rng, n, True), 0.5)
    assert len(calls) == 1


def test_xla_compiled_merge_equals_reference():
    jit = tf.function(lambda b, s, t: greedy_merge(b, s, t, jit_compile=True))
    rng = np.random.default_rng(7)
    for n in (0, 5, 16, 60):  # paddings to 16 and 64
        boxes, scores = random_boxes(rng, n, clustered=True)
        assert_same(jit(boxes, scores, 0.8), *reference_merge(boxes, scores, 0.8))


def test_per_class_merges_within_classes_only():
    # Two identical boxes of different classes stay apart; same class merge.
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]]
    scores = [0.5, 0.25, 1.0, 0.1]
    classes = [2, 2, 0, 2]
    b, s, c, k = (
        t.numpy() for t in greedy_merge_per_class(boxes, scores, classes, 0.5, 5)
    )
    assert k == 3
    np.testing.assert_allclose(s, [1.0, 0.75, 0.1, 0, 0])
    np.testing.assert_array_equal(c, [0, 2, 2, 0, 0])
    np.testing.assert_allclose(
        b[:3], [[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]]
    )
    assert not b[3:].any()
