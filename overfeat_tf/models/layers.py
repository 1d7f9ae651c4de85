"""Keras layers of OverFeat."""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FullyConnected"]


@keras.saving.register_keras_serializable(package="overfeat_tf")
class FullyConnected(keras.layers.Conv2D):
    """A fully connected layer applied to every window of a map (paper 3.5).

    Exactly a `Conv2D` with `padding="valid"` and stride 1 (same kernel
    `[kh, kw, in, out]`, bias and activation, and `isinstance` of it), so a
    first layer whose kernel covers the pooled map at the training window
    gives a 1x1 output there and slides over larger maps. It is computed as
    one matmul over the windows' patches: for OverFeat's large classifier
    kernels (accurate fc7: 5x5x1024x4096, 400 MB) that runs several times
    faster on CPU than the convolution kernel, which re-lays the weights out on
    every call.

    Call arguments:
        inputs: `[batch, height, width, in]`.
        dilation: int. Take the window's cells `dilation` apart (default 1).
            The fine-stride pass (`overfeat_tf.ops.dense`) runs the first
            classifier layer on the stride-1 pooled map with dilation k.

    Returns `[batch, height - d * (kh - 1), width - d * (kw - 1), out]`.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        for key, allowed in (
            ("padding", "valid"),
            ("strides", 1),
            ("dilation_rate", 1),
        ):
            value = kwargs.get(key, allowed)
            if value not in (allowed, (allowed, allowed)):
                raise ValueError(
                    f"FullyConnected takes only {key}={allowed!r}. Received: "
                    f"{key}={value!r}"
                )
        super().__init__(filters, kernel_size, **kwargs)

    def call(self, inputs, dilation=1):
        kh, kw = self.kernel_size
        kernel = self.kernel  # [kh, kw, in, out], already in the compute dtype
        depth = kh * kw * kernel.shape[2]
        if (kh, kw) == (1, 1):
            patches = inputs
        else:
            # Patches are laid out (kh, kw, in), as the kernel's leading axes.
            patches = tf.image.extract_patches(
                inputs,
                sizes=[1, kh, kw, 1],
                strides=[1, 1, 1, 1],
                rates=[1, dilation, dilation, 1],
                padding="VALID",
            )
        shape = tf.shape(patches)
        y = tf.matmul(tf.reshape(patches, [-1, depth]), tf.reshape(kernel, [depth, -1]))
        if self.use_bias:
            y = y + self.bias
        y = tf.reshape(y, tf.concat([shape[:3], [self.filters]], axis=0))
        return self.activation(y)
