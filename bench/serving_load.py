"""An exported SavedModel under concurrent load, as a server would hold it.

The model is loaded once; K client threads each send `serving_default`
requests of 1-8 real encoded images (JPEG crops of the repository's
photographs, 96-160 px, drawn at random) back to back for a fixed time.
For each K: requests and images per second, p50 / p95 / p99 latency of a
request, errors (must be none), and the process's resident memory before
the first client and after the last (it must not keep growing). Then one
client's images per second at request sizes 1-32, which is what TF
Serving's server-side batching (`saved_models/batching_parameters.txt`)
trades latency for.

    python bench/serving_load.py [--model saved_models/fashion_demo] \
        [--clients 1 2 4 8] [--seconds 20]
"""

import argparse
import io
import pathlib
import threading
import time

import numpy as np
import tensorflow as tf
from _common import report
from PIL import Image

from overfeat_tf.serving import load_saved_model

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _rss_mib() -> float:
    """Resident memory of this process (Linux /proc), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _images(count=64, seed=0):
    """JPEG crops of the repository's photographs, 96-160 px a side."""
    rng = np.random.default_rng(seed)
    photos = [
        Image.open(p).convert("RGB")
        for p in sorted((ROOT / "data" / "backgrounds").glob("*.jpg"))
    ]
    out = []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        h, w = rng.integers(96, 161, 2)
        top = rng.integers(0, photo.height - h + 1)
        left = rng.integers(0, photo.width - w + 1)
        buf = io.BytesIO()
        photo.crop((left, top, left + w, top + h)).save(buf, format="jpeg", quality=90)
        out.append(buf.getvalue())
    return out


def _load(serve, images, clients, seconds):
    """K threads sending requests of 1-8 images until the time is up."""
    latencies, sizes, errors = [], [], []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(seed):
        rng = np.random.default_rng(seed)
        while time.perf_counter() < deadline:
            n = int(rng.integers(1, 9))
            batch = [images[i] for i in rng.integers(0, len(images), n)]
            start = time.perf_counter()
            try:
                serve(image_bytes=tf.constant(batch))["classes"].numpy()
            except Exception as e:  # counted and reported, never hidden
                with lock:
                    errors.append(repr(e))
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                sizes.append(n)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_second": len(latencies) / elapsed,
        "images_per_second": sum(sizes) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": len(errors),
        "first_errors": errors[:3],
        "rss_mib_after": _rss_mib(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "saved_models" / "fashion_demo"))
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    rss_before_load = _rss_mib()
    serve = load_saved_model(args.model).signatures["serving_default"]
    images = _images()
    for n in (1, 8):  # warm-up: the first calls trace and allocate
        serve(image_bytes=tf.constant(images[:n]))
    rss_start = _rss_mib()
    rows, runs = [], []
    for clients in args.clients:
        run = _load(serve, images, clients, args.seconds)
        runs.append(run)
        rows.append(
            (
                f"{clients} clients",
                f"{run['requests_per_second']:.1f} req/s, "
                f"{run['images_per_second']:.1f} img/s, p50 {run['p50_ms']:.0f} ms, "
                f"p95 {run['p95_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms, "
                f"errors {run['errors']}, RSS {run['rss_mib_after']:.0f} MiB",
            )
        )
    sweep = {}
    for n in (1, 2, 4, 8, 16, 32):
        batch = tf.constant([images[i % len(images)] for i in range(n)])
        serve(image_bytes=batch)
        start = time.perf_counter()
        for _ in range(3):
            serve(image_bytes=batch)["classes"].numpy()
        sweep[n] = 3 * n / (time.perf_counter() - start)
    rows.append(
        (
            "one client, images per request",
            ", ".join(f"{n}: {rate:.1f} img/s" for n, rate in sweep.items()),
        )
    )
    rows.append(
        (
            "resident memory",
            f"{rss_before_load:.0f} MiB before loading, {rss_start:.0f} after "
            f"warm-up, {_rss_mib():.0f} at the end",
        )
    )
    report(
        "serving_load",
        rows,
        {
            "model": args.model,
            "seconds_per_run": args.seconds,
            "runs": runs,
            "images_per_second_by_request_size": sweep,
            "rss_mib": {
                "before_load": rss_before_load,
                "after_warmup": rss_start,
                "end": _rss_mib(),
            },
        },
    )


if __name__ == "__main__":
    main()
