"""Boxes in the frame of the window that predicts them (paper 4.2, Fig. 8).

The regressor at a cell predicts the object's four edges relative to that
cell's window: for a window `[wy0, wx0, wy1, wx1]` and a box `[y0, x0, y1,
x1]` (all `[ymin, xmin, ymax, xmax]` in pixels of one image),

    targets = [(y0 - wy0) / H, (x0 - wx0) / W, (y1 - wy0) / H, (x1 - wx0) / W]

with H, W the window's height and width: 0..1 spans the window, values
outside it are allowed. A window seen mirrored (the flipped pass) measures
x from its right edge, as the network saw it: `(wx1 - x1) / W` and
`(wx1 - x0) / W` are its second and fourth targets.

Everything here is plain TensorFlow, broadcasting over leading axes; IoU
and format conversions elsewhere come from `keras.utils.bounding_boxes`.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "MIN_COVERAGE",
    "coverage",
    "decode",
    "detection_labels",
    "encode",
    "regression_targets",
    "window_grid",
]

MIN_COVERAGE = 0.5  # paper 4.2: a window trains on boxes it holds half of
IGNORED = -1  # `detection_labels`: a cell that does not train the classifier


def encode(boxes, windows, flipped=False):
    """Boxes -> targets in the windows' frames (module docstring).

    Args:
        boxes: float `[..., 4]` pixels. windows: float `[..., 4]` pixels
            (broadcasting with `boxes`).
        flipped: bool, or bool tensor broadcasting with `[...]`: the windows
            are seen mirrored.

    Returns:
        float32 `[..., 4]` targets.
    """
    boxes = tf.cast(boxes, tf.float32)
    wy0, wx0, wy1, wx1 = tf.unstack(tf.cast(windows, tf.float32), axis=-1)
    y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
    h, w = wy1 - wy0, wx1 - wx0
    left, right = (x0 - wx0) / w, (x1 - wx0) / w
    left, right = _mirror(flipped, left, right, (wx1 - x1) / w, (wx1 - x0) / w)
    return tf.stack([(y0 - wy0) / h, left, (y1 - wy0) / h, right], axis=-1)


def _mirror(flipped, x0, x1, x0_flipped, x1_flipped):
    if isinstance(flipped, bool):
        return (x0_flipped, x1_flipped) if flipped else (x0, x1)
    return tf.where(flipped, x0_flipped, x0), tf.where(flipped, x1_flipped, x1)


def decode(targets, windows, flipped=False):
    """Targets in the windows' frames -> boxes in pixels; inverse of `encode`.

    Args:
        targets: float `[..., 4]`. windows: float `[..., 4]` pixels.
        flipped: bool, or bool tensor broadcasting with `[...]`: the targets
            were predicted on the mirrored image.

    Returns:
        float32 `[..., 4]` `[ymin, xmin, ymax, xmax]` pixels.
    """
    t0, t1, t2, t3 = tf.unstack(tf.cast(targets, tf.float32), axis=-1)
    wy0, wx0, wy1, wx1 = tf.unstack(tf.cast(windows, tf.float32), axis=-1)
    h, w = wy1 - wy0, wx1 - wx0
    x0, x1 = _mirror(flipped, wx0 + t1 * w, wx0 + t3 * w, wx1 - t3 * w, wx1 - t1 * w)
    return tf.stack([wy0 + t0 * h, x0, wy0 + t2 * h, x1], axis=-1)


def coverage(boxes, windows):
    """The fraction of each box's area that lies inside each window.

    Args:
        boxes: float `[..., 4]` pixels. windows: float `[..., 4]`
            (broadcasting).

    Returns:
        float32 `[...]` in [0, 1]; 0 for boxes of no area.
    """
    by0, bx0, by1, bx1 = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    wy0, wx0, wy1, wx1 = tf.unstack(tf.cast(windows, tf.float32), axis=-1)
    inter = tf.maximum(tf.minimum(by1, wy1) - tf.maximum(by0, wy0), 0.0) * tf.maximum(
        tf.minimum(bx1, wx1) - tf.maximum(bx0, wx0), 0.0
    )
    return tf.math.divide_no_nan(inter, (by1 - by0) * (bx1 - bx0))


def window_grid(rows, cols, stride, window):
    """Each cell's window of a dense map on the unflipped input.

    Args:
        rows, cols: int scalars: map size.
        stride: int: pixels between neighbouring cells.
        window: int: window side.

    Returns:
        float32 `[rows, cols, 4]`: cell (i, j) covers `[i s, j s, i s + window,
        j s + window]`.
    """
    y = tf.cast(tf.range(rows) * stride, tf.float32)
    x = tf.cast(tf.range(cols) * stride, tf.float32)
    y0, x0 = tf.meshgrid(y, x, indexing="ij")
    return tf.stack([y0, x0, y0 + window, x0 + window], axis=-1)


def regression_targets(windows, boxes, labels, min_coverage=MIN_COVERAGE):
    """The regressor's training targets for every cell (paper 4.2).

    A cell trains on a box only when its window holds at least
    `min_coverage` of the box's area; of several such boxes, on the one it
    holds most of (the first on ties).

    Args:
        windows: float `[h, w, 4]` pixels (`window_grid`).
        boxes: float `[n, 4]` pixels, the ground truth; n may be 0.
        labels: int `[n]`: each box's class.
        min_coverage: float.

    Returns:
        dict: `targets` float32 `[h, w, 4]` (zeros where not trained),
        `mask` float32 `[h, w]` (1 where the cell trains), `labels` int32
        `[h, w]` (the class of the cell's box, 0 where not trained).
    """
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    cover = coverage(boxes[None, None], tf.cast(windows, tf.float32)[:, :, None])
    # A column of zeros after the boxes: n may be 0.
    cover = tf.concat([cover, tf.zeros(tf.concat([tf.shape(cover)[:-1], [1]], 0))], -1)
    best = tf.argmax(cover, axis=-1, output_type=tf.int32)
    mask = tf.reduce_max(cover, axis=-1) >= min_coverage
    boxes = tf.concat([boxes, tf.zeros([1, 4])], 0)
    labels = tf.concat([labels, [0]], 0)
    targets = encode(tf.gather(boxes, best), windows)
    maskf = tf.cast(mask, tf.float32)
    return {
        "targets": targets * maskf[..., None],
        "mask": maskf,
        "labels": tf.where(mask, tf.gather(labels, best), 0),
    }


def detection_labels(
    windows,
    boxes,
    labels,
    background: int,
    positive_coverage: float = MIN_COVERAGE,
    min_box_size: float = 0.5,
    negative_overlap: float = 0.2,
):
    """The class every cell of a dense map trains on for detection (paper 5).

    - An object class where the window holds at least `positive_coverage`
      of a box's area and the box is not much smaller than the window (the
      square root of its area is at least `min_box_size` of the window's
      side); of several such boxes, the one it holds most of, as the
      regressor's `regression_targets` chooses.
    - `background` where the window touches no box beyond a small overlap:
      for every box, the intersection is at most `negative_overlap` of the
      smaller of the box and the window.
    - `IGNORED` (-1) in between: a window holding a small object whole, a
      window inside a large one, a window cutting an object in half. Those
      train neither way; other scales see the same object at a size that
      labels it.

    Args:
        windows: float `[h, w, 4]` pixels (`window_grid`).
        boxes: float `[n, 4]` pixels, the ground truth; n may be 0.
        labels: int `[n]`: each box's class, in `0..background - 1`.
        background: int: the background class (the detector's last).
        positive_coverage, min_box_size, negative_overlap: float.

    Returns:
        int32 `[h, w]`.
    """
    windows = tf.cast(windows, tf.float32)
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    by0, bx0, by1, bx1 = tf.unstack(boxes[None, None], axis=-1)  # [1, 1, n]
    wy0, wx0, wy1, wx1 = tf.unstack(windows[:, :, None], axis=-1)  # [h, w, 1]
    inter = tf.maximum(tf.minimum(by1, wy1) - tf.maximum(by0, wy0), 0.0) * tf.maximum(
        tf.minimum(bx1, wx1) - tf.maximum(bx0, wx0), 0.0
    )
    box_area = (by1 - by0) * (bx1 - bx0)
    window_area = (wy1 - wy0) * (wx1 - wx0)
    cover = tf.math.divide_no_nan(inter, box_area)  # [h, w, n]
    large = box_area >= min_box_size**2 * window_area
    eligible = tf.where((cover >= positive_coverage) & large, cover, -1.0)
    # A column after the boxes: n may be 0.
    pad = tf.fill(tf.concat([tf.shape(eligible)[:-1], [1]], 0), -1.0)
    eligible = tf.concat([eligible, pad], -1)
    best = tf.argmax(eligible, axis=-1, output_type=tf.int32)
    positive = tf.reduce_max(eligible, axis=-1) >= 0.0
    touch = tf.math.divide_no_nan(inter, tf.minimum(box_area, window_area))
    clear = tf.reduce_all(touch <= negative_overlap, axis=-1)
    out = tf.where(clear, background, IGNORED)
    return tf.where(positive, tf.gather(tf.concat([labels, [0]], 0), best), out)
