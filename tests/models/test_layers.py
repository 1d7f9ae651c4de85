"""FullyConnected: exactly a VALID Conv2D, computed as a matmul."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from overfeat_tf.models import FullyConnected


@pytest.mark.parametrize("seed", range(8))
def test_equals_conv2d_with_and_without_dilation(seed):
    rng = np.random.default_rng(seed)
    kernel = int(rng.integers(1, 5))
    dilation = int(rng.integers(1, 4))
    cin, cout = (int(v) for v in rng.integers(1, 9, 2))
    h, w = (int(v) for v in rng.integers(dilation * (kernel - 1) + 1, 14, 2))
    layer = FullyConnected(cout, kernel, activation="relu")
    x = rng.standard_normal((2, h, w, cin)).astype(np.float32)
    layer.build(x.shape)
    layer.bias.assign(rng.standard_normal(cout).astype(np.float32))
    # Reference: TensorFlow's own convolution with the same weights.
    want = tf.nn.relu(
        tf.nn.conv2d(x, layer.kernel, 1, "VALID", dilations=dilation) + layer.bias
    )
    got = layer(x, dilation=dilation)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if dilation == 1:
        conv = keras.layers.Conv2D(cout, kernel, activation="relu")
        conv.build(x.shape)
        conv.set_weights(layer.get_weights())
        np.testing.assert_allclose(layer(x), conv(x), rtol=1e-5, atol=1e-5)


def test_serialises_and_refuses_other_convolutions():
    layer = FullyConnected(4, 3, name="fc7")
    clone = FullyConnected.from_config(layer.get_config())
    assert isinstance(clone, keras.layers.Conv2D) and clone.kernel_size == (3, 3)
    with pytest.raises(ValueError, match="Received: padding='same'"):
        FullyConnected(4, 3, padding="same")
    with pytest.raises(ValueError, match="Received: strides=2"):
        FullyConnected(4, 3, strides=2)
