"""The localization signatures of the SavedModel (paper 4.3 in the graph)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize, run_cli
from PIL import Image
from test_export import _cli, _cli_run, _warmup_signatures

from overfeat_tf.config import Config
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import MultiScaleLocalizer
from overfeat_tf.serving import export_saved_model, load_saved_model

NAMES = [f"item {i}" for i in range(6)]
OUTPUTS = (
    "detection_boxes",
    "detection_scores",
    "detection_classes",
    "detection_class_names",
    "num_detections",
)


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="png")
    return buf.getvalue()


def _config():
    config = Config()
    config.export.scales = (0, 2)
    config.export.top_k = 2
    config.export.max_detections = 4
    config.export.merge_threshold = 0.7
    return config


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    model = OverFeat("tiny_accurate", num_classes=6, regressor="per_class")
    randomize(model, 8)
    # Regressor outputs of a plausible size: boxes near their windows.
    last = model.get_layer("regress3")
    last.kernel.assign(last.kernel * 0.05)
    last.bias.assign(np.tile([0.2, 0.1, 0.8, 0.9], 6).astype(np.float32))
    path = export_saved_model(model, root / "loc", NAMES, _config())
    return model, path, load_saved_model(path).signatures


def test_signatures_equal_the_python_localizer(exported):
    model, _, signatures = exported
    export = _config().export
    reference = MultiScaleLocalizer(
        model,
        scales=export.scales,
        top_k=export.top_k,
        threshold=export.merge_threshold,
        max_detections=export.max_detections,
    )
    images = np.random.default_rng(3).integers(0, 256, (2, 100, 130, 3), np.uint8)
    want = {k: v.numpy() for k, v in reference(images.astype(np.float32)).items()}
    got = signatures["localize_images"](images=tf.constant(images))
    got = {k: v.numpy() for k, v in got.items()}
    assert set(got) == set(OUTPUTS)
    np.testing.assert_array_equal(got["num_detections"], want["num_detections"])
    assert want["num_detections"].min() >= 1
    np.testing.assert_array_equal(got["detection_classes"], want["classes"])
    np.testing.assert_allclose(got["detection_scores"], want["scores"], rtol=1e-5)
    scale = np.array([100, 130, 100, 130], np.float32)
    np.testing.assert_allclose(got["detection_boxes"], want["boxes"] / scale, atol=1e-5)
    names = got["detection_class_names"]
    for b in range(2):
        n = want["num_detections"][b]
        assert [s.decode() for s in names[b, :n]] == [
            NAMES[c] for c in want["classes"][b, :n]
        ]
        assert not names[b, n:].any() and not got["detection_boxes"][b, n:].any()
    # The bytes signature decodes each image and gives the same answers.
    blobs = tf.constant([_png(image) for image in images])
    by_bytes = signatures["localize_bytes"](image_bytes=blobs)
    for key in OUTPUTS:
        if got[key].dtype == np.float32:  # batched vs one by one: ulps apart
            np.testing.assert_allclose(by_bytes[key].numpy(), got[key], atol=1e-6)
        else:
            np.testing.assert_array_equal(by_bytes[key].numpy(), got[key], key)


def test_bad_bytes_are_refused(exported):
    localize = exported[2]["localize_bytes"]
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="not a JPEG, PNG, GIF, BMP or WebP"
    ):
        localize(image_bytes=tf.constant([b"not an image at all" * 10]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty string"):
        localize(image_bytes=tf.constant([b""]))


def test_saved_model_cli_lists_and_runs_localize_bytes(exported, tmp_path):
    _, path, _ = exported
    show = _cli("show", "--dir", path, "--all")
    assert show.returncode == 0, show.stderr
    for name in ("localize_images", "localize_bytes", "classify_bytes"):
        assert f"signature_def['{name}']" in show.stdout
    for output in OUTPUTS:
        assert f"outputs['{output}']" in show.stdout
    assert "shape: (-1, 4, 4)" in show.stdout  # detection_boxes [batch, N, 4]
    photo = Image.open("data/backgrounds/chelsea.jpg").convert("RGB")
    buf = io.BytesIO()
    photo.save(buf, format="jpeg")
    np.save(tmp_path / "img.npy", np.array([buf.getvalue()]))
    run = _cli_run(path, "localize_bytes", f"image_bytes={tmp_path / 'img.npy'}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Result for output key detection_boxes" in run.stdout
    assert "item " in run.stdout


def test_warmup_requests_cover_the_localize_signatures(exported):
    _, path, _ = exported
    names = _warmup_signatures(path)
    assert {"localize_bytes", "localize_images", "serving_default"} <= names


def test_predict_prints_boxes_and_draws_them(exported, tmp_path):
    _, path, _ = exported
    image = tmp_path / "scene.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (96, 120, 3), np.uint8)).save(image)
    out = run_cli("predict", "--model", path, str(image), "--draw", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "boxes (ymin, xmin, ymax, xmax" in out.stdout
    drawn = Image.open(tmp_path / "d" / "scene.png")
    assert drawn.size[0] >= 120 and drawn.size[0] % 120 == 0


def test_a_classifier_has_no_localize_signatures():
    from overfeat_tf.serving import ServingModule

    signatures = ServingModule(OverFeat("tiny_fast", num_classes=6)).signatures()
    assert not {"localize_bytes", "localize_images"} & set(signatures)
