"""Rendering a report: format-neutral sections as one static HTML page or as Markdown.

This module owns the page formats of `arlearn report`: the blocks a `Section` holds (headings,
paragraphs, key/value and pipe tables, figures, chains of thought with the first wrong token
marked, text samples: a table per prompt, the models side by side with measures beside each)
and how `render_html` (one self-contained page: CSS inline, figures as base64 PNGs, no script)
and `render_markdown` (figures as files beside it) write them. What goes into the sections is
`arlearn.reporting.report`'s business.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

MAX_TOKENS = 160  #: tokens of a CoT shown around the first divergence


@dataclass
class Figure:
    name: str  #: file name in the Markdown folder
    caption: str
    png: bytes


@dataclass
class Section:
    """One run or sweep, as format-neutral blocks: ("h", text) ("p", text) ("kv", rows)
    ("table", header, rows) ("fig", Figure) ("cot", records) ("pre", text) ("samples", a
    side-by-side sampling result: `sample_tables`). A section without a summary (the samples of
    several runs side by side) has no row in the page's run table."""

    title: str
    kind: str
    summary: dict = field(default_factory=dict)
    blocks: list = field(default_factory=list)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def _cot_tokens(r: dict):
    """(prompt, generated tokens, index of the first wrong token or None, target tokens)."""
    gen = str(r.get("generated", "")).split()
    tgt = str(r.get("target", "")).split()
    div = r.get("first_divergence")
    div = div if isinstance(div, int) and not isinstance(div, bool) and div >= 0 else None
    return str(r.get("prompt", "")), gen, div, tgt


def _answer_words(r: dict) -> tuple[str, str]:
    """(answer, parsed) of a record as a person reads them: decoded (e.g. a Turing machine's
    tape from its tableau's output bits) when the record has the decoding, the raw tokens after it."""
    ans, parsed = str(r.get("answer", "")), str(r.get("parsed"))
    if "answer_decoded" in r:
        ans = f"{r['answer_decoded']} (as output bits: {ans})"
        if r.get("parsed_decoded") is not None:
            parsed = f"{r['parsed_decoded']} (as output bits: {parsed})"
    return ans, parsed


def _mark(r: dict) -> tuple[bool, str]:
    """(answer right, what a ✓ leaves out): a right answer after a wrong chain of thought says so."""
    ok = bool(r.get("correct"))
    return ok, " (answer right, chain of thought differs)" if ok and r.get("sequence_correct") is False else ""


def _window(tokens, div):
    """Clip a long CoT to MAX_TOKENS around the divergence; returns (start, tokens)."""
    if len(tokens) <= MAX_TOKENS:
        return 0, tokens
    start = max(0, min((div or 0) - MAX_TOKENS // 2, len(tokens) - MAX_TOKENS))
    return start, tokens[start:start + MAX_TOKENS]


SUMMARY_COLS = ("run", "task", "model", "parameters", "exact_match", "val_perplexity", "steps", "train_seconds")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}.meta{color:#57606a}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}figure{margin:.5rem 0}figure img{max-width:100%;border:1px solid #eaeef2}figcaption{color:#57606a;font-size:12px}
.cot{font:12px/1.6 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:.4rem .6rem;margin:.3rem 0;border-radius:4px;overflow-wrap:anywhere}
.ok{color:#1a7f37}.bad{color:#cf222e}.wrong{background:#ffd8d3;color:#82071e;font-weight:bold;outline:1px solid #cf222e;padding:0 2px}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}
"""


def _md_table_to_html(text: str) -> str:
    """A pipe table and bullet/plain lines (what `arlearn sweep` writes to table.md) as HTML."""
    out, table = [], []

    def flush():
        if table:
            rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table]
            rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]
            head, body = rows[0], rows[1:]
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>" +
                       "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body) +
                       "</table>")
            table.clear()

    for line in text.splitlines():
        if line.strip().startswith("|"):
            table.append(line)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{html.escape(line.strip().lstrip('-').strip())}</p>")
    flush()
    return "\n".join(out)


MEASURE_COLS = (("distinct_2", "distinct-2"), ("distinct_3", "distinct-3"), ("copy_rate_4", "4-gram copy rate"))


def _measure(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def sample_tables(data: dict) -> list[tuple[str, list[str], list[list]]]:
    """A side-by-side sampling result (`arlearn.evaluation.sampling.side_by_side`) as tables:
    one per prompt (a row per model: its continuation, tokens and measures; the continuation
    cell is (prompt, generated)), then the models' means. Each: (title, header, rows)."""
    labels = [label for _, label in MEASURE_COLS]
    out = []
    for i, prompt in enumerate(data["prompts"]):
        rows = [[m["name"], (prompt, m["samples"][i]["generated"]), m["samples"][i]["tokens"]]
                + [_measure(m["samples"][i][k]) for k, _ in MEASURE_COLS] for m in data["models"]]
        out.append((f"“{prompt}”", ["model", "continuation", "tokens"] + labels, rows))
    means = [[m["name"]] + [_measure(m["mean"][k]) for k, _ in MEASURE_COLS] for m in data["models"]]
    out.append((f"Mean over the {len(data['prompts'])} prompts", ["model"] + labels, means))
    return out


def samples_caption(data: dict) -> str:
    """What a side-by-side sampling result's tables show: its options and measures, and the copy
    rate's reference (`copy_rate_note`)."""
    o = data.get("options", {})
    return (f"Each prompt continued with the same options for every model: up to {o.get('max_tokens', '?')} tokens "
            f"(stopping at end-of-text), temperature {o.get('temperature', '?')}, top-k {o.get('top_k', '?')} "
            f"(0: all), seed {o.get('seed', '?')}. distinct-n: unique / all n-grams of the continuation's tokens "
            "(1 = no repeats); 4-gram copy rate: the share of its 4-grams found verbatim in the training tokens "
            f"(how much the model pastes from its corpus): {data.get('copy_rate_note') or 'not computed'}.")


def _samples_html(data: dict) -> str:
    e = html.escape

    def td(c):
        return f"<td class='cot'><b>{e(c[0])}</b>{e(c[1])}</td>" if isinstance(c, tuple) else f"<td>{e(str(c))}</td>"

    tables = [f"<p><b>{e(title)}</b></p><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
              + "".join("<tr>" + "".join(td(c) for c in r) + "</tr>" for r in rows) + "</table>"
              for title, head, rows in sample_tables(data)]
    return "\n".join([f"<p>{e(samples_caption(data))}</p>"] + tables)


def _md_cell(v) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(title: str, head: list[str], rows: list[list]) -> list[str]:
    """A titled Markdown pipe table, as lines; a (prompt, generated) cell shows the prompt in bold."""
    return [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(f"**{_md_cell(c[0])}**{_md_cell(c[1])}" if isinstance(c, tuple) else _md_cell(c)
                          for c in r) + " |" for r in rows] + [""]


def samples_markdown(data: dict) -> list[str]:
    """A side-by-side sampling result as Markdown lines: its caption, then `sample_tables`."""
    return [samples_caption(data), ""] + [line for t in sample_tables(data) for line in markdown_table(*t)]


def render_html(sections: list[Section], title: str, when: str) -> str:
    """The sections as one self-contained HTML page (CSS inline, figures as base64 PNGs, no script)."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>"
             f"<p class='meta'>{sum(bool(s.summary) for s in sections)} run(s) · generated {e(when)} by "
             "<code>arlearn report</code></p>"]
    parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in SUMMARY_COLS) + "</tr>")
    for s in filter(lambda s: s.summary, sections):
        parts.append("<tr>" + "".join(f"<td>{e(_fmt(s.summary.get(c)))}</td>" for c in SUMMARY_COLS) + "</tr>")
    parts.append("</table>")
    for s in sections:
        parts.append(f"<h2>{e(s.title)} <span class='meta'>({s.kind})</span></h2>")
        for b in s.blocks:
            kind = b[0]
            if kind == "h":
                parts.append(f"<h3>{e(b[1])}</h3>")
            elif kind == "p":
                parts.append(f"<p>{e(b[1])}</p>")
            elif kind == "kv":
                parts.append("<table>" + "".join(f"<tr><th>{e(str(k))}</th><td>{e(_fmt(v))}</td></tr>" for k, v in b[1])
                             + "</table>")
            elif kind == "details":
                parts.append(f"<details><summary>{e(b[1])}</summary><pre>{e(b[2])}</pre></details>")
            elif kind == "markdown":
                parts.append(_md_table_to_html(b[1]))
            elif kind == "fig":
                f = b[1]
                data = base64.b64encode(f.png).decode("ascii")
                parts.append(f"<figure><img alt='{e(f.caption)}' src='data:image/png;base64,{data}'>"
                             f"<figcaption>{e(f.caption)}</figcaption></figure>")
            elif kind == "cot":
                for r in b[1]:
                    prompt, gen, div, tgt = _cot_tokens(r)
                    start, shown = _window(gen, div)
                    toks = [f"<span class='wrong' title='expected {e(tgt[i]) if i < len(tgt) else 'end'}'>{e(t)}</span>"
                            if i == div else e(t) for i, t in ((start + j, t) for j, t in enumerate(shown))]
                    if div is not None and div >= len(gen):
                        toks.append("<span class='wrong' title='generation ended early'>∅</span>")
                    ok, caveat = _mark(r)
                    mark = (f"<span class='ok'>✓{e(caveat)}</span>" if ok else "<span class='bad'>✗</span>")
                    ans, parsed = _answer_words(r)
                    where = "" if div is None else f" · first wrong token at {div}" + (
                        f" (expected <b>{e(tgt[div])}</b>)" if div < len(tgt) else "")
                    parts.append(f"<div class='cot'>{mark} <b>{e(prompt)}</b> → {'… ' if start else ''}{' '.join(toks)}"
                                 f"{' …' if start + len(shown) < len(gen) else ''}<br><span class='meta'>answer "
                                 f"{e(ans)} · parsed {e(parsed)}{where}</span></div>")
            elif kind == "samples":
                parts.append(_samples_html(b[1]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_markdown(sections: list[Section], title: str, when: str, files_dir: str) -> tuple[str, list[Figure]]:
    """The sections as Markdown, and the figures it links to (to be written under `files_dir`)."""
    cell = _md_cell
    figs: list[Figure] = []
    out = [f"# {title}", "", f"{sum(bool(s.summary) for s in sections)} run(s) · generated {when} by `arlearn report`",
           "", "| " + " | ".join(SUMMARY_COLS) + " |", "|" + "---|" * len(SUMMARY_COLS)]
    out += ["| " + " | ".join(cell(s.summary.get(c)) for c in SUMMARY_COLS) + " |" for s in sections if s.summary]
    for s in sections:
        out += ["", f"## {s.title} ({s.kind})", ""]
        for b in s.blocks:
            kind = b[0]
            if kind == "h":
                out += [f"### {b[1]}", ""]
            elif kind == "p":
                out += [b[1], ""]
            elif kind == "kv":
                out += ["| key | value |", "|---|---|"] + [f"| {cell(k)} | {cell(v)} |" for k, v in b[1]] + [""]
            elif kind == "details":
                out += [f"<details><summary>{b[1]}</summary>", "", "```toml", b[2].rstrip(), "```", "", "</details>", ""]
            elif kind == "markdown":
                out += [b[1].rstrip(), ""]
            elif kind == "fig":
                figs.append(b[1])
                out += [f"![{b[1].caption}]({files_dir}/{b[1].name})", ""]
            elif kind == "cot":
                for r in b[1]:
                    prompt, gen, div, tgt = _cot_tokens(r)
                    start, shown = _window(gen, div)
                    toks = [f"**~~{t}~~**" if start + j == div else t for j, t in enumerate(shown)]
                    if div is not None and div >= len(gen):
                        toks.append("**∅**")
                    exp = f"; first wrong token at {div}" + (f", expected `{tgt[div]}`" if div is not None and div < len(tgt) else "") \
                        if div is not None else ""
                    ok, caveat = _mark(r)
                    ans, parsed = _answer_words(r)
                    out += [f"- {'✓' + caveat if ok else '✗'} `{prompt}` → {'… ' if start else ''}{' '.join(toks)}"
                            f" (answer `{ans}`, parsed `{parsed}`{exp})"]
                out.append("")
            elif kind == "samples":
                out += samples_markdown(b[1])
    return "\n".join(out) + "\n", figs
