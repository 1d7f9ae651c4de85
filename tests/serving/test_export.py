"""SavedModel export: fresh-process reload, saved_model_cli, bad input, versions."""

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_env, randomize
from PIL import Image

from overfeat_tf.config import Config, ExportConfig
from overfeat_tf.models import OverFeat, feature_extractor
from overfeat_tf.ops import MultiScaleClassifier
from overfeat_tf.serving import ServingModule, export_saved_model, load_saved_model

NAMES = [f"item {i}" for i in range(10)]


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="png")
    return buf.getvalue()


def _jpeg(array, **kwargs):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="jpeg", **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    model = OverFeat("tiny_accurate", num_classes=10)
    randomize(model, 21)
    path = export_saved_model(model, root / "tiny", NAMES)
    return model, root, path


def _light(config=None):
    """`config` (default: the defaults) with a one-scale, unflipped export.

    For the tests of what an export writes (versions, assets, warm-up,
    clean-up): its signatures trace one pass where the default's trace
    twelve (six scales, two flips); the tests of what the graph computes
    keep the default.
    """
    config = config or Config()
    config.export.scales = (0,)
    config.export.flips = False
    return config


def _inputs():
    rng = np.random.default_rng(4)
    return {
        f"{b}x{h}x{w}": rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
        for b, h, w in [(1, 100, 120), (3, 100, 120), (1, 150, 97), (3, 150, 97)]
    }


_RELOAD = textwrap.dedent(
    """
    import json, sys, numpy as np, tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    inputs = np.load(sys.argv[2])
    out = {}
    for key in inputs.files:
        images = inputs[key]
        a = loaded.signatures["classify_images"](images=tf.constant(images))
        pngs = [tf.io.encode_png(x).numpy() for x in images]
        b = loaded.signatures["serving_default"](image_bytes=tf.constant(pngs))
        out[key] = {
            name: {k: v.numpy().tolist() if k != "class_names" else
                   [[s.decode() for s in row] for row in v.numpy()]
                   for k, v in r.items()}
            for name, r in (("images", a), ("bytes", b))
        }
        c = loaded.signatures["features"](images=tf.constant(images))
        out[key]["features"] = c["features"].numpy().tolist()
    print(json.dumps(out))
    """
)


def test_fresh_process_gives_the_in_memory_outputs(exported, tmp_path):
    model, _, path = exported
    inputs = _inputs()
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = tmp_path / "reload.py"
    script.write_text(_RELOAD)
    run = subprocess.run(
        [sys.executable, str(script), path, str(tmp_path / "inputs.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    reference = MultiScaleClassifier(model, top_k=5)
    for key, images in inputs.items():
        want = reference.classify(tf.constant(images, tf.float32))
        for endpoint in ("images", "bytes"):
            out = got[key][endpoint]
            np.testing.assert_array_equal(out["classes"], want["classes"].numpy())
            np.testing.assert_allclose(out["scores"], want["scores"].numpy(), rtol=1e-5)
            assert out["class_names"] == [
                [NAMES[c] for c in row] for row in want["classes"].numpy()
            ]
        # The features signature, reloaded, is the last convolution's map.
        maps = feature_extractor(model, model.last_conv.name)(
            tf.constant(images, tf.float32)
        )
        np.testing.assert_allclose(got[key]["features"], maps, rtol=1e-4, atol=1e-4)


def _cli(*args):
    """`saved_model_cli`, run as a module of this interpreter's TensorFlow.

    Not the `saved_model_cli` script on PATH: the suite must pass as
    `venv/bin/python -m pytest` from a shell where the venv is not activated.
    """
    return subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )


def _cli_run(path, signature, inputs):
    """`saved_model_cli run` of one signature; `inputs` as `key=file.npy`."""
    return _cli(
        "run",
        "--dir",
        path,
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--inputs",
        inputs,
    )


def test_saved_model_cli_show_run_and_scan(exported, tmp_path):
    _, _, path = exported
    show = _cli("show", "--dir", path, "--all")
    assert show.returncode == 0, show.stderr
    text = show.stdout
    for name in ("serving_default", "classify_bytes", "classify_images", "features"):
        assert f"signature_def['{name}']" in text
    assert "dtype: DT_UINT8" in text and "shape: (-1, -1, -1, 3)" in text
    assert "dtype: DT_STRING" in text and "shape: (-1)" in text
    for output in ("classes", "scores", "class_names"):
        assert f"outputs['{output}']" in text
    assert "shape: (-1, 5)" in text and "dtype: DT_INT32" in text

    photo = np.asarray(Image.open("data/backgrounds/chelsea.jpg"))
    np.save(tmp_path / "img.npy", np.array([_jpeg(photo)]))
    run = _cli_run(path, "serving_default", f"image_bytes={tmp_path / 'img.npy'}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "classes" in run.stdout and "item " in run.stdout

    np.save(tmp_path / "images.npy", np.zeros((2, 90, 100, 3), np.uint8))
    run = _cli_run(path, "features", f"images={tmp_path / 'images.npy'}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Result for output key features" in run.stdout

    scan = _cli("scan", "--dir", path)
    assert scan.returncode == 0, scan.stderr
    assert "does not contain the default denylisted ops" in scan.stdout


@pytest.fixture(scope="module")
def served(exported):
    return load_saved_model(exported[2]).signatures["serving_default"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "an image of image_bytes is an empty string"),
        (b"hello, world\n" * 20, "not a JPEG, PNG, GIF, BMP or WebP image"),
        (np.random.default_rng(0).bytes(3000), "not a JPEG, PNG, GIF, BMP or WebP"),
    ],
    ids=["empty", "text", "random"],
)
def test_undecodable_bytes_are_refused(served, data, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served(image_bytes=tf.constant([data]))


def test_truncated_jpeg_is_refused(served):
    photo = np.asarray(Image.open("data/backgrounds/coffee.jpg"))
    data = _jpeg(photo)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid JPEG data"):
        served(image_bytes=tf.constant([data[: len(data) // 2]]))


def _classify(served, *blobs):
    out = served(image_bytes=tf.constant(list(blobs)))
    return out["classes"].numpy(), out["scores"].numpy()


def test_odd_but_valid_images_are_classified(served, exported):
    model = exported[0]
    reference = MultiScaleClassifier(model, top_k=5)
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (60, 40, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((60, 40, 1), 200, np.uint8)], axis=-1)
    grey = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    cases = {
        "1x1": (_png(rgb[:1, :1]), rgb[:1, :1]),
        "smaller than the window": (_png(rgb), rgb),
        "RGBA PNG": (_png(rgba), rgb),
        "grey PNG": (_png(grey), np.repeat(grey[:, :, None], 3, axis=-1)),
    }
    for name, (data, pixels) in cases.items():
        classes, scores = _classify(served, data)
        want = reference.classify(tf.constant(pixels[None], tf.float32))
        np.testing.assert_array_equal(classes, want["classes"].numpy(), err_msg=name)
        np.testing.assert_allclose(
            scores, want["scores"].numpy(), rtol=1e-5, err_msg=name
        )
    grey_jpeg = _jpeg(grey)
    classes, _ = _classify(served, grey_jpeg)
    decoded = tf.io.decode_image(grey_jpeg, channels=3).numpy()
    want = reference.classify(tf.constant(decoded[None], tf.float32))["classes"].numpy()
    np.testing.assert_array_equal(classes, want)


def test_camera_photo_is_classified(served, exported):
    # A 24-megapixel 6000x4000 JPEG, an ordinary camera photo: catches a
    # size guard that refuses what cameras and phones take (a side limit of
    # 4096 did). The served classes and scores are the in-memory
    # classifier's on the decoded pixels.
    y, x = np.mgrid[0:4000, 0:6000]
    photo = np.stack([x % 251, y % 241, (x + y) % 239], -1).astype(np.uint8)
    data = _jpeg(photo, quality=70)
    classes, scores = _classify(served, data)
    decoded = tf.io.decode_jpeg(data, channels=3)
    reference = MultiScaleClassifier(exported[0], top_k=5)
    want = reference.classify(tf.cast(decoded, tf.float32)[None])
    np.testing.assert_array_equal(classes, want["classes"].numpy())
    np.testing.assert_allclose(scores, want["scores"].numpy(), rtol=1e-4)


def test_absurd_header_is_refused(served):
    # A PNG header claiming 40000x30000 pixels and nothing behind it:
    # refused by the header's size, naming the size and the limit.
    header = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
        + (40000).to_bytes(4, "big")
        + (30000).to_bytes(4, "big")
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="claims 40000x30000 .* over the limit of 134,217,728",
    ):
        served(image_bytes=tf.constant([header + b"\x08\x02\x00\x00\x00"]))


def test_max_pixels_reaches_both_signatures():
    # Catches export.max_pixels not reaching the graph (the default used
    # instead) and a limit applied to encoded images only.
    model = OverFeat("tiny_fast", num_classes=10)
    module = ServingModule(model, NAMES, ExportConfig(max_pixels=100 * 120))
    fits = np.zeros((1, 100, 120, 3), np.uint8)
    over = np.zeros((1, 100, 121, 3), np.uint8)
    module.classify_images(tf.constant(fits))
    module.classify_bytes(tf.constant([_png(fits[0])]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 12,000"):
        module.classify_images(tf.constant(over))
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 12,000"):
        module.classify_bytes(tf.constant([_png(over[0])]))


def _warmup_logs(version_dir):
    """The PredictionLogs of a version folder's warm-up requests."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = tf.data.TFRecordDataset(
        os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    )
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]


def _warmup_signatures(version_dir):
    """The signature names a version folder's warm-up requests call."""
    return {
        log.predict_log.request.model_spec.signature_name
        for log in _warmup_logs(version_dir)
    }


def test_versions_models_config_and_warmup(tmp_path):
    model = OverFeat("tiny_fast", num_classes=10)
    first = export_saved_model(model, tmp_path / "demo", NAMES, _light())
    second = export_saved_model(model, tmp_path / "demo", NAMES, _light())
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    config = (tmp_path / "models.config").read_text()
    assert "name: 'demo'" in config and "base_path: '/models/demo'" in config
    # export.serving_root: where the server sees the folder. Catches paths
    # of the exporting machine (the folder would not travel) and a root
    # that never reaches the file.
    settings = _light()
    settings.export.serving_root = "/srv/tf/"
    export_saved_model(model, tmp_path / "other", NAMES, config=settings)
    config = (tmp_path / "models.config").read_text()
    assert "base_path: '/srv/tf/demo'" in config
    assert "base_path: '/srv/tf/other'" in config
    assert str(tmp_path) not in config
    logs = _warmup_logs(second)
    assert _warmup_signatures(second) == {"serving_default", "classify_images"}
    assert all(log.predict_log.request.model_spec.name == "demo" for log in logs)
    assets = os.listdir(os.path.join(second, "assets"))
    assert sorted(assets) == ["class_names.txt", "config.yaml"]


def test_interrupted_export_leaves_nothing(tmp_path, monkeypatch):
    model = OverFeat("tiny_fast", num_classes=10)
    export_saved_model(model, tmp_path / "demo", NAMES, _light())
    real_save = tf.saved_model.save

    def failing_save(obj, export_dir, signatures=None):
        real_save(obj, export_dir, signatures=signatures)  # half-way: files written
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(model, tmp_path / "demo", NAMES, _light())
    assert sorted(os.listdir(tmp_path / "demo")) == ["1"]


def test_resolved_config_travels_in_assets(tmp_path):
    model = OverFeat("tiny_fast", num_classes=10)
    config = _light()
    config.export.top_k = 3
    path = export_saved_model(model, tmp_path / "m", NAMES, config)
    text = open(os.path.join(path, "assets", "config.yaml")).read()
    assert "top_k: 3" in text
    out = load_saved_model(path).signatures["classify_images"](
        images=tf.zeros((2, 90, 90, 3), tf.uint8)
    )
    assert out["classes"].shape == (2, 3)


def test_export_and_predict_commands(tmp_path, capsys):
    from conftest import run_cli

    from overfeat_tf import cli
    from overfeat_tf.model_dir import save_model_dir

    model = OverFeat("tiny_fast", num_classes=10)
    randomize(model, 5)
    save_model_dir(model, tmp_path / "model", class_names=NAMES)
    # In this process (the command's own functions); the bad file below in
    # a fresh one, whose standard error is checked whole.
    settings = ["export.top_k=3", "export.scales=[0]", "export.flips=false"]
    code = cli.main(
        ["export", "--checkpoint", str(tmp_path / "model"),
         "--out", str(tmp_path / "sm" / "tiny"),
         *[arg for s in settings for arg in ("--set", s)]]
    )  # fmt: skip
    assert code == 0
    assert os.path.isfile(tmp_path / "sm" / "tiny" / "1" / "saved_model.pb")
    image = tmp_path / "a.png"
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(image)
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    capsys.readouterr()
    assert (
        cli.main(["predict", "--model", str(tmp_path / "sm" / "tiny"), str(image)]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("a.png") and len(lines) == 4  # the path, then top 3
    assert all(any(name in line for name in NAMES) for line in lines[1:])
    out = run_cli("predict", "--model", str(tmp_path / "sm" / "tiny"), str(text))
    # One line: the file and what is wrong with it, nothing of TensorFlow's
    # start-up or its warnings before it.
    assert out.returncode == 2
    assert out.stderr == (
        f"overfeat predict: error: {text}: an image of image_bytes is not a "
        "JPEG, PNG, GIF, BMP or WebP image\n"
    )


@pytest.mark.parametrize(
    "setting, value",
    [
        ("scales", (0, 2)),
        ("flips", False),
        ("fine", False),
        ("scale_mode", "fixed"),
        ("top_k", 3),
    ],
)
def test_each_export_setting_reaches_the_graph(setting, value):
    # Catches a serving module that builds its classifier with a default in
    # place of `export.<setting>` (e.g. scales=None: all six scales): the
    # signatures must answer as MultiScaleClassifier built with the same
    # settings, and differently from the defaults.
    model = OverFeat("tiny_accurate", num_classes=10)
    randomize(model, 3)
    export = ExportConfig(**{setting: value})
    module = ServingModule(model, NAMES, export)
    images = np.random.default_rng(5).integers(0, 256, (2, 70, 90, 3), np.uint8)
    got = module.classify_images(tf.constant(images))
    same = MultiScaleClassifier(
        model,
        scales=export.scales,
        flips=export.flips,
        fine=export.fine,
        top_k=export.top_k,
        mode=export.scale_mode,
    ).classify(tf.constant(images, tf.float32))
    np.testing.assert_array_equal(got["classes"], same["classes"])
    np.testing.assert_allclose(got["scores"], same["scores"], rtol=1e-5)
    default = MultiScaleClassifier(model).classify(tf.constant(images, tf.float32))
    differs = got["scores"].shape != default["scores"].shape or not np.allclose(
        got["scores"], default["scores"], rtol=1e-4
    )
    assert differs, f"export.{setting}={value!r} changed nothing"


def test_features_layer_reaches_the_graph():
    # export.features_layer: the `features` signature is that layer's map
    # (feature_extractor), not the default last convolution's.
    model = OverFeat("tiny_accurate", num_classes=10)
    randomize(model, 4)
    module = ServingModule(model, NAMES, ExportConfig(features_layer="conv2"))
    images = np.random.default_rng(6).integers(0, 256, (1, 70, 90, 3), np.uint8)
    got = module.features(tf.constant(images))["features"]
    want = feature_extractor(model, "conv2")(tf.constant(images, tf.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert (
        got.shape
        != feature_extractor(model, model.last_conv.name)(
            tf.constant(images, tf.float32)
        ).shape
    )
