"""`export.precision`: the serving graph computing in bfloat16."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import randomize

from overfeat_tf.config import ExportConfig
from overfeat_tf.models import OverFeat
from overfeat_tf.serving import ServingModule


def test_bfloat16_export_computes_in_bfloat16_close_to_float32():
    # The same weights served in float32 and bfloat16: float32 outputs both
    # ways, the bfloat16 ones off by bfloat16's rounding (8 bits of
    # mantissa) and no more. Catches the option ignored (outputs equal to
    # the bit), bfloat16 leaking into the signatures' outputs, and a copy
    # that loses the weights (outputs unrelated). The model handed in keeps
    # computing in float32.
    model = OverFeat("tiny_accurate", num_classes=10)
    randomize(model, 4)
    images = np.random.default_rng(0).integers(0, 256, (3, 70, 90, 3), np.uint8)
    out = {}
    for precision in ("float32", "bfloat16"):
        export = ExportConfig(scales=(0, 1), top_k=10, precision=precision)
        serve = ServingModule(model, export=export)
        classified = serve.classify_images(tf.constant(images))
        features = serve.features(tf.constant(images))["features"]
        assert classified["scores"].dtype == features.dtype == tf.float32
        order = np.argsort(classified["classes"].numpy(), axis=1)
        scores = np.take_along_axis(classified["scores"].numpy(), order, 1)
        out[precision] = scores, features.numpy()
    (s32, f32), (s16, f16) = out["float32"], out["bfloat16"]
    assert np.abs(f16 - f32).max() > 0 and np.abs(s16 - s32).max() > 0
    np.testing.assert_allclose(f16, f32, atol=0.05 * np.abs(f32).max())
    np.testing.assert_allclose(s16, s32, atol=0.03)
    assert model.dtype_policy.name == "float32"


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="export.precision must be one of"):
        ServingModule(
            OverFeat("tiny_fast", num_classes=6), export=ExportConfig(precision="fp8")
        )
