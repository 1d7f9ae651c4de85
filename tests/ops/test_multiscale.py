"""Multi-scale voting: scale sizes, flips, aggregation, tf.function and tf.data."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import MultiScaleClassifier, aggregate, scale_sizes
from overfeat_tf.ops.multiscale import _scale_sizes_tf
from overfeat_tf.specs import SPECS, get_spec


def _classifier(spec="tiny_accurate_valid", seed=0, classes=7, **kwargs):
    model = OverFeat(spec, num_classes=classes)
    randomize(model, seed)
    return MultiScaleClassifier(model, **kwargs)


def test_accurate_scales_are_table_5():
    assert scale_sizes(get_spec("accurate"), (1, 1), mode="fixed") == [
        (245, 245),
        (281, 317),
        (317, 389),
        (389, 461),
        (425, 497),
        (461, 569),
    ]


def test_aspect_sizes_hand_worked():
    # 375x500 (4:3 landscape), accurate scale 6: short 461, long 461 * 4/3 = 614.67
    # -> m = round((614.67 - 221) / 12) = round(32.8) = 33 -> 221 + 396 = 617.
    spec = get_spec("accurate")
    assert scale_sizes(spec, (375, 500))[5] == (461, 617)
    assert scale_sizes(spec, (500, 375))[5] == (617, 461)
    assert scale_sizes(spec, (300, 300)) == [
        (s, s) for s in (245, 281, 317, 389, 425, 461)
    ]
    # A 1x4000 strip is squeezed to 1:3: 245 * 3 = 735 -> 221 + 12 * round(42.83) = 737.
    assert scale_sizes(spec, (1, 4000))[0] == (245, 737)


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_scale_sizes_graph_equals_python_and_tile_the_fine_grid(spec_name):
    spec = get_spec(spec_name)
    s = geometry.fine_stride(spec)
    rng = np.random.default_rng(len(spec_name))
    for h, w in rng.integers(1, 2000, size=(40, 2)):
        want = scale_sizes(spec, (h, w))
        got = [
            tuple(t.numpy())
            for t in _scale_sizes_tf(spec, tf.constant([h, w]), "aspect")
        ]
        assert got == want, (h, w)
        for sh, sw in want:
            assert (sh - spec.window) % s == 0 and (sw - spec.window) % s == 0
            assert min(sh, sw) >= spec.window


def test_aggregate_equals_numpy_reference():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        maps = [
            rng.random((2, *rng.integers(1, 6, 2), 5)).astype(np.float32)
            for _ in range(6)
        ]
        # NumPy: per map the spatial max of each class, then the mean over maps.
        want = np.mean([m.max(axis=(1, 2)) for m in maps], axis=0)
        np.testing.assert_allclose(
            aggregate([tf.constant(m) for m in maps]), want, rtol=1e-6
        )


def test_classify_is_the_vote_of_its_maps():
    clf = _classifier(seed=1)
    image = (
        np.random.default_rng(1).uniform(0, 255, (2, 230, 270, 3)).astype(np.float32)
    )
    maps = clf.maps(image)
    assert len(maps) == 2 * len(clf.spec.scales)
    votes = np.mean([m["probabilities"].numpy().max(axis=(1, 2)) for m in maps], axis=0)
    out = clf.classify(image)
    np.testing.assert_allclose(out["probabilities"], votes, rtol=1e-5)
    order = np.argsort(-votes, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(out["classes"], order)
    np.testing.assert_allclose(
        out["scores"], np.take_along_axis(votes, order, 1), rtol=1e-5
    )


def test_maps_flipped_pass_is_the_network_on_mirrored_windows():
    # Valid network, image already at scale 2's size in "fixed" mode: cell
    # (i, j) of the flipped pass is the network on the mirror of the crop at its box.
    clf = _classifier(seed=2, mode="fixed", scales=[1])
    spec, model = clf.spec, clf.model
    h, w = spec.scales[1]
    image = np.random.default_rng(2).uniform(0, 255, (1, h, w, 3)).astype(np.float32)
    plain, mirrored = clf.maps(image)
    assert not plain["flipped"] and mirrored["flipped"]
    np.testing.assert_array_equal(plain["boxes"], mirrored["boxes"])
    np.testing.assert_array_equal(
        plain["boxes"].numpy(), geometry.cell_windows(spec, plain["boxes"].shape[:2])
    )
    probs = mirrored["probabilities"].numpy()
    for i, j in [(0, 0), (1, 3), (probs.shape[1] - 1, probs.shape[2] - 1)]:
        y0, x0, y1, x1 = mirrored["boxes"][i, j].numpy().astype(int)
        crop = image[:, y0:y1, x0:x1][:, :, ::-1]
        np.testing.assert_allclose(
            model(crop)[:, 0, 0], probs[:, i, j], rtol=1e-4, atol=1e-6
        )
        unflipped = model(image[:, y0:y1, x0:x1])[:, 0, 0]
        np.testing.assert_allclose(
            unflipped, plain["probabilities"][:, i, j], rtol=1e-4, atol=1e-6
        )


def test_flipping_the_image_swaps_the_passes():
    clf = _classifier("tiny_fast", seed=3)
    image = (
        np.random.default_rng(3).uniform(0, 255, (1, 150, 180, 3)).astype(np.float32)
    )
    a, b = clf.maps(image), clf.maps(image[:, :, ::-1])
    for plain, mirrored in zip(a[0::2], b[1::2], strict=True):
        np.testing.assert_allclose(
            plain["probabilities"].numpy()[:, :, ::-1],
            mirrored["probabilities"],
            rtol=1e-4,
            atol=1e-5,
        )
    np.testing.assert_allclose(
        clf.classify(image)["probabilities"],
        clf.classify(image[:, :, ::-1].copy())["probabilities"],
        rtol=1e-4,
        atol=1e-6,
    )


def test_boxes_are_in_original_image_pixels():
    clf = _classifier("tiny_fast", seed=4)
    image = np.zeros((1, 300, 150, 3), np.float32)
    for m in clf.maps(image):
        boxes = m["boxes"].numpy()
        size = m["size"].numpy()
        assert boxes[..., 0].min() >= 0 and boxes[..., 1].min() >= -1e-4
        assert boxes[..., 2].max() <= 300 + 1e-3 and boxes[..., 3].max() <= 150 + 1e-3
        # A window is window / size of the original image in each direction.
        np.testing.assert_allclose(
            boxes[..., 2] - boxes[..., 0], clf.spec.window * 300 / size[0], rtol=1e-5
        )


def test_eager_function_and_tf_data_agree_without_retracing():
    clf = _classifier("tiny_accurate", seed=5, top_k=3)
    rng = np.random.default_rng(5)
    images = [
        rng.uniform(0, 255, (1, h, w, 3)).astype(np.float32)
        for h, w in [(90, 120), (200, 140), (97, 97)]
    ]
    eager = [clf(x) for x in images]
    graph = [clf.classify(x) for x in images]
    assert clf.trace_count == 1  # three image sizes, one trace
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images),
        output_signature=tf.TensorSpec([1, None, None, 3], tf.float32),
    ).map(clf.classify)
    for e, g, d in zip(eager, graph, ds, strict=True):
        for key in ("probabilities", "scores"):
            np.testing.assert_allclose(e[key], g[key], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(e[key], d[key], rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(e["classes"], g["classes"])
        np.testing.assert_array_equal(e["classes"], d["classes"])


def test_logits_model_votes_probabilities():
    logits = OverFeat("tiny_fast", num_classes=4, classifier_activation=None)
    randomize(logits, 6)
    softmax = OverFeat("tiny_fast", num_classes=4)
    softmax.set_weights(logits.get_weights())
    image = (
        np.random.default_rng(6).uniform(0, 255, (1, 100, 120, 3)).astype(np.float32)
    )
    a = MultiScaleClassifier(logits, top_k=4).classify(image)["probabilities"]
    b = MultiScaleClassifier(softmax, top_k=4).classify(image)["probabilities"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert 0 < a.numpy().min() and a.numpy().max() < 1


def test_bad_arguments():
    model = OverFeat("tiny_fast", num_classes=4)
    with pytest.raises(ValueError, match=r"0\.\.5. Received: scales=\[7\]"):
        MultiScaleClassifier(model, scales=[7])
    with pytest.raises(ValueError, match="top_k=9"):
        MultiScaleClassifier(model, top_k=9)
    with pytest.raises(ValueError, match="Received: 'wide'"):
        MultiScaleClassifier(model, mode="wide")
