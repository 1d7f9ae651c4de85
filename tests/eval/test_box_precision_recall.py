"""DeepForest's box precision and recall at IoU 0.4, and COCO's crowd regions
(ignored by evaluation, left out of training), on hand-made boxes."""

import numpy as np
import pytest
import tensorflow as tf

from overfeat_tf.data.pipeline import _boxes_labels
from overfeat_tf.eval import box_precision_recall, coco_ap

# Two true boxes side by side. The detection scoring 0.9 overlaps A (IoU
# 2/3) and B (0.43); the one scoring 0.5 overlaps A alone (0.9).
A, B = [0, 0, 10, 10], [0, 6, 10, 16]
TRUTH = [{"boxes": [A, B], "labels": [0, 0], "height": 20, "width": 20}]
FOUND = [
    {"boxes": [[0, 0, 10, 9], [0, 2, 10, 12]], "scores": [0.5, 0.9],
     "classes": [0, 1]},
]  # fmt: skip


def test_one_to_one_by_score():
    # By score: 0.9 takes A, 0.5 finds A taken (B is 0.19 away): one match.
    # Bugs caught: detections taken in the order given (0.5 takes A, 0.9
    # then B: two matches), a true box matched twice (precision 1), the
    # classes compared (DeepForest's measure is class-agnostic: 0).
    out = box_precision_recall(TRUTH, FOUND)
    assert out == {
        "precision": 0.5, "recall": 0.5, "detections": 2, "boxes": 2, "matched": 1
    }  # fmt: skip


def test_iou_of_exactly_the_threshold_is_no_match():
    # DeepForest matches on IoU > 0.4: a box holding 40% of its truth is
    # not found. Bug caught: >= (pycocotools') in place of DeepForest's >.
    found = [{"boxes": [[0, 0, 10, 4]], "scores": [1.0], "classes": [0]}]
    truth = [{"boxes": [A], "labels": [0], "height": 20, "width": 20}]
    assert box_precision_recall(truth, found)["matched"] == 0
    found[0]["boxes"] = [[0, 0, 10, 4.1]]
    assert box_precision_recall(truth, found)["matched"] == 1


def test_crowd_regions_are_neither_found_nor_missed():
    # A crowd region and a detection inside it: P and R as without both,
    # and so COCO's AP. Bug caught: the crowd flag dropped (the region a
    # missed box, the detection a false one).
    crowd = [{**TRUTH[0], "boxes": [A, B, [12, 12, 20, 20]], "labels": [0, 0, 0],
              "crowd": [False, False, True]}]  # fmt: skip
    inside = [{"boxes": [*FOUND[0]["boxes"], [13, 13, 19, 19]],
               "scores": [0.5, 0.9, 0.7], "classes": [0, 1, 0]}]  # fmt: skip
    assert box_precision_recall(crowd, inside) == box_precision_recall(TRUTH, FOUND)
    same_classes = [{**FOUND[0], "classes": [0, 0]}]
    same_inside = [{**inside[0], "classes": [0, 0, 0]}]
    assert coco_ap(crowd, same_inside, 1) == pytest.approx(
        coco_ap(TRUTH, same_classes, 1)
    )


def test_training_leaves_crowd_boxes_out():
    # Bug caught: a crowd region trained as one object.
    example = {
        "objects": {
            "bbox": tf.constant([[0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0]]),
            "label": tf.constant([1, 0], tf.int64),
            "is_crowd": tf.constant([False, True]),
        }
    }
    boxes, labels = _boxes_labels(example)
    np.testing.assert_allclose(boxes.numpy(), [[0.1, 0.1, 0.5, 0.5]])
    assert labels.numpy().tolist() == [1]
    del example["objects"]["is_crowd"]  # datasets without the feature: all boxes
    assert _boxes_labels(example)[1].numpy().tolist() == [1, 0]
