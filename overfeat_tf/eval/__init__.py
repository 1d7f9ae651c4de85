"""Evaluation: the paper's error measures."""

from overfeat_tf.eval.localization import (
    evaluate_localizer,
    ground_truth_batches,
    localization_hits,
)

__all__ = ["evaluate_localizer", "ground_truth_batches", "localization_hits"]
