"""geometry: hand-worked sizes from the paper, and agreement with the built model."""

import numpy as np
import pytest
from conftest import narrow

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat, feature_extractor
from overfeat_tf.specs import SPECS, get_spec


def test_paper_table_3_accurate_training_sizes():
    # 221 -> conv1 (221-7)/2+1 = 108 -> pool 3: 36 (Table 3: layer 2 input 36x36)
    # -> conv2 36-7+1 = 30 -> pool 2: 15 (layer 3 input 15x15) -> conv3..6 keep 15
    # -> pool 3: 5 (layer 7 input 5x5) -> fc7 5x5 kernel: 1.
    sizes = dict(geometry.layer_sizes("accurate", 221))
    assert sizes["conv1"] == (108, 108)
    assert sizes["pool1"] == (36, 36)
    assert sizes["pool2"] == (15, 15)
    assert sizes["conv6"] == (15, 15)
    assert sizes["pool6"] == (5, 5)
    assert sizes["fc7"] == sizes["fc9"] == (1, 1)
    assert geometry.fc_kernel("accurate") == 5


def test_paper_table_1_fast_training_sizes():
    # 231 -> conv1 (231-11)/4+1 = 56 -> pool 2: 28 -> conv2 28-5+1 = 24 (Table 1:
    # layer 2 output 24x24) -> pool 2: 12 -> conv3..5 keep 12 -> pool 2: 6 -> fc6 6x6.
    sizes = dict(geometry.layer_sizes("fast", 231))
    assert sizes["conv2"] == (24, 24)
    assert sizes["pool2"] == (12, 12)
    assert sizes["pool5"] == (6, 6)
    assert sizes["fc8"] == (1, 1)
    assert geometry.fc_kernel("fast") == 6


@pytest.mark.parametrize(
    "size, prepool, postpool, fine",
    [
        # Paper Table 5 (accurate): input, layer 5 pre-pool, post-pool, classifier map.
        ((245, 245), (17, 17), (5, 5), (3, 3)),
        ((281, 317), (20, 23), (6, 7), (6, 9)),
        ((317, 389), (23, 29), (7, 9), (9, 15)),
        ((389, 461), (29, 35), (9, 11), (15, 21)),
        # Table 5 prints 32x35 / 10x11 here, but 497 gives (497-7)//2+1 = 246 ->
        # 82 -> 76 -> 38 columns; its own classifier map (24 = 38 - 15 + 1) agrees.
        ((425, 497), (32, 38), (10, 12), (18, 24)),
        ((461, 569), (35, 44), (11, 14), (21, 30)),
    ],
)
def test_paper_table_5(size, prepool, postpool, fine):
    m = geometry.map_sizes("accurate", size)
    assert (m.prepool, m.postpool, m.fine_map) == (prepool, postpool, fine)


def test_strides():
    assert geometry.total_stride("accurate") == 36  # 2*3*2*3
    assert geometry.fine_stride("accurate") == 12
    assert geometry.total_stride("fast") == 32  # 4*2*2*2
    assert geometry.fine_stride("fast") == 16
    for name, spec in SPECS.items():
        base = "fast" if "fast" in name else "accurate"
        assert geometry.fine_stride(spec) == geometry.fine_stride(base), name


def test_receptive_field_grows_with_padding():
    # accurate: conv3..conv6 pad 1 at stride 2*3*2 = 12: 4 * 12 = 48 px per side.
    assert geometry.receptive_field("accurate") == (48, 221 + 96)
    assert geometry.receptive_field("tiny_accurate_valid") == (0, 181)


def test_cell_windows():
    boxes = geometry.cell_windows("accurate", (2, 3))
    # cell (1, 2): top-left (1 * 12, 2 * 12), size 221.
    np.testing.assert_array_equal(boxes[1, 2], [12, 24, 233, 245])
    coarse = geometry.cell_windows("fast", (2, 2), fine=False)
    np.testing.assert_array_equal(coarse[1, 1], [32, 32, 263, 263])


def _sizes_for(spec):
    w, s = spec.window, geometry.fine_stride(spec)
    t = geometry.total_stride(spec)
    # A dozen sizes: exact tilings, one pixel over and under a stride, tall and wide.
    return [
        (w, w),
        (w + 1, w),
        (w, w + s - 1),
        (w + s, w + 2 * s),
        (w + t - 1, w + t + 1),
        (w + 5, w + 3 * t + 7),
        (w + 2 * t, w),
        (w + 13, w + 29),
        (w + s + 1, w + 4 * s + 3),
        (w + 3 * t + 2, w + t),
        (w + 41, w + 41),
        (w + 7 * s, w + 2),
    ]


@pytest.mark.parametrize(
    "spec",
    [
        narrow("accurate", 16),
        narrow("fast", 16),
        "tiny_accurate",
        "tiny_fast",
        "tiny_accurate_valid",
        "tiny_fast_valid",
    ],
    ids=lambda s: getattr(s, "name", s),
)
def test_every_layer_shape_matches_model(spec):
    spec = get_spec(spec)
    model = OverFeat(spec, num_classes=7)
    names = [name for name, _ in geometry.layer_sizes(spec, spec.window)]
    extractor = feature_extractor(model, names)
    for hw in _sizes_for(spec):
        outputs = extractor(np.zeros((1, *hw, 3), np.float32))
        got = {
            name: tuple(out.shape[1:3])
            for name, out in zip(names, outputs, strict=True)
        }
        want = dict(geometry.layer_sizes(spec, hw))
        assert got == want, hw


def test_size_smaller_than_window_is_refused():
    with pytest.raises(ValueError, match=r"200x300 is smaller than .*221x221"):
        geometry.map_sizes("accurate", (200, 300))


@pytest.mark.parametrize("text", ["", "12x", "x5", "axb", "1x2x3", "0x5", "-3", "2.5"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="Malformed size"):
        geometry.parse_size(text)


def test_parse_size():
    assert geometry.parse_size("461x569") == (461, 569)
    assert geometry.parse_size("221") == (221, 221)
    assert geometry.parse_size("10X20") == (10, 20)


@pytest.mark.parametrize("arch, millions", [("accurate", 5369), ("fast", 2810)])
def test_multiply_adds_at_the_window_are_table_4(arch, millions):
    # Table 4's counts are 0.25% / 0.31% above the weighted layers' (the
    # geometry docstring); a layer sized wrongly moves the total by more.
    total = sum(geometry.multiply_adds(arch, get_spec(arch).window).values())
    assert total / 1e6 == pytest.approx(millions, rel=0.004)


def test_multiply_adds_hand_worked():
    # accurate conv1 at 221: 108 * 108 outputs * 7 * 7 * 3 inputs * 96 filters.
    macs = geometry.multiply_adds("accurate", (461, 569))
    assert (
        geometry.multiply_adds("accurate", 221)["conv1"] == 108 * 108 * 7 * 7 * 3 * 96
    )
    # At 461x569 the classifier runs on 21 x 30 fine cells: fc7 is 5*5*1024*4096 each.
    assert macs["fc7"] == 21 * 30 * 5 * 5 * 1024 * 4096
    coarse = geometry.multiply_adds("accurate", (461, 569), fine=False)
    assert coarse["fc7"] == 7 * 10 * 5 * 5 * 1024 * 4096
    assert coarse["conv6"] == macs["conv6"] == 35 * 44 * 9 * 1024 * 1024
