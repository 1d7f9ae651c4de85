"""Evaluation: the paper's error measures."""

from overfeat_tf.eval.localization import (
    evaluate_localizer,
    evaluate_model_dir,
    ground_truth_batches,
    localization_hits,
)

__all__ = [
    "evaluate_localizer",
    "evaluate_model_dir",
    "ground_truth_batches",
    "localization_hits",
]
