"""Evaluation: the paper's error measures, its Table 2, and COCO's AP."""

from overfeat_tf.eval.classification import Vote, vote_table
from overfeat_tf.eval.detection import (
    box_precision_recall,
    coco_ap,
    evaluate_detect_signature,
    evaluate_detector,
    positive_scales,
    signature_detections,
)
from overfeat_tf.eval.localization import (
    evaluate_localizer,
    ground_truth_batches,
    localization_hits,
    localize_signature,
)
from overfeat_tf.eval.model_dir import evaluate_model_dir

__all__ = [
    "Vote",
    "box_precision_recall",
    "coco_ap",
    "evaluate_detect_signature",
    "evaluate_detector",
    "evaluate_localizer",
    "evaluate_model_dir",
    "ground_truth_batches",
    "localization_hits",
    "localize_signature",
    "positive_scales",
    "signature_detections",
    "vote_table",
]
