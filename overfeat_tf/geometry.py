"""Shape arithmetic of an OverFeat network, derived from its spec table.

Sizes follow TensorFlow's `VALID` rules after explicit zero padding:
a convolution gives `floor((n + 2 * padding - kernel) / stride) + 1`, a
non-overlapping max pooling of size k gives `floor(n / k)` (trailing pixels
that do not fill a pooling region are dropped, as in the paper's Table 5).

Strides (paper 3.3):
- coarse (total) stride: the product of every convolution stride and pooling
  size, 36 for accurate (2*3*2*3) and 32 for fast (4*2*2*2);
- fine stride: the total stride divided by the last pooling size k, 12 for
  accurate and 16 for fast: the last pooling is applied at every offset
  0..k-1 along each axis and the classifier outputs are interleaved.

With the last convolution's map (`prepool`) of size n, the last pooling of
size k and the first fully connected kernel F (the pooled map at the training
window), the output maps have
    coarse: floor(n / k) - F + 1          (offset 0 only)
    fine:   n - k * F + 1                 (all offsets, interleaved)
cells, and fine cell m is the classifier's output for the input window whose
top-left corner is at m * fine_stride pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from overfeat_tf.specs import NetworkSpec, get_spec, total_stride_of

__all__ = [
    "MapSizes",
    "cell_windows",
    "fc_kernel",
    "fine_stride",
    "layer_sizes",
    "map_sizes",
    "multiply_adds",
    "output_map_size",
    "parse_size",
    "pool_name",
    "receptive_field",
    "total_stride",
]


def parse_size(text: str) -> tuple[int, int]:
    """Parses `"HxW"` (e.g. `"461x569"`) or `"N"` (square) into (height, width).

    Raises:
        ValueError: if `text` is neither, or a side is not a positive int.
    """
    parts = str(text).lower().split("x")
    try:
        if len(parts) not in (1, 2):
            raise ValueError
        h, w = (int(parts[0]), int(parts[-1]))
        if h < 1 or w < 1:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"Malformed size {text!r}: expected HEIGHTxWIDTH (e.g. 461x569) or a "
            "single side (e.g. 221) in positive whole pixels."
        ) from None
    return h, w


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def _as_hw(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(
            "Expected an image size as an int or (height, width). "
            f"Received: size={size!r}"
        ) from None
    return h, w


def _conv_sizes(spec: NetworkSpec, n: int) -> list[tuple[str, int]]:
    """Sizes along one axis after every convolution and pooling layer."""
    out = []
    for layer in spec.conv_layers:
        n = _conv_out(n, layer.kernel, layer.stride, layer.padding)
        out.append((layer.name, n))
        if layer.pool:
            n //= layer.pool
            out.append((pool_name(layer), n))
    return out


def pool_name(layer) -> str:
    """str: Keras name of the pooling after a convolution row: conv6 -> pool6."""
    return "pool" + layer.name.removeprefix("conv")


def fc_kernel(spec: NetworkSpec | str) -> int:
    """Kernel size of the first fully connected layer (paper: 5 accurate, 6 fast).

    It equals the pooled map at the training window, so the window gives a 1x1
    output. The window must tile every layer exactly (no dropped pixels), so
    that the training crop and the dense evaluation see the same grid.

    Raises:
        ValueError: if the spec's window does not tile its layers exactly.
    """
    spec = get_spec(spec)
    n = spec.window
    for layer in spec.conv_layers:
        span = n + 2 * layer.padding - layer.kernel
        if span < 0 or span % layer.stride:
            raise ValueError(
                f"Spec {spec.name!r}: window {spec.window} does not tile "
                f"{layer.name} (kernel {layer.kernel}, stride {layer.stride}) "
                f"exactly; its input there is {n}."
            )
        n = span // layer.stride + 1
        if layer.pool:
            if n % layer.pool:
                raise ValueError(
                    f"Spec {spec.name!r}: window {spec.window} leaves a "
                    f"{n}-pixel map before {pool_name(layer)} (size {layer.pool}), "
                    "which does not tile exactly."
                )
            n //= layer.pool
    return n


def total_stride(spec: NetworkSpec | str) -> int:
    """int: the coarse output stride in input pixels (accurate 36, fast 32)."""
    return total_stride_of(get_spec(spec).layers)


def fine_stride(spec: NetworkSpec | str) -> int:
    """int: the output stride with offset pooling (accurate 12, fast 16)."""
    spec = get_spec(spec)
    return total_stride(spec) // spec.last_pool


def receptive_field(spec: NetworkSpec | str) -> tuple[int, int]:
    """Input pixels one output cell depends on, relative to its window.

    Returns:
        (before, size): tuple of int. The cell whose window starts at pixel p
        reads pixels `p - before .. p - before + size - 1`. Without zero
        padding, `before == 0` and `size == window`; each padded layer widens
        the field by its padding times the stride at that layer on each side.
    """
    spec = get_spec(spec)
    before, stride = 0, 1
    for layer in spec.conv_layers:
        before += layer.padding * stride
        stride *= layer.stride * max(layer.pool, 1)
    return before, spec.window + 2 * before


def _check_size(spec: NetworkSpec, hw: tuple[int, int]) -> None:
    if min(hw) < spec.window:
        raise ValueError(
            f"Input size {hw[0]}x{hw[1]} is smaller than the {spec.name!r} "
            f"network's window of {spec.window}x{spec.window} pixels."
        )


def layer_sizes(spec: NetworkSpec | str, size) -> list[tuple[str, tuple[int, int]]]:
    """Output size of every layer of the Keras model at one input size.

    Args:
        spec: `NetworkSpec` or preset name.
        size: int or (height, width). At least the window on each side.

    Returns:
        list of `(layer_name, (height, width))`, in model order: convolutions,
        their poolings, then the fully connected layers (coarse stride).

    Raises:
        ValueError: if `size` is smaller than the window.
    """
    spec = get_spec(spec)
    hw = _as_hw(size)
    _check_size(spec, hw)
    rows = list(zip(_conv_sizes(spec, hw[0]), _conv_sizes(spec, hw[1]), strict=True))
    out = [(name, (h, w)) for (name, h), (_, w) in rows]
    f = fc_kernel(spec)
    h, w = out[-1][1]
    for i, layer in enumerate(spec.full_layers):
        if i == 0:
            h, w = h - f + 1, w - f + 1
        out.append((layer.name, (h, w)))
    return out


@dataclasses.dataclass(frozen=True)
class MapSizes:
    """Map sizes of one input size (the columns of the paper's Table 5).

    Attributes:
        input: (height, width) of the image.
        prepool: (height, width) of the last convolution's unpooled map.
        postpool: (height, width) of the pooled map at offset 0.
        coarse_map: (height, width) of the classifier map at offset 0.
        fine_map: (height, width) of the interleaved map over all offsets.
    """

    input: tuple[int, int]
    prepool: tuple[int, int]
    postpool: tuple[int, int]
    coarse_map: tuple[int, int]
    fine_map: tuple[int, int]


def map_sizes(spec: NetworkSpec | str, size) -> MapSizes:
    """The paper's Table 5 row for `size`: see `MapSizes`."""
    spec = get_spec(spec)
    hw = _as_hw(size)
    sizes = dict(layer_sizes(spec, hw))
    last = spec.conv_layers[-1]
    k, f = last.pool, fc_kernel(spec)
    prepool = sizes[last.name]
    return MapSizes(
        input=hw,
        prepool=prepool,
        postpool=sizes[pool_name(last)],
        coarse_map=sizes[spec.full_layers[-1].name],
        fine_map=(prepool[0] - k * f + 1, prepool[1] - k * f + 1),
    )


def output_map_size(
    spec: NetworkSpec | str, size, fine: bool = True
) -> tuple[int, int]:
    """(height, width) of the classifier map at the fine or coarse stride."""
    sizes = map_sizes(spec, size)
    return sizes.fine_map if fine else sizes.coarse_map


def cell_windows(spec: NetworkSpec | str, map_size, fine: bool = True) -> np.ndarray:
    """The input window of every cell of an output map.

    Cell (i, j) is the network's output on the window-sized crop whose
    top-left corner is (i * s, j * s), s the fine or coarse stride.

    Args:
        spec: `NetworkSpec` or preset name.
        map_size: (height, width) of the output map.
        fine: bool. Fine (offset pooling) or coarse stride.

    Returns:
        float32 array `[height, width, 4]`: `[ymin, xmin, ymax, xmax]` in input
        pixels, `0 <= ymin < ymax`, `ymax - ymin == xmax - xmin == window`.
    """
    spec = get_spec(spec)
    h, w = _as_hw(map_size)
    s = fine_stride(spec) if fine else total_stride(spec)
    ys, xs = np.meshgrid(np.arange(h) * s, np.arange(w) * s, indexing="ij")
    boxes = np.stack([ys, xs, ys + spec.window, xs + spec.window], axis=-1)
    return boxes.astype(np.float32)


def multiply_adds(
    spec: NetworkSpec | str, size, num_classes: int = 1000, fine: bool = True
) -> dict[str, int]:
    """Multiply-adds of one image through every weighted layer.

    Convolutions count `out_h * out_w * kernel^2 * in_channels * filters`; the
    classifier counts one evaluation per output cell of the fine (or coarse)
    map. At the window: accurate 5,355M, fast 2,801M, 0.25% and 0.31% under
    the paper's Table 4 "connections" (5,369M, 2,810M). The paper does not
    say what it counts; the gap (13.6M, 8.6M) is neither the biases (2.1M,
    0.8M) nor the poolings' comparisons (1.6M, 0.6M).

    Args:
        spec: `NetworkSpec` or preset name.
        size: int or (height, width), at least the window.
        num_classes: int. Width of the class layer.
        fine: bool. Count the classifier over the fine (True) or coarse map.

    Returns:
        dict: layer name -> multiply-adds (int), in model order.
    """
    spec = get_spec(spec)
    sizes = dict(layer_sizes(spec, size))
    out, channels = {}, 3
    for layer in spec.conv_layers:
        h, w = sizes[layer.name]
        out[layer.name] = h * w * layer.kernel**2 * channels * layer.filters
        channels = layer.filters
    cells = np.prod(output_map_size(spec, size, fine=fine))
    kernel = fc_kernel(spec)
    for layer in spec.full_layers:
        units = layer.filters or num_classes
        out[layer.name] = int(cells) * kernel**2 * channels * units
        channels, kernel = units, 1
    return out
