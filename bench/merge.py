"""The greedy merge (paper 4.3) in the graph, plain and XLA, against NumPy.

    python bench/merge.py [--sizes 500 2000 5000] [--threshold 0.8]

Boxes come in clusters of about 15 jittered boxes, as the regressor's boxes
of one object do, so most of them merge. Each size runs `greedy_merge` in a
`tf.function` traced once for every N (plain TF ops, as exported by default)
and compiled by XLA (`jit_compile=True`, inputs padded to a power of two),
and the NumPy reference of the tests (full pair matrix rescanned per merge),
and checks that all three agree.
"""

import argparse
import functools
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf
from _common import median_seconds, report

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "tests"))
from references import greedy_merge as reference_merge  # noqa: E402

from overfeat_tf.ops.merge import greedy_merge  # noqa: E402

SIG = [tf.TensorSpec([None, 4]), tf.TensorSpec([None]), tf.TensorSpec([])]


def clustered(n, seed=1):
    rng = np.random.default_rng(seed)
    k = max(1, n // 15)
    centres, sizes = rng.uniform(20, 600, (k, 2)), rng.uniform(15, 150, (k, 2))
    member = rng.integers(0, k, n)
    centre = centres[member] + rng.normal(0, 5, (n, 2))
    size = sizes[member] * rng.uniform(0.8, 1.25, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
    return boxes.astype(np.float32), rng.uniform(0, 1, n).astype(np.float32)


def merged_count(fn, boxes, scores, threshold):
    """How many boxes `fn` (a `greedy_merge`) leaves, as a Python int."""
    return int(fn(boxes, scores, threshold)[2].numpy())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()
    plain = tf.function(greedy_merge, input_signature=SIG)
    jit = tf.function(
        lambda b, s, t: greedy_merge(b, s, t, jit_compile=True), input_signature=SIG
    )
    rows, results = (
        [("N", "merges  plain ms  XLA ms  (XLA compile s)  NumPy ms  agree")],
        [],
    )
    for n in args.sizes:
        boxes, scores = clustered(n)
        t = np.float32(args.threshold)
        start = time.perf_counter()
        jit(boxes, scores, t)[2].numpy()
        compile_s = time.perf_counter() - start
        plain_s, jit_s = (
            median_seconds(functools.partial(merged_count, fn, boxes, scores, t))
            for fn in (plain, jit)
        )
        start = time.perf_counter()
        ref_boxes, ref_scores = reference_merge(boxes, scores, t)
        numpy_s = time.perf_counter() - start
        agree = True
        for fn in (plain, jit):
            b, s, k = (x.numpy() for x in fn(boxes, scores, t))
            agree &= bool(
                k == len(ref_scores)
                and np.allclose(s[:k], ref_scores, rtol=1e-5, atol=1e-4)
                and np.allclose(b[:k], ref_boxes, atol=2e-3)
            )
        merges = n - len(ref_scores)
        rows.append(
            (
                n,
                f"{merges:6d}  {plain_s * 1e3:8.1f}  {jit_s * 1e3:6.1f}  "
                f"({compile_s:5.1f})           {numpy_s * 1e3:8.0f}  {agree}",
            )
        )
        results.append(
            {
                "n": n,
                "merges": merges,
                "plain_ms": plain_s * 1e3,
                "xla_ms": jit_s * 1e3,
                "xla_first_call_s": compile_s,
                "numpy_ms": numpy_s * 1e3,
                "agree": agree,
            }
        )
    report("merge", rows, {"threshold": args.threshold, "results": results})


if __name__ == "__main__":
    main()
