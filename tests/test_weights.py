"""Release weight files: layout, round trip through NumPy, size checks, labels."""

import numpy as np
import pytest
from conftest import randomize

from overfeat_tf import weights
from overfeat_tf.cli import main
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import DenseClassifier


def _write_release_file(model, path):
    """The release layout, written independently of the library: for each layer
    in order, weights as (out, in, kh, kw), then biases, little-endian float32."""
    parts = []
    for row in model.spec.layers:
        kernel, bias = model.get_layer(row.name).get_weights()  # (kh, kw, in, out)
        parts.append(np.transpose(kernel, (3, 2, 0, 1)).ravel())
        parts.append(bias.ravel())
    np.concatenate(parts).astype("<f4").tofile(path)


@pytest.mark.parametrize("spec", ["tiny_accurate", "tiny_fast"])
def test_round_trip_gives_identical_outputs(spec, tmp_path):
    source = OverFeat(spec, num_classes=9)
    randomize(source, 11)
    path = tmp_path / "net_weight"
    _write_release_file(source, path)
    assert path.stat().st_size == source.count_params() * 4
    imported = OverFeat(spec, num_classes=9)
    weights.load_release_weights(imported, path)
    rng = np.random.default_rng(0)
    w = source.spec.window
    for hw in [(w, w), (w + 37, w + 61)]:
        x = rng.uniform(0, 255, (2, *hw, 3)).astype(np.float32)
        np.testing.assert_array_equal(imported(x), source(x))
        np.testing.assert_array_equal(
            DenseClassifier(imported)(x), DenseClassifier(source)(x)
        )


def test_layout_is_out_in_kh_kw(tmp_path):
    # One hand-placed value: conv1 kernel element (kh=1, kw=2, in=0, out=3) of
    # tiny_fast (5x5x3x8) sits at flat index ((3 * 3 + 0) * 5 + 1) * 5 + 2 = 232.
    model = OverFeat("tiny_fast", num_classes=2)
    flat = np.zeros(model.count_params(), "<f4")
    flat[232] = 7.0
    # conv1 bias (8 values) follows the 5*5*3*8 = 600 weights: bias[5] is 605.
    flat[605] = -2.0
    path = tmp_path / "w"
    flat.tofile(path)
    weights.load_release_weights(model, path)
    kernel, bias = model.get_layer("conv1").get_weights()
    assert kernel[1, 2, 0, 3] == 7.0 and np.count_nonzero(kernel) == 1
    assert bias[5] == -2.0 and np.count_nonzero(bias) == 1


def test_save_is_the_inverse_of_load(tmp_path):
    model = OverFeat("tiny_accurate", num_classes=3)
    randomize(model, 12)
    weights.save_release_weights(model, tmp_path / "w")
    _write_release_file(model, tmp_path / "ref")
    assert (tmp_path / "w").read_bytes() == (tmp_path / "ref").read_bytes()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("delta", [-4, 4, -1000])
def test_wrong_size_is_refused_with_both_sizes(tmp_path, delta):
    model = OverFeat("tiny_fast", num_classes=2)
    expected = model.count_params() * 4
    path = tmp_path / "w"
    path.write_bytes(b"\0" * (expected + delta))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(
        ValueError, match=f"has {expected + delta:,} bytes.*needs {expected:,} bytes"
    ):
        weights.load_release_weights(model, path)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_file():
    with pytest.raises(ValueError, match="Cannot read weight file"):
        weights.load_release_weights(
            OverFeat("tiny_fast", num_classes=2), "/nonexistent"
        )


def test_class_names(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("cat\ndog\nbird\n")
    assert weights.load_class_names(path, 3) == ["cat", "dog", "bird"]
    with pytest.raises(ValueError, match="has 3 lines .* each of the 4 classes"):
        weights.load_class_names(path, 4)


@pytest.mark.slow
def test_import_weights_and_features_commands(tmp_path, capsys):
    """Full accurate network through the real commands: import, then features.

    In this process (`cli.main`, as the console script calls it): a fresh
    one per command would add TensorFlow's start-up to a 580 MB round trip.
    """
    model = OverFeat("accurate")
    # Cheap distinct weights: each layer's values a fixed pattern.
    for i, w in enumerate(model.weights):
        w.assign(np.full(w.shape, 1e-3 * (i + 1), np.float32))
    weights.save_release_weights(model, tmp_path / "net_weight_1")
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(1000)))

    # The refusals in this process (a fresh one per command costs seconds).
    argv = ["import-weights", str(tmp_path / "net_weight_1"), "--arch", "fast"]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--out", str(tmp_path / "wrong")])
    assert exit_.value.code == 2
    assert "needs 583,683,488 bytes" in capsys.readouterr().err
    assert not (tmp_path / "wrong").exists()

    argv = ["import-weights", str(tmp_path / "net_weight_1"), "--arch", "accurate"]
    argv += ["--labels", str(labels), "--out", str(tmp_path / "imported")]
    assert main(argv) == 0
    loaded, names = load_model_dir(tmp_path / "imported")
    assert names[:2] == ["class 0", "class 1"] and len(names) == 1000
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The release normalisation is the one applied.
    assert loaded.get_layer("normalize").scale == pytest.approx(1 / 61.896913)
    assert loaded.get_layer("normalize").offset == pytest.approx(
        -118.380948 / 61.896913
    )

    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (240, 250, 3), np.uint8)
    ).save(image)
    argv = ["features", "--model", str(tmp_path / "imported"), "--layer", "conv2"]
    assert main([*argv, str(image), str(image), "--out", str(tmp_path / "f.npy")]) == 0
    feats = np.load(tmp_path / "f.npy")
    # 240 -> conv1 117 -> pool 39 -> conv2 33; 250 -> 122 -> 40 -> 34.
    assert feats.shape == (2, 33, 34, 256)
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "features",
                "--model",
                str(tmp_path / "imported"),
                "--layer",
                "conv9",
                str(image),
                "--out",
                str(tmp_path / "g.npy"),
            ]
        )
    assert exit_.value.code == 2
    assert "No layer named ['conv9']" in capsys.readouterr().err
