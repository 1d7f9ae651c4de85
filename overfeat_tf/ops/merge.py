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

__all__ = [
    "MIN_SIZE",
    "greedy_merge",
    "greedy_merge_batch",
    "greedy_merge_per_class",
    "match_score",
]

MIN_SIZE = 1e-6  # pixels: floor of mean(sqrt(area_a), sqrt(area_b))
_ROW_BLOCK = 64  # rows of each group's pair scores computed at once for the minima


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


def _merge_groups(boxes, scores, valid, threshold):
    """`greedy_merge` on `[G, P, 4]` boxes in G independent groups (each
    group's real boxes marked by `valid` `[G, P]`); see there.

    Every loop step takes one step of each group that still has a pair at
    most `threshold` apart, so groups merge side by side: the loop runs as
    many steps as the busiest group needs, not as all groups together.

    Each live box keeps `row_min`, the smallest score of its row, and
    `row_arg`, where it is. After a merge, a row whose minimum pointed at one
    of the two merged boxes keeps its old value as a lower bound (the scores
    it could change only went up or left) and is marked `stale`; it is
    recomputed only when it becomes the smallest of its group, so a box that
    merges again and again does not rescan its whole cluster each time.
    """
    inf = float("inf")
    # One box more, never valid: no group is empty of rows, so the row blocks
    # below always have a row to read.
    n = tf.shape(boxes)[1]
    boxes = tf.pad(boxes, [[0, 0], [0, 1], [0, 0]])
    scores = tf.pad(scores, [[0, 0], [0, 1]])
    valid = tf.pad(valid, [[0, 0], [0, 1]])
    g, p = tf.shape(boxes)[0], n + 1
    index = tf.range(p)[None]  # [1, P]

    def row(k, means, valid):
        """Each group's row `k[g]`: `[G, P]` scores against its live boxes."""
        s = match_score(tf.gather(means, k, batch_dims=1)[:, None], means)
        return tf.where(valid & tf.not_equal(index, k[:, None]), s, inf)

    def init_block(b, mins, args):
        rows = tf.minimum(b * _ROW_BLOCK + tf.range(_ROW_BLOCK), p - 1)
        s = match_score(tf.gather(boxes, rows, axis=1)[:, :, None], boxes[:, None])
        keep = valid[:, None] & tf.gather(valid, rows, axis=1)[:, :, None]
        keep &= tf.not_equal(rows[:, None], index)[None]
        s = tf.where(keep, s, inf)  # [G, rows, P]
        return (
            b + 1,
            mins.write(b, tf.reduce_min(s, 2)),
            args.write(b, tf.argmin(s, 2, output_type=tf.int32)),
        )

    blocks = (p + _ROW_BLOCK - 1) // _ROW_BLOCK

    def columns(rows):  # [blocks, G, _ROW_BLOCK] -> [G, P]
        rows = tf.reshape(tf.transpose(rows, [1, 0, 2]), [g, blocks * _ROW_BLOCK])
        return rows[:, :p]

    shape = tf.TensorShape([None, _ROW_BLOCK])
    _, mins, args = tf.while_loop(
        lambda b, *_: b < blocks,
        init_block,
        (
            tf.constant(0),
            tf.TensorArray(tf.float32, blocks, element_shape=shape),
            tf.TensorArray(tf.int32, blocks, element_shape=shape),
        ),
    )
    state = {
        "sums": boxes,
        "means": boxes,
        "counts": tf.ones(tf.shape(scores), tf.float32),
        "totals": scores,
        "valid": valid,
        "row_min": columns(mins.stack()),
        "row_arg": columns(args.stack()),
        "stale": tf.zeros(tf.shape(valid), tf.bool),
    }

    def refresh(st, i, hit):
        """Recomputes row `i[g]` of the groups where `hit` (`[G, P]`) is set."""
        r = row(i, st["means"], st["valid"])
        st = dict(st)
        st["row_min"] = tf.where(hit, tf.reduce_min(r, 1)[:, None], st["row_min"])
        arg = tf.argmin(r, 1, output_type=tf.int32)[:, None]
        st["row_arg"] = tf.where(hit, arg, st["row_arg"])
        st["stale"] = st["stale"] & ~hit
        return st

    def merge(st, i, on):
        """Merges box `i[g]` with its nearest in the groups where `on` (`[G]`)."""
        j = tf.gather(st["row_arg"], i, batch_dims=1)
        a, b = tf.minimum(i, j), tf.maximum(i, j)  # `a` keeps the merged box
        on = on[:, None]
        is_a = tf.equal(index, a[:, None]) & on
        is_b = tf.equal(index, b[:, None]) & on

        def pair_sum(x):
            return tf.gather(x, a, batch_dims=1) + tf.gather(x, b, batch_dims=1)

        total, count = pair_sum(st["sums"]), pair_sum(st["counts"])
        sums = tf.where(is_a[..., None], total[:, None], st["sums"])
        means = tf.where(
            is_a[..., None], (total / count[:, None])[:, None], st["means"]
        )
        counts = tf.where(is_a, count[:, None], st["counts"])
        totals = tf.where(is_a, pair_sum(st["totals"])[:, None], st["totals"])
        valid = st["valid"] & ~is_b
        new = row(a, means, valid)
        pointed = tf.equal(st["row_arg"], a[:, None]) | tf.equal(
            st["row_arg"], b[:, None]
        )
        # `<=`: a row whose minimum was the merged box and ties with it stays exact.
        lower = (new <= st["row_min"]) & on
        row_min = tf.where(lower, new, st["row_min"])
        row_arg = tf.where(lower, a[:, None], st["row_arg"])
        stale = st["stale"] | (pointed & on & ~lower)
        stale &= ~lower
        row_min = tf.where(is_a, tf.reduce_min(new, 1)[:, None], row_min)
        row_min = tf.where(is_b, inf, row_min)
        arg = tf.argmin(new, 1, output_type=tf.int32)[:, None]
        row_arg = tf.where(is_a, arg, row_arg)
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

    def best(st):  # [G]: each group's smallest score (the padding row: inf)
        return tf.reduce_min(st["row_min"], 1)

    def cond(st):
        return tf.reduce_any(best(st) <= threshold)

    def body(st):
        i = tf.argmin(st["row_min"], 1, output_type=tf.int32)
        active = best(st) <= threshold
        stale = tf.gather(st["stale"], i, batch_dims=1)
        hit = tf.equal(index, i[:, None]) & (active & stale)[:, None]
        st = refresh(st, i, hit)
        return (merge(st, i, active & ~stale),)

    (state,) = tf.while_loop(cond, body, (state,))
    return state["means"][:, :n], state["totals"][:, :n], state["valid"][:, :n]


def _pow2(n, least):
    """The smallest power of two at least `max(n, least)` (int32 scalar)."""
    log2 = tf.math.log(tf.cast(tf.maximum(n, least), tf.float32)) / tf.math.log(2.0)
    return tf.bitwise.left_shift(1, tf.cast(tf.math.ceil(log2 - 1e-6), tf.int32))


def _run_groups(boxes, scores, valid, threshold, jit_compile):
    """`_merge_groups` as a graph, or through XLA on inputs padded to powers
    of two in both dimensions (one compilation per pair of powers met)."""
    threshold = tf.cast(threshold, tf.float32)
    if not jit_compile:
        return _merge_graph(boxes, scores, valid, threshold)
    g, n = tf.shape(boxes)[0], tf.shape(boxes)[1]
    pg, pn = _pow2(g, 1), _pow2(n, 16)
    pad = [[0, pg - g], [0, pn - n]]
    means, totals, ok = _merge_jit(
        tf.pad(boxes, pad + [[0, 0]]),
        tf.pad(scores, pad),
        tf.pad(valid, pad),
        threshold,
    )
    return means[:g, :n], totals[:g, :n], ok[:g, :n]


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
    n = tf.shape(boxes)[0]
    means, totals, valid = _run_groups(
        boxes[None], scores[None], tf.ones([1, n], tf.bool), threshold, jit_compile
    )
    means, totals, valid = means[0], totals[0], valid[0]
    ranked = tf.argsort(tf.where(valid, totals, -float("inf")), direction="DESCENDING")
    num = tf.reduce_sum(tf.cast(valid, tf.int32))
    keep = tf.range(n) < num
    merged_boxes = tf.where(keep[:, None], tf.gather(means, ranked), 0.0)
    merged_scores = tf.where(keep, tf.gather(totals, ranked), 0.0)
    return merged_boxes, merged_scores, num


_SIGNATURE = [
    tf.TensorSpec([None, None, 4], tf.float32),
    tf.TensorSpec([None, None], tf.float32),
    tf.TensorSpec([None, None], tf.bool),
    tf.TensorSpec([], tf.float32),
]
# Graphs even when called eagerly (an eager while loop runs op by op); traced
# once for every shape.
_merge_graph = tf.function(_merge_groups, input_signature=_SIGNATURE)
_merge_jit = tf.function(_merge_groups, input_signature=_SIGNATURE, jit_compile=True)


def greedy_merge_batch(
    boxes,
    scores,
    classes,
    images,
    batch_size,
    threshold,
    max_boxes: int,
    jit_compile: bool = False,
):
    """`greedy_merge` within each class of each image, all of them at once;
    each image's best `max_boxes` over its classes.

    The boxes of one (image, class) pair merge as `greedy_merge` merges them
    (in the order given); all pairs merge side by side in one loop, which
    runs as many steps as the pair with the most merges needs.

    Args:
        boxes: float `[N, 4]` pixels. scores: float `[N]`.
        classes: int `[N]`: each box's class (any non-negative ints).
        images: int `[N]`: each box's image, in `[0, batch_size)`.
        batch_size: int scalar: images in the batch (some may have no box).
        threshold: float: `greedy_merge`'s threshold.
        max_boxes: int (Python): boxes returned per image.
        jit_compile: bool: see `greedy_merge`.

    Returns:
        (boxes float32 `[batch, max_boxes, 4]`, scores `[batch, max_boxes]`,
        classes int32 `[batch, max_boxes]`, counts int32 `[batch]`): each
        image's merged boxes of every class in descending score; rows past
        its count are zeros.
    """
    boxes = tf.reshape(tf.convert_to_tensor(boxes, tf.float32), [-1, 4])
    scores = tf.reshape(tf.convert_to_tensor(scores, tf.float32), [-1])
    classes = tf.reshape(tf.cast(classes, tf.int64), [-1])
    images = tf.reshape(tf.cast(images, tf.int64), [-1])
    inf = float("inf")

    # Groups: the (image, class) pairs present, numbered by first appearance;
    # each box's place within its group keeps the input order.
    key = images * (tf.reduce_max(tf.concat([classes, [0]], 0)) + 1) + classes
    _, group = tf.unique(key, out_idx=tf.int32)
    num_groups = tf.reduce_max(tf.concat([group, [-1]], 0)) + 1
    order = tf.argsort(group, stable=True)
    sorted_group = tf.gather(group, order)
    sizes = tf.math.bincount(group, minlength=num_groups, dtype=tf.int32)
    starts = tf.cumsum(sizes, exclusive=True)
    place = tf.range(tf.size(group)) - tf.gather(starts, sorted_group)
    width = tf.maximum(tf.reduce_max(tf.concat([sizes, [0]], 0)), max_boxes)
    where = tf.stack([sorted_group, place], 1)
    shape = tf.stack([num_groups, width])
    grouped_boxes = tf.scatter_nd(
        where, tf.gather(boxes, order), tf.concat([shape, [4]], 0)
    )
    grouped_scores = tf.scatter_nd(where, tf.gather(scores, order), shape)
    grouped_valid = tf.scatter_nd(where, tf.ones_like(group), shape) > 0
    means, totals, valid = _run_groups(
        grouped_boxes, grouped_scores, grouped_valid, threshold, jit_compile
    )

    # Each group's best `max_boxes`, then each image's best over its groups.
    top, at = tf.math.top_k(tf.where(valid, totals, -inf), k=max_boxes)
    top_boxes = tf.gather(means, at, batch_dims=1)  # [groups, max_boxes, 4]
    group_image = tf.math.unsorted_segment_max(images, group, num_groups)
    group_class = tf.math.unsorted_segment_max(classes, group, num_groups)
    entry_image = tf.repeat(group_image, max_boxes)
    entry_class = tf.cast(tf.repeat(group_class, max_boxes), tf.int32)
    mine = tf.equal(entry_image[None], tf.range(tf.cast(batch_size, tf.int64))[:, None])
    per_image = tf.where(mine, tf.reshape(top, [-1])[None], -inf)
    per_image = tf.pad(per_image, [[0, 0], [0, max_boxes]], constant_values=-inf)
    best, pick = tf.math.top_k(per_image, k=max_boxes)  # [batch, max_boxes]
    ok = tf.math.is_finite(best)
    flat_boxes = tf.pad(tf.reshape(top_boxes, [-1, 4]), [[0, max_boxes], [0, 0]])
    flat_classes = tf.pad(entry_class, [[0, max_boxes]])
    return (
        tf.where(ok[..., None], tf.gather(flat_boxes, pick), 0.0),
        tf.where(ok, best, 0.0),
        tf.where(ok, tf.gather(flat_classes, pick), 0),
        tf.reduce_sum(tf.cast(ok, tf.int32), 1),
    )


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
    classes = tf.reshape(tf.cast(classes, tf.int32), [-1])
    b, s, c, k = greedy_merge_batch(
        boxes,
        scores,
        classes,
        tf.zeros_like(classes),
        1,
        threshold,
        max_boxes,
        jit_compile,
    )
    return b[0], s[0], c[0], k[0]
