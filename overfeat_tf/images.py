"""Reading image files for the command line tools."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

__all__ = ["read_image"]


def read_image(path) -> np.ndarray:
    """Reads a JPEG / PNG / GIF / BMP file as RGB.

    Grey images are repeated to three channels and an alpha channel is
    dropped; an animated GIF gives its first frame.

    Args:
        path: str or path-like.

    Returns:
        float32 array `[height, width, 3]`, RGB in [0, 255].

    Raises:
        ValueError: if the file cannot be read or decoded as an image.
    """
    path = os.fspath(path)
    try:
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
        reason = (
            "not found" if isinstance(e, tf.errors.NotFoundError) else "not an image"
        )
        raise ValueError(f"Cannot read image {path!r}: {reason}.") from None
    return image.numpy().astype(np.float32)
