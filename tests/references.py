"""Slow, obvious NumPy references for the fast graph ops (tests and bench/)."""

import numpy as np


def match_score(a, b, min_size=1e-6):
    """The paper's match_score between boxes `a` `[..., 4]` and `b` (broadcasting)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    area_a = np.clip(a[..., 2] - a[..., 0], 0, None) * np.clip(
        a[..., 3] - a[..., 1], 0, None
    )
    area_b = np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(
        b[..., 3] - b[..., 1], 0, None
    )
    ih = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    iw = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(ih, 0, None) * np.clip(iw, 0, None)
    union = area_a + area_b - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    dy = (a[..., 0] + a[..., 2]) / 2 - (b[..., 0] + b[..., 2]) / 2
    dx = (a[..., 1] + a[..., 3]) / 2 - (b[..., 1] + b[..., 3]) / 2
    size = np.maximum((np.sqrt(area_a) + np.sqrt(area_b)) / 2, min_size)
    return np.hypot(dy, dx) / size + (1.0 - iou)


def greedy_merge(boxes, scores, threshold):
    """Paper 4.3 as written: merge the best of all pairs while its score <= t.

    Keeps the full matrix of pair scores and rescans it for every merge. A
    merged box is the mean of its input boxes (sums / counts), its score
    their sum. Ties go to the first pair in row-major order.

    Returns:
        (boxes [k, 4], scores [k]) in descending score.
    """
    sums = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    n = len(sums)
    counts = np.ones(n)
    totals = np.asarray(scores, np.float64).reshape(-1).copy()
    alive = np.ones(n, bool)
    pair = match_score(sums[:, None], sums[None])
    pair[~np.triu(np.ones((n, n), bool), k=1)] = np.inf
    while n > 1:
        i, j = divmod(int(np.argmin(pair)), n)
        if not pair[i, j] <= threshold:
            break
        sums[i] += sums[j]
        counts[i] += counts[j]
        totals[i] += totals[j]
        alive[j] = False
        pair[j, :] = pair[:, j] = np.inf
        scores_i = match_score(sums[i] / counts[i], sums / counts[:, None])
        scores_i[~alive] = np.inf
        scores_i[i] = np.inf
        pair[:i, i] = scores_i[:i]
        pair[i, i + 1 :] = scores_i[i + 1 :]
    order = [k for k in np.argsort(-totals, kind="stable") if alive[k]]
    means = sums / counts[:, None]
    return means[order].reshape(-1, 4), totals[order]


def detection_labels(windows, boxes, labels, background, coverage, min_size, overlap):
    """Each window's detection class, one window and one box at a time."""
    rows, cols = windows.shape[:2]
    out = np.full((rows, cols), -1, np.int64)
    for i in range(rows):
        for j in range(cols):
            wy0, wx0, wy1, wx1 = windows[i, j]
            window_area = (wy1 - wy0) * (wx1 - wx0)
            best, best_cover, clear = None, -1.0, True
            for box, label in zip(boxes, labels, strict=True):
                by0, bx0, by1, bx1 = box
                area = (by1 - by0) * (bx1 - bx0)
                ih = max(0.0, min(by1, wy1) - max(by0, wy0))
                iw = max(0.0, min(bx1, wx1) - max(bx0, wx0))
                inter = ih * iw
                cover = inter / area if area > 0 else 0.0
                if cover >= coverage and np.sqrt(area) >= min_size * np.sqrt(
                    window_area
                ):
                    if cover > best_cover:
                        best, best_cover = label, cover
                smaller = min(area, window_area)
                if smaller > 0 and inter / smaller > overlap:
                    clear = False
            if best is not None:
                out[i, j] = best
            elif clear:
                out[i, j] = background
    return out


def regression_targets(windows, boxes, labels, min_coverage):
    """Each window's box targets, one window and one box at a time.

    A window trains on the box it holds the largest share of (the first on
    ties) when that share is at least `min_coverage`. Returns (targets
    `[h, w, 4]`, mask `[h, w]`, labels `[h, w]`), zeros where not trained.
    """
    rows, cols = windows.shape[:2]
    targets = np.zeros((rows, cols, 4))
    mask = np.zeros((rows, cols))
    out_labels = np.zeros((rows, cols), np.int64)
    for i in range(rows):
        for j in range(cols):
            wy0, wx0, wy1, wx1 = (float(v) for v in windows[i, j])
            best, best_cover = None, 0.0
            for n, (by0, bx0, by1, bx1) in enumerate(boxes):
                area = (by1 - by0) * (bx1 - bx0)
                ih = max(0.0, min(by1, wy1) - max(by0, wy0))
                iw = max(0.0, min(bx1, wx1) - max(bx0, wx0))
                cover = ih * iw / area if area > 0 else 0.0
                if cover > best_cover:
                    best, best_cover = n, cover
            if best is None or best_cover < min_coverage:
                continue
            by0, bx0, by1, bx1 = boxes[best]
            h, w = wy1 - wy0, wx1 - wx0
            targets[i, j] = [
                (by0 - wy0) / h,
                (bx0 - wx0) / w,
                (by1 - wy0) / h,
                (bx1 - wx0) / w,
            ]
            mask[i, j] = 1.0
            out_labels[i, j] = labels[best]
    return targets, mask, out_labels


def dense_box_loss(y_true, y_pred):
    """Per image: the squared error of the four edges, summed over the edges
    and averaged over the cells whose mask (channel 4) is set; 0 for an image
    with none. A per-class prediction (more than 4 channels) is read at the
    cell's box class (channel 5): channels 4c..4c+3."""
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    batch, rows, cols = y_true.shape[:3]
    out = np.zeros(batch)
    for b in range(batch):
        total, count = 0.0, 0
        for i in range(rows):
            for j in range(cols):
                if y_true[b, i, j, 4] == 0:
                    continue
                c = int(y_true[b, i, j, 5]) if y_pred.shape[-1] > 4 else 0
                pred = y_pred[b, i, j, 4 * c : 4 * c + 4]
                total += sum((pred[e] - y_true[b, i, j, e]) ** 2 for e in range(4))
                count += 1
        out[b] = total / count if count else 0.0
    return out


def cross_entropy(logits, label):
    """Softmax cross-entropy of one logit vector and one class."""
    logits = np.asarray(logits, np.float64)
    top = logits.max()
    return top + np.log(np.exp(logits - top).sum()) - logits[label]


def detection_loss(y_true, y_pred, num_classes, random, hard, box_weight, pick):
    """The detector's loss per image, one cell at a time.

    Cross-entropy averaged over the mined cells (every object cell, the
    `hard` background cells of highest loss, and `random` more background
    cells), plus `box_weight` times `dense_box_loss` of the boxes (the
    channels after the `num_classes` logits). Random negatives cannot be
    reproduced: `pick` "low" takes the remaining background cells of lowest
    loss, "high" those of highest, which bounds the true loss (equal when
    `random` is 0 or covers every remaining background cell).
    """
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    batch = y_true.shape[0]
    background = num_classes - 1
    out = np.zeros(batch)
    for b in range(batch):
        labels = y_true[b, ..., 6].reshape(-1).astype(int)
        logits = y_pred[b, ..., :num_classes].reshape(len(labels), num_classes)
        losses = [cross_entropy(logits[n], max(c, 0)) for n, c in enumerate(labels)]
        chosen = [n for n, c in enumerate(labels) if 0 <= c < background]
        negatives = [n for n, c in enumerate(labels) if c == background]
        # Highest loss first, the first cell on ties (as `tf.math.top_k`).
        by_loss = sorted(negatives, key=lambda n: (-losses[n], n))
        chosen += by_loss[:hard]
        rest = by_loss[hard:]
        low = rest[max(len(rest) - random, 0) :] if random else []
        chosen += low if pick == "low" else rest[:random]
        out[b] = sum(losses[n] for n in chosen) / max(len(chosen), 1)
    boxes = y_pred[..., num_classes:]
    return out + box_weight * dense_box_loss(y_true[..., :6], boxes)
