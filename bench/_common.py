"""Helpers shared by the benchmark scripts: timing, a matmul yardstick, output."""

import json
import os
import pathlib
import platform
import time

import numpy as np
import tensorflow as tf

RESULTS = pathlib.Path(__file__).parent / "results"


def median_seconds(fn, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_gflops(n: int = 4096, dtype=tf.float32) -> float:
    """GFLOP/s of an n x n by n x n matmul on this machine, in this process."""
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32)))
    seconds = median_seconds(lambda: matmul(a).numpy(), repeats=5)
    return 2 * n**3 / seconds / 1e9


def he_weights(model, seed: int = 0) -> None:
    """He-normal kernels, zero biases: random weights whose outputs are O(1)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            fan_in = int(np.prod(layer.kernel.shape[:-1]))
            layer.kernel.assign(
                rng.standard_normal(layer.kernel.shape, np.float32)
                * np.sqrt(2 / fan_in)
            )


def report(name: str, rows: list[tuple], results: dict) -> None:
    """Prints `rows` (label, value) as a table and writes `results` as JSON."""
    width = max(len(str(r[0])) for r in rows)
    print(f"\n{name}")
    for label, value in rows:
        print(f"  {str(label).ljust(width)}  {value}")
    results = {
        "benchmark": name,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "tensorflow": tf.__version__,
        },
        **results,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"  -> {path}")
