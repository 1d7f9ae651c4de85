"""Training: strategies, callbacks, the paper's recipe, the training loop."""

from overfeat_tf.train.callbacks import (
    AtomicCheckpoint,
    DetectionImages,
    EpochCounter,
    InputImages,
    SeedSync,
)
from overfeat_tf.train.strategy import STRATEGIES, make_strategy
from overfeat_tf.train.tasks import (
    ClassifyTask,
    DetectTask,
    LocalizeTask,
    training_model,
)
from overfeat_tf.train.trainer import (
    build_optimizer,
    learning_rate_schedule,
    train,
    train_classifier,
    train_detector,
    train_localizer,
)

__all__ = [
    "STRATEGIES",
    "ClassifyTask",
    "DetectTask",
    "LocalizeTask",
    "AtomicCheckpoint",
    "DetectionImages",
    "EpochCounter",
    "InputImages",
    "SeedSync",
    "build_optimizer",
    "learning_rate_schedule",
    "make_strategy",
    "train",
    "train_classifier",
    "train_detector",
    "train_localizer",
    "training_model",
]
