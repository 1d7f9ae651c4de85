"""Where the embedded raw data lives: the repository's `data/` folder."""

from __future__ import annotations

import os
import pathlib

__all__ = ["raw_data_dir"]


def raw_data_dir() -> pathlib.Path:
    """The folder with the embedded raw data (`backgrounds/`, `neon_trees/`, ...).

    `$OVERFEAT_RAW_DATA` if set, else the `data/` folder of the checkout this
    package is installed from (`pip install -e .`).

    Raises:
        FileNotFoundError: if the folder does not exist.
    """
    env = os.environ.get("OVERFEAT_RAW_DATA")
    path = (
        pathlib.Path(env)
        if env
        else pathlib.Path(__file__).resolve().parents[2] / "data"
    )
    if not (path / "backgrounds").is_dir():
        raise FileNotFoundError(
            f"Embedded raw data not found at {path}. Install overfeat-tf from its "
            "checkout with `pip install -e .`, or set OVERFEAT_RAW_DATA to the "
            "checkout's data/ folder."
        )
    return path
