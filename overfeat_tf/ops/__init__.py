"""Graph-safe TensorFlow ops of OverFeat."""

from overfeat_tf.ops.dense import FORMULATIONS, DenseClassifier, coarse_map, fine_map
from overfeat_tf.ops.multiscale import MultiScaleClassifier, aggregate, scale_sizes

__all__ = [
    "FORMULATIONS",
    "DenseClassifier",
    "MultiScaleClassifier",
    "aggregate",
    "coarse_map",
    "fine_map",
    "scale_sizes",
]
