"""`overfeat describe`: a network's parameters, strides and map sizes.

Every map size is read off the tensors the built Keras model produces for
an input of that size, not computed from a formula (`geometry` is tested
against the same model): the network is traced at each size and TensorFlow's
shape inference gives the maps' sizes (every op of the network keeps its
static shape), so nothing is computed: running the full networks' seven
passes took 15 s.
"""

from __future__ import annotations

import tensorflow as tf

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat
from overfeat_tf.ops.dense import DenseClassifier
from overfeat_tf.specs import get_spec

__all__ = ["describe", "format_description"]


def describe(arch: str, sizes=None, num_classes: int = 1000) -> dict:
    """Builds the network and measures its maps at each input size.

    Args:
        arch: str. A preset of `overfeat_tf.specs.SPECS` (`"accurate"`, `"fast"`, ...).
        sizes: list of (height, width), or None for the spec's scales (accurate:
            the six of the paper's Table 5) preceded by the window.
        num_classes: int. Width of the class layer.

    Returns:
        dict: `{"arch", "params", "window", "stride": {"coarse", "fine"},
        "sizes": [{"input", "prepool", "postpool", "coarse_map", "fine_map"}]}`,
        each size a `[height, width]` list.

    Raises:
        ValueError: unknown arch, or a size smaller than the window.
    """
    spec = get_spec(arch)
    if sizes is None:
        sizes = [(spec.window, spec.window), *spec.scales]
    sizes = [tuple(int(v) for v in hw) for hw in sizes]
    for hw in sizes:  # Fail before building a large model.
        geometry.map_sizes(spec, hw)
    model = OverFeat(spec, num_classes=num_classes)
    dense = DenseClassifier(model)
    pool = model.get_layer(geometry.pool_name(spec.conv_layers[-1]))

    @tf.function(autograph=False)
    def maps(image):
        prepool = dense.features(image)
        postpool = pool(prepool)
        coarse = dense.head(postpool)
        fine = dense.classify_features(prepool, fine=True)
        return prepool, postpool, coarse, fine

    rows = []
    for hw in sizes:
        traced = maps.get_concrete_function(tf.TensorSpec((1, *hw, 3), tf.float32))
        prepool, postpool, coarse, fine = (
            list(t.shape[1:3]) for t in traced.structured_outputs
        )
        rows.append(
            {
                "input": list(hw),
                "prepool": prepool,
                "postpool": postpool,
                "coarse_map": coarse,
                "fine_map": fine,
            }
        )
    return {
        "arch": spec.name,
        "params": int(model.count_params()),
        "window": spec.window,
        "stride": {
            "coarse": geometry.total_stride(spec),
            "fine": geometry.fine_stride(spec),
        },
        "sizes": rows,
    }


def format_description(info: dict) -> str:
    """Renders `describe()` output as a readable table (like paper Table 5)."""

    def hw(v):
        return f"{v[0]}x{v[1]}"

    lines = [
        f"OverFeat {info['arch']}: {info['params']:,} parameters, "
        f"window {info['window']}x{info['window']}, stride {info['stride']['coarse']} "
        f"coarse / {info['stride']['fine']} fine",
        "",
    ]
    header = ("input", "prepool", "postpool", "coarse map", "fine map")
    keys = ("input", "prepool", "postpool", "coarse_map", "fine_map")
    table = [header] + [tuple(hw(row[k]) for k in keys) for row in info["sizes"]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        lines.append("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
