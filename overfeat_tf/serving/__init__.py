"""SavedModel export for TF Serving and `saved_model_cli`."""

from overfeat_tf.serving.export import (
    export_checkpoint,
    export_saved_model,
    latest_version,
    load_exported_network,
    load_saved_model,
    saved_model_path,
    write_models_config,
    write_warmup,
)
from overfeat_tf.serving.module import ServingModule

__all__ = [
    "ServingModule",
    "export_checkpoint",
    "export_saved_model",
    "latest_version",
    "load_exported_network",
    "load_saved_model",
    "saved_model_path",
    "write_models_config",
    "write_warmup",
]
