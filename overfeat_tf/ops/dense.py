"""Dense evaluation of OverFeat at the fine stride (paper 3.3, Fig. 3).

The feature layers run once over the whole image. The last max pooling (size
k: 3 accurate, 2 fast) is then applied at every offset (dy, dx) in 0..k-1, the
classifier runs on each of the k*k pooled maps, and the outputs are
interleaved, so the output stride is `total_stride / k` (12 accurate, 16 fast)
instead of `total_stride` (36 / 32).

Three formulations give the same numbers:

- `"offsets"` (the paper's, kept as the reference): slice the unpooled map at
  each offset, pool with stride k, run the classifier, interleave.
- `"dilated"` (the default): pool once with stride 1, then run the first
  classifier layer with its window cells k apart (`FullyConnected` with
  `dilation=k`) and the 1x1 layers as they are. Every fine cell is computed
  once, with no interleaving and no padding.
- `"space_to_batch"`: pool with stride 1, `space_to_batch` the k*k offset
  maps into the batch, run the classifier unchanged, `batch_to_space` (as
  `tf.nn.atrous_conv2d` does); works with any head layers.

With an unpooled map of n cells and a first fully connected kernel F, the
fine map has `n - k * F + 1` cells; offset d contributes
`floor((n - d) / k) - F + 1` of them, at cells d, d + k, d + 2k, ...

Shapes here are dynamic: every function runs eagerly and in a `tf.function`
whose input has unknown height and width.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from overfeat_tf.geometry import fc_kernel

__all__ = ["DenseClassifier", "FORMULATIONS", "coarse_map", "fine_map"]

FORMULATIONS = ("dilated", "space_to_batch", "offsets")


def _pool(x, k, stride):
    return tf.nn.max_pool2d(x, k, stride, "VALID")


def coarse_map(prepool, head, k):
    """The classifier map at the coarse stride (offset 0 only).

    Args:
        prepool: float tensor `[batch, n_h, n_w, channels]`, the last
            convolution's unpooled map.
        head: callable, pooled map -> `[batch, h, w, classes]`.
        k: int. Size (and stride) of the last max pooling.

    Returns:
        `[batch, floor(n_h / k) - F + 1, floor(n_w / k) - F + 1, classes]`.
    """
    return head(_pool(prepool, k, k))


def _fine_offsets(prepool, head, k, f):
    shape = tf.shape(prepool)
    out_h, out_w = shape[1] - k * f + 1, shape[2] - k * f + 1
    rows_q, cols_q = -(-out_h // k), -(-out_w // k)  # ceil: cells per offset, padded
    # k - 1 extra cells give every offset at least f pooled cells (at an input
    # of exactly the window, offsets > 0 have no valid output). They only feed
    # outputs past the last valid cell, which are cut off below.
    padded = tf.pad(prepool, [[0, 0], [0, k - 1], [0, k - 1], [0, 0]])
    grid = []
    for dy in range(k):
        row = []
        for dx in range(k):
            y = head(_pool(padded[:, dy:, dx:, :], k, k))
            y = y[:, :rows_q, :cols_q, :]  # [b, <=rows_q, <=cols_q, c]
            ys = tf.shape(y)
            row.append(
                tf.pad(y, [[0, 0], [0, rows_q - ys[1]], [0, cols_q - ys[2]], [0, 0]])
            )
        grid.append(tf.stack(row, axis=3))  # [b, rows_q, cols_q, k(dx), c]
    y = tf.stack(grid, axis=2)  # [b, rows_q, k(dy), cols_q, k(dx), c]
    ys = tf.shape(y)
    y = tf.reshape(y, [ys[0], rows_q * k, cols_q * k, ys[5]])
    return y[:, :out_h, :out_w, :]


def _fine_space_to_batch(prepool, head, k, f):
    pooled = _pool(prepool, k, 1)  # [b, n_h - k + 1, n_w - k + 1, d]
    shape = tf.shape(pooled)
    out_h, out_w = shape[1] - k * (f - 1), shape[2] - k * (f - 1)
    # Pad to a multiple of k; padded cells only feed outputs cropped below.
    pad_h, pad_w = -shape[1] % k, -shape[2] % k
    blocks = tf.space_to_batch(pooled, [k, k], [[0, pad_h], [0, pad_w]])
    y = head(blocks)  # [k*k*b, (n_h - k + 1 + pad_h) / k - f + 1, ..., c]
    ys = tf.shape(y)
    crop_h, crop_w = ys[1] * k - out_h, ys[2] * k - out_w
    return tf.batch_to_space(y, [k, k], [[0, crop_h], [0, crop_w]])


def _fine_dilated(prepool, head, k):
    return head(_pool(prepool, k, 1), dilation=k)


def fine_map(prepool, head, k, f, formulation="dilated"):
    """The classifier map at the fine stride, from the unpooled feature map.

    Args:
        prepool: float tensor `[batch, n_h, n_w, channels]`, the last
            convolution's unpooled map; `n_h, n_w >= k * f`.
        head: callable `head(pooled, dilation=1)`: pooled map `[b, h, w,
            channels]` -> `[b, h - d * (f - 1), w - d * (f - 1), classes]`
            (the classifier, first kernel f, its window cells d apart).
        k: int. Size of the last max pooling (the number of offsets per axis).
        f: int. Kernel of the first fully connected layer.
        formulation: str. `"dilated"` (default), `"space_to_batch"` or
            `"offsets"` (the paper's; the reference).

    Returns:
        `[batch, n_h - k * f + 1, n_w - k * f + 1, classes]`: cell (i, j) is
        the classifier's output for the window at (i * s, j * s) input pixels,
        s the fine stride.
    """
    if formulation == "dilated":
        return _fine_dilated(prepool, head, k)
    if formulation == "space_to_batch":
        return _fine_space_to_batch(prepool, head, k, f)
    if formulation == "offsets":
        return _fine_offsets(prepool, head, k, f)
    raise ValueError(
        f"Unknown formulation. Expected one of {FORMULATIONS}. "
        f"Received: formulation={formulation!r}"
    )


class DenseClassifier:
    """Runs an `OverFeat` model densely over whole images.

    Splits the model at its last convolution: `trunk` (image -> unpooled map)
    runs once per image, the heads (pooled map -> class map, and box map for
    a model with a regressor) on the pooled maps of every offset. Classifier
    and regressor share that one pass of the feature layers (paper 4.1), and
    both share the model's layers and weights.

    Args:
        model: `overfeat_tf.models.OverFeat`.
        formulation: str. `"dilated"` (default), `"space_to_batch"` or
            `"offsets"` (see the module docstring).

    Call: `dense(images, fine=True)` with float `[batch, height, width, 3]`
    (height, width at least the window) returns the class map
    `[batch, map_h, map_w, classes]` at the fine (default) or coarse stride.
    """

    def __init__(self, model, formulation: str = "dilated"):
        if formulation not in FORMULATIONS:
            raise ValueError(
                f"Unknown formulation. Expected one of {FORMULATIONS}. "
                f"Received: formulation={formulation!r}"
            )
        self.model = model
        self.spec = model.spec
        self.formulation = formulation
        self.pool_size = model.spec.last_pool
        self.fc_kernel = fc_kernel(model.spec)
        self.trunk = keras.Model(
            model.input, model.last_conv.output, name=f"{model.name}_trunk"
        )
        self.head_layers = model.head_layers
        self.regressor_layers = getattr(model, "regressor_layers", [])

    @staticmethod
    def _apply(layers, pooled, dilation, training):
        x = pooled
        for i, layer in enumerate(layers):
            if i == 0 and dilation != 1:
                x = layer(x, dilation=dilation)
            else:
                x = layer(x, training=training)
        return x

    def head(self, pooled, dilation: int = 1, training: bool = False):
        """The classifier on a pooled map; the first layer's window cells
        `dilation` apart. Inference mode (no dropout) unless `training`."""
        return self._apply(self.head_layers, pooled, dilation, training)

    def regressor_head(self, pooled, dilation: int = 1, training: bool = False):
        """The box regressor on a pooled map, as `head`."""
        if not self.regressor_layers:
            raise ValueError(f"{self.model.name} has no box regressor.")
        return self._apply(self.regressor_layers, pooled, dilation, training)

    def features(self, images, training: bool = False):
        """The unpooled last-convolution map `[batch, n_h, n_w, channels]`."""
        return self.trunk(images, training=training)

    def _dense(self, head, prepool, fine):
        if not fine:
            return coarse_map(prepool, head, self.pool_size)
        return fine_map(prepool, head, self.pool_size, self.fc_kernel, self.formulation)

    def classify_features(self, prepool, fine: bool = True):
        """The class map from the unpooled map `features(images)` returns."""
        return self._dense(self.head, prepool, fine)

    def logits_features(self, prepool, fine: bool = True, training: bool = False):
        """The class map before the `predictions` activation (logits), as
        `classify_features`; with dropout if `training` (detection training)."""
        layers = self.head_layers[:-1]

        def head(pooled, dilation=1):
            return self._apply(layers, pooled, dilation, training)

        return self._dense(head, prepool, fine)

    def regress_features(self, prepool, fine: bool = True, training: bool = False):
        """The box map (window-relative edges, `overfeat_tf.ops.boxes`) from
        the unpooled map, at the same cells as `classify_features`."""

        def head(pooled, dilation=1):
            return self.regressor_head(pooled, dilation, training)

        return self._dense(head, prepool, fine)

    def __call__(self, images, fine: bool = True):
        return self.classify_features(self.features(images), fine)
