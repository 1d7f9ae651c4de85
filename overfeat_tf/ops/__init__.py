"""Graph-safe TensorFlow ops of OverFeat."""

from overfeat_tf.ops.dense import FORMULATIONS, DenseClassifier, coarse_map, fine_map
from overfeat_tf.ops.detect import MultiScaleDetector, detect_maps
from overfeat_tf.ops.localize import MultiScaleLocalizer, localize_center
from overfeat_tf.ops.merge import greedy_merge, greedy_merge_per_class
from overfeat_tf.ops.multiscale import MultiScaleClassifier, aggregate, scale_sizes

__all__ = [
    "FORMULATIONS",
    "DenseClassifier",
    "MultiScaleClassifier",
    "MultiScaleDetector",
    "MultiScaleLocalizer",
    "aggregate",
    "coarse_map",
    "detect_maps",
    "fine_map",
    "greedy_merge",
    "greedy_merge_per_class",
    "localize_center",
    "scale_sizes",
]
