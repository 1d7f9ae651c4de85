"""Training: strategies, callbacks, the paper's recipe, the training loop."""

from overfeat_tf.train.callbacks import (
    AtomicCheckpoint,
    EpochCounter,
    InputImages,
    SeedSync,
)
from overfeat_tf.train.strategy import STRATEGIES, make_strategy
from overfeat_tf.train.tasks import ClassifyTask, LocalizeTask, training_model
from overfeat_tf.train.trainer import (
    build_optimizer,
    learning_rate_schedule,
    train,
    train_classifier,
    train_localizer,
)

__all__ = [
    "STRATEGIES",
    "ClassifyTask",
    "LocalizeTask",
    "AtomicCheckpoint",
    "EpochCounter",
    "InputImages",
    "SeedSync",
    "build_optimizer",
    "learning_rate_schedule",
    "make_strategy",
    "train",
    "train_classifier",
    "train_localizer",
    "training_model",
]
