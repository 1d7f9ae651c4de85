"""Choosing a `tf.distribute` strategy from the config."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(
    name: str = "default", cpu_devices: int = 0
) -> tf.distribute.Strategy:
    """Builds the strategy a run asks for.

    Args:
        name: str. `"default"` (one device), `"mirrored"` (`MirroredStrategy`:
            every GPU of this host, or `cpu_devices` logical CPUs) or
            `"multi_worker"` (`MultiWorkerMirroredStrategy`, cluster from the
            `TF_CONFIG` environment variable).
        cpu_devices: int. If > 0, split the CPU into this many logical devices
            first (for `"mirrored"` on a machine without GPUs). Must happen
            before TensorFlow runs its first op.

    Raises:
        ValueError: unknown name, or logical devices asked for too late.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {STRATEGIES}. "
            f"Received: strategy={name!r}"
        )
    if cpu_devices > 0:
        cpu = tf.config.list_physical_devices("CPU")[0]
        config = [tf.config.LogicalDeviceConfiguration()] * cpu_devices
        try:
            tf.config.set_logical_device_configuration(cpu, config)
        except RuntimeError as e:
            current = len(tf.config.list_logical_devices("CPU"))
            if current != cpu_devices:
                raise ValueError(
                    f"Cannot split the CPU into {cpu_devices} logical devices: "
                    f"TensorFlow already started with {current}. Set "
                    "distribute.cpu_devices in a fresh process."
                ) from e
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()
