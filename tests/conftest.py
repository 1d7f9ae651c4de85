"""Shared helpers for the test suite: small networks and seeded weights."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from overfeat_tf.specs import NetworkSpec, get_spec

# The files that run longest, first. Each pytest-xdist worker takes whole
# files (--dist loadfile) in collection order: with the long ones first, the
# two workers finish close together instead of one running a training file
# alone at the end. The second is one that needs no dataset, so it runs
# while the first builds fashion_scenes.
LONGEST_FIRST = [
    "tests/train/test_training.py",
    "tests/test_weights.py",
    "tests/serving/test_export.py",
    "tests/test_demo.py",
    "tests/serving/test_detect_export.py",
    "tests/data/test_datasets.py",
    "tests/train/test_detect_training.py",
    "tests/train/test_localize_training.py",
    "tests/train/test_own_data_training.py",
    "tests/train/test_precision.py",
    "tests/serving/test_localize_export.py",
    "tests/test_cli.py",
]


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def narrow(spec, divisor: int) -> NetworkSpec:
    """`spec` with every layer `divisor` times narrower: same geometry, fast to run."""
    spec = get_spec(spec)
    layers = tuple(
        dataclasses.replace(row, filters=max(4, row.filters // divisor))
        if row.filters
        else row
        for row in spec.layers
    )
    return dataclasses.replace(spec, name=f"{spec.name}_narrow", layers=layers)


def randomize(model, seed: int) -> None:
    """He-scaled random weights and biases, so outputs are O(1) at every depth.

    The paper's N(0, 0.01) initialisation makes deep outputs ~1e-10, too small
    for float tolerances to mean anything.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
        w.assign(rng.normal(0.0, scale, shape).astype(np.float32))


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory, worker_id):
    """A TFDS data dir shared by the whole run; datasets build on first use.

    Under pytest-xdist every worker has a session of its own: the folder sits
    beside the workers' temporary folders, so all of them share it, and
    `build` takes a file lock, so each dataset is built once.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    path = root / "tensorflow_datasets"
    path.mkdir(exist_ok=True)
    return str(path)


def build(name: str, data_dir: str):
    """Builds (once per data dir, whichever worker comes first) and returns the
    TFDS builder for `name`."""
    import tensorflow_datasets as tfds
    from filelock import FileLock

    import overfeat_tf.data  # noqa: F401

    with FileLock(os.path.join(data_dir, ".build.lock")):
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare()
    return builder


# TensorFlow's logging variables: the caller's settings must not change what
# a test of the command's output sees.
TF_LOG_VARIABLES = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "TF_CPP_VMODULE")


def cli_env(**settings) -> dict:
    """The environment of a test's subprocess: the caller's, without
    TensorFlow's logging variables, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in TF_LOG_VARIABLES}
    env.update(settings)
    return env


def run_cli(*args, timeout=600, env=None):
    """Runs the `overfeat` command in a fresh process; returns CompletedProcess.

    Args:
        env: dict or None: variables set for the command (`cli_env`).
    """
    return subprocess.run(
        [sys.executable, "-m", "overfeat_tf.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**(env or {})),
    )
