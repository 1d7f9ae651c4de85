"""Every command and code example in the README, docs/ and bench/README.md
runs as written, as far as can be checked without training or data.

From each fenced ```bash block, every command line (backslash continuations
joined, variables the block assigns expanded) that runs `overfeat` must
parse with the command's own parser (`overfeat_tf.cli.build_parser`, as
`main` parses: unknown flags only for `batch-predict`), and a `train`
command's `--preset` and `--set` must resolve to a config; `python
bench/<x>.py` (or any script path) must name an existing file, and `python
-c` code must compile. Every ```python block must compile: each needs
TensorFlow, a trained model or a built dataset to run, which is the rest of
the suite's work. Every relative link must point at an existing file, and
its `#anchor` at a heading there. No TensorFlow is imported: a few seconds.
"""

import contextlib
import io
import pathlib
import re
import shlex

import pytest

from overfeat_tf.cli import build_parser, resolve_config

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "bench" / "README.md",
]
DOC_IDS = [str(path.relative_to(ROOT)) for path in DOCS]

# A fenced block, possibly indented (inside a list item): indent, language, body.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.S | re.M,
)
OPERATORS = {"&&", "||", ";", "|", "&"}
ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)=(.*)$")


def blocks(path, language):
    """(line number of the block's first body line, body) of each fenced block
    in `language`, the fence's indent removed."""
    text = path.read_text()
    for match in FENCE.finditer(text):
        if match["lang"] != language:
            continue
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(True))
        yield text.count("\n", 0, match.start("body")) + 1, body


def command_lines(body, first_line):
    """(line number, line) of a shell block, backslash continuations joined."""
    pending, start = "", None
    for number, line in enumerate(body.splitlines(), first_line):
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending, start = "", None


def commands(line, variables):
    """The simple commands of a shell line: lists of words, split at `&&`,
    `;`, `|`, comments dropped, `$NAME` expanded where the block assigned
    NAME."""
    line = re.sub(
        r"\$\{?([A-Za-z_]\w*)\}?",
        lambda m: variables.get(m[1], m[0]),
        line,
    )
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for token in lexer:
        if token in OPERATORS:
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


def check_overfeat(argv):
    """None if `overfeat argv` parses as `main` parses it, else the error."""
    parser = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            args, unknown = parser.parse_known_args(argv)
        except SystemExit as e:
            if e.code == 0:  # --help
                return None
            return err.getvalue().strip().splitlines()[-1]  # "...: error: ..."
    if unknown and not getattr(args, "beam_options", False):
        return f"unrecognized arguments: {' '.join(unknown)}"
    if args.command == "train" and not args.config:
        try:
            resolve_config(args)
        except (ValueError, KeyError, TypeError) as e:
            return f"config: {e}"
    return None


def check_command(words):
    """None if the command (a list of words) is right as far as can be told
    here, else what is wrong; commands other than `overfeat` and `python`
    pass."""
    program = pathlib.PurePosixPath(words[0]).name
    if program == "overfeat":
        return check_overfeat(words[1:])
    if re.fullmatch(r"python[\d.]*", program) and len(words) > 1:
        if words[1] == "-c":
            try:
                compile(words[2], "<python -c>", "exec")
            except (SyntaxError, IndexError) as e:
                return f"python -c does not compile: {e}"
        elif words[1].endswith(".py") and not (ROOT / words[1]).is_file():
            return f"no such script: {words[1]}"
    return None


def shell_commands(path):
    """(line number, line, words) of every command in the file's bash blocks."""
    for first, body in blocks(path, "bash"):
        variables = {}
        for number, line in command_lines(body, first):
            assigned = ASSIGNMENT.match(line.strip())
            if assigned:
                variables[assigned[1]] = " ".join(shlex.split(assigned[2]))
                continue
            for words in commands(line, variables):
                yield number, line, words


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_shell_commands_parse(path):
    failures = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}\n    {error}"
        for number, line, words in shell_commands(path)
        if (error := check_command(words))
    ]
    assert not failures, "\n".join(failures)


def test_the_docs_have_commands_to_check():
    # Catches an extraction that finds nothing (a changed fence, a broken
    # pattern) and so passes every file.
    found = {
        str(path.relative_to(ROOT)): sum(
            pathlib.PurePosixPath(words[0]).name == "overfeat"
            for _, _, words in shell_commands(path)
        )
        for path in DOCS
    }
    assert found["README.md"] >= 10, found
    assert sum(found.values()) >= 40, found
    assert any(True for _ in blocks(ROOT / "README.md", "python"))


def test_the_checks_catch_mistakes():
    assert check_command(["overfeat", "demo"]) is None
    assert "unrecognized" in check_command(["overfeat", "demo", "--no-such-flag"])
    assert check_command(["overfeat", "describe", "--size", "nine"]) is not None
    train = ["overfeat", "train", "classify", "--preset", "fashion_small"]
    assert check_command(train) is None
    assert "config" in check_command([*train, "--set", "train.epoch=3"])
    assert check_command(["python", "bench/no_such_bench.py"]) is not None
    assert check_command(["python", "-c", "print("]) is not None
    # Beam's options pass through batch-predict only.
    assert check_command(
        ["overfeat", "batch-predict", "--model", "m", "--input", "i", "--output", "o",
         "--project", "P"]
    ) is None  # fmt: skip
    # Continuations joined, variables expanded, `&&` split, comments dropped.
    number, line = next(command_lines("A=1 \\\n  B=2\n", 1))
    assert (number, line.split()) == (1, ["A=1", "B=2"])
    assert list(commands('overfeat x $V && echo "a # b" # c', {"V": "--y 1"})) == [
        ["overfeat", "x", "--y", "1"],
        ["echo", "a # b"],
    ]


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_python_examples_compile(path):
    for first, body in blocks(path, "python"):
        compile(body, f"{path.relative_to(ROOT)}:{first}", "exec")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_`
    dropped, spaces as hyphens."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    text = FENCE.sub("", path.read_text())
    seen, found = {}, set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        name = slug(heading)
        count = seen.get(name, 0)
        seen[name] = count + 1
        found.add(name if count == 0 else f"{name}-{count}")
    return found


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_relative_links_resolve(path):
    text = FENCE.sub("", path.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans hold no links
    failures = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            failures.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            failures.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not failures, f"{path.relative_to(ROOT)}:\n" + "\n".join(failures)
