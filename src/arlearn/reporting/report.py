"""`arlearn report RUN_DIR... -o report.html`: one static page from run and sweep directories.

For every run directory (config.toml) the page shows the config, the results, training curves
from metrics.jsonl (loss, token accuracy, held-out exact match or validation perplexity), the
block-norm "what each position reads" heatmap of linear/MLP models (`arlearn.reporting.heatmap`), and
example chains of thought with the first wrong token highlighted (eval_examples.jsonl) or
generated samples (text runs). For every sweep directory (sweep.json, `arlearn sweep`) it shows
the table and the length-/sample-complexity plots. Figures are PNGs embedded as base64, the page
has no script and loads nothing from the network. The same content is written as Markdown
beside the HTML (`report.md`, figures in `report_files/`).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from arlearn.errors import ArlearnError
from arlearn.fileio import atomic_path, write_text

MAX_EXAMPLES = 8  #: example CoTs shown per run (wrong ones first)
MAX_TOKENS = 160  #: tokens of a CoT shown around the first divergence


@dataclass
class Figure:
    name: str  #: file name in the Markdown folder
    caption: str
    png: bytes


@dataclass
class Section:
    """One run or sweep, as format-neutral blocks: ("h", text) ("p", text) ("kv", rows)
    ("table", header, rows) ("fig", Figure) ("cot", records) ("pre", text) ("samples", list)."""

    title: str
    kind: str
    summary: dict = field(default_factory=dict)
    blocks: list = field(default_factory=list)


# -- reading run directories ---------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArlearnError(f"{path} is not valid JSON: {e}") from None


def _read_jsonl(path: Path, limit: int = 0) -> list[dict]:
    rows = []
    if not path.is_file():
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a crash can cut the last line
            if isinstance(row, dict):
                rows.append(row)
            if limit and len(rows) >= limit:
                break
    return rows


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def curves_figure(rows: list[dict], title: str) -> bytes | None:
    """Loss and accuracy against step; held-out exact match or validation perplexity if logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key):
        pts = [(r["step"], r[key]) for r in rows if _num(r.get("step")) and _num(r.get(key))]
        return [p[0] for p in pts], [p[1] for p in pts]

    panels = [("loss", "training loss", True), ("token_acc", "token accuracy (train batch)", False),
              ("eval_exact_match", "held-out exact match", False), ("val_perplexity", "validation perplexity", True)]
    panels = [p for p in panels if series(p[0])[0]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.8), squeeze=False)
    for ax, (key, label, log) in zip(axes[0], panels):
        x, y = series(key)
        ax.plot(x, y, marker="o" if len(x) < 30 else None, ms=3, lw=1.2)
        if log and all(v > 0 for v in y):
            ax.set_yscale("log")
        if key in ("token_acc", "eval_exact_match"):
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _fig_png(fig)


def _heatmap(run_dir: Path) -> bytes | None:
    from arlearn.reporting.heatmap import run_heatmap

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "heatmap.png"
        run_heatmap(run_dir, out)
        return out.read_bytes()


def _text_samples(run_dir: Path, prompts=("Once upon a time", "The little dog"), tokens: int = 40) -> list[dict]:
    from arlearn.evaluation import sample_text
    from arlearn.training.runs import load_run

    cfg, task, model = load_run(run_dir)
    return [{"prompt": p, "generated": sample_text(model, task, p, max_tokens=tokens, temperature=0.8, top_k=40, seed=i)}
            for i, p in enumerate(prompts)]


CONFIG_KEYS = {"model": ("name", "d", "hidden", "layers"), "train": ("steps", "batch_size", "lr", "seed",
                                                                     "train_examples", "dtype", "device")}
RESULT_KEYS = ("exact_match", "token_accuracy", "val_perplexity", "val_loss", "parameters", "steps",
               "stopped_by", "train_seconds", "cot_length", "n", "device", "dtype")


def run_section(run_dir: Path, samples: bool = True) -> Section:
    from arlearn.training.checkpoint import list_checkpoints
    from arlearn.training.runs import load_run_config

    cfg = load_run_config(run_dir)
    d = cfg.to_dict()
    name = run_dir.resolve().name
    sec = Section(name, "run")
    results = _read_json(run_dir / "results.json") or {}
    metrics = _read_jsonl(run_dir / "metrics.jsonl")
    task = " ".join([cfg.task_name] + [f"{k}={v}" for k, v in cfg.task_options.items()])
    sec.summary = {"run": name, "task": task, "model": cfg.model.name, **{k: results.get(k) for k in
                   ("parameters", "exact_match", "val_perplexity", "steps", "train_seconds")}}
    rows = [("task", task)] + [(f"{s}.{k}", d[s][k]) for s, keys in CONFIG_KEYS.items() for k in keys if k in d[s]]
    sec.blocks.append(("h", "Configuration"))
    sec.blocks.append(("kv", rows))
    sec.blocks.append(("details", "full config.toml", (run_dir / "config.toml").read_text(encoding="utf-8")))
    sec.blocks.append(("h", "Results"))
    if results:
        sec.blocks.append(("kv", [(k, results[k]) for k in RESULT_KEYS if k in results] +
                          ([("task (as built)", results["task"])] if "task" in results else [])))
    else:
        ck = list_checkpoints(run_dir)
        note = f"; newest checkpoint at step {ck[-1][0]} (resume with `arlearn train --resume`)" if ck else ""
        last = max((r["step"] for r in metrics if _num(r.get("step"))), default=0)
        sec.blocks.append(("p", f"No results.json: training has not finished (last logged step {last}){note}."))
    png = curves_figure(metrics, f"{name}: training curves")
    sec.blocks.append(("h", "Training curves"))
    if png:
        sec.blocks.append(("fig", Figure(f"{name}-curves.png", "training curves from metrics.jsonl", png)))
    else:
        sec.blocks.append(("p", "metrics.jsonl has no rows yet."))
    if cfg.model.name in ("linear", "mlp") and (run_dir / "model.safetensors").is_file():
        sec.blocks.append(("h", "What each position reads"))
        try:
            png = _heatmap(run_dir)
            sec.blocks.append(("fig", Figure(f"{name}-heatmap.png", "Frobenius norm of each block W[t,s] of the "
                                             "block-causal map (log10; blank = zero): row t reads columns s ≤ t", png)))
        except ArlearnError as e:
            sec.blocks.append(("p", f"heatmap unavailable: {e}"))
    examples = _read_jsonl(run_dir / "eval_examples.jsonl")
    if examples:
        wrong = [r for r in examples if not r.get("correct")]
        right = [r for r in examples if r.get("correct")]
        shown = (wrong[: MAX_EXAMPLES - 2] + right[:2])[:MAX_EXAMPLES] if wrong else right[:MAX_EXAMPLES]
        sec.blocks.append(("h", f"Example chains of thought ({len(wrong)} of {len(examples)} held-out wrong)"))
        sec.blocks.append(("cot", shown))
    elif samples and "val_perplexity" in results and (run_dir / "model.safetensors").is_file():
        sec.blocks.append(("h", "Generated samples (temperature 0.8, top-k 40)"))
        try:
            sec.blocks.append(("samples", _text_samples(run_dir)))
        except ArlearnError as e:
            sec.blocks.append(("p", f"samples unavailable: {e}"))
    return sec


def sweep_section(sweep_dir: Path) -> Section:
    rep = _read_json(sweep_dir / "sweep.json")
    if not isinstance(rep, dict):
        raise ArlearnError(f"{sweep_dir}/sweep.json is not a sweep report")
    name = sweep_dir.resolve().name
    sec = Section(name, "sweep")
    sec.summary = {"run": name, "task": rep.get("task", ""), "model": "sweep",
                   "steps": f"{rep.get('cells_done', '?')}/{rep.get('cells_total', '?')} cells"}
    sec.blocks.append(("p", f"{rep.get('kind', '?')} sweep of {rep.get('task', '?')}: "
                            f"{rep.get('cells_done', '?')} of {rep.get('cells_total', '?')} cells done."))
    table = sweep_dir / "table.md"
    if table.is_file():
        sec.blocks.append(("markdown", table.read_text(encoding="utf-8")))
    for png in rep.get("plots", []) or sorted(p.name for p in sweep_dir.glob("*.png")):
        p = sweep_dir / str(png)
        if p.is_file() and p.suffix == ".png":
            sec.blocks.append(("fig", Figure(f"{name}-{p.name}", f"{p.stem} complexity", p.read_bytes())))
    return sec


def collect(paths, samples: bool = True) -> list[Section]:
    if not paths:
        raise ArlearnError("report needs at least one run or sweep directory")
    out = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ArlearnError(f"run directory not found: {p}")
        if (p / "sweep.json").is_file():
            out.append(sweep_section(p))
        elif (p / "config.toml").is_file():
            out.append(run_section(p, samples))
        else:
            raise ArlearnError(f"{p} is neither a run directory (config.toml) nor a sweep (sweep.json)")
    return out


# -- rendering ---------------------------------------------------------------------------------------
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


def render_html(sections: list[Section], title: str, when: str) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>"
             f"<p class='meta'>{len(sections)} run(s) · generated {e(when)} by <code>arlearn report</code></p>"]
    parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in SUMMARY_COLS) + "</tr>")
    for s in sections:
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
                    mark = "<span class='ok'>✓</span>" if r.get("correct") else "<span class='bad'>✗</span>"
                    where = "" if div is None else f" · first wrong token at {div}" + (
                        f" (expected <b>{e(tgt[div])}</b>)" if div < len(tgt) else "")
                    parts.append(f"<div class='cot'>{mark} <b>{e(prompt)}</b> → {'… ' if start else ''}{' '.join(toks)}"
                                 f"{' …' if start + len(shown) < len(gen) else ''}<br><span class='meta'>answer "
                                 f"{e(str(r.get('answer', '')))} · parsed {e(str(r.get('parsed')))}{where}</span></div>")
            elif kind == "samples":
                for smp in b[1]:
                    parts.append(f"<div class='cot'><b>{e(smp['prompt'])}</b>{e(smp['generated'])}</div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_markdown(sections: list[Section], title: str, when: str, files_dir: str) -> tuple[str, list[Figure]]:
    def cell(v):
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    figs: list[Figure] = []
    out = [f"# {title}", "", f"{len(sections)} run(s) · generated {when} by `arlearn report`", "",
           "| " + " | ".join(SUMMARY_COLS) + " |", "|" + "---|" * len(SUMMARY_COLS)]
    out += ["| " + " | ".join(cell(s.summary.get(c)) for c in SUMMARY_COLS) + " |" for s in sections]
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
                    out += [f"- {'✓' if r.get('correct') else '✗'} `{prompt}` → {'… ' if start else ''}{' '.join(toks)}"
                            f" (answer `{r.get('answer', '')}`{exp})"]
                out.append("")
            elif kind == "samples":
                out += [f"> **{smp['prompt']}**{smp['generated']}".replace("\n", " ") + "\n" for smp in b[1]]
    return "\n".join(out) + "\n", figs


def build_report(paths, out: str | Path = "report.html", title: str = "arlearn report", samples: bool = True) -> dict:
    """Write the HTML page and its Markdown twin; returns their paths and the number of runs."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ArlearnError(f"report output must end in .html, got {out}")
    sections = collect(paths, samples)
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    md_path = out.with_suffix(".md")
    files_dir = out.stem + "_files"
    page = render_html(sections, title, when)
    md, figs = render_markdown(sections, title, when, files_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(out, page)
        for f in figs:
            with atomic_path(out.parent / files_dir / f.name) as tmp:
                Path(tmp).write_bytes(f.png)
        write_text(md_path, md)
        for p in [out, md_path, *((out.parent / files_dir / f.name) for f in figs)]:
            os.chmod(p, 0o644)  # a report is for reading (temporary files are created 0600)
    except OSError as e:
        raise ArlearnError(f"cannot write report {out}: {e.strerror}") from None
    return {"html": out, "markdown": md_path, "runs": len(sections), "figures": len(figs)}
