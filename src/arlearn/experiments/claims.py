"""The project's claims, as data: what each headline number is, how to reproduce it, and whether
a reproduction holds it.

A claim (one `[[claims]]` table of a TOML file in the package's `claims/` folder, one file per
topic) names one measured number: its statement, what to run (`kind`: a `train` of a preset with
overrides over seeds, a `sweep-length`, a `prove` of a compiled circuit, or a `manual` procedure
the engine cannot run), the metric read from the results (a key of a run's results.json, or a dotted
path into it: `variants.n32.exact_match`; a sweep's length complexity: the CoT length in tokens, or "not
reached"), the value claimed (mean and sd over
the seeds), the check a reproduction must pass (`each_at_least`, `mean_at_least`, `mean_at_most`
against `bound`, or `equals`), the machine it was measured on and its cost in CPU-minutes on 2
cores, which puts it in a tier (`smoke` ⊂ `quick` ⊂ `standard` ⊂ `all`).

`reproduce(claims, out)` runs each claim's cells as ordinary run directories under `out/<id>` (or
`out/<run>`, shared by claims read off the same runs; finished seeds and sweep cells are read
back, so a killed reproduction resumes and a shared run trains once) and returns one
row per claim: claimed vs measured, pass or fail. `measure(claim, dir, train=False)` reads an
existing directory without training (`arlearn reproduce --from DIR`). `claims_table` is the
README's results table (the `readme = true` claims, each by its short `title`), generated from the
registry; with every claim, the table of docs/claims.md; `results_table` the table each results page
(docs/results/<topic>.md) opens with.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tomllib
from dataclasses import MISSING, dataclass, fields
from importlib import resources
from pathlib import Path

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.evaluation.scores import NOT_REACHED

KINDS = ("train", "sweep-length", "prove", "manual")
CHECKS = ("each_at_least", "mean_at_least", "mean_at_most", "equals")
TIERS = ("smoke", "quick", "standard", "all")
#: metrics shown as percentages (also as the last key of a dotted path: variants.n32.exact_match)
RATES = ("exact_match", "sequence_exact_match", "token_accuracy")
REPRODUCE_FILE = "reproduce.json"
#: the order of the topics (claims files) in tables; files not named here come after, by name
#: the longest a claim's title may be (it is a cell of the README's table)
TITLE_MAX = 60
TOPICS = ("multiplication", "length-complexity", "circuits", "turing", "text", "speed", "smoke")


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    section: str
    kind: str
    metric: str
    value: object
    check: str
    machine: str
    measured: str
    cost_minutes: float
    tier: str
    topic: str = ""
    preset: str = ""
    overrides: tuple = ()
    seeds: tuple = (0,)
    sd: float = 0.0
    bound: float | None = None
    models: tuple = ()
    cots: tuple = ()
    train_examples: tuple = ()
    source: str = ""
    command: str = ""
    score: str = "answer"  #: for exact-match metrics: which score ("answer" or "sequence")
    run: str = ""  #: the folder its runs go to (claims read from the same runs share it); default: the id
    readme: bool = False  #: a headline: a row of the README's table (every claim is a row of docs/claims.md)
    title: str = ""  #: a short name for the compact tables (README, results pages); at most TITLE_MAX characters

    @property
    def folder(self) -> str:
        return self.run or self.id

    def __post_init__(self):
        where = f"claim {self.id!r}"
        for key, value, allowed in (("kind", self.kind, KINDS), ("check", self.check, CHECKS),
                                    ("tier", self.tier, TIERS)):
            if value not in allowed:
                raise ArlearnError(f"{where}: unknown {key} {value!r}{did_you_mean(str(value), allowed)}")
        if self.check != "equals" and not isinstance(self.bound, (int, float)):
            raise ArlearnError(f"{where}: check {self.check!r} needs a numeric bound")
        if self.kind in ("train", "sweep-length") and not self.preset:
            raise ArlearnError(f"{where}: kind {self.kind!r} needs a preset")
        if self.kind == "sweep-length" and not (self.models and self.cots and self.metric.startswith("length_complexity.")):
            raise ArlearnError(f"{where}: a sweep-length claim needs models, cots and metric length_complexity.<model>")
        if self.kind == "prove" and not self.source:
            raise ArlearnError(f"{where}: a prove claim needs a source (a generator or .bench file)")
        if self.kind == "manual" and not self.command:
            raise ArlearnError(f"{where}: a manual claim needs the command to run by hand")
        if len(self.title) > TITLE_MAX:
            raise ArlearnError(f"{where}: title is {len(self.title)} characters, at most {TITLE_MAX}")


CLAIM_KEYS = {f.name for f in fields(Claim)} - {"topic"}


def _claim_from(d: dict, topic: str) -> Claim:
    unknown = set(d) - CLAIM_KEYS
    name = d.get("id", "?")
    if unknown:
        raise ArlearnError(f"claim {name!r} ({topic}): unknown key {sorted(unknown)[0]!r}")
    missing = [f.name for f in fields(Claim) if f.default is MISSING and f.name not in d]
    if missing:
        raise ArlearnError(f"claim {name!r} ({topic}): missing key {missing[0]!r}")
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    try:
        return Claim(topic=topic, **d)
    except TypeError as e:
        raise ArlearnError(f"claim {name!r} ({topic}): {e}") from None


def load_claims(folder: str | Path | None = None) -> list[Claim]:
    """Every claim of the registry (the package's `claims/*.toml`, or `folder`), in file then
    table order; ids must be unique."""
    files = list(Path(folder).glob("*.toml")) if folder is not None else \
        [f for f in resources.files("arlearn.claims").iterdir() if f.name.endswith(".toml")]
    files.sort(key=lambda f: (TOPICS.index(f.name[:-5]) if f.name[:-5] in TOPICS else len(TOPICS), f.name))
    out: list[Claim] = []
    for f in files:
        topic = f.name[:-5]
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ArlearnError(f"claims file {f.name}: {e}") from None
        out += [_claim_from(d, topic) for d in data.get("claims", [])]
    seen: set[str] = set()
    for c in out:
        if c.id in seen:
            raise ArlearnError(f"claim id {c.id!r} is used twice")
        seen.add(c.id)
    return out


def select(claims: list[Claim], ids=(), tier: str | None = None) -> list[Claim]:
    """The claims named by `ids`, or those of `tier` and the cheaper tiers."""
    if ids:
        known = {c.id: c for c in claims}
        for i in ids:
            if i not in known:
                raise ArlearnError(f"unknown claim {i!r}{did_you_mean(i, list(known))}; `arlearn reproduce --list` "
                                   "lists them")
        return [known[i] for i in ids]
    if tier is None:
        raise ArlearnError("name claims (ids) or a --tier")
    if tier not in TIERS:
        raise ArlearnError(f"unknown tier {tier!r}; known: {', '.join(TIERS)}")
    upto = TIERS[: TIERS.index(tier) + 1]
    return [c for c in claims if c.tier in upto]


# -- measuring ----------------------------------------------------------------------------------
def _config(claim: Claim):
    from arlearn.config import resolve

    return resolve(claim.preset, None, list(claim.overrides))


def _measure_train(claim: Claim, out: Path, train: bool, progress: bool, run_kw: dict) -> dict:
    from arlearn.rundir import RESULTS

    values, seconds = [], []
    if train:
        from arlearn.experiments.seeds import train_seeds

        report = train_seeds(_config(claim), out, list(claim.seeds), progress=progress, **run_kw)
        runs = report["runs"]
    else:
        runs = []
        for s in claim.seeds:
            f = out / f"seed-{s}" / RESULTS
            if f.is_file():
                runs.append(json.loads(f.read_text(encoding="utf-8")))
    for r in runs:
        values.append(metric_value(claim, r))
        seconds.append(r.get("train_seconds", 0.0))
    return {"values": values, "seeds_done": len(values), "train_seconds": seconds}


def metric_value(claim: Claim, results: dict):
    """The claim's metric in a run's results: a key (`exact_match`) or a dotted path into nested
    results (`variants.n32.exact_match`: eval.variants' scores); a missing one is an error naming
    the claim and what the results hold where the path stopped."""
    value, path = results, []
    for key in claim.metric.split("."):
        if not isinstance(value, dict) or key not in value:
            where = ""
            if path:
                has = f", which has {', '.join(map(repr, value))}" if isinstance(value, dict) and value else ""
                where = f" (no {key!r} in {'.'.join(path)}{has})"
            raise ArlearnError(f"claim {claim.id!r}: the results have no metric {claim.metric!r}{where}")
        value, path = value[key], path + [key]
    return value


def is_rate(metric: str) -> bool:
    """Whether a metric (a key or dotted path) is a rate, shown as a percentage (`RATES`)."""
    return metric.rpartition(".")[2] in RATES


def _measure_sweep(claim: Claim, out: Path, train: bool, progress: bool, run_kw: dict) -> dict:
    from arlearn.experiments.sweep import SWEEP, SweepSpec, length_sweep

    model = claim.metric.split(".", 1)[1]
    if train:
        spec = SweepSpec(_config(claim), models=list(claim.models), cots=list(claim.cots), seeds=list(claim.seeds),
                         train_examples=list(claim.train_examples))
        report = length_sweep(spec, out, progress=progress, **run_kw)
    else:
        f = out / SWEEP
        if not f.is_file():
            return {"values": [], "seeds_done": 0}
        report = json.loads(f.read_text(encoding="utf-8"))
        if report.get("cells_done") != report.get("cells_total"):
            return {"values": [], "seeds_done": 0}
    lc = report["length_complexity"].get(model)
    if lc is None:
        raise ArlearnError(f"claim {claim.id!r}: the sweep has no model {model!r}")
    length = NOT_REACHED if lc["cot_length"] is None else lc["cot_length"]
    return {"values": [length], "seeds_done": len(claim.seeds), "verdict": lc.get("verdict")}


def _measure_prove(claim: Claim, out: Path, train: bool, progress: bool, run_kw: dict) -> dict:
    from arlearn.compile import compile_bench, compile_generator, prove_run
    from arlearn.compile.prove import PROVE

    if train:
        if not (out / "compile.json").is_file():
            build = compile_bench if claim.source.endswith(".bench") else compile_generator
            build(claim.source, out)
        rep = prove_run(out)
    else:
        f = out / PROVE
        if not f.is_file():
            return {"values": [], "seeds_done": 0}
        rep = json.loads(f.read_text(encoding="utf-8"))
    return {"values": [bool(rep["ok"])], "seeds_done": 1}


MEASURE = {"train": _measure_train, "sweep-length": _measure_sweep, "prove": _measure_prove}


def judge(claim: Claim, values: list) -> bool:
    """Whether measured values (one per seed; one for a sweep or proof) pass the claim's check."""
    if not values:
        return False
    if claim.check == "equals":
        return all(v == claim.value for v in values)
    nums = [float(v) for v in values]
    if claim.check == "each_at_least":
        return min(nums) >= claim.bound - 1e-12
    mean = statistics.fmean(nums)
    return mean >= claim.bound - 1e-12 if claim.check == "mean_at_least" else mean <= claim.bound + 1e-12


def measure(claim: Claim, out: str | Path, train: bool = True, progress: bool = False,
            run_kw: dict | None = None) -> dict:
    """Run (or, with `train=False`, read) the claim's cells in `out` and judge them: a row with
    the claimed and the measured value, the seeds, and `status` pass | fail | missing | manual
    (`reproduce` adds error: the claim could not run, with the one-line reason)."""
    out = Path(out)
    row = {"id": claim.id, "statement": claim.statement, "metric": claim.metric, "claimed": fmt_claimed(claim),
           "check": describe_check(claim), "dir": str(out)}
    if claim.kind == "manual":
        return {**row, "status": "manual", "measured": None, "note": f"run by hand: {claim.command}"}
    m = MEASURE[claim.kind](claim, out, train, progress, run_kw or {})
    values = m["values"]
    needed = len(claim.seeds) if claim.kind == "train" else 1  # a sweep or a proof is one result
    if not values or m["seeds_done"] < needed:
        return {**row, "status": "missing", "measured": None, "values": values,
                "note": f"{m['seeds_done']} of {len(claim.seeds)} seeds finished in {out}"}
    return {**row, "status": "pass" if judge(claim, values) else "fail", "values": values,
            "measured": fmt_values(claim, values), **({"verdict": m["verdict"]} if "verdict" in m else {}),
            **({"train_seconds": m["train_seconds"]} if "train_seconds" in m else {})}


def reproduce(claims: list[Claim], out: str | Path, train: bool = True, progress: bool = False,
              run_kw: dict | None = None, log=lambda s: None) -> dict:
    """Measure every claim into `out/<id>` (or read it, `train=False`); writes `out/reproduce.json`
    after each claim and returns {"claims": rows, "pass", "fail", "missing", "manual"} (counts).
    `run_kw` (e.g. the executor) goes to `train_seeds` and the sweeps."""
    from arlearn.fileio import make_dir, write_json

    out = Path(out)
    if train:
        make_dir(out)
    rows: list[dict] = []
    report: dict = {}
    for c in claims:
        log(f"{c.id}: {c.statement}")
        try:
            row = measure(c, out / c.folder, train, progress, run_kw)
        except ArlearnError as e:  # one claim that cannot run (a missing file) does not stop the others
            row = {"id": c.id, "statement": c.statement, "metric": c.metric, "claimed": fmt_claimed(c),
                   "check": describe_check(c), "dir": str(out / c.folder), "status": "error", "measured": None,
                   "note": str(e)}
        rows.append(row)
        log(f"{c.id}: {row['status']} — claimed {row['claimed']}, measured {row['measured'] or '-'}"
            + (f" ({row['note']})" if row.get("note") else ""))
        report = {"claims": rows, **{k: sum(r["status"] == k for r in rows)
                                     for k in ("pass", "fail", "error", "missing", "manual")}}
        if train:
            write_json(out / REPRODUCE_FILE, report)
    return report


# -- showing ------------------------------------------------------------------------------------
def _fmt(claim: Claim, v: float, digits: int = 2) -> str:
    if is_rate(claim.metric):
        return f"{100 * v:.{digits}f}%"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"  # a count (mismatches, circuits)
    return f"{v:.{digits}f}"


def fmt_claimed(claim: Claim) -> str:
    """The claimed value as the table shows it: "99.90 ± 0.10%", "8 tokens", "proven"."""
    if claim.kind == "sweep-length":
        return claim.value if isinstance(claim.value, str) else f"{claim.value} token{'s' * (claim.value != 1)}"
    if claim.kind == "prove" or claim.metric == "proved":  # a proof, run by the registry or by hand
        return "proven exact" if claim.value is True else "not proven"
    if isinstance(claim.value, bool) or not isinstance(claim.value, (int, float)):
        return str(claim.value)
    if len(claim.seeds) > 1 and not isinstance(claim.value, int):
        return f"{_fmt(claim, claim.value)} ± {_fmt(claim, claim.sd).rstrip('%')}" + ("%" if is_rate(claim.metric) else "")
    return _fmt(claim, claim.value)


def fmt_values(claim: Claim, values: list) -> str:
    if claim.kind == "sweep-length":
        return values[0] if isinstance(values[0], str) else f"{values[0]} token{'s' * (values[0] != 1)}"
    if claim.kind == "prove" or claim.metric == "proved":
        return "proven exact" if values[0] else "not proven"
    nums = [float(v) for v in values]
    if len(nums) == 1:
        return _fmt(claim, nums[0])
    sd = statistics.stdev(nums)
    pct = "%" if is_rate(claim.metric) else ""
    return f"{_fmt(claim, statistics.fmean(nums))} ± {_fmt(claim, sd).rstrip('%')}{pct}"


def describe_check(claim: Claim) -> str:
    if claim.check == "equals":
        return f"= {fmt_claimed(claim)}"
    what = {"each_at_least": "every seed ≥", "mean_at_least": "mean ≥", "mean_at_most": "mean ≤"}[claim.check]
    return f"{what} {_fmt(claim, claim.bound)}"


def _seeds_text(claim: Claim) -> str:
    s = list(claim.seeds)
    if claim.kind == "prove":
        return "–"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}–{s[-1]}"
    return ", ".join(map(str, s))


def _cost(minutes: float) -> str:
    if minutes < 1:
        return f"{math.ceil(minutes * 60)} s"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _short_machine(machine: str) -> str:
    """The machine without its notes in parentheses ("(one thread a run)", "(seed 0)"); "(no AMX)"
    stays, as it names the machine."""
    return re.sub(r" \((?!no AMX\))[^)]*\)", "", machine)


def _link(claim: Claim, docs: str) -> str:
    return f"[`{claim.id}`]({docs}{claim.section})"


def claims_table(claims: list[Claim], docs: str = "docs/", short: bool = True) -> str:
    """A results table: one row per claim (its title, number ± spread, seeds, CPU time on 2 cores,
    machine, the id linked to the section with its command), `manual` claims included. The
    README's (`short`) is that of the `readme` claims, each named by its title; docs/claims.md's
    (`docs=""`, `short=False`) that of all, each with its full statement and date."""
    if short:
        lines = ["| claim | measured | seeds | time (2 cores) | machine | id · details |", "|---|---|---|---|---|---|"]
    else:
        lines = ["| claim | measured | seeds | cost (2 cores) | machine | id · details |", "|---|---|---|---|---|---|"]
    for c in claims:
        score = " (answer)" if c.metric.rpartition(".")[2] == "exact_match" and not short else ""
        how = " (by hand)" if c.kind == "manual" else ""
        what = (c.title or c.statement) if short else c.statement
        machine = _short_machine(c.machine) if short else f"{c.machine}, {c.measured}"
        lines.append(f"| {what} | **{fmt_claimed(c)}**{score} | {_seeds_text(c)} | {_cost(c.cost_minutes)}{how} "
                     f"| {machine} | {_link(c, docs)} |")
    return "\n".join(lines) + "\n"


def page_of(claim: Claim) -> str:
    """The docs page (relative to docs/) that holds a claim's measurement."""
    return claim.section.partition("#")[0]


def results_table(claims: list[Claim], page: str) -> str:
    """The table a results page (`page`, relative to docs/, e.g. "results/text.md") opens with:
    one row per claim measured on it — title, preset, seeds, number ± sd, CPU time on 2 cores,
    machine and date, the command that reproduces it, and the section that holds it."""
    lines = ["| claim | preset | seeds | measured | time (2 cores) | machine | command | section |",
             "|---|---|---|---|---|---|---|---|"]
    for c in claims:
        if page_of(c) != page:
            continue
        command = "by hand (see section)" if c.kind == "manual" else f"`arlearn reproduce {c.id}`"
        preset = f"`{c.preset}`" if c.preset else "–"
        lines.append(f"| {c.title or c.statement} | {preset} | {_seeds_text(c)} | **{fmt_claimed(c)}** "
                     f"| {_cost(c.cost_minutes)} | {c.machine}, {c.measured} | {command} "
                     f"| [{c.id}](#{c.section.partition('#')[2]}) |")
    return "\n".join(lines) + "\n"


def claims_doc(claims: list[Claim]) -> str:
    """docs/claims.md: every claim, by topic, generated from the registry."""
    out = ["# Claims", "", "<!-- generated by `arlearn reproduce --update-doc docs/claims.md`; do not edit -->", "",
           "Every number arlearn claims, with what reproduces it: `arlearn reproduce ID` trains what the claim "
           "names into `runs/reproduce/ID` and compares the measured value with the claimed one "
           "(`arlearn reproduce --list` lists them; `--tier smoke|quick|standard|all` picks them by cost). Claims "
           "marked *by hand* name a procedure the command does not run (a benchmark, an external file, a "
           "comparison script): its command is in the linked section. Exact-match numbers are answer exact "
           "match, the mean over the seeds ± their sample standard deviation.", ""]
    for topic in dict.fromkeys(c.topic for c in claims):
        out += [f"## {topic.replace('-', ' ').capitalize()}", "", claims_table([c for c in claims if c.topic == topic],
                                                                              docs="", short=False).rstrip("\n"), ""]
    return "\n".join(out)


def list_lines(claims: list[Claim]) -> list[str]:
    width = max((len(c.id) for c in claims), default=0)
    return [f"{c.id:<{width}}  {c.tier:<8}  {_cost(c.cost_minutes):>7}  {c.statement}" for c in claims]
