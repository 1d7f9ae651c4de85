"""The original OverFeat release's weight files (`net_weight_0`, `net_weight_1`).

Format: one flat little-endian float32 file. For each weighted layer in order
(conv1, ..., then the fully connected layers, the class layer last), the
weights then the biases; weights laid out `(out, in, kh, kw)`, the fully
connected layers stored as convolutions the same way (accurate fc7:
`(4096, 1024, 5, 5)`, fc8: `(4096, 4096, 1, 1)`). Keras kernels are
`(kh, kw, in, out)`, so each weight block is transposed `(2, 3, 1, 0)`.

    net_weight_0: fast,     145,920,872 values (583,683,488 bytes)
    net_weight_1: accurate, 144,656,488 values (578,625,952 bytes)

The release's input normalisation, `(rgb_0_255 - 118.380948) / 61.896913`, is
the `OverFeat` model's default (`include_preprocessing=True`), so imported
weights work unchanged on RGB images in [0, 255].
"""

from __future__ import annotations

import os

import numpy as np

from overfeat_tf.files import atomic_file

__all__ = ["load_class_names", "load_release_weights", "save_release_weights"]

_DTYPE = np.dtype("<f4")


def _weighted_layers(model):
    names = [row.name for row in model.spec.layers]
    return [model.get_layer(name) for name in names]


def _expected_values(model) -> int:
    return sum(
        int(np.prod(v.shape))
        for layer in _weighted_layers(model)
        for v in layer.weights
    )


def load_release_weights(model, path) -> None:
    """Loads a release weight file into `model` in place.

    Args:
        model: `overfeat_tf.models.OverFeat` of the file's architecture
            (`"fast"` for net_weight_0, `"accurate"` for net_weight_1) and
            number of classes (1000 for the release).
        path: str or path-like. The weight file.

    Raises:
        ValueError: if the file's size is not that of the model's weights (it
            is checked before anything is read), or it cannot be read.
    """
    path = os.fspath(path)
    expected = _expected_values(model) * _DTYPE.itemsize
    try:
        found = os.path.getsize(path)
    except OSError as e:
        raise ValueError(f"Cannot read weight file {path!r}: {e.strerror}.") from None
    if found != expected:
        raise ValueError(
            f"Weight file {path!r} has {found:,} bytes; the {model.spec.name!r} "
            f"network with {model.num_classes} classes needs {expected:,} bytes "
            f"({expected // 4:,} float32 values). Is it the right file "
            "(net_weight_0 is fast, net_weight_1 is accurate), complete, and "
            "for the same number of classes?"
        )
    flat = np.memmap(path, dtype=_DTYPE, mode="r")
    offset = 0
    for layer in _weighted_layers(model):
        kernel, bias = layer.kernel, layer.bias
        kh, kw, cin, cout = kernel.shape
        n = cout * cin * kh * kw
        block = np.asarray(flat[offset : offset + n]).reshape(cout, cin, kh, kw)
        kernel.assign(block.transpose(2, 3, 1, 0).astype(np.float32))
        offset += n
        bias.assign(np.asarray(flat[offset : offset + cout], np.float32))
        offset += cout
    assert offset == expected // 4


def save_release_weights(model, path) -> None:
    """Writes `model`'s weights in the release layout (the inverse of loading).

    The file is written beside `path` and renamed into place, so a reader never
    sees half of it.
    """
    path = os.fspath(path)
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        for layer in _weighted_layers(model):
            kernel = np.asarray(layer.kernel.numpy(), _DTYPE)
            f.write(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)).tobytes())
            f.write(np.asarray(layer.bias.numpy(), _DTYPE).tobytes())


def load_class_names(path, num_classes: int) -> list[str]:
    """Reads a labels file: one class name per line, `num_classes` lines.

    Raises:
        ValueError: if the file has another number of (non-empty) lines.
    """
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f.read().splitlines()]
    while names and not names[-1]:
        names.pop()
    if len(names) != num_classes or not all(names):
        raise ValueError(
            f"Labels file {os.fspath(path)!r} has {len(names)} lines "
            f"({sum(1 for n in names if not n)} empty); expected one non-empty "
            f"name per line for each of the {num_classes} classes."
        )
    return names
