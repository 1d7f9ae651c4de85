"""Training throughput of the full-width accurate network at 221x221.

One SGD step (forward, backward, update) of the paper's recipe on random
images under each of `train.mixed_precision` (none, mixed_bfloat16,
mixed_float16, the last with Keras' loss scaling) and `train.jit_compile`
(off, XLA), all measured in one run; FLOP/s counted as 3x the forward
multiply-adds (forward + two backward products) against a same-process matmul:

    python bench/train_step.py [--batch 32] [--steps 5] [--policies none,...]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf
from _common import matmul_gflops, median_seconds, report

from overfeat_tf import geometry
from overfeat_tf.config import TrainConfig
from overfeat_tf.models import OverFeat
from overfeat_tf.train import build_optimizer, training_model
from overfeat_tf.train.trainer import POLICIES, dtype_policy


def _step_seconds(policy, jit, batch, steps):
    with dtype_policy(policy):
        model = OverFeat("accurate")
        trainer = training_model(model)
    trainer.compile(
        optimizer=build_optimizer(TrainConfig(), 1000),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 255, (batch, 221, 221, 3)), tf.float32)
    y = tf.constant(rng.integers(0, 1000, batch), tf.int32)
    return median_seconds(lambda: trainer.train_on_batch(x, y), repeats=steps, warmup=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args()
    macs = sum(geometry.multiply_adds("accurate", 221).values())
    rows, results = [], {"batch": args.batch}
    mm = matmul_gflops(4096, tf.float32)
    base = None
    for policy in args.policies.split(","):
        for jit in (False, True):
            name = f"{policy}{', XLA' if jit else ''}"
            seconds = _step_seconds(policy, jit, args.batch, args.steps)
            rate = args.batch / seconds
            base = base or rate
            gflops = 3 * 2 * macs * rate / 1e9
            results[name] = {
                "mixed_precision": policy,
                "jit_compile": jit,
                "step_seconds": seconds,
                "images_per_second": rate,
                "speedup_over_float32": rate / base,
                "gflops": gflops,
                "fraction_of_matmul_float32": gflops / mm,
            }
            print(f"{name}: {rate:.2f} images / s", flush=True)
            rows.append(
                (
                    f"{name}: images / s",
                    f"{rate:.1f} ({rate / base:.2f}x, {gflops:.0f} GFLOP/s, "
                    f"{gflops / mm:.2f} of matmul)",
                )
            )
    results["matmul_gflops_float32"] = mm
    report(
        "train_step",
        [
            ("model", f"accurate, 221x221, batch {args.batch}, SGD step"),
            ("forward multiply-adds / image", f"{macs / 1e9:.2f} G"),
            *rows,
            ("matmul 4096^2 float32", f"{mm:.0f} GFLOP/s"),
        ],
        results,
    )


if __name__ == "__main__":
    main()
