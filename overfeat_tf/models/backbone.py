"""The feature layers of OverFeat (layers 1..5 fast, 1..6 accurate)."""

from __future__ import annotations

import keras

from overfeat_tf.geometry import pool_name
from overfeat_tf.specs import NetworkSpec, kernel_initializer

__all__ = ["backbone_layers"]


def backbone_layers(spec: NetworkSpec) -> list[keras.layers.Layer]:
    """Builds the convolution stages of `spec`, in order, as named Keras layers.

    Each row gives a ReLU `Conv2D` named after it (`conv1`, ...) and, where
    the row pools, a non-overlapping `MaxPooling2D` (`pool1`, ...). Zero
    padding that equals `"same"` (odd kernel, stride 1, padding
    `(kernel - 1) / 2`) is built as `padding="same"`; any other padding as a
    `ZeroPadding2D` named `<conv>_pad`.

    The last pooling (`pool6` accurate, `pool5` fast) is included: in the
    plain model it gives the offset-0 (coarse) map; the fine-stride pass runs
    the layers up to the last convolution and applies that pooling itself.

    Args:
        spec: `NetworkSpec`.

    Returns:
        list of `keras.layers.Layer`, to be applied in order.
    """
    init = kernel_initializer(spec)
    layers = []
    for row in spec.conv_layers:
        same = (
            row.stride == 1 and row.kernel % 2 == 1 and row.padding == row.kernel // 2
        )
        if row.padding and not same:
            layers.append(
                keras.layers.ZeroPadding2D(row.padding, name=f"{row.name}_pad")
            )
        layers.append(
            keras.layers.Conv2D(
                row.filters,
                row.kernel,
                strides=row.stride,
                padding="same" if row.padding and same else "valid",
                activation="relu",
                kernel_initializer=init,
                name=row.name,
            )
        )
        if row.pool:
            layers.append(keras.layers.MaxPooling2D(row.pool, name=pool_name(row)))
    return layers
