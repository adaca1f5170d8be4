"""The tutorials run as written, at a small budget, so they cannot rot.

Every page of docs/tutorials/ and docs/plugins.md carries one directive, an HTML comment that the
rendered site does not show:

    <!-- tutorial: run
    train: --steps 5 --set eval.examples=20
    skip: arlearn reproduce mult-4x4-demo (trains the quick preset in full)
    -->

Each ``COMMAND: ARGS`` line appends ARGS to every ``arlearn COMMAND`` of the page (the budget:
argparse keeps the last value of an option and later ``--set`` overrides win), and each
``skip: TEXT (reason)`` line leaves out the commands containing TEXT. A fenced ```bash block
right after ``<!-- tutorial: skip (reason) -->`` is not run either. A ```python block whose first
line is ``# NAME.py`` is written to NAME.py first. The commands of the other ```bash blocks run in
page order in one temporary directory (beside it ``shared`` is the shared data, so ``../shared/...``
paths resolve; ``tests`` and ``scripts`` are the repository's), each must exit 0, and one that
writes ``-o DIR`` must leave DIR. Activating ``.venv`` is a no-op (this process runs in it); ``arlearn ...`` runs in this process (``arlearn.cli.main``: no
interpreter and torch start per command); a command with an environment prefix, and ``python
...``, run in a child process. Any other command fails the test: a block that cannot run here is
marked skip with its reason. ``TUTORIAL_TIMES=1`` prints each command's seconds.
"""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arlearn.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PAGES = sorted((ROOT / "docs" / "tutorials").glob("*.md")) + [ROOT / "docs" / "plugins.md"]
NEEDS_SHARED_DATA = {"linear-lm.md"}

DIRECTIVE = re.compile(r"<!-- tutorial: run\n(.*?)-->", re.S)
FENCE = re.compile(r"(<!-- tutorial: skip \((?P<why>[^)]*)\) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M)


def parse(text: str):
    """(appended args per command, skipped command texts, [(lang, body)] of the blocks to run)."""
    found = DIRECTIVE.findall(text)
    assert len(found) == 1, "a tutorial page needs exactly one <!-- tutorial: run ... --> directive"
    extra, skips = {}, []
    for line in found[0].strip().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "skip":
            what = value.strip()
            assert what.endswith(")") and " (" in what, f"a skip says why: {line!r}"
            skips.append(what[: what.rindex(" (")])
        else:
            extra[key.strip()] = shlex.split(value)
    blocks = [(m["lang"], m["body"]) for m in FENCE.finditer(text) if not m["why"]]
    return extra, skips, blocks


def commands(body: str):
    """The commands of a bash block: continuation lines joined, comments dropped, split at &&."""
    for line in body.replace("\\\n", " ").splitlines():
        cmd = []
        for w in shlex.split(line, comments=True) + ["&&"]:
            if w != "&&":
                cmd.append(w)
            elif cmd:
                yield cmd
                cmd = []


def _run(cmd, extra, capsys):
    env = {}
    while cmd and re.fullmatch(r"[A-Z_]+=.*", cmd[0]):
        k, _, v = cmd.pop(0).partition("=")
        env[k] = v
    if cmd[0] in (".", "source") and cmd[1:] == [".venv/bin/activate"]:
        return 0, "", ""  # this process already runs in the environment
    if cmd[0] == "arlearn":
        sub = next((w for w in cmd[1:] if not w.startswith("-") and w not in _global_values(cmd)), "")
        argv = cmd[1:] + extra.get(sub, [])
        if not env:
            capsys.readouterr()
            try:
                rc = main(argv)
            except SystemExit as e:  # argparse's --version and --help
                rc = e.code or 0
            out, err = capsys.readouterr()
            return rc, out, err
        cmd = [str(Path(sys.executable).parent / "arlearn"), *argv]
    elif cmd[0] == "python":
        cmd = [sys.executable, *cmd[1:], *extra.get(cmd[1], [])]
    else:
        pytest.fail(f"the tutorial runs {cmd[0]!r}, which this runner cannot: mark its block "
                    "<!-- tutorial: skip (why) -->")
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    return p.returncode, p.stdout, p.stderr


def _global_values(cmd):
    """The values of global options before the command (`--plugin MODULE`)."""
    return {cmd[i + 1] for i, w in enumerate(cmd[:-1]) if w == "--plugin"}


def test_every_tutorial_page_has_a_directive_and_the_parser_reads_it():
    for page in PAGES:
        parse(page.read_text(encoding="utf-8"))
    extra, skips, blocks = parse("<!-- tutorial: run\ntrain: --steps 5\nskip: arlearn x (why)\n-->\n"
                                 "<!-- tutorial: skip (needs a GPU) -->\n```bash\nrm -rf /\n```\n"
                                 "```bash\narlearn a && arlearn b \\\n  --c 1   # note\n```\n")
    assert extra == {"train": ["--steps", "5"]} and skips == ["arlearn x"]
    assert [list(commands(b)) for _, b in blocks] == [[["arlearn", "a"], ["arlearn", "b", "--c", "1"]]]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_tutorial_runs_as_written(page, tmp_path, monkeypatch, capsys):
    if page.name in NEEDS_SHARED_DATA and not (SHARED / "data").is_dir():
        pytest.skip(f"{page.name} reads the shared data, not found at {SHARED / 'data'}")
    extra, skips, blocks = parse(page.read_text(encoding="utf-8"))
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    for name in ("tests", "scripts"):
        (work / name).symlink_to(ROOT / name)
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    for lang, body in blocks:
        first = body.splitlines()[0] if body else ""
        if lang == "python" and re.fullmatch(r"# [\w.]+\.py", first):
            (work / first[2:]).write_text(body, encoding="utf-8")
            continue
        if lang != "bash":
            continue
        for cmd in commands(body):
            line = shlex.join(cmd)
            if any(s in line for s in skips):
                continue
            t0 = time.perf_counter()
            rc, out, err = _run(list(cmd), extra, capsys)
            if os.environ.get("TUTORIAL_TIMES"):
                with capsys.disabled():
                    print(f"\n{time.perf_counter() - t0:7.1f}s {line[:150]}")
            assert rc == 0, f"{page.name}: `{line}` exited {rc}:\n{err[-3000:]}\n{out[-1000:]}"
            if "-o" in cmd:
                assert (work / cmd[cmd.index("-o") + 1]).exists(), f"{page.name}: `{line}` wrote nothing"
