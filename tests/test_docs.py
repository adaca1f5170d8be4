"""The documentation: the generated reference pages (command line, configuration, presets) are
current and complete, and every relative link between the Markdown pages (README and docs/)
points at a file and heading that exist."""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from arlearn.cli import build_parser
from arlearn.cli.reference import PAGES, _cell, cli_reference, config_reference, field_docs, presets_reference
from arlearn.config import EvalConfig, ModelConfig, TrainConfig, preset_names

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_generated_reference_pages_are_current(name):
    assert (DOCS / "reference" / name).read_text(encoding="utf-8") == PAGES[name](), \
        f"docs/reference/{name} is stale: python scripts/gen_reference.py"


def _walk(parser):
    import argparse

    yield parser
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _walk(sub)


def test_the_cli_page_names_every_command_and_every_option_with_its_help():
    page = cli_reference()
    for p in _walk(build_parser()):
        assert f"# {p.prog}\n" in page or p.prog == "arlearn", p.prog
        for a in p._actions:
            for opt in a.option_strings:
                if opt not in ("-h", "--help"):
                    assert opt in page, (p.prog, opt)
            if a.help and a.option_strings and a.option_strings[0] != "-h" and "%" not in a.help:
                assert _cell(a.help) in page, (p.prog, a.option_strings)


def test_the_config_page_names_every_key_with_its_default_and_doc():
    page = config_reference()
    for cls in (ModelConfig, TrainConfig, EvalConfig):
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in page, (cls.__name__, f.name)
            if docs.get(f.name):
                assert _cell(docs[f.name]) in page
    assert "| `embed_dropout` | float | `0.0` | linear/mlp: dropout on the token embeddings" in page
    for task in ("multiplication", "parity", "tm", "circuit", "text"):
        assert f"### task `{task}`" in page
    from arlearn.experiments.bench import BenchConfig

    for f in dataclasses.fields(BenchConfig):
        assert f"| `{f.name}` |" in page, f.name


def test_field_docs_reads_comments_above_a_field_and_on_its_line():
    @dataclass
    class Example:
        a: int = 1  #: the first
        #: the second,
        #: on two lines
        b: str = "x"
        c: float = 0.0  # a plain comment is not a doc
        #: above
        d: bool = False  #: and beside

    assert field_docs(Example) == {"a": "the first", "b": "the second, on two lines", "c": "",
                                   "d": "above and beside"}


def test_the_presets_page_shows_every_preset_as_shipped():
    page = presets_reference()
    for name in preset_names():
        assert f"\n## {name}\n" in page and f"[`{name}`](#{name})" in page
    assert "```toml\n# The README demo" in page  # the file itself, comments included


def test_table_cells_keep_code_spans_and_escape_html_and_pipes():
    assert _cell("a <out> b `<bos>` c | d") == "a &lt;out&gt; b `<bos>` c \\| d"


# -- links ---------------------------------------------------------------------------------------
def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors (the site's toc uses the same slugs): outside code fences."""
    out, fence = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = re.match(r"#+ (.*)", line)
        if m and not fence:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def pages():
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def test_every_relative_link_between_the_pages_resolves_to_a_file_and_heading():
    texts = {p: p.read_text(encoding="utf-8") for p in pages()}
    bad = []
    for page, text in texts.items():
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
                bad.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not bad, "\n".join(bad)


def test_the_changelog_has_no_relative_links_since_the_site_includes_it_from_another_folder():
    # docs/changelog.md pulls CHANGELOG.md in verbatim: a link relative to the repository root
    # would point nowhere on the site (mkdocs build --strict fails on it)
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    relative = [m for m in re.findall(r"\]\(([^)#][^)]*)\)", text) if "://" not in m]
    assert not relative, relative
