"""Fine-stride dense evaluation: the dense map equals the network on each crop."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import FORMULATIONS, DenseClassifier, fine_map
from overfeat_tf.specs import get_spec

VALID_SPECS = ["tiny_accurate_valid", "tiny_fast_valid"]
PADDED_SPECS = ["tiny_accurate", "tiny_fast"]


def _model(spec, seed, classes=6):
    model = OverFeat(spec, num_classes=classes, classifier_activation=None)
    randomize(model, seed)
    return model


def _crops(image, size, stride, window):
    """Window crops at (i * stride, j * stride): [rows, cols, b, window, window, 3]."""
    rows, cols = size
    return np.stack(
        [
            np.stack(
                [
                    image[
                        :,
                        i * stride : i * stride + window,
                        j * stride : j * stride + window,
                    ]
                    for j in range(cols)
                ]
            )
            for i in range(rows)
        ]
    )


def _crop_reference(model, image, stride):
    """Slow reference: the network run on every window crop, one cell each."""
    window = model.spec.window
    size = (
        (image.shape[1] - window) // stride + 1,
        (image.shape[2] - window) // stride + 1,
    )
    crops = _crops(image, size, stride, window)
    flat = crops.reshape(-1, window, window, 3)
    out = model.predict(flat, batch_size=64, verbose=0)[:, 0, 0]
    return out.reshape(size[0], size[1], image.shape[0], -1).transpose(2, 0, 1, 3)


def _sizes(spec):
    w, s = spec.window, geometry.fine_stride(spec)
    t = geometry.total_stride(spec)
    # Exactly the window, whole fine strides, and sizes that do not tile.
    return [
        (w, w),
        (w + 3 * s, w + 5 * s),
        (w + t + 7, w + 2 * t + 13),
        (w + 11, w + 4 * s + 1),
    ]


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("spec_name", VALID_SPECS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fine_map_equals_network_on_every_crop(spec_name, formulation, seed):
    spec = get_spec(spec_name)
    model = _model(spec, seed)
    dense = DenseClassifier(model, formulation)
    s = geometry.fine_stride(spec)
    rng = np.random.default_rng(seed)
    for hw in _sizes(spec):
        image = rng.uniform(0, 255, (2, *hw, 3)).astype(np.float32)
        got = dense(image).numpy()
        assert got.shape[1:3] == geometry.map_sizes(spec, hw).fine_map
        want = _crop_reference(model, image, s)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("spec_name", VALID_SPECS + PADDED_SPECS)
def test_coarse_map_is_fine_map_at_offset_zero(spec_name):
    spec = get_spec(spec_name)
    model = _model(spec, 3)
    dense = DenseClassifier(model)
    k = spec.last_pool
    image = np.random.default_rng(3).uniform(
        0, 255, (1, spec.window + 77, spec.window + 50, 3)
    )
    fine, coarse = dense(image).numpy(), dense(image, fine=False).numpy()
    np.testing.assert_allclose(fine[:, ::k, ::k], coarse, rtol=1e-5, atol=1e-5)
    # The plain Keras model is the coarse map.
    np.testing.assert_allclose(model(image), coarse, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec_name", PADDED_SPECS)
@pytest.mark.parametrize("seed", [0, 1])
def test_padded_networks_formulations_agree_and_see_their_receptive_field(
    spec_name, seed
):
    # With zero padding a cell is not the network on its lone crop, but it is
    # still exactly a function of its receptive field: the same cell computed
    # from the crop of that field (window plus `before` pixels each side) agrees.
    spec = get_spec(spec_name)
    model = _model(spec, seed)
    before, field = geometry.receptive_field(spec)
    s = geometry.fine_stride(spec)
    assert before > 0 and before % s == 0
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (1, field + 4 * s + 5, field + 6 * s + 3, 3)).astype(
        np.float32
    )
    maps = [DenseClassifier(model, f)(image).numpy() for f in FORMULATIONS]
    np.testing.assert_allclose(maps[0], maps[1], rtol=1e-5, atol=1e-5)
    big = maps[0]
    centre = before // s  # the cell of a field-sized crop whose window is centred
    for i in range(centre, big.shape[1] - centre):
        for j in range(centre, big.shape[2] - centre, 2):
            y, x = i * s - before, j * s - before
            crop = image[:, y : y + field, x : x + field]
            small = DenseClassifier(model)(crop).numpy()
            np.testing.assert_allclose(
                small[:, centre, centre], big[:, i, j], rtol=1e-4, atol=1e-4
            )
    # ... and the padding is really felt: the lone crop differs.
    lone = model(image[:, : spec.window, : spec.window]).numpy()[:, 0, 0]
    assert np.abs(lone - big[:, 0, 0]).max() > 1e-3


def test_fine_map_shape_arithmetic_on_raw_maps():
    # Hand-worked: k = 3, f = 2, n = 10 -> 10 - 6 + 1 = 5 cells. Offsets 0, 1, 2
    # contribute floor((10 - d) / 3) - 2 + 1 = 2, 2, 1 cells at 0,3 / 1,4 / 2.
    def head(pooled, dilation=1):  # sum over a 2x2 window of the pooled map
        return tf.nn.depthwise_conv2d(
            pooled,
            tf.ones((2, 2, 1, 1)),
            [1, 1, 1, 1],
            "VALID",
            dilations=[dilation] * 2,
        )

    prepool = tf.reshape(tf.range(100, dtype=tf.float32), (1, 10, 10, 1))
    for formulation in FORMULATIONS:
        out = fine_map(prepool, head, 3, 2, formulation).numpy()[0, :, :, 0]
        assert out.shape == (5, 5)
        # Cell (0, 0): pooled cells (0,0),(0,3),(3,0),(3,3) of 3x3 maxima at stride 1,
        # i.e. maxima at pixel (2,2),(2,5),(5,2),(5,5): 22 + 25 + 52 + 55 = 154.
        assert out[0, 0] == 154
        # Cell (1, 2): shifts by 1 row, 2 cols: (3,4),(3,7),(6,4),(6,7): 34+37+64+67.
        assert out[1, 2] == 34 + 37 + 64 + 67


def test_unknown_formulation():
    with pytest.raises(ValueError, match="Received: formulation='atrous'"):
        DenseClassifier(_model("tiny_fast", 0), "atrous")
