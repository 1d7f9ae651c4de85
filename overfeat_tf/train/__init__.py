"""Training: strategies, callbacks, the paper's recipe, the training loop."""

from overfeat_tf.train.callbacks import (
    AtomicCheckpoint,
    EpochCounter,
    InputImages,
    SeedSync,
)
from overfeat_tf.train.strategy import STRATEGIES, make_strategy
from overfeat_tf.train.trainer import (
    build_optimizer,
    learning_rate_schedule,
    train_classifier,
    training_model,
)

__all__ = [
    "STRATEGIES",
    "AtomicCheckpoint",
    "EpochCounter",
    "InputImages",
    "SeedSync",
    "build_optimizer",
    "learning_rate_schedule",
    "make_strategy",
    "train_classifier",
    "training_model",
]
