"""Optional dependencies: what a command needs beyond `pip install overfeat-tf`.

The package installs what running it needs; a few commands need more, as
pip extras (setup.py): `[beam]` for `overfeat batch-predict` (Apache Beam
and what its TensorFlow model handler imports), `[test]` for the suite.
A command whose extra is missing says which one to install.
"""

from __future__ import annotations

__all__ = ["MissingExtraError", "missing_extra"]


class MissingExtraError(ImportError):
    """A module of an optional extra is not installed; the message names the
    extra and the command that installs it."""


def missing_extra(extra: str, what: str, error: ImportError) -> MissingExtraError:
    """The error to raise when an import of `extra`'s modules failed.

    Args:
        extra: str. The pip extra that brings the module (`"beam"`).
        what: str. What needs it, for the message (`"overfeat batch-predict"`).
        error: the `ImportError` (its `name` is the missing module).

    Returns:
        `MissingExtraError`, to raise `from error`.
    """
    return MissingExtraError(
        f"{what} needs the [{extra}] extra ({error.name or error} is not "
        f"installed): pip install 'overfeat-tf[{extra}]', or in a clone "
        f"pip install -e '.[{extra}]'."
    )
