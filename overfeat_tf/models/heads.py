"""OverFeat heads: fully connected layers built as `Conv2D` (paper 3.5)."""

from __future__ import annotations

import keras

from overfeat_tf.geometry import fc_kernel
from overfeat_tf.models.layers import FullyConnected
from overfeat_tf.specs import NetworkSpec, kernel_initializer

__all__ = ["REGRESSORS", "classifier_layers", "regressor_layers"]

# Single-class (one box per window) or per-class (one box per class) regression.
REGRESSORS = ("single", "per_class")


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


def regressor_layers(
    spec: NetworkSpec, num_classes: int, kind: str = "single"
) -> list[keras.layers.Layer]:
    """Builds the box regressor (paper 4.2, Fig. 8) as named layers.

    It reads the same pooled map as the classifier: `regress1` is a
    `FullyConnected` with the classifier's first kernel (accurate 5x5, fast
    6x6), then 1x1 layers of `spec.regressor` widths (4096 and 1024 in the
    paper; ReLU), and `regress<n>` gives each window's box edges in its own
    frame (`overfeat_tf.ops.boxes`): 4 values, or 4 per class for the
    per-class regressor (class c's at channels 4c..4c+3). `boxes` passes them
    on in float32.

    Args:
        spec: `NetworkSpec`.
        num_classes: int.
        kind: str. `"single"` (SCR) or `"per_class"` (PCR).

    Returns:
        list of `keras.layers.Layer`, to be applied in order to the pooled map.
    """
    if kind not in REGRESSORS:
        raise ValueError(
            f"Unknown regressor. Expected one of {REGRESSORS}. Received: {kind!r}"
        )
    init = kernel_initializer(spec)
    widths = [*spec.regressor, 4 * (num_classes if kind == "per_class" else 1)]
    layers = []
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        layers.append(
            FullyConnected(
                width,
                fc_kernel(spec) if i == 0 else 1,
                activation=None if last else "relu",
                # The output starts at zero (a box at the window's corner is as
                # good a start as any) so early losses stay small.
                kernel_initializer="zeros" if last else init,
                name=f"regress{i + 1}",
            )
        )
    layers.append(keras.layers.Activation("linear", name="boxes", dtype="float32"))
    return layers
