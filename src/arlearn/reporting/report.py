"""`arlearn report RUN_DIR... -o report.html`: one static page from run and sweep directories.

For every run directory (config.toml) the page shows the config, the results, training curves
from metrics.jsonl (loss, token accuracy, held-out exact match or validation perplexity), the
block-norm "what each position reads" heatmap of linear/MLP models (`arlearn.reporting.heatmap`),
and example chains of thought with the first wrong token highlighted (eval_examples.jsonl) or,
for text runs, the five fixed prompts continued with distinct-2/3 and the 4-gram copy rate
beside each (two or more text runs: one section, "Samples side by side"). A trained linear/MLP
run of a circuit layout (the circuit task, or tm with the threshold CoT) shows its heatmap
beside the one of the model the compiler builds for the same circuit, and the wiring recovered
from its block norms with its precision and recall against the circuit's true fan-in
(`arlearn.compile.wiring`). A compiled run (compile.json) shows what was compiled instead
(circuit, gates, threshold gates, T, non-zeros, whether the dense model was written); any run
shows the verification (verify.json) and the proof (prove.json) `arlearn verify [--prove]`
recorded. For every sweep directory (sweep.json) it shows the table and the plots (length and
sample complexity; for a sweep over circuits, samples needed vs circuit size); for a reproduction
(`arlearn reproduce -o DIR`: reproduce.json) claimed vs measured per claim, with the curves of its
runs and the plot of its sweeps. Figures are
base64 PNGs; the page has no script and loads nothing from the network. The same content is
written as Markdown beside it (`report.md`, figures in `report_files/`). This module reads the
directories into format-neutral sections and writes the files; `arlearn.reporting.render`
turns the sections into HTML and Markdown.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from arlearn.errors import ArlearnError
from arlearn.experiments.claims import REPRODUCE_FILE
from arlearn.experiments.sweep import LENGTH_PNG, SAMPLES_PNG, SIZES_PNG, SWEEP, TABLE
from arlearn.fileio import atomic_path, write_text
from arlearn.reporting.curves import is_number, png_bytes, curves_figure
from arlearn.reporting.render import Figure, Section, render_html, render_markdown
from arlearn.rundir import COMPILE, CONFIG, EXAMPLES, METRICS, MODEL, PACKED, PROVE, RESULTS, VERIFY

MAX_EXAMPLES = 8  #: example CoTs shown per run (wrong ones first)


# -- reading run directories ---------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArlearnError(f"{path} is not valid JSON: {e}") from None


def _read_jsonl(path: Path) -> list[dict]:
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
    return rows


#: how the report samples text runs: `arlearn sample`'s five fixed prompts, short continuations
SAMPLING = {"max_tokens": 40, "temperature": 0.8, "top_k": 40, "seed": 0}


def _is_text_run(run_dir: Path) -> bool:
    return "val_perplexity" in (_read_json(run_dir / RESULTS) or {}) and (run_dir / MODEL).is_file()


def samples_blocks(run_dirs) -> list:
    """The five fixed prompts continued by each text run's model (SAMPLING, the same seed for all)
    with distinct-2/3 and the 4-gram copy rate beside each continuation; the copy rate reads the
    first run's training tokens and is n/a, with the reason, when they cannot be read."""
    from arlearn.evaluation.sampling import sample_runs
    from arlearn.rundir import load_run

    try:
        return [("samples", sample_runs([(Path(d), *load_run(d)) for d in run_dirs], **SAMPLING))]
    except ArlearnError as e:
        return [("p", f"samples unavailable: {e}")]


CONFIG_KEYS = {"model": ("name", "d", "hidden", "layers"), "train": ("steps", "batch_size", "lr", "seed",
                                                                     "train_examples", "dtype", "device")}
RESULT_KEYS = ("score", "exact_match", "exact_match_interval", "sequence_exact_match", "sequence_exact_match_interval",
               "chance", "token_accuracy", "val_perplexity", "val_loss", "test_perplexity", "test_loss", "parameters",
               "steps", "stopped_by", "train_seconds", "cot_length", "n", "device", "dtype")


COMPILE_KEYS = (("circuit", "circuit"), ("inputs", "inputs"), ("outputs", "outputs"), ("gates", "gates"),
                ("threshold_gates", "threshold gates (CoT length − 1)"), ("T", "context T"), ("d", "d"),
                ("nonzeros", "non-zero weights"), ("dense_bytes", "dense model bytes"),
                ("dense_written", f"dense {MODEL} written"))


def run_section(run_dir: Path, samples: bool = True) -> Section:
    """A trained run (config, results, curves, heatmap, examples) or a compiled one (what was
    compiled, its verification); either shows the verification `arlearn verify` recorded."""
    from arlearn.rundir import load_run_config

    cfg = load_run_config(run_dir)
    name = run_dir.resolve().name
    compiled = _read_json(run_dir / COMPILE)
    verified = _read_json(run_dir / VERIFY)
    sec = Section(name, "compiled run" if compiled else "run")
    task = " ".join([cfg.task_name] + [f"{k}={v}" for k, v in cfg.task_options.items()])
    if compiled:
        _compiled_blocks(sec, run_dir, task, compiled, verified)
    else:
        _trained_blocks(sec, run_dir, cfg, task)
    if verified is not None:
        _verification_blocks(sec, run_dir, verified)
    proved = _read_json(run_dir / PROVE)
    if proved is not None:
        _proof_blocks(sec, proved)
    if cfg.model.name in ("linear", "mlp") and (run_dir / MODEL).is_file():
        sec.blocks.append(("h", "What each position reads"))
        try:
            _model_blocks(sec, run_dir, cfg, compiled=bool(compiled))
        except ArlearnError as e:
            sec.blocks.append(("p", f"heatmap unavailable: {e}"))
    examples = _read_jsonl(run_dir / EXAMPLES)
    if examples:
        wrong = [r for r in examples if not r.get("correct")]
        cot_off = [r for r in examples if r.get("correct") and r.get("sequence_correct") is False]
        right = [r for r in examples if r.get("correct") and r.get("sequence_correct") is not False]
        shown = (wrong[: MAX_EXAMPLES - 3] + cot_off[:1] + right[:2])[:MAX_EXAMPLES] if wrong or cot_off \
            else right[:MAX_EXAMPLES]
        differ = f"; {len(cot_off)} more right answers after a wrong chain of thought" if cot_off else ""
        sec.blocks.append(("h", f"Example chains of thought ({len(wrong)} of {len(examples)} held-out answers "
                                f"wrong{differ})"))
        sec.blocks.append(("cot", shown))
    elif samples and _is_text_run(run_dir):
        sec.blocks.append(("h", "Generated samples"))
        sec.blocks += samples_blocks([run_dir])
    return sec


def _trained_blocks(sec: Section, run_dir: Path, cfg, task: str) -> None:
    """Configuration, results (or how far an unfinished run got) and training curves."""
    from arlearn.training.checkpoint import list_checkpoints

    d, name = cfg.to_dict(), sec.title
    results = _read_json(run_dir / RESULTS) or {}
    metrics = _read_jsonl(run_dir / METRICS)
    sec.summary = {"run": name, "task": task, "model": cfg.model.name, **{k: results.get(k) for k in
                   ("parameters", "exact_match", "val_perplexity", "steps", "train_seconds")}}
    rows = [("task", task)] + [(f"{s}.{k}", d[s][k]) for s, keys in CONFIG_KEYS.items() for k in keys if k in d[s]]
    sec.blocks.append(("h", "Configuration"))
    sec.blocks.append(("kv", rows))
    sec.blocks.append(("details", f"full {CONFIG}", (run_dir / CONFIG).read_text(encoding="utf-8")))
    sec.blocks.append(("h", "Results"))
    if results:
        sec.blocks.append(("kv", [(k, results[k]) for k in RESULT_KEYS if k in results] +
                          ([("task (as built)", results["task"])] if "task" in results else [])))
    else:
        ck = list_checkpoints(run_dir)
        note = f"; newest checkpoint at step {ck[-1][0]} (resume with `arlearn train --resume`)" if ck else ""
        last = max((r["step"] for r in metrics if is_number(r.get("step"))), default=0)
        sec.blocks.append(("p", f"No {RESULTS}: training has not finished (last logged step {last}){note}."))
    png = curves_figure(metrics, f"{name}: training curves")
    sec.blocks.append(("h", "Training curves"))
    if png:
        sec.blocks.append(("fig", Figure(f"{name}-curves.png", f"training curves from {METRICS}", png)))
    else:
        sec.blocks.append(("p", f"{METRICS} has no rows yet."))


def _compiled_blocks(sec: Section, run_dir: Path, task: str, compiled: dict, verified: dict | None) -> None:
    """A compiled run: what was compiled into which model (compile.json); never trained."""
    if not isinstance(compiled, dict):
        raise ArlearnError(f"{run_dir}/{COMPILE} is not a compile report")
    checked = verified.get("checked") if isinstance(verified, dict) else None
    exact = 1 - verified.get("mismatches", 0) / checked if is_number(checked) and checked else None
    sec.summary = {"run": sec.title, "task": task, "model": "linear (compiled)",
                   "parameters": compiled.get("nonzeros"), "exact_match": exact, "steps": "compiled"}
    sec.blocks.append(("h", "Compiled circuit"))
    sec.blocks.append(("p", "Exact weights written by `arlearn compile` (no training): the linear model computes "
                            "every threshold gate of the circuit as one chain-of-thought token."))
    sec.blocks.append(("kv", [("task", task)] + [(label, compiled[k]) for k, label in COMPILE_KEYS if k in compiled]
                       + [("packed weights", PACKED if (run_dir / PACKED).is_file() else "missing")]))
    sec.blocks.append(("details", f"full {CONFIG}", (run_dir / CONFIG).read_text(encoding="utf-8")))
    if verified is None:
        sec.blocks.append(("h", "Verification"))
        sec.blocks.append(("p", f"Not verified yet: `arlearn verify {run_dir.name}` checks it against the circuit "
                                f"and records the result ({VERIFY})."))


def _verification_blocks(sec: Section, run_dir: Path, verified: dict) -> None:
    """The result `arlearn verify` recorded (verify.json)."""
    sec.blocks.append(("h", "Verification"))
    if not isinstance(verified, dict):
        sec.blocks.append(("p", f"{VERIFY} is not a verification report."))
        return
    how = "every input" if verified.get("exhaustive") else f"{verified.get('checked', '?')} random inputs"
    verdict = "correct" if verified.get("ok") else f"{verified.get('mismatches', '?')} mismatches"
    sec.blocks.append(("p", f"{verdict} on {how} (greedy decoding vs direct evaluation of the circuit, "
                            "chain of thought and answer)."))
    sec.blocks.append(("kv", [(k, verified[k]) for k in ("ok", "checked", "exhaustive", "mismatches", "engines",
                                                        "dense_checked", "seed", "verified_at") if k in verified]
                       + [("first mismatches", verified["first_mismatches"])] * bool(verified.get("first_mismatches"))))


HEATMAP_CAPTION = ("Frobenius norm of each block W[t,s] of the block-causal map (log10; blank = zero): "
                   "row t reads columns s ≤ t")


def _circuit_layout(task):
    """The circuit layout a task's sequences are (with the CoT), or None."""
    from arlearn.compile import reference_layout

    try:
        lay = reference_layout(task)  # with the CoT dial's gates (a layers:k run's own layout)
    except ArlearnError:
        return None
    return lay if task.seq_len == lay.seq_len and lay.cot else None


def _model_blocks(sec: Section, run_dir: Path, cfg, compiled: bool) -> None:
    """The block-norm heatmap of a linear/mlp run; for a trained run of a circuit layout beside
    the compiled model's, and for any circuit run the wiring recovered from it."""
    from arlearn.compile import build_weights
    from arlearn.reporting.heatmap import block_norm_heatmap, block_norms, heatmap_pair, sparse_block_norms
    from arlearn.rundir import load_run

    name = sec.title
    cfg, task, model = load_run(run_dir, cfg)  # the config `run_section` loaded
    lay = _circuit_layout(task)
    marks = [lay.prompt_len, lay.prompt_len + lay.k + 1] if lay is not None else []
    # the compiled linear model and the wiring exist for a CoT whose gates read only earlier tokens
    one_step = lay is not None and all(i in lay.pos for g in lay.cot_gates for i in g.inputs)
    if not one_step or compiled:
        title = f"{name}: {cfg.model.name} on {cfg.task_name} — block norms (layer 0)"
        png = png_bytes(lambda p: block_norm_heatmap(model, p, title, marks=marks))
        sec.blocks.append(("fig", Figure(f"{name}-heatmap.png", HEATMAP_CAPTION, png)))
    else:
        ref = build_weights(lay)
        titles = (f"learned: {name} ({cfg.model.name}, d={cfg.model.d}, layer 0)",
                  f"compiled: {lay.circuit.name} (linear, d={ref.d}): exactly the wires")
        png = png_bytes(lambda p: heatmap_pair(block_norms(model), sparse_block_norms(ref.T, ref.t, ref.s, ref.w),
                                          p, titles, marks))
        sec.blocks.append(("fig", Figure(f"{name}-heatmap.png", f"{HEATMAP_CAPTION}. Left: the trained model; "
                                         "right: the model `arlearn compile` builds for the same circuit, whose "
                                         "non-zero blocks are the gates' inputs. Lines: CoT and answer start.", png)))
    if one_step:
        _wiring_blocks(sec, model, task)


def _wiring_blocks(sec: Section, model, task) -> None:
    """The wiring recovered from the block norms, scored against the circuit (`arlearn wiring`)."""
    from arlearn.compile.wiring import recover_wiring

    w = recover_wiring(model, task)
    sec.blocks.append(("h", "Recovered wiring"))
    sec.blocks.append(("p", "For every gate, the earlier positions ranked by block norm at the position that predicts "
                            "it, compared with the gate's true inputs (`arlearn wiring`): top-k takes the fan-in "
                            f"many strongest; the threshold rule every block ≥ {w['rel']} × the row's strongest."))
    worst = ", ".join(f"{g['gate']} ({g['topk_precision']:.2f})" for g in w["worst_gates"])
    sec.blocks.append(("kv", [("gates", w["gates"]), ("true edges", w["edges"]),
                              ("top-k precision (= recall)", w["topk_precision"]),
                              (f"precision (≥ {w['rel']} × row max)", w["precision"]),
                              (f"recall (≥ {w['rel']} × row max)", w["recall"])]
                       + [("worst gates (top-k precision)", worst)] * bool(worst)))


def _proof_blocks(sec: Section, proved) -> None:
    """The proof `arlearn verify --prove` recorded (prove.json)."""
    sec.blocks.append(("h", "Proof"))
    if not isinstance(proved, dict) or not isinstance(proved.get("files"), dict):
        sec.blocks.append(("p", f"{PROVE} is not a proof report."))
        return
    how = "exact: weights off a gate's fan-in must be zero" if proved.get("mode") == "exact" else \
        "certificate: a sound, conservative bound for trained weights"
    verdict = "proven" if proved.get("ok") else "not proven"
    sec.blocks.append(("p", f"{verdict}: greedy decoding gives the right chain of thought and answer on "
                            f"{proved.get('covers', 'every input')}, by induction over the positions ({how})."))
    rows = [(k, proved[k]) for k in ("ok", "mode", "covers", "circuit", "threshold_gates", "files_agree",
                                     "disagreement", "proved_at") if k in proved]
    for f, r in proved["files"].items():
        r = r if isinstance(r, dict) else {}
        rows.append((f, r["error"] if "error" in r else
                     f"{'proven' if r.get('ok') else 'not proven'}: {r.get('failed_positions', '?')} of "
                     f"{r.get('positions', '?')} positions fail; min margin {r.get('min_margin', float('nan')):.4g}"))
        rows += [(f"{f}: position {x.get('position')}", x.get("why")) for x in r.get("first_failures", [])[:3]]
    sec.blocks.append(("kv", rows))


#: what each sweep plot shows (other PNGs of a sweep directory: "<name> complexity")
PLOT_CAPTIONS = {LENGTH_PNG: "length complexity: held-out exact match vs CoT length",
                 SAMPLES_PNG: "sample complexity: held-out exact match vs training examples",
                 SIZES_PNG: "samples needed and training seconds vs the circuit's threshold gates (log–log)"}


def sweep_section(sweep_dir: Path) -> Section:
    """A sweep directory: what was swept, its table and its plots."""
    rep = _read_json(sweep_dir / SWEEP)
    if not isinstance(rep, dict):
        raise ArlearnError(f"{sweep_dir}/{SWEEP} is not a sweep report")
    name = sweep_dir.resolve().name
    sec = Section(name, "sweep")
    sec.summary = {"run": name, "task": rep.get("task", ""), "model": "sweep",
                   "steps": f"{rep.get('cells_done', '?')}/{rep.get('cells_total', '?')} cells"}
    sec.blocks.append(("p", f"{rep.get('kind', '?')} sweep of {rep.get('task', '?')}: "
                            f"{rep.get('cells_done', '?')} of {rep.get('cells_total', '?')} cells done."))
    table = sweep_dir / TABLE
    if table.is_file():
        sec.blocks.append(("markdown", table.read_text(encoding="utf-8")))
    for png in rep.get("plots", []) or sorted(p.name for p in sweep_dir.glob("*.png")):
        p = sweep_dir / str(png)
        if p.is_file() and p.suffix == ".png":
            caption = PLOT_CAPTIONS.get(p.name, f"{p.stem} complexity")
            sec.blocks.append(("fig", Figure(f"{name}-{p.name}", caption, p.read_bytes())))
    return sec


def reproduce_section(rep_dir: Path) -> Section:
    """A reproduction (`arlearn reproduce -o DIR`): claimed vs measured per claim, then the curves
    of every trained seed and the plots of every sweep it ran."""
    from arlearn.reporting.sweep import plot_length

    rep = _read_json(rep_dir / REPRODUCE_FILE)
    if not isinstance(rep, dict) or not isinstance(rep.get("claims"), list):
        raise ArlearnError(f"{rep_dir}/{REPRODUCE_FILE} is not a reproduction report")
    name = rep_dir.resolve().name
    sec = Section(name, "reproduction")
    rows = rep["claims"]
    sec.summary = {"run": name, "task": "claims", "model": "reproduce",
                   "steps": f"{rep.get('pass', 0)} pass, {rep.get('fail', 0)} fail"}
    sec.blocks.append(("p", f"{len(rows)} claims: {rep.get('pass', 0)} pass, {rep.get('fail', 0)} fail, "
                            f"{rep.get('missing', 0)} missing, {rep.get('manual', 0)} by hand."))
    cell = lambda v: str(v if v is not None else "-").replace("|", "/")  # noqa: E731
    table = ["| claim | statement | claimed | check | measured | status |", "|---|---|---|---|---|---|"]
    table += [f"| {cell(r.get('id'))} | {cell(r.get('statement'))} | {cell(r.get('claimed'))} | {cell(r.get('check'))} "
              f"| {cell(r.get('measured'))} | {cell(r.get('status', '?')).upper()} |" for r in rows]
    sec.blocks.append(("markdown", "\n".join(table) + "\n"))
    shown: set[str] = set()
    for r in rows:
        d = Path(str(r.get("dir", "")))
        d = d if d.is_absolute() or d.is_dir() else rep_dir / d.name
        if str(d) in shown or not d.is_dir():
            continue
        shown.add(str(d))
        sweep = _read_json(d / SWEEP)
        if isinstance(sweep, dict) and sweep.get("groups"):
            png = png_bytes(lambda p: plot_length(sweep["groups"], sweep["main_size"], p, sweep.get("task", ""),
                                                  1 - sweep["spec"]["epsilon"]))
            sec.blocks.append(("fig", Figure(f"{name}-{d.name}-length.png", f"{d.name}: exact match vs CoT length",
                                             png)))
        for seed_dir in sorted(d.glob("seed-*")):
            png = curves_figure(_read_jsonl(seed_dir / METRICS), f"{d.name}/{seed_dir.name}")
            if png:
                sec.blocks.append(("fig", Figure(f"{name}-{d.name}-{seed_dir.name}.png",
                                                 f"{d.name}/{seed_dir.name}: training curves", png)))
    return sec


def collect(paths, samples: bool = True) -> list[Section]:
    """A section per run or sweep directory; two or more text runs share one section of samples
    side by side (then their own sections show none)."""
    if not paths:
        raise ArlearnError("report needs at least one run or sweep directory")
    texts = [p for p in map(Path, paths) if (p / CONFIG).is_file() and not (p / SWEEP).is_file() and _is_text_run(p)]
    side = samples and len(texts) > 1
    out = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ArlearnError(f"run directory not found: {p}")
        if (p / REPRODUCE_FILE).is_file():
            out.append(reproduce_section(p))
        elif (p / SWEEP).is_file():
            out.append(sweep_section(p))
        elif (p / CONFIG).is_file():
            out.append(run_section(p, samples and not side))
        else:
            raise ArlearnError(f"{p} is neither a run directory ({CONFIG}), a sweep ({SWEEP}) nor a reproduction "
                               f"({REPRODUCE_FILE})")
    if side:
        out.append(Section("Samples side by side", "text runs", blocks=samples_blocks(texts)))
    return out


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
    except OSError as e:
        raise ArlearnError(f"cannot write report {out}: {e.strerror}") from None
    return {"html": out, "markdown": md_path, "runs": sum(bool(s.summary) for s in sections), "figures": len(figs)}
