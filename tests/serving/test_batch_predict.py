"""`overfeat batch-predict`: Beam's RunInference over files, to JSON lines."""

import glob
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from overfeat_tf import cli
from overfeat_tf.serving import load_saved_model

# The committed demo model: a detector, answering classes and boxes.
MODEL = "saved_models/fashion_demo"


def _tiles(folder):
    """Seven tiles of a real photograph, JPEG and PNG, of several sizes (a
    batch mixes them), and one file that is not an image."""
    photo = Image.open("data/backgrounds/astronaut.jpg").convert("RGB")
    paths = []
    for i in range(7):
        x, y = (i % 4) * 90, (i // 4) * 120
        path = folder / f"tile{i:02d}.{'png' if i % 2 else 'jpg'}"
        photo.crop((x, y, x + 96 + 4 * i, y + 96)).save(path)
        paths.append(str(path))
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 a JPEG header and nothing else")
    return paths, str(broken)


def test_batch_predict_writes_one_line_per_file_equal_to_the_model(tmp_path):
    # The DirectRunner over eight files in batches of 4: every file has
    # exactly one line; the corrupt one an `error` (its batch is not lost);
    # the others what the SavedModel answers for each file alone. Catches
    # results paired with the wrong file after batching, a corrupt image
    # that fails its whole batch or the pipeline, a file dropped or doubled.
    images = tmp_path / "images"
    images.mkdir()
    paths, broken = _tiles(images)
    code = cli.main(
        [
            "batch-predict",
            "--model",
            MODEL,
            "--input",
            str(images / "*"),
            "--output",
            str(tmp_path / "out" / "predictions"),
            "--batch-size",
            "4",
            "--direct_num_workers=1",  # a Beam option, passed through
        ]
    )
    assert code == 0
    lines = []
    for path in glob.glob(str(tmp_path / "out" / "predictions-*.jsonl")):
        with open(path) as f:
            lines += [json.loads(line) for line in f]
    by_file = {line["file"]: line for line in lines}
    assert len(lines) == len(by_file) == 8
    assert set(by_file) == {*paths, broken}
    assert set(by_file[broken]) == {"file", "error"}
    assert "JPEG" in by_file[broken]["error"]
    # The reference: the SavedModel's signatures called directly, on the
    # seven images in one batch (Beam's batches are of four).
    signatures = load_saved_model(MODEL).signatures
    data = tf.constant([open(path, "rb").read() for path in paths])
    classified = signatures["classify_bytes"](image_bytes=data)
    assert len({int(c) for c in classified["classes"][:, 0]}) > 1  # not one answer
    detected = signatures["detect_bytes"](image_bytes=data)
    assert detected["num_detections"].numpy().max() > 0  # some boxes to compare
    for i, path in enumerate(paths):
        got = by_file[path]
        want = {k: v[i].numpy() for k, v in classified.items()}
        count = int(detected["num_detections"][i])
        boxes = {
            k: v[i, :count].numpy()
            for k, v in detected.items()
            if k != "num_detections"
        }
        assert set(got) == {"file", *want, *boxes}
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-5)
        assert got["classes"] == want["classes"].tolist()
        assert got["class_names"] == [n.decode() for n in want["class_names"]]
        np.testing.assert_allclose(
            np.reshape(got["detection_boxes"], (-1, 4)), boxes["detection_boxes"],
            atol=1e-5,
        )  # fmt: skip
        assert got["detection_classes"] == boxes["detection_classes"].tolist()
    # `overfeat predict` over the folder, in batches of 5, to JSON lines:
    # the same lines (the corrupt file's error too). Catches a local batch
    # path that drops a batch's tail or stops at the corrupt file.
    local = tmp_path / "local.jsonl"
    cli.main(["predict", "--model", MODEL, str(images), "--output", str(local),
              "--batch-size", "5"])  # fmt: skip
    with open(local) as f:
        local_lines = {line["file"]: line for line in map(json.loads, f)}
    assert sorted(local_lines) == sorted(by_file)
    for name, line in local_lines.items():
        assert line.keys() == by_file[name].keys()
        if "scores" in line:
            np.testing.assert_allclose(line["scores"], by_file[name]["scores"], 1e-5)
            assert line["classes"] == by_file[name]["classes"]
        else:
            assert line == by_file[name]


def test_batch_predict_refuses_what_it_cannot_read(tmp_path, capsys):
    # A clear error before any pipeline starts; other commands still refuse
    # flags they do not know (only batch-predict passes them to Beam).
    args = ["--output", str(tmp_path / "p")]
    with pytest.raises(SystemExit):
        cli.main(["batch-predict", "--model", str(tmp_path), "--input", "x", *args])
    assert "No SavedModel in" in capsys.readouterr().err
    pattern = str(tmp_path / "none" / "*.png")
    with pytest.raises(SystemExit):
        cli.main(["batch-predict", "--model", MODEL, "--input", pattern, *args])
    assert f"No file matches {pattern!r}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["predict", "--model", MODEL, "a.png", "--runner=DirectRunner"])
    assert "unrecognized arguments: --runner=DirectRunner" in capsys.readouterr().err


def test_predict_arguments_name_files_folders_and_globs(tmp_path):
    # Catches a folder read with its non-images, a glob taken as a file
    # name, and an argument naming nothing passed over in silence.
    from overfeat_tf.predict import image_files

    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    folder = [str(tmp_path / "a.JPG"), str(tmp_path / "b.png")]
    assert image_files([tmp_path]) == folder
    assert image_files([str(tmp_path / "*.png"), "x.jpg"]) == [folder[1], "x.jpg"]
    with pytest.raises(ValueError, match="No image in"):
        image_files([str(tmp_path / "sub")])
    with pytest.raises(ValueError, match="No image in"):
        image_files([str(tmp_path / "*.gif")])


def test_tfds_records_give_their_images_and_names(tfds_dir):
    # batch-predict's TFRecord input: each serialized TFDS example gives its
    # encoded image (decoding to TFDS' own pixels) and its file_name.
    # Catches the wrong feature read as the image, or examples unnamed.
    import tensorflow_datasets as tfds
    from conftest import build

    from overfeat_tf.batch_predict import _tfds_example

    build("fashion_scenes/classification", tfds_dir)
    (shard,) = glob.glob(f"{tfds_dir}/fashion_scenes/classification/*/*-test.tfrecord*")
    records = tf.data.TFRecordDataset(shard).take(3)
    want = tfds.load("fashion_scenes/classification", split="test[:3]",
                     data_dir=tfds_dir)  # fmt: skip
    for record, example in zip(records, want, strict=True):
        name, data = _tfds_example((shard, record.numpy()))
        assert name == f"{shard}:{example['file_name'].numpy().decode()}"
        np.testing.assert_array_equal(tf.io.decode_png(data), example["image"])


def test_local_predict_keeps_the_files_order_around_an_unreadable_one(tmp_path):
    # An unreadable file in the middle of a batch answers with its error in
    # its place. Catches errors gathered before the batch's answers (lines
    # out of the files' order) and a file that cannot be opened stopping
    # the run when errors are kept.
    from overfeat_tf.predict import predict_files

    paths, _ = _tiles(tmp_path)
    paths = [paths[0], str(tmp_path / "gone.jpg"), paths[1]]
    results = predict_files(MODEL, paths, batch_size=3, keep_errors=True)
    assert [r["file"] for r in results] == paths
    assert "Cannot read image" in results[1]["error"]
    assert "error" not in results[0] and "error" not in results[2]


def test_batch_predict_without_beam_names_the_extra(tmp_path, monkeypatch, capsys):
    # A lean install has no Beam: the command must say which extra brings it,
    # not end in an ImportError's traceback (catches the CLI not handling
    # the missing extra, or the module importing Beam unguarded).
    import sys

    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import fails
    monkeypatch.delitem(sys.modules, "overfeat_tf.batch_predict", raising=False)
    argv = ["batch-predict", "--model", MODEL, "--input", str(tmp_path / "*.jpg")]
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--output", str(tmp_path / "out")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("overfeat batch-predict: error:")
    assert "[beam] extra (apache_beam is not installed)" in err
    assert "pip install 'overfeat-tf[beam]'" in err
