"""The detection signatures of the SavedModel (paper 5 in the graph)."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize
from PIL import Image
from test_export import _cli, _cli_run

from overfeat_tf.config import Config
from overfeat_tf.models import OverFeat, as_detector
from overfeat_tf.ops import MultiScaleDetector
from overfeat_tf.serving import ServingModule, export_saved_model, load_saved_model

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
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file"):
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


def test_warmup_requests_cover_the_detect_signatures(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    path = exported[2]
    records = tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    )
    names = {
        prediction_log_pb2.PredictionLog.FromString(
            r.numpy()
        ).predict_log.request.model_spec.signature_name
        for r in records
    }
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
    show = _cli("show", "--dir", path, "--tag_set", "serve")
    assert show.returncode == 0, show.stderr
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
