"""Datasets: TFDS builders of the embedded data (registered on import)."""

from overfeat_tf.data.fashion_scenes import FashionScenes
from overfeat_tf.data.neon_trees import NeonTrees

__all__ = ["FashionScenes", "NeonTrees"]
