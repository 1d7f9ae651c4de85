"""TensorFlow's start-up lines, kept off the command line's output.

Importing TensorFlow and initialising its devices writes lines to the
process's stderr from C++ (CUDA probing on a machine without a GPU, CPU
feature notices); some of them, printed before absl's logging is set up,
ignore `TF_CPP_MIN_LOG_LEVEL`. The `overfeat` commands start TensorFlow
through `start_tensorflow`, which holds those lines back.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["start_tensorflow"]

QUIET_LEVEL = 2  # TF_CPP_MIN_LOG_LEVEL: errors only


def start_tensorflow(verbose: bool = False) -> None:
    """Imports TensorFlow and finds its devices, its start-up lines held back.

    Does nothing when `verbose` or when TensorFlow is already imported.
    Otherwise the process's stderr is sent to a temporary file while
    TensorFlow starts, and `TF_CPP_MIN_LOG_LEVEL` is raised to at least 2,
    which keeps later INFO and WARNING lines back (errors still show: a
    refused input's warning only repeats the error the command prints). A
    level the user set is no reason to print more: some start-up lines
    ignore it, so a command is quiet unless `verbose`, whatever the
    variable says (a higher level, 3, is kept). If starting fails, the
    held lines are written out before the error.
    """
    if verbose or "tensorflow" in sys.modules:
        return
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "")
    if not (level.isdigit() and int(level) >= QUIET_LEVEL):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(QUIET_LEVEL)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
