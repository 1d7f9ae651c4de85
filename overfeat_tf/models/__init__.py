"""Keras builders for the OverFeat networks."""

from overfeat_tf.models.backbone import backbone_layers
from overfeat_tf.models.heads import REGRESSORS, classifier_layers, regressor_layers
from overfeat_tf.models.layers import FullyConnected
from overfeat_tf.models.overfeat import (
    MEAN,
    STD,
    OverFeat,
    as_detector,
    feature_extractor,
    policy_scope,
    preprocess_input,
    with_policy,
    with_regressor,
)

__all__ = [
    "FullyConnected",
    "REGRESSORS",
    "MEAN",
    "STD",
    "OverFeat",
    "as_detector",
    "backbone_layers",
    "classifier_layers",
    "feature_extractor",
    "policy_scope",
    "preprocess_input",
    "regressor_layers",
    "with_policy",
    "with_regressor",
]
