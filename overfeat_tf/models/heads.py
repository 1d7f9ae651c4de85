"""OverFeat heads: fully connected layers built as `Conv2D` (paper 3.5)."""

from __future__ import annotations

import keras

from overfeat_tf.geometry import fc_kernel
from overfeat_tf.models.layers import FullyConnected
from overfeat_tf.specs import NetworkSpec, kernel_initializer

__all__ = ["classifier_layers"]


def classifier_layers(
    spec: NetworkSpec,
    num_classes: int,
    classifier_activation: str | None = "softmax",
) -> list[keras.layers.Layer]:
    """Builds the classifier (layers 7-9 accurate, 6-8 fast) as named layers.

    The first fully connected layer is a `Conv2D` (`FullyConnected`, computed
    as a matmul) whose kernel covers the
    pooled map at the training window (accurate 5x5, fast 6x6); the others are
    1x1. Hidden layers are ReLU with dropout (`<name>_dropout`, training only);
    the class layer gives logits, and `predictions` applies
    `classifier_activation` (None: the model outputs logits).

    Args:
        spec: `NetworkSpec`.
        num_classes: int. Width of the class layer.
        classifier_activation: str or None. Activation of `predictions`.

    Returns:
        list of `keras.layers.Layer`, to be applied in order to the pooled map.
    """
    init = kernel_initializer(spec)
    rows = spec.full_layers
    layers = []
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        layers.append(
            FullyConnected(
                num_classes if last else row.filters,
                fc_kernel(spec) if i == 0 else 1,
                activation=None if last else "relu",
                kernel_initializer=init,
                name=row.name,
            )
        )
        if not last and spec.dropout:
            layers.append(
                keras.layers.Dropout(spec.dropout, name=f"{row.name}_dropout")
            )
    # float32 even under a mixed precision policy, as Keras advises for outputs.
    layers.append(
        keras.layers.Activation(
            classifier_activation or "linear", name="predictions", dtype="float32"
        )
    )
    return layers
