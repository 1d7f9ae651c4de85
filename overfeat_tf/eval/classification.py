"""The paper's Table 2 on any TFDS split: classification accuracy by scales,
flips and stride, from one dense pass per image.

Each image runs once through the network at every scale of the spec, plain
and mirrored, at the fine stride and at the coarse; each pass is reduced to
its per-class spatial maximum (paper 3.3, step (i)). Every voting
configuration (a subset of scales, with or without flips, one stride) is then
the mean of its passes' maxima (step (ii)), exactly what
`MultiScaleClassifier(model, scales, flips, fine)` computes, so a table of
many configurations costs two dense passes per image and scale rather than
one per configuration.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from overfeat_tf.ops.multiscale import MultiScaleClassifier

__all__ = [
    "SCALE_SETS",
    "Vote",
    "maxima_function",
    "vote_accuracy",
    "vote_probabilities",
    "vote_table",
]

# The rows of `vote_table` by default: each scale alone, then the paper's
# growing sets (Table 2: scale 1; 4 scales (1, 2, 4, 6); 6 scales), with 2
# and 3 scales spread the same way. Indices into the spec's scales.
SCALE_SETS = ((0, 1), (0, 2, 4), (0, 1, 3, 5), (0, 1, 2, 3, 4, 5))


@dataclasses.dataclass(frozen=True)
class Vote:
    """One voting configuration of `MultiScaleClassifier`.

    Attributes:
        scales: tuple of int, indices into the spec's scales.
        flips: bool. Mirrored passes vote too.
        fine: bool. Fine (offset pooling) or coarse stride.
    """

    scales: tuple
    flips: bool = True
    fine: bool = True

    @property
    def label(self) -> str:
        scales = ",".join(str(i + 1) for i in self.scales)
        n = len(self.scales)
        flips = " + flips" if self.flips else ""
        stride = "fine" if self.fine else "coarse"
        return f"{n} scale{'s' if n > 1 else ''} ({scales}){flips}, {stride} stride"


def maxima_function(model, fine: bool = True, mode: str = "aspect"):
    """A `tf.function`: images -> each class's spatial maximum per scale and flip.

    Args:
        model: `OverFeat`.
        fine: bool. Fine or coarse stride.
        mode: str. Scale sizes, as `MultiScaleClassifier`'s.

    Returns:
        A function of float `[batch, height, width, 3]` images (RGB in [0,
        255]) returning float32 `[batch, scales, 2, classes]`: `[:, i, 0]` the
        plain pass at spec scale i, `[:, i, 1]` the mirrored one; a
        detector's object classes only, as `MultiScaleClassifier` votes.
    """
    classifier = MultiScaleClassifier(model, flips=True, fine=fine, mode=mode)
    n_scales = len(model.spec.scales)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def maxima(images):
        maps = classifier.maps(images)
        objects = classifier.num_object_classes
        out = tf.stack(
            [
                tf.reduce_max(m["probabilities"][..., :objects], axis=[1, 2])
                for m in maps
            ],
            1,
        )
        return tf.reshape(out, [tf.shape(out)[0], n_scales, 2, objects])

    return maxima


def vote_probabilities(maxima, vote: Vote):
    """The class vector of one `Vote`: the mean of its passes' maxima.

    Args:
        maxima: dict `{True: fine maxima, False: coarse maxima}`, each a
            `maxima_function` output `[n, scales, 2, classes]`.
        vote: `Vote`.

    Returns:
        float32 numpy `[n, classes]`, as `MultiScaleClassifier(model,
        vote.scales, vote.flips, vote.fine)`'s `probabilities`.
    """
    chosen = np.asarray(maxima[vote.fine])[:, list(vote.scales)]
    if not vote.flips:
        chosen = chosen[:, :, :1]
    return chosen.mean(axis=(1, 2))


def vote_accuracy(maxima, labels, vote: Vote) -> dict:
    """Top-1 / top-5 accuracy of one `Vote` (`maxima` as `vote_probabilities`').

    Returns:
        dict: `top1`, `top5`.
    """
    probabilities = vote_probabilities(maxima, vote)
    # Ties break towards the lower class index, as tf.math.top_k's.
    ranked = np.argsort(-probabilities, axis=-1, kind="stable")
    labels = np.asarray(labels)[:, None]
    return {
        "top1": float((ranked[:, :1] == labels).any(-1).mean()),
        "top5": float((ranked[:, :5] == labels).any(-1).mean()),
    }


def vote_table(
    model,
    dataset,
    votes=None,
    batch_size: int = 50,
    mode: str = "aspect",
    progress: bool = True,
) -> dict:
    """Table 2: top-1 / top-5 of many voting configurations on one dataset.

    Args:
        model: `OverFeat` classifier.
        dataset: `tf.data.Dataset` of TFDS examples with `image` (one size
            per batch) and `label`.
        votes: list of `Vote`; default: every single scale, then
            `SCALE_SETS`, then all of the spec's scales if it has more than
            six (a default export's vote), each with and without flips, at
            both strides.
        batch_size: int.
        mode: str. Scale sizes, as `MultiScaleClassifier`'s.

    Returns:
        dict: `rows` (one dict per vote: `label`, `scales`, `flips`, `fine`,
        `top1`, `top5`), `examples`, `seconds`.
    """
    n_scales = len(model.spec.scales)
    if votes is None:
        sets = [(i,) for i in range(n_scales)] + [
            s for s in SCALE_SETS if max(s) < n_scales
        ]
        if n_scales > len(SCALE_SETS[-1]):  # e.g. a detector's 7: the export's
            sets.append(tuple(range(n_scales)))
        votes = [
            Vote(tuple(s), flips, fine)
            for fine in (False, True)
            for s in sets
            for flips in (False, True)
        ]
    # Only the strides some vote reads: each costs a dense pass per scale.
    strides = sorted({vote.fine for vote in votes}, reverse=True)
    functions = {fine: maxima_function(model, fine, mode) for fine in strides}
    maxima = {fine: [] for fine in strides}
    labels = []
    start = time.perf_counter()
    bar = keras.utils.Progbar(None, verbose=1 if progress else 0, unit_name="image")
    for batch in dataset.batch(batch_size):
        images = tf.cast(batch["image"], tf.float32)
        for fine in strides:
            maxima[fine].append(functions[fine](images).numpy())
        labels.append(batch["label"].numpy())
        bar.add(len(labels[-1]))
    maxima = {fine: np.concatenate(m) for fine, m in maxima.items()}
    labels = np.concatenate(labels)
    rows = [
        {
            "label": vote.label,
            "scales": list(vote.scales),
            "flips": vote.flips,
            "fine": vote.fine,
            **vote_accuracy(maxima, labels, vote),
        }
        for vote in votes
    ]
    return {
        "rows": rows,
        "examples": len(labels),
        "seconds": time.perf_counter() - start,
    }
