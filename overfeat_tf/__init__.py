"""overfeat-tf: OverFeat (Sermanet et al. 2013) in TensorFlow / Keras.

    import overfeat_tf
    model = overfeat_tf.OverFeat("accurate", num_classes=1000)
    dense = overfeat_tf.DenseClassifier(model)   # fine-stride class maps

Importing the package registers its TFDS datasets (`fashion_scenes`,
`neon_trees`); other names are imported on first use.
"""

import importlib

import overfeat_tf.data  # noqa: F401  (registers the TFDS builders)

__version__ = "0.1.0"

_EXPORTS = {
    "DenseClassifier": "overfeat_tf.ops",
    "MultiScaleClassifier": "overfeat_tf.ops",
    "MultiScaleLocalizer": "overfeat_tf.ops",
    "greedy_merge": "overfeat_tf.ops",
    "with_regressor": "overfeat_tf.models",
    "NetworkSpec": "overfeat_tf.specs",
    "OverFeat": "overfeat_tf.models",
    "SPECS": "overfeat_tf.specs",
    "feature_extractor": "overfeat_tf.models",
    "get_spec": "overfeat_tf.specs",
    "preprocess_input": "overfeat_tf.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'overfeat_tf' has no attribute {name!r}")
