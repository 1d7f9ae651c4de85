"""OverFeat architectures as data (paper Tables 1 and 3).

Each network is a table of layers read top to bottom, like the paper's tables.
The table is the single source of truth: `geometry` derives every size and
stride from it and `models` builds the Keras layers by looping over it.

Columns of a row (`Layer`):

- `name`: the paper's layer number (`conv1`, ..., `fc9`); the Keras layer name.
- `stage`: `"conv"` (convolution, optionally followed by max pooling) or
  `"full"` (fully connected, built as a `Conv2D`).
- `filters`: output channels; `None` on the output layer, whose width is the
  number of classes.
- `kernel`, `stride`, `padding`: square convolution kernel, stride and zero
  padding on each side (convolution layers only).
- `pool`: size of the non-overlapping max pooling after the convolution (its
  stride equals its size); 0 for none.

Fully connected layers carry no kernel size: the first one covers the whole
pooled map at the training window size (accurate 5x5, fast 6x6), so that the
window gives a 1x1 output, and the rest are 1x1. At any larger input they
slide over the map, which is how OverFeat runs densely (paper 3.5).
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "ACCURATE",
    "FAST",
    "SMALL_ACCURATE",
    "SMALL_FAST",
    "SPECS",
    "TINY_ACCURATE",
    "TINY_ACCURATE_VALID",
    "TINY_FAST",
    "TINY_FAST_VALID",
    "Layer",
    "NetworkSpec",
    "get_spec",
    "kernel_initializer",
]


@dataclasses.dataclass(frozen=True)
class Layer:
    """One row of an architecture table.

    Attributes:
        name: str. Keras layer name, following the paper's numbering.
        stage: str. `"conv"` or `"full"`.
        filters: int or None. Output channels; None for the class layer.
        kernel: int. Square kernel size (`"conv"` only).
        stride: int. Convolution stride (`"conv"` only).
        padding: int. Zero padding on each side (`"conv"` only).
        pool: int. Max-pooling size and stride after the convolution; 0 for none.
    """

    name: str
    stage: str
    filters: int | None
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    pool: int = 0


def _conv(name, filters, kernel, stride=1, padding=0, pool=0):
    return Layer(name, "conv", filters, kernel, stride, padding, pool)


def _full(name, filters=None):
    return Layer(name, "full", filters)


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """An OverFeat network: its layer table and training window.

    Attributes:
        name: str. Preset name.
        window: int. Training input size in pixels (square); the network gives a
            1x1 output there.
        layers: tuple of `Layer`. Convolution stages first, then the fully
            connected stages; the last row is the class layer (`filters=None`).
        dropout: float. Dropout rate on the hidden fully connected layers while
            training (paper 3.1: 0.5).
        init_stddev: float or None. Standard deviation of the N(0, s) weight
            initialisation (paper 3.1: 0.01); None for He-normal, which the
            small presets use: trained for minutes rather than weeks, a small
            network starts learning at once with it, and hardly at all from
            N(0, 0.01).
        scales: tuple of (height, width). The multi-scale input sizes (paper
            Table 5 for accurate). Each is the window plus a whole number of
            fine strides, so every scale's map tiles the fine grid exactly.
        regressor: tuple of int. Widths of the box regressor's hidden fully
            connected layers (paper 4.2, Fig. 8: 4096 and 1024); its first
            layer's kernel is the classifier's, its output 4 (or 4 per
            class) box edges.
    """

    name: str
    window: int
    layers: tuple[Layer, ...]
    dropout: float = 0.5
    init_stddev: float | None = 0.01
    scales: tuple[tuple[int, int], ...] = ()
    regressor: tuple[int, ...] = (4096, 1024)

    def __post_init__(self):
        stages = [layer.stage for layer in self.layers]
        if set(stages) - {"conv", "full"}:
            raise ValueError(
                f"Spec {self.name!r}: stage must be 'conv' or 'full'. "
                f"Received: stages={stages}"
            )
        n_conv = stages.count("conv")
        if n_conv == 0 or stages != ["conv"] * n_conv + ["full"] * (
            len(stages) - n_conv
        ):
            raise ValueError(
                f"Spec {self.name!r}: convolution rows must come first, then at "
                f"least one fully connected row. Received: stages={stages}"
            )
        if len(stages) == n_conv:
            raise ValueError(f"Spec {self.name!r} has no fully connected layer.")
        if self.layers[n_conv - 1].pool < 1:
            raise ValueError(
                f"Spec {self.name!r}: the last convolution "
                f"({self.layers[n_conv - 1].name}) "
                "must be followed by max pooling; OverFeat's fine stride applies "
                "that pooling at every offset."
            )
        if self.layers[-1].filters is not None:
            raise ValueError(
                f"Spec {self.name!r}: the last row is the class layer and takes "
                f"filters=None. Received: filters={self.layers[-1].filters}"
            )
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"Spec {self.name!r}: layer names repeat: {names}")

    @property
    def conv_layers(self) -> tuple[Layer, ...]:
        """tuple of `Layer`: the feature extractor rows (layers 1..5 or 1..6)."""
        return tuple(layer for layer in self.layers if layer.stage == "conv")

    @property
    def full_layers(self) -> tuple[Layer, ...]:
        """tuple of `Layer`: the classifier rows, the class layer last."""
        return tuple(layer for layer in self.layers if layer.stage == "full")

    @property
    def last_pool(self) -> int:
        """int: size k of the final max pooling, applied at every offset 0..k-1."""
        return self.conv_layers[-1].pool

    def to_dict(self) -> dict:
        """Returns the spec as plain data (JSON / YAML serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config: dict) -> NetworkSpec:
        """Builds a spec from `to_dict()` output."""
        config = dict(config)
        config["layers"] = tuple(Layer(**row) for row in config["layers"])
        config["scales"] = tuple(tuple(hw) for hw in config.get("scales", ()))
        if "regressor" in config:
            config["regressor"] = tuple(config["regressor"])
        return cls(**config)


# Paper Table 3, the "accurate" model. Input 221x221 -> 1x1.
ACCURATE = NetworkSpec(
    name="accurate",
    window=221,
    layers=(
        #     name     filters kernel stride padding pool
        _conv("conv1", 96, 7, 2, 0, 3),
        _conv("conv2", 256, 7, 1, 0, 2),
        _conv("conv3", 512, 3, 1, 1),
        _conv("conv4", 512, 3, 1, 1),
        _conv("conv5", 1024, 3, 1, 1),
        _conv("conv6", 1024, 3, 1, 1, 3),
        _full("fc7", 4096),
        _full("fc8", 4096),
        _full("fc9"),
    ),
    # Table 5: 221 + 12 * m on each side.
    scales=((245, 245), (281, 317), (317, 389), (389, 461), (425, 497), (461, 569)),
)

# Paper Table 1, the "fast" model. Input 231x231 -> 1x1. Its last pooling
# is 2x2 (Table 1): fine offsets 0 and 1, a fine stride of 16 px (as the
# original release's README gives it). Table 2 runs fast with offsets 0, 1, 2
# and section 3.3 speaks of 36 -> 12 px: the accurate network's 3x3 pooling.
FAST = NetworkSpec(
    name="fast",
    window=231,
    layers=(
        #     name     filters kernel stride padding pool
        _conv("conv1", 96, 11, 4, 0, 2),
        _conv("conv2", 256, 5, 1, 0, 2),
        _conv("conv3", 512, 3, 1, 1),
        _conv("conv4", 1024, 3, 1, 1),
        _conv("conv5", 1024, 3, 1, 1, 2),
        _full("fc6", 3072),
        _full("fc7", 4096),
        _full("fc8"),
    ),
    # The paper gives no sizes for fast; these are Table 5's, each side moved
    # to the nearest 231 + 16 * m so that it tiles the fast fine grid.
    scales=((247, 247), (279, 311), (311, 391), (391, 455), (423, 503), (455, 567)),
)


def _reduced(name, base, window, kernels, widths, hidden, regressor, padding=True):
    """A small network with `base`'s stages, strides and pools.

    Only kernel sizes (of the first two convolutions), widths, the window and
    optionally the zero padding change, so the total stride (36 / 32), the
    fine stride (12 / 16) and the offset pooling (3x3 / 2x2) are those of the
    full network.
    """
    convs = base.conv_layers
    rows = []
    for i, layer in enumerate(convs):
        kernel = kernels[i] if i < len(kernels) else layer.kernel
        rows.append(
            dataclasses.replace(
                layer,
                filters=widths[i],
                kernel=kernel,
                padding=layer.padding if padding else 0,
            )
        )
    fulls = base.full_layers
    for layer, units in zip(fulls[:-1], hidden, strict=True):
        rows.append(dataclasses.replace(layer, filters=units))
    rows.append(fulls[-1])
    spec = NetworkSpec(
        name=name,
        window=window,
        layers=tuple(rows),
        init_stddev=None,
        regressor=tuple(regressor),
    )
    # Six scales in the proportions of Table 5 (m = 2, 5, 8, 14, 17, 20 fine
    # strides down, 2, 8, 14, 20, 23, 29 across), compressed by 2 to suit
    # small images: m = 1, 2, 4, 7, 8, 10 and 1, 4, 7, 10, 11, 14.
    s = total_stride_of(rows) // rows[len(convs) - 1].pool
    scales = tuple(
        (window + s * my, window + s * mx)
        for my, mx in zip((1, 2, 4, 7, 8, 10), (1, 4, 7, 10, 11, 14), strict=True)
    )
    return dataclasses.replace(spec, scales=scales)


def total_stride_of(rows) -> int:
    """int: product of the convolution strides and pooling sizes of `rows`."""
    stride = 1
    for layer in rows:
        if layer.stage == "conv":
            stride *= layer.stride * max(layer.pool, 1)
    return stride


# Small variants for the embedded datasets and the tests. Windows are chosen so
# the pooled map at the window is 2x2, which keeps the first fully connected
# kernel larger than 1x1 (so its dilation in the fine-stride pass is exercised):
#   accurate: conv1 3x3/2 -> pool 3 -> conv2 3x3 -> pool 2 -> conv3..6 (pad 1)
#             -> pool 3: 85 -> 42 -> 14 -> 12 -> 6 -> 6 -> 2.
#   fast:     conv1 5x5/4 -> pool 2 -> conv2 3x3 -> pool 2 -> conv3..5 (pad 1)
#             -> pool 2: 81 -> 20 -> 10 -> 8 -> 4 -> 4 -> 2.
SMALL_ACCURATE = _reduced(
    "small_accurate",
    ACCURATE,
    85,
    (3, 3),
    (32, 64, 96, 96, 128, 128),
    (512, 512),
    (512, 128),
)
SMALL_FAST = _reduced(
    "small_fast", FAST, 81, (5, 3), (32, 64, 96, 128, 128), (512, 512), (512, 128)
)
# Same geometry, 8-16 filters: for tests, where speed is all that matters.
TINY_ACCURATE = _reduced(
    "tiny_accurate", ACCURATE, 85, (3, 3), (8, 8, 16, 16, 16, 16), (32, 32), (32, 16)
)
TINY_FAST = _reduced(
    "tiny_fast", FAST, 81, (5, 3), (8, 8, 16, 16, 16), (32, 32), (32, 16)
)

# Without zero padding: the only networks whose dense map equals the network run
# on each window crop exactly (padding makes a window's border cells see
# zeros when cropped but real features when run densely; `geometry.
# receptive_field`). The windows grow by the 4 (3) unpadded 3x3 layers:
#   accurate: 181 -> 90 -> 30 -> 28 -> 14 -> 12 -> 10 -> 8 -> 6 -> 2.
#   fast:     177 -> 44 -> 22 -> 20 -> 10 -> 8 -> 6 -> 4 -> 2.
TINY_ACCURATE_VALID = _reduced(
    "tiny_accurate_valid",
    ACCURATE,
    181,
    (3, 3),
    (8, 8, 16, 16, 16, 16),
    (32, 32),
    (32, 16),
    padding=False,
)
TINY_FAST_VALID = _reduced(
    "tiny_fast_valid",
    FAST,
    177,
    (5, 3),
    (8, 8, 16, 16, 16),
    (32, 32),
    (32, 16),
    padding=False,
)

SPECS = {
    spec.name: spec
    for spec in (
        ACCURATE,
        FAST,
        SMALL_ACCURATE,
        SMALL_FAST,
        TINY_ACCURATE,
        TINY_FAST,
        TINY_ACCURATE_VALID,
        TINY_FAST_VALID,
    )
}


def kernel_initializer(spec: NetworkSpec):
    """The Keras initializer of `spec`'s kernels: N(0, init_stddev) or He-normal."""
    import keras

    if spec.init_stddev is None:
        return keras.initializers.HeNormal()
    return keras.initializers.RandomNormal(stddev=spec.init_stddev)


def get_spec(spec: str | NetworkSpec | dict) -> NetworkSpec:
    """Returns the `NetworkSpec` for a preset name, a spec, or a spec dict.

    Raises:
        ValueError: if `spec` names no preset.
    """
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, dict):
        return NetworkSpec.from_dict(spec)
    if spec not in SPECS:
        raise ValueError(
            f"Unknown architecture. Expected one of {sorted(SPECS)}. "
            f"Received: arch={spec!r}"
        )
    return SPECS[spec]
