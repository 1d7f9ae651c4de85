"""The paper's greedy box merge (section 4.3), in the graph.

OverFeat does not suppress boxes: every window's regressed box is kept, and
boxes that agree are merged into one whose confidence is the sum of theirs,
so a coherent cluster of windows outscores a lone confident one.

    match_score(a, b) = |c_a - c_b| / mean(sqrt(area_a), sqrt(area_b))
                        + (1 - IoU(a, b))

(`c` the box centres, `|.|` the Euclidean distance). While the smallest
`match_score` over all pairs of current boxes is at most `threshold`, that
pair is replaced by one box: the mean of all the input boxes merged into
either (sums and counts are kept, so the order of merging weights no box),
scored by the sum of their scores.

Cost: the pair scores are never held as an N x N matrix. Each current box
keeps the minimum of its row of scores and where it is. A merge computes
the merged box's row (O(N)); every other row's minimum just compares with
its score against the merged box, except rows whose minimum was one of the
two merged boxes: they keep the old value as a lower bound and are
recomputed (O(N)) only if that bound becomes the smallest of all. A cluster
that one box absorbs costs about two steps per merge, so N merges cost
O(N^2), never the O(N^3) of rescanning all pairs per merge.

Boxes are float32 `[ymin, xmin, ymax, xmax]` in pixels. A box of zero area
has a size of `MIN_SIZE` pixels in the denominator, so that distances stay
finite.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["MIN_SIZE", "greedy_merge", "greedy_merge_per_class", "match_score"]

MIN_SIZE = 1e-6  # pixels: floor of mean(sqrt(area_a), sqrt(area_b))
_ROW_BLOCK = 256  # rows of pair scores computed at once for the initial minima


def match_score(a, b):
    """The paper's `match_score` between boxes `a` and `b` (broadcasting).

    Args:
        a, b: float `[..., 4]` `[ymin, xmin, ymax, xmax]` in pixels, shapes
            that broadcast against each other.

    Returns:
        float `[...]`: centre distance over the mean square root of the two
        areas, plus one minus their IoU. 0 for identical boxes.
    """
    ay0, ax0, ay1, ax1 = tf.unstack(tf.cast(a, tf.float32), axis=-1)
    by0, bx0, by1, bx1 = tf.unstack(tf.cast(b, tf.float32), axis=-1)
    area_a = tf.maximum(ay1 - ay0, 0.0) * tf.maximum(ax1 - ax0, 0.0)
    area_b = tf.maximum(by1 - by0, 0.0) * tf.maximum(bx1 - bx0, 0.0)
    inter = tf.maximum(tf.minimum(ay1, by1) - tf.maximum(ay0, by0), 0.0) * tf.maximum(
        tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0), 0.0
    )
    union = area_a + area_b - inter
    iou = tf.math.divide_no_nan(inter, union)
    dy = 0.5 * ((ay0 + ay1) - (by0 + by1))
    dx = 0.5 * ((ax0 + ax1) - (bx0 + bx1))
    size = tf.maximum(0.5 * (tf.sqrt(area_a) + tf.sqrt(area_b)), MIN_SIZE)
    return tf.sqrt(dy * dy + dx * dx) / size + (1.0 - iou)


def _merge_padded(boxes, scores, valid, threshold):
    """`greedy_merge` on `[P, 4]` boxes of which `valid` are real; see there.

    Each live box keeps `row_min`, the smallest score of its row, and
    `row_arg`, where it is. After a merge, a row whose minimum pointed at one
    of the two merged boxes keeps its old value as a lower bound (the scores
    it could change only went up or left) and is marked `stale`; it is
    recomputed only when it becomes the smallest of all, so a box that merges
    again and again does not rescan its whole cluster each time.
    """
    inf = float("inf")
    p = tf.shape(boxes)[0]
    index = tf.range(p)

    def row(k, means, valid):
        s = match_score(means[k][None], means)
        return tf.where(valid & tf.not_equal(index, k), s, inf)

    def init_block(b, mins, args):
        rows = tf.minimum(b * _ROW_BLOCK + tf.range(_ROW_BLOCK), p - 1)
        s = match_score(tf.gather(boxes, rows)[:, None], boxes[None])
        keep = valid[None] & tf.gather(valid, rows)[:, None]
        s = tf.where(keep & tf.not_equal(rows[:, None], index[None]), s, inf)
        return (
            b + 1,
            mins.write(b, tf.reduce_min(s, 1)),
            args.write(b, tf.argmin(s, 1, output_type=tf.int32)),
        )

    blocks = (p + _ROW_BLOCK - 1) // _ROW_BLOCK
    _, mins, args = tf.while_loop(
        lambda b, *_: b < blocks,
        init_block,
        (
            tf.constant(0),
            tf.TensorArray(tf.float32, blocks, element_shape=[_ROW_BLOCK]),
            tf.TensorArray(tf.int32, blocks, element_shape=[_ROW_BLOCK]),
        ),
    )
    state = {
        "sums": boxes,
        "means": boxes,
        "counts": tf.ones([p], tf.float32),
        "totals": scores,
        "valid": valid,
        "row_min": mins.concat()[:p],
        "row_arg": args.concat()[:p],
        "stale": tf.zeros([p], tf.bool),
    }

    def refresh(st, i):
        r = row(i, st["means"], st["valid"])
        hit = tf.equal(index, i)
        st = dict(st)
        st["row_min"] = tf.where(hit, tf.reduce_min(r), st["row_min"])
        st["row_arg"] = tf.where(hit, tf.argmin(r, output_type=tf.int32), st["row_arg"])
        st["stale"] = st["stale"] & ~hit
        return st

    def merge(st, i):
        j = st["row_arg"][i]
        a, b = tf.minimum(i, j), tf.maximum(i, j)  # `a` keeps the merged box
        is_a, is_b = tf.equal(index, a), tf.equal(index, b)
        total = st["sums"][a] + st["sums"][b]
        count = st["counts"][a] + st["counts"][b]
        sums = tf.where(is_a[:, None], total[None], st["sums"])
        means = tf.where(is_a[:, None], (total / count)[None], st["means"])
        counts = tf.where(is_a, count, st["counts"])
        totals = tf.where(is_a, st["totals"][a] + st["totals"][b], st["totals"])
        valid = st["valid"] & ~is_b
        new = row(a, means, valid)
        pointed = tf.equal(st["row_arg"], a) | tf.equal(st["row_arg"], b)
        # `<=`: a row whose minimum was the merged box and ties with it stays exact.
        lower = new <= st["row_min"]
        row_min = tf.where(lower, new, st["row_min"])
        row_arg = tf.where(lower, a, st["row_arg"])
        stale = (st["stale"] & ~lower) | (pointed & ~lower)
        row_min = tf.where(is_a, tf.reduce_min(new), row_min)
        row_min = tf.where(is_b, inf, row_min)
        row_arg = tf.where(is_a, tf.argmin(new, output_type=tf.int32), row_arg)
        stale = stale & ~is_a & ~is_b
        return {
            "sums": sums,
            "means": means,
            "counts": counts,
            "totals": totals,
            "valid": valid,
            "row_min": row_min,
            "row_arg": row_arg,
            "stale": stale,
        }

    def cond(st):
        return tf.reduce_min(tf.concat([st["row_min"], [inf]], 0)) <= threshold

    def body(st):
        i = tf.argmin(st["row_min"], output_type=tf.int32)
        return (tf.cond(st["stale"][i], lambda: refresh(st, i), lambda: merge(st, i)),)

    (state,) = tf.while_loop(cond, body, (state,))
    return state["means"], state["totals"], state["valid"]


def _pad(x, p):
    extra = [[0, p - tf.shape(x)[0]]] + [[0, 0]] * (x.shape.rank - 1)
    return tf.pad(x, extra)


def greedy_merge(boxes, scores, threshold, jit_compile: bool = False):
    """Merges boxes greedily as the paper does (module docstring).

    Args:
        boxes: float `[N, 4]` `[ymin, xmin, ymax, xmax]` in pixels; N may be 0
            and need not be known when traced.
        scores: float `[N]`: each box's confidence.
        threshold: float scalar `t`: pairs merge while their `match_score`
            is at most `t`.
        jit_compile: bool. Run the merge loop compiled by XLA, on inputs
            padded to the next power of two (one compilation per power met).
            Several times faster for N in the thousands, but TF Serving runs
            XLA only with `--xla_cpu_compilation_enabled=true`.

    Returns:
        (merged_boxes float32 `[N, 4]`, merged_scores float32 `[N]`,
        num_merged int32 scalar). The first `num_merged` rows are the boxes
        left after merging (each the mean of its input boxes, scored by the
        sum of their scores), in descending score; the other rows are zeros.
    """
    boxes = tf.reshape(tf.convert_to_tensor(boxes, tf.float32), [-1, 4])
    scores = tf.reshape(tf.convert_to_tensor(scores, tf.float32), [-1])
    threshold = tf.cast(threshold, tf.float32)
    n = tf.shape(boxes)[0]
    if jit_compile:
        log2 = tf.math.log(tf.cast(tf.maximum(n, 16), tf.float32)) / tf.math.log(2.0)
        p = tf.bitwise.left_shift(1, tf.cast(tf.math.ceil(log2 - 1e-6), tf.int32))
        means, totals, valid = _merge_jit(
            _pad(boxes, p), _pad(scores, p), tf.range(p) < n, threshold
        )
        means, totals, valid = means[:n], totals[:n], valid[:n]
    else:
        means, totals, valid = _merge_graph(
            boxes, scores, tf.ones([n], tf.bool), threshold
        )
    ranked = tf.argsort(tf.where(valid, totals, -float("inf")), direction="DESCENDING")
    num = tf.reduce_sum(tf.cast(valid, tf.int32))
    keep = tf.range(n) < num
    merged_boxes = tf.where(keep[:, None], tf.gather(means, ranked), 0.0)
    merged_scores = tf.where(keep, tf.gather(totals, ranked), 0.0)
    return merged_boxes, merged_scores, num


_SIGNATURE = [
    tf.TensorSpec([None, 4], tf.float32),
    tf.TensorSpec([None], tf.float32),
    tf.TensorSpec([None], tf.bool),
    tf.TensorSpec([], tf.float32),
]
# Graphs even when called eagerly (an eager while loop runs op by op); traced
# once for every N.
_merge_graph = tf.function(_merge_padded, input_signature=_SIGNATURE)
_merge_jit = tf.function(_merge_padded, input_signature=_SIGNATURE, jit_compile=True)


def greedy_merge_per_class(
    boxes, scores, classes, threshold, max_boxes, jit_compile: bool = False
):
    """`greedy_merge` within each class; the best `max_boxes` over all classes.

    Args:
        boxes: float `[N, 4]` pixels. scores: float `[N]`. classes: int `[N]`.
        threshold: float: `greedy_merge`'s threshold.
        max_boxes: int (Python): rows of the outputs.
        jit_compile: bool: see `greedy_merge`.

    Returns:
        (boxes float32 `[max_boxes, 4]`, scores `[max_boxes]`, classes int32
        `[max_boxes]`, count int32): merged boxes of every class, in
        descending score; rows past `count` are zeros.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    scores = tf.convert_to_tensor(scores, tf.float32)
    classes = tf.cast(classes, tf.int32)
    present, _ = tf.unique(classes)

    def one(c):
        mask = tf.equal(classes, c)
        b, s, k = greedy_merge(
            tf.boolean_mask(boxes, mask),
            tf.boolean_mask(scores, mask),
            threshold,
            jit_compile,
        )
        pad = tf.maximum(max_boxes - tf.shape(s)[0], 0)
        b = tf.pad(b, [[0, pad], [0, 0]])[:max_boxes]
        s = tf.pad(s, [[0, pad]])[:max_boxes]
        valid = tf.range(max_boxes) < k
        return b, tf.where(valid, s, -float("inf")), tf.fill([max_boxes], c)

    b, s, c = tf.map_fn(
        one,
        present,
        fn_output_signature=(
            tf.TensorSpec([max_boxes, 4], tf.float32),
            tf.TensorSpec([max_boxes], tf.float32),
            tf.TensorSpec([max_boxes], tf.int32),
        ),
    )
    b, s, c = tf.reshape(b, [-1, 4]), tf.reshape(s, [-1]), tf.reshape(c, [-1])
    s = tf.concat([s, tf.fill([max_boxes], -float("inf"))], 0)
    b = tf.concat([b, tf.zeros([max_boxes, 4])], 0)
    c = tf.concat([c, tf.zeros([max_boxes], tf.int32)], 0)
    top, order = tf.math.top_k(s, k=max_boxes)
    valid = tf.math.is_finite(top)
    count = tf.reduce_sum(tf.cast(valid, tf.int32))
    return (
        tf.where(valid[:, None], tf.gather(b, order), 0.0),
        tf.where(valid, top, 0.0),
        tf.where(valid, tf.gather(c, order), 0),
        count,
    )
