"""`pipelines/*.py`: each script runs the command its docstring names."""

import ast
import pathlib
import re

from overfeat_tf.cli import build_parser

PIPELINES = pathlib.Path(__file__).parent.parent / "pipelines"


def _commands():
    """{script: (the docstring's `overfeat ...` words, main()'s argv words)}."""
    out = {}
    for path in sorted(PIPELINES.glob("*.py")):
        tree = ast.parse(path.read_text())
        named = re.match(r"`overfeat ([^`]+)`", ast.get_docstring(tree)).group(1)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "main"
        ]
        (call,) = calls
        words = [e.value for e in call.args[0].elts if isinstance(e, ast.Constant)]
        out[path.name] = (named.split(), words)
    return out


def test_each_script_runs_its_command():
    # Catches a script copied from another and left running that one
    # (train_detector.py ran `train localize`).
    commands = _commands()
    for name, (named, runs) in commands.items():
        assert runs == named, name
    # ...and every command of the CLI has its script.
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions)
    want = set()
    for command, subparser in sub.choices.items():
        if subparser._subparsers is None:
            want.add((command,))
        else:
            tasks = next(a for a in subparser._subparsers._group_actions)
            want |= {(command, task) for task in tasks.choices}
    assert {tuple(named) for named, _ in commands.values()} == want
