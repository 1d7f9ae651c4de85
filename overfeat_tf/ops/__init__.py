"""Graph-safe TensorFlow ops of OverFeat."""

from overfeat_tf.ops.dense import FORMULATIONS, DenseClassifier, coarse_map, fine_map

__all__ = ["FORMULATIONS", "DenseClassifier", "coarse_map", "fine_map"]
