"""The Keras model: layer names, FC-as-conv kernels, init, dropout, config."""

import keras
import numpy as np
import pytest
from conftest import narrow, randomize

from overfeat_tf.models import OverFeat, feature_extractor, preprocess_input
from overfeat_tf.specs import SPECS, Layer, NetworkSpec


@pytest.fixture(scope="module")
def accurate():
    return OverFeat("accurate")


@pytest.fixture(scope="module")
def fast():
    return OverFeat("fast")


def _conv_names(model):
    return [x.name for x in model.layers if isinstance(x, keras.layers.Conv2D)]


def test_accurate_full_size(accurate):
    # Sizes of the original release's net_weight_1 (accurate) file.
    assert accurate.count_params() == 144_656_488
    assert _conv_names(accurate) == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "conv6",
        "fc7",
        "fc8",
        "fc9",
    ]
    assert accurate.get_layer("fc7").kernel.shape == (5, 5, 1024, 4096)
    assert accurate.get_layer("fc8").kernel.shape == (1, 1, 4096, 4096)
    assert accurate.get_layer("fc9").kernel.shape == (1, 1, 4096, 1000)
    assert accurate.input_shape == (None, None, None, 3)


def test_fast_full_size(fast):
    # Size of net_weight_0 (fast).
    assert fast.count_params() == 145_920_872
    assert _conv_names(fast) == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "fc6",
        "fc7",
        "fc8",
    ]
    assert fast.get_layer("fc6").kernel.shape == (6, 6, 1024, 3072)
    assert fast.get_layer("fc7").kernel.shape == (1, 1, 3072, 4096)


def test_paper_initialisation(accurate):
    # N(0, 0.01) weights (paper 3.1), zero biases.
    kernel = accurate.get_layer("fc8").kernel.numpy()
    assert abs(kernel.mean()) < 1e-4
    assert kernel.std() == pytest.approx(0.01, rel=0.02)
    assert not accurate.get_layer("fc8").bias.numpy().any()


def test_dropout_on_the_two_hidden_fc_layers(fast):
    rates = {x.name: x.rate for x in fast.layers if type(x).__name__ == "Dropout"}
    assert rates == {"fc6_dropout": 0.5, "fc7_dropout": 0.5}


@pytest.mark.parametrize("name", ["tiny_accurate", "tiny_fast"])
def test_window_gives_one_cell_and_dropout_only_in_training(name):
    model = OverFeat(name, num_classes=5, classifier_activation=None)
    randomize(model, 0)
    x = np.random.default_rng(1).uniform(
        0, 255, (2, SPECS[name].window, SPECS[name].window, 3)
    )
    a, b = model(x, training=False), model(x, training=False)
    assert a.shape == (2, 1, 1, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(model(x, training=True), a)


def test_softmax_output_and_logits():
    probs = OverFeat("tiny_fast", num_classes=4)
    randomize(probs, 3)
    x = np.random.default_rng(0).uniform(0, 255, (1, 120, 97, 3))
    p = probs(x).numpy()
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    logits = feature_extractor(probs, "fc8")(x).numpy()
    e = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_release_normalisation_is_built_in():
    model = OverFeat("tiny_accurate", num_classes=3)
    raw = OverFeat("tiny_accurate", num_classes=3, include_preprocessing=False)
    randomize(model, 4)
    raw.set_weights(model.get_weights())
    x = np.random.default_rng(2).uniform(0, 255, (1, 85, 85, 3)).astype(np.float32)
    np.testing.assert_allclose(
        model(x),
        raw(((x - 118.380948) / 61.896913).astype(np.float32)),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        preprocess_input(np.float32(118.380948 + 61.896913)), 1.0
    )


def test_config_round_trip_and_saving(tmp_path):
    spec = narrow("fast", 32)
    model = OverFeat(spec, num_classes=6, classifier_activation=None)
    randomize(model, 5)
    clone = OverFeat.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert clone.spec == spec
    x = np.random.default_rng(3).uniform(0, 255, (1, 263, 240, 3))
    np.testing.assert_allclose(clone(x), model(x), rtol=1e-5, atol=1e-6)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, OverFeat) and loaded.spec == spec
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-5, atol=1e-6)


def test_feature_extractor_any_layer():
    model = OverFeat("tiny_accurate", num_classes=3)
    maps = feature_extractor(model, ["conv2", "pool6"])(np.zeros((1, 109, 133, 3)))
    # 109 -> conv1 (109-3)//2+1 = 54 -> pool 18 -> conv2 16 -> pool 8 -> pool6 2;
    # 133 -> 66 -> 22 -> 20 -> 10 -> 3.
    assert [tuple(m.shape) for m in maps] == [(1, 16, 20, 8), (1, 2, 3, 16)]
    with pytest.raises(
        ValueError, match=r"No layer named \['conv9'\].*Received: layers='conv9'"
    ):
        feature_extractor(model, "conv9")


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: arch='huge'"):
        OverFeat("huge")
    with pytest.raises(ValueError, match="num_classes=0"):
        OverFeat("tiny_fast", num_classes=0)
    with pytest.raises(ValueError, match="must be followed by max pooling"):
        NetworkSpec(
            "bad", 10, (Layer("conv1", "conv", 4, 3), Layer("fc2", "full", None))
        )
    with pytest.raises(ValueError, match="does not tile"):
        from overfeat_tf.geometry import fc_kernel

        fc_kernel(
            NetworkSpec(
                "odd",
                13,
                (Layer("conv1", "conv", 4, 3, pool=2), Layer("fc2", "full", None)),
            )
        )


def test_mixed_bfloat16_computes_in_bfloat16_and_agrees():
    # docs/design.md's claim: under keras' "mixed_bfloat16" policy the network
    # runs in bfloat16 and answers as float32 does. Catches layers pinned to
    # float32 (the policy silently ignored: no speed-up where bfloat16 has
    # hardware) and outputs left in bfloat16 (softmax rounding to 3 digits).
    import keras
    import tensorflow as tf

    from overfeat_tf.ops import DenseClassifier

    full = OverFeat("tiny_accurate", num_classes=10)
    randomize(full, 12)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        half = OverFeat("tiny_accurate", num_classes=10)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    half.set_weights(full.get_weights())
    assert half.get_layer("conv1").compute_dtype == "bfloat16"
    assert half.get_layer("fc9").compute_dtype == "bfloat16"
    images = tf.random.stateless_uniform((3, 90, 110, 3), [1, 2], 0, 255)
    want, got = DenseClassifier(full)(images), DenseClassifier(half)(images)
    assert got.dtype == tf.float32
    # bfloat16 keeps 8 bits of mantissa: probabilities move by a few hundredths.
    np.testing.assert_allclose(got, want, atol=0.1)
    same = np.argmax(got, -1) == np.argmax(want, -1)
    assert same.mean() >= 0.9, same.mean()
