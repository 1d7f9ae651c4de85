"""ILSVRC localization error: hand-worked guesses, and the evaluation loop."""

import numpy as np
import tensorflow as tf

from overfeat_tf.eval import (
    evaluate_detect_signature,
    evaluate_localizer,
    localization_hits,
    localize_signature,
)


def test_hits_need_the_class_and_half_the_box():
    truth = np.array([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]] * 4)
    labels = np.array([[3, 7]] * 4)
    # IoU of [0, 0, .5, .4] with [0, 0, .5, .5] is 0.8; of [0, 0, .5, .2], 0.4.
    guesses = np.array(
        [
            [[0, 0, 0.5, 0.4], [0, 0, 0, 0]],  # right class, IoU 0.8: hit
            [[0, 0, 0.5, 0.2], [0.5, 0.5, 1, 1]],  # IoU 0.4, then right 2nd guess
            [[0, 0, 0.5, 0.5], [0, 0, 0, 0]],  # perfect box, wrong class
            [[0.5, 0.5, 1, 1], [0, 0, 0.5, 0.5]],  # right, but past num_detections
        ]
    )
    classes = np.array([[3, 0], [3, 7], [7, 0], [0, 3]])
    count = np.array([1, 2, 1, 1])
    top1 = localization_hits(guesses, classes, count, truth, labels, 1)
    top2 = localization_hits(guesses, classes, count, truth, labels, 2)
    np.testing.assert_array_equal(top1, [True, False, False, False])
    np.testing.assert_array_equal(top2, [True, True, False, False])
    any_class = localization_hits(
        guesses, classes, count, truth, labels, 1, check_class=False
    )
    np.testing.assert_array_equal(any_class, [True, False, True, True])
    # Padded ground truth (label -1) is never matched.
    padded = localization_hits(
        guesses, np.full((4, 2), -1), count, truth, -np.ones((4, 2)), 2
    )
    assert not padded.any()


def test_evaluate_localizer_counts_a_perfect_and_a_wrong_localizer():
    images = np.zeros((6, 40, 60, 3), np.uint8)
    boxes = np.array([[0.1, 0.2, 0.6, 0.9]] * 6, np.float32)
    labels = np.arange(6) % 3
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": images, "objects": {"bbox": boxes[:, None], "label": labels[:, None]}}
    )

    batches = iter([labels[:4, None], labels[4:, None]])  # batches of 4, in order

    def perfect(x):
        b = tf.shape(x)[0]
        return {
            "boxes": tf.constant([[[4.0, 12.0, 24.0, 54.0]]]) * tf.ones([b, 1, 1]),
            "classes": tf.constant(next(batches), tf.int32),
            "num_detections": tf.ones([b], tf.int32),
        }

    result = evaluate_localizer(perfect, ds, batch_size=4, ks=(1,))
    assert result["examples"] == 6 and result["error_top1"] == 0.0

    def shifted(x):
        b = tf.shape(x)[0]
        return {
            "boxes": tf.constant([[[24.0, 36.0, 40.0, 60.0]]]) * tf.ones([b, 1, 1]),
            "classes": tf.zeros([b, 1], tf.int32),
            "num_detections": tf.ones([b], tf.int32),
        }

    result = evaluate_localizer(shifted, ds, batch_size=4, ks=(1,))
    assert result["error_top1"] == 1.0 and result["box_error_top1"] == 1.0


def test_images_of_different_sizes_are_scored_unpadded():
    # An oracle that answers each image with its true box, in pixels of the
    # image it is given. Images of 40x60 and 80x100, interleaved: padding
    # them into one batch would show it black borders (a 40x60 image as
    # 80x100) and divide its boxes by the padded size; it must score
    # error 0 at every batch size.
    truth = {(40, 60): [0.1, 0.2, 0.6, 0.9], (80, 100): [0.5, 0.05, 0.95, 0.4]}
    sizes = [(40, 60), (80, 100), (80, 100), (40, 60), (40, 60), (80, 100)]
    seen = []

    def examples():
        for i, hw in enumerate(sizes):
            yield {
                "image": np.full(hw + (3,), 100 + i, np.uint8),
                "objects": {
                    "bbox": np.float32([truth[hw]]),
                    "label": np.int64([i % 2]),
                },
            }

    ds = tf.data.Dataset.from_generator(
        examples,
        output_signature={
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "objects": {
                "bbox": tf.TensorSpec([None, 4], tf.float32),
                "label": tf.TensorSpec([None], tf.int64),
            },
        },
    )

    def oracle(images):
        images = images.numpy()
        h, w = images.shape[1:3]
        seen.append((images.shape[0], (h, w)))
        # Each image is one of the dataset's, whole: no black border.
        assert (images.min((1, 2, 3)) >= 100).all()
        index = (images[:, 0, 0, 0] - 100).astype(int)
        box = np.float32(truth[h, w]) * [h, w, h, w]
        return {
            "boxes": tf.constant(np.tile(box, (len(images), 1, 1)), tf.float32),
            "classes": tf.constant((index % 2)[:, None], tf.int32),
            "num_detections": tf.ones([len(images)], tf.int32),
        }

    for batch_size in (1, 2, 50):
        seen.clear()
        result = evaluate_localizer(oracle, ds, batch_size=batch_size, ks=(1,))
        assert result["examples"] == 6
        assert result["error_top1"] == 0.0, batch_size
    # At 50, runs of one size: 1, 2, 2, 1 images, in the dataset's order.
    assert seen == [(1, (40, 60)), (2, (80, 100)), (2, (40, 60)), (1, (80, 100))]


def _scenes():
    """Three images of two sizes, one or two boxes each (normalised)."""
    examples = [
        ((40, 60), [[0.1, 0.2, 0.6, 0.9]], [2]),
        ((50, 30), [[0.0, 0.1, 0.5, 0.5], [0.5, 0.5, 1.0, 0.9]], [0, 1]),
        ((40, 60), [[0.3, 0.3, 0.9, 0.7]], [1]),
    ]
    for (h, w), boxes, labels in examples:
        yield {
            "image": tf.zeros([h, w, 3], tf.uint8),
            "objects": {
                "bbox": tf.constant(boxes, tf.float32),
                "label": tf.constant(labels, tf.int64),
            },
        }


def _signature(examples, shift=0.0, pad=3):
    """A stand-in for a SavedModel's box signature answering each image with
    its true boxes (normalised, moved by `shift`), padded to `pad` rows."""
    answers = iter(examples)

    def signature(images):
        assert images.dtype == tf.uint8
        truth = next(answers)["objects"]
        n = min(len(truth["label"]), pad)
        boxes = np.zeros((1, pad, 4), np.float32)
        boxes[0, :n] = truth["bbox"].numpy()[:n] + shift
        classes = np.zeros((1, pad), np.int32)
        classes[0, :n] = truth["label"].numpy()[:n]
        scores = np.zeros((1, pad), np.float32)
        scores[0, :n] = 0.9
        return {
            "detection_boxes": tf.constant(boxes),
            "detection_classes": tf.constant(classes),
            "detection_scores": tf.constant(scores),
            "num_detections": tf.constant([n], tf.int32),
        }

    return signature


def test_signature_answers_are_scored_in_their_images_pixels():
    # The signatures answer in normalised boxes; AP and the localization
    # error count in pixels of images of different shapes. Catches boxes
    # left normalised, or scaled by (width, height) in place of (height,
    # width), and a padded row counted as a detection.
    examples = list(_scenes())
    ap = evaluate_detect_signature(_signature(examples), examples, num_classes=3)
    assert ap["examples"] == 3 and ap["AP50"] == 1.0 and ap["AP"] == 1.0
    moved = evaluate_detect_signature(_signature(examples, 0.3), examples, 3)
    assert moved["AP50"] == 0.0

    ds = tf.data.Dataset.from_generator(  # one image a batch: sizes differ
        _scenes,
        output_signature={
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "objects": {
                "bbox": tf.TensorSpec([None, 4], tf.float32),
                "label": tf.TensorSpec([None], tf.int64),
            },
        },
    )
    localize = localize_signature(_signature(examples, pad=1))
    result = evaluate_localizer(localize, ds, batch_size=1, ks=(1,))
    assert result["examples"] == 3 and result["error_top1"] == 0.0
    localize = localize_signature(_signature(examples, 0.3, pad=1))
    assert evaluate_localizer(localize, ds, batch_size=1, ks=(1,))["error_top1"] == 1.0
