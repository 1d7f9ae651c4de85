"""Writing files and folders so that nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

__all__ = ["atomic_directory", "atomic_file"]


@contextlib.contextmanager
def atomic_directory(path, overwrite: bool = False):
    """Builds a folder in a temporary sibling and renames it into place.

    Everything written inside the `with` block goes into the yielded
    temporary folder (beside `path`, so the rename stays on one file system).
    On success it becomes `path` in one `rename`; on any exception it is
    removed and `path` is untouched, so a reader polling `path` (a TF Serving
    model server, a later `load`) never sees half a folder.

    Args:
        path: str or path-like. The folder to create.
        overwrite: bool. Replace an existing `path` (the old one is removed
            only after the new one is complete).

    Yields:
        str: the temporary folder to write into.

    Raises:
        FileExistsError: if `path` exists and `overwrite` is False.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another folder.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
            os.rename(path, os.path.join(old, "x"))
            os.rename(tmp, path)
            shutil.rmtree(old)
        else:
            os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


@contextlib.contextmanager
def atomic_file(path, suffix: str = ""):
    """Writes a file beside `path` and renames it into place.

    The yielded temporary path (`<path>.partial<suffix>`: `suffix` keeps
    the ending a writer insists on, e.g. `.npy`, `.weights.h5`) becomes
    `path` in one `os.replace` when the `with` block succeeds; on any
    exception it is removed and `path` is untouched.

    Yields:
        str: the temporary file to write.
    """
    path = os.fspath(path)
    tmp = f"{path}.partial{suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
