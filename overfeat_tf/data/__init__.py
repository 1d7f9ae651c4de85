"""Datasets: TFDS builders of the embedded data (registered on import)."""

from overfeat_tf.data.fashion_scenes import FashionScenes
from overfeat_tf.data.ilsvrc_boxes import Ilsvrc2012Localization
from overfeat_tf.data.neon_trees import NeonTrees

__all__ = ["FashionScenes", "Ilsvrc2012Localization", "NeonTrees"]
