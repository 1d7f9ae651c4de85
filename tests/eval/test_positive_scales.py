"""Which ground-truth boxes a detector's scales can train as objects."""

import dataclasses

import numpy as np
import tensorflow as tf

from overfeat_tf import geometry
from overfeat_tf.eval import positive_scales
from overfeat_tf.specs import SPECS


def _examples(images):
    for size, boxes in images:
        yield {
            "image": tf.zeros([size, size, 3], tf.uint8),
            "objects": {"bbox": tf.constant(np.reshape(boxes, [-1, 4]) / size)},
        }


def test_boxes_too_small_or_too_large_for_a_scale_are_never_positive():
    # The window is 85 px; a 192 px image at scales 97 and 193 is resized by
    # 0.505 and 1.005. With min_box_size 0.6 a box is an object at a scale
    # only if its side there is at least 51 px; with positive_coverage 0.7
    # an 85 px window must hold 70% of it. Worked by hand, each box in the
    # top-left corner (the first window holds it whole when it fits):
    # - 60 px: 30 px at 97 (too small), 60 px at 193 (positive);
    # - 150 px: 76 px at 97 (positive), 151 px at 193 (an 85 px window
    #   holds at most 32% of it);
    # - 20 px: 10 and 20 px, never;
    # - a 60 x 120 box in the middle (root 85): 43 px at 97 (too small),
    #   60 x 121 at 193, of which a window holds 85 / 121 = 70.3%: positive.
    spec = dataclasses.replace(SPECS["tiny_accurate"], scales=((97, 97), (193, 193)))
    assert spec.window == 85 and geometry.fine_stride(spec) == 12
    images = [
        (192, [[0, 0, 60, 60], [0, 0, 150, 150], [0, 0, 20, 20]]),
        (192, np.zeros((0, 4))),  # no boxes: nothing to report
        (192, [[66, 36, 126, 156]]),
    ]
    got = positive_scales(
        _examples(images), spec, positive_coverage=0.7, min_box_size=0.6
    )
    np.testing.assert_allclose(got["root"], [60, 150, 20, np.sqrt(60 * 120)], rtol=1e-5)
    np.testing.assert_array_equal(
        got["positive"],
        [[False, True], [True, False], [False, False], [False, True]],
    )
    # The defaults (half the box, half the window's side): 60 px is 30 px
    # at 97, under 42.5; the 20 px box is still too small everywhere.
    loose = positive_scales(_examples(images), spec)
    np.testing.assert_array_equal(
        loose["positive"],
        [[False, True], [True, False], [False, False], [True, True]],
    )
