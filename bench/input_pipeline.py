"""Training input pipeline throughput from real JPEG files.

Decodes the repository's JPEG photographs (data/backgrounds/, 300x451 to
872x1000), resizes the short side to 256, takes random 221x221 crops and
flips (the paper's recipe) and batches them by 128:

    python bench/input_pipeline.py [--examples 3000]
"""

import argparse
import os
import pathlib
import time

import tensorflow as tf
from _common import report

from overfeat_tf.data.pipeline import train_dataset

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()

    files = sorted((ROOT / "data" / "backgrounds").glob("*.jpg"))
    blobs = [f.read_bytes() for f in files]
    raw = tf.data.Dataset.from_tensor_slices(blobs).repeat()
    raw = raw.map(
        lambda b: {"image": tf.io.decode_jpeg(b, channels=3), "label": tf.constant(0)}
    )
    pipe = train_dataset(
        raw.take(args.examples), 221, 256, args.batch, seed=0, shuffle_buffer=256
    )
    next(iter(pipe))  # build the pipeline and warm its threads
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in pipe)
    seconds = time.perf_counter() - start
    cores = os.cpu_count()
    rate = count / seconds
    report(
        "input_pipeline",
        [
            ("source", f"{len(files)} JPEGs from data/backgrounds, decoded every time"),
            ("examples", count),
            ("examples / s", f"{rate:.0f}"),
            (f"examples / s / core ({cores} cores)", f"{rate / cores:.0f}"),
        ],
        {
            "examples": count,
            "seconds": seconds,
            "examples_per_second": rate,
            "cores": cores,
            "examples_per_second_per_core": rate / cores,
        },
    )


if __name__ == "__main__":
    main()
