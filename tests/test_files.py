"""Files and folders written whole or not at all: atomic_file,
atomic_directory, save_model_dir."""

import os

import numpy as np
import pytest
from conftest import randomize

from overfeat_tf.files import atomic_directory, atomic_file
from overfeat_tf.model_dir import load_model_dir, save_model_dir
from overfeat_tf.models import OverFeat


def _tree(path):
    return sorted(
        os.path.relpath(os.path.join(d, f), path)
        for d, _, files in os.walk(path)
        for f in files
    )


def test_overwrite_replaces_whole_and_leaves_no_siblings(tmp_path):
    # Catches an overwrite that merges the new files into the old folder
    # (a stale file survives) or leaves its temporary folders behind.
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (open(os.path.join(tmp, "old.txt"), "w")).write("old")
    with atomic_directory(target, overwrite=True) as tmp:
        (open(os.path.join(tmp, "new.txt"), "w")).write("new")
    assert _tree(target) == ["new.txt"]
    assert os.listdir(tmp_path) == ["out"]
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_directory(target):
            pass


def test_failed_overwrite_keeps_the_old_folder(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (open(os.path.join(tmp, "old.txt"), "w")).write("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as tmp:
            (open(os.path.join(tmp, "half.txt"), "w")).write("half")
            raise RuntimeError("killed mid-write")
    assert _tree(target) == ["old.txt"]
    assert os.listdir(tmp_path) == ["out"]


def test_interrupted_save_model_dir_leaves_nothing(tmp_path, monkeypatch):
    # A save that fails inside Keras' writer (disk full, a kill) leaves no
    # model folder and no partial one; a later save of the same path works.
    model = OverFeat("tiny_fast", num_classes=3)
    randomize(model, 2)

    def broken(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(type(model), "save", broken)
    with pytest.raises(OSError, match="No space left"):
        save_model_dir(model, tmp_path / "model", ["a", "b", "c"])
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    save_model_dir(model, tmp_path / "model", ["a", "b", "c"])
    loaded, names = load_model_dir(tmp_path / "model")
    assert names == ["a", "b", "c"]
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    # Catches a writer that writes `path` in place (a failure then leaves
    # half a file), or leaves its temporary file behind either way; the
    # suffix is kept for writers that insist on their ending (np.save).
    path = tmp_path / "out.npy"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(path, ".npy") as tmp:
            assert tmp.endswith(".npy") and tmp != str(path)
            np.save(tmp, np.arange(3))
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.npy"]
    with atomic_file(path, ".npy") as tmp:
        np.save(tmp, np.arange(3))
        assert path.read_text() == "old"
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert os.listdir(tmp_path) == ["out.npy"]
