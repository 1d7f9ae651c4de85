"""The detection signatures of the SavedModel (paper 5 in the graph)."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize
from PIL import Image
from test_export import _cli_run, _warmup_signatures

from overfeat_tf.config import Config
from overfeat_tf.models import OverFeat, as_detector
from overfeat_tf.ops import MultiScaleClassifier, MultiScaleDetector
from overfeat_tf.serving import (
    ServingModule,
    export_saved_model,
    load_exported_network,
    load_saved_model,
)

NAMES = ["cap", "shoe", "bag"]


def _config(method):
    config = Config()
    config.export.scales = (0, 2)
    config.export.max_detections = 6
    config.export.detect_threshold = 0.2
    config.export.detect_method = method
    config.export.merge_threshold = 0.7
    config.export.serving_default = "detect_bytes"
    return config


def _detector():
    base = OverFeat("tiny_accurate", num_classes=3)
    randomize(base, 8)
    model = as_detector(base)
    randomize(model, 9)
    # Boxes near their windows, and no class far ahead of the others, so
    # many cells pass the threshold.
    last = model.get_layer("regress3")
    last.kernel.assign(last.kernel * 0.05)
    last.bias.assign(np.array([0.2, 0.1, 0.8, 0.9], np.float32))
    fc9 = model.get_layer("fc9")
    fc9.kernel.assign(fc9.kernel * 0.02)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    model = _detector()
    config = _config("merge")
    path = export_saved_model(model, root / "det", [*NAMES, "background"], config)
    return model, config, path, load_saved_model(path).signatures


def test_detect_signatures_equal_the_python_detector(exported):
    model, config, _, signatures = exported
    reference = MultiScaleDetector.from_export(model, config.export)
    images = np.random.default_rng(3).integers(0, 256, (2, 100, 130, 3), np.uint8)
    want = {k: v.numpy() for k, v in reference(images.astype(np.float32)).items()}
    assert want["num_detections"].min() >= 2  # the comparison covers real boxes
    got = signatures["detect_images"](images=tf.constant(images))
    got = {k: v.numpy() for k, v in got.items()}
    np.testing.assert_array_equal(got["num_detections"], want["num_detections"])
    np.testing.assert_array_equal(got["detection_classes"], want["classes"])
    np.testing.assert_allclose(got["detection_scores"], want["scores"], rtol=1e-5)
    scale = np.array([100, 130, 100, 130], np.float32)
    np.testing.assert_allclose(got["detection_boxes"], want["boxes"] / scale, atol=1e-5)
    for b in range(2):
        n = want["num_detections"][b]
        names = [s.decode() for s in got["detection_class_names"][b]]
        assert names[:n] == [NAMES[c] for c in want["classes"][b, :n]]
        assert names[n:] == [""] * (6 - n)
    # serving_default is detect_bytes, and answers as detect_images does.
    encoded = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="png")
        encoded.append(buf.getvalue())
    by_bytes = signatures["serving_default"](image_bytes=tf.constant(encoded))
    assert set(by_bytes) == set(got)
    np.testing.assert_allclose(
        by_bytes["detection_boxes"].numpy(), got["detection_boxes"], atol=1e-5
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="not a JPEG, PNG, GIF, BMP or WebP"
    ):
        signatures["detect_bytes"](image_bytes=tf.constant([b"not an image" * 10]))


def test_merged_scores_add_up_windows_nms_scores_are_one_window(exported):
    # The same network output both ways: a merged box's score is the sum of
    # several windows' probabilities (> 1 where it gathers many), an NMS
    # survivor's is its own window's (<= 1).
    model, config, _, signatures = exported
    images = np.random.default_rng(3).integers(0, 256, (1, 100, 130, 3), np.uint8)
    merged = signatures["detect_images"](images=tf.constant(images))
    assert float(merged["detection_scores"][0, 0]) > 1.0
    nms = MultiScaleDetector.from_export(model, config.export, method="nms")
    out = nms(images.astype(np.float32))
    assert 0.2 <= float(out["scores"][0, 0]) <= 1.0


def test_a_detectors_classify_and_localize_name_objects_only(exported):
    # One SavedModel for the three tasks: its classification and
    # localization answer with the detector's object classes, as the
    # Python classifier votes them, never with "background".
    model, config, _, signatures = exported
    images = np.random.default_rng(5).integers(0, 256, (2, 100, 130, 3), np.uint8)
    reference = MultiScaleClassifier(model, scales=(0, 2), top_k=3)
    want = reference(images.astype(np.float32))
    got = signatures["classify_images"](images=tf.constant(images))
    assert got["classes"].shape == (2, 3)
    np.testing.assert_array_equal(got["classes"], want["classes"])
    np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-5)
    names = {s.decode() for s in got["class_names"].numpy().ravel()}
    assert names == set(NAMES)
    boxes = signatures["localize_images"](images=tf.constant(images))
    found = boxes["detection_class_names"].numpy().ravel()
    assert {s.decode() for s in found} <= {*NAMES, ""}
    assert boxes["num_detections"].numpy().min() >= 1


def test_the_exported_network_is_built_again_from_the_savedmodel(exported):
    # A committed model re-exported with newer post-processing must be the
    # same network: same heads, the weights of each layer in place (a swap
    # of two same-shape variables, or a regressor of the wrong kind, fails).
    model, config, path, signatures = exported
    again, names, saved = load_exported_network(path)
    assert names == [*NAMES, "background"]
    assert again.background and again.regressor == model.regressor
    assert saved.export == config.export and saved.model.arch == "tiny_accurate"
    for a, b in zip(model.variables, again.variables, strict=True):
        if "seed_generator" not in a.path:  # dropout's, numbered per process
            assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    images = np.random.default_rng(4).integers(0, 256, (1, 90, 110, 3), np.uint8)
    want = signatures["detect_images"](images=tf.constant(images))
    got = ServingModule(again, names, saved.export).detect_images(tf.constant(images))
    for key in ("detection_boxes", "detection_scores", "num_detections"):
        np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), atol=1e-5)


def test_warmup_requests_cover_the_detect_signatures(exported):
    path = exported[2]
    names = _warmup_signatures(path)
    assert {"detect_bytes", "detect_images", "localize_bytes"} <= names


def test_serving_default_must_name_a_signature_of_the_model():
    config = _config("merge")
    model = OverFeat("tiny_fast", num_classes=6)
    with pytest.raises(ValueError, match="no 'detect_bytes' signature"):
        ServingModule(model, export=config.export).signatures()


def test_committed_neon_trees_model_answers_saved_model_cli(tmp_path):
    from overfeat_tf.serving import latest_version

    root = "saved_models/neon_trees"
    path = os.path.join(root, str(latest_version(root)))
    tile = (
        Image.open("data/neon_trees/OSBS_029.jpg").convert("RGB").crop((0, 0, 200, 200))
    )
    buf = io.BytesIO()
    tile.save(buf, format="jpeg")
    np.save(tmp_path / "tile.npy", np.array([buf.getvalue()]))
    run = _cli_run(path, "serving_default", f"image_bytes={tmp_path / 'tile.npy'}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Result for output key detection_boxes" in run.stdout
    assert "tree" in run.stdout
    np.save(tmp_path / "bad.npy", np.array([b"\xff\xd8 not a jpeg"]))
    bad = _cli_run(path, "detect_bytes", f"image_bytes={tmp_path / 'bad.npy'}")
    assert bad.returncode != 0 and "InvalidArgumentError" in bad.stderr


def test_a_hand_set_detector_gives_the_boxes_worked_out_in_numpy():
    # Every cell of this detector says class 1 with the same probability and
    # regresses the central half of its own window (zero kernels, set
    # biases). The signature must return those boxes at every window of
    # both scales and flips, merged as the NumPy reference merges them.
    from references import greedy_merge

    model = _detector()
    fc9, last = model.get_layer("fc9"), model.get_layer("regress3")
    fc9.kernel.assign(tf.zeros_like(fc9.kernel))
    logits = np.array([1.0, 4.0, 0.0, 2.0], np.float32)
    fc9.bias.assign(logits)
    last.kernel.assign(tf.zeros_like(last.kernel))
    last.bias.assign(np.array([0.25, 0.25, 0.75, 0.75], np.float32))
    config = _config("merge")
    config.export.scales = (0, 1)
    config.export.max_detections = 40
    config.export.merge_threshold = 0.3
    module = ServingModule(model, [*NAMES, "background"], config.export)
    out = module.detect_images(images=tf.zeros([1, 97, 97, 3], tf.uint8))

    p = np.exp(logits)[1] / np.exp(logits).sum()
    boxes = []
    # Scale 0 is 97x97 (the image itself), scale 1 109x109 (85 + 2 * 12): 2x2
    # and 3x3 windows 12 px apart, mapped back by 97 / side; each seen twice
    # (the mirrored pass gives the same central halves).
    for side in (97, 109):
        n = (side - 85) // 12 + 1
        for i in range(n):
            for j in range(n):
                y, x = 12 * i, 12 * j
                box = np.array([y + 21.25, x + 21.25, y + 63.75, x + 63.75])
                boxes += [box * 97 / side] * 2
    want_boxes, want_scores = greedy_merge(np.array(boxes), [p] * len(boxes), 0.3)
    k = int(out["num_detections"][0])
    assert k == len(want_scores) > 1
    np.testing.assert_allclose(
        out["detection_boxes"][0, :k], want_boxes / 97, atol=1e-4
    )
    np.testing.assert_allclose(out["detection_scores"][0, :k], want_scores, rtol=1e-4)
    assert [s.decode() for s in out["detection_class_names"][0, :k].numpy()] == [
        "shoe"
    ] * k
