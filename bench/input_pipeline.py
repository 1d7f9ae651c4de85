"""Training input pipeline throughput from real JPEG files, old path and new.

The paper's recipe (short side 256, random 221x221 crop, random flip, batches
of 128) four ways, measured in one run on the same images:

- `resize whole (previous)`: decode the whole JPEG, resize the whole image,
  crop (what `train_dataset` did before `random_resized_crop_flip`);
- `fused, decoded input`: TFDS decodes the whole JPEG; the pipeline resizes
  into the crop alone;
- `fused, JPEG input` (`load_split(..., decode=False)`, what training uses):
  the JPEG is decoded only where the crop reads it;
- `fused, JPEG input, bilinear` (`data.antialias=false`, the ImageNet
  presets): the same crops resized by bilinear sampling instead of the
  antialiasing filter.

Two sets of JPEGs: the repository's photographs as they are (data/backgrounds,
300x451 to 872x1000), and the same photographs as ImageNet-sized JPEGs
(500x375 and 375x500, quality 90, ImageNet's commonest sizes):

    python bench/input_pipeline.py [--examples 3000] [--repeats 3]
"""

import argparse
import io
import os
import pathlib
import statistics
import time

import tensorflow as tf
from _common import report
from PIL import Image

from overfeat_tf.data.pipeline import random_crop_flip, resize_short_side, train_dataset

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _imagenet_sized(files):
    """Each photograph as a 500x375 (landscape) or 375x500 JPEG, quality 90."""
    out = []
    for i, path in enumerate(files):
        size = (500, 375) if i % 2 == 0 else (375, 500)
        image = Image.open(path).convert("RGB").resize(size, Image.BICUBIC)
        buf = io.BytesIO()
        image.save(buf, format="jpeg", quality=90)
        out.append(buf.getvalue())
    return out


def _previous(raw, examples, batch):
    """The pipeline as it was: the whole image resized, then cropped."""

    def prepare(index, example):
        image = resize_short_side(example["image"], 256)
        seed = tf.stack([tf.constant(0, tf.int64), index])
        return random_crop_flip(image, 221, seed), example["label"]

    out = raw.take(examples).shuffle(256, seed=0).enumerate()
    out = out.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return out.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _rate(pipe):
    """Examples per second of one pass over `pipe`, its threads warmed first."""
    next(iter(pipe))
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in pipe)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="passes over each path, taken in turn; the median is reported",
    )
    args = parser.parse_args()

    files = sorted((ROOT / "data" / "backgrounds").glob("*.jpg"))
    sets = {
        "repository JPEGs": [f.read_bytes() for f in files],
        "ImageNet-sized JPEGs": _imagenet_sized(files),
    }
    cores = os.cpu_count()
    rows, results = [], {"cores": cores, "examples": args.examples}
    for set_name, blobs in sets.items():
        encoded = tf.data.Dataset.from_tensor_slices(blobs).repeat()
        encoded = encoded.map(lambda b: {"image": b, "label": tf.constant(0)})
        decoded = encoded.map(  # in parallel, as TFDS decodes
            lambda e: {**e, "image": tf.io.decode_jpeg(e["image"], channels=3)},
            num_parallel_calls=tf.data.AUTOTUNE,
        )

        def fused(raw, antialias=True):
            return train_dataset(
                raw.take(args.examples),
                221,
                256,
                args.batch,
                seed=0,
                shuffle_buffer=256,
                antialias=antialias,
            )

        paths = {
            "resize whole (previous)": _previous(decoded, args.examples, args.batch),
            "fused, decoded input": fused(decoded),
            "fused, JPEG input": fused(encoded),
            "fused, JPEG input, bilinear": fused(encoded, antialias=False),
        }
        passes = {name: [] for name in paths}
        for _ in range(args.repeats):  # in turn: a busy spell slows every path
            for path_name, pipe in paths.items():
                passes[path_name].append(_rate(pipe))
        rates = {name: statistics.median(r) for name, r in passes.items()}
        for path_name, rate in rates.items():
            rows.append(
                (
                    f"{set_name}, {path_name}",
                    f"{rate:.0f} /s, {rate / cores:.0f} /s/core "
                    f"(best pass {max(passes[path_name]):.0f} /s)",
                )
            )
        base = rates["resize whole (previous)"]
        for path_name in ("fused, JPEG input", "fused, JPEG input, bilinear"):
            rows.append(
                (
                    f"{set_name}: {path_name} over previous",
                    f"{rates[path_name] / base:.2f}x",
                )
            )
        results[set_name] = {
            name: {
                "examples_per_second": r,
                "examples_per_second_per_core": r / cores,
                "passes": passes[name],
            }
            for name, r in rates.items()
        }
    report("input_pipeline", rows, results)


if __name__ == "__main__":
    main()
