"""Features at any layer for image files (paper 3.2): `overfeat features`."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from overfeat_tf.files import atomic_file
from overfeat_tf.images import read_image
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.models import feature_extractor

__all__ = ["save_features"]


def save_features(model_dir, layer: str, paths, out, size=None) -> tuple:
    """Writes one layer's maps for image files as one `.npy` array.

    Args:
        model_dir: str. A model folder (`overfeat import-weights`, training).
        layer: str. Layer name, e.g. `"conv5"`.
        paths: list of image file paths (JPEG / PNG / GIF / BMP).
        out: str. The `.npy` file, written atomically.
        size: (height, width) or None: resize every image first (needed when
            their sizes differ).

    Returns:
        tuple: the shape of the array written, `[images, h, w, channels]`.

    Raises:
        ValueError: unknown layer, unreadable image, mixed sizes without
            `size`, an image smaller than the window, or `out` not `.npy`.
    """
    out = os.fspath(out)
    if not out.endswith(".npy"):
        raise ValueError(f"--out must name a .npy file. Received: {out!r}")
    model, _ = load_model_dir(model_dir)
    extractor = feature_extractor(model, layer)
    images = [read_image(p) for p in paths]
    if size:
        images = [tf.image.resize(x, size, antialias=True).numpy() for x in images]
    sizes = {x.shape[:2] for x in images}
    if len(sizes) > 1:
        raise ValueError(
            f"Images have different sizes {sorted(sizes)}; pass --size HxW to "
            "resize them to one."
        )
    window = model.spec.window
    small = [p for p, x in zip(paths, images, strict=True) if min(x.shape[:2]) < window]
    if small:
        raise ValueError(
            f"Images smaller than the {window}x{window} window: {small}; pass --size."
        )
    features = extractor.predict(np.stack(images), batch_size=8, verbose=0)
    with atomic_file(out, ".npy") as tmp:
        np.save(tmp, features)
    return features.shape
