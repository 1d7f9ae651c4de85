"""A trained or imported model on disk: one folder, written atomically.

    <dir>/model.keras        the Keras model (architecture spec and weights)
    <dir>/class_names.txt    one class name per line (optional)

`overfeat import-weights` writes one; `overfeat features` and `overfeat
export` read one.
"""

from __future__ import annotations

import os

import keras

from overfeat_tf.files import atomic_directory
from overfeat_tf.models import OverFeat

__all__ = [
    "CLASS_NAMES_FILE",
    "MODEL_FILE",
    "find_model_dir",
    "load_model_dir",
    "save_model_dir",
    "write_class_names",
]

MODEL_FILE = "model.keras"
CLASS_NAMES_FILE = "class_names.txt"


def write_class_names(path, class_names) -> None:
    """Writes class names one per line (the format `load_model_dir` reads)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in class_names))


def save_model_dir(model, path, class_names=None, overwrite: bool = False) -> str:
    """Saves `model` (and its class names) as a model folder, atomically.

    Args:
        model: `OverFeat`.
        path: str or path-like. The folder to create.
        class_names: list of str, one per class, or None.
        overwrite: bool. Replace an existing folder.

    Returns:
        str: `path`.

    Raises:
        ValueError: if `class_names` does not have one name per class.
        FileExistsError: if `path` exists and `overwrite` is False.
    """
    if class_names is not None and len(class_names) != model.num_classes:
        raise ValueError(
            f"Expected {model.num_classes} class names, one per class. "
            f"Received: {len(class_names)} names."
        )
    with atomic_directory(path, overwrite=overwrite) as tmp:
        model.save(os.path.join(tmp, MODEL_FILE))
        if class_names is not None:
            write_class_names(os.path.join(tmp, CLASS_NAMES_FILE), class_names)
    return os.fspath(path)


def find_model_dir(path) -> str:
    """The model folder `path` names: `path` itself, or a training run's
    `path/model`."""
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, MODEL_FILE)) and os.path.isfile(
        os.path.join(path, "model", MODEL_FILE)
    ):
        return os.path.join(path, "model")
    return path


def load_model_dir(path):
    """Loads a model folder (or a training run folder's `model/`).

    Returns:
        (model, class_names): the `OverFeat` model, and its list of class names
        or None.

    Raises:
        ValueError: if `path` holds no `model.keras`.
    """
    path = find_model_dir(path)
    model_file = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(model_file):
        raise ValueError(
            f"{os.fspath(path)!r} is not a model folder: it has no {MODEL_FILE} "
            "(made by `overfeat import-weights` or training)."
        )
    model = keras.saving.load_model(model_file)
    if not isinstance(model, OverFeat):
        raise ValueError(
            f"{model_file} holds a {type(model).__name__}, not an OverFeat model."
        )
    names_file = os.path.join(path, CLASS_NAMES_FILE)
    class_names = None
    if os.path.isfile(names_file):
        with open(names_file, encoding="utf-8") as f:
            class_names = [line.rstrip("\n") for line in f]
    return model, class_names
