"""The claims registry: every claim loads and points at a real section, the README's table and
docs/claims.md are the generated ones, and `arlearn reproduce` measures, judges, resumes and
reads finished runs."""

import json
import re
from pathlib import Path

import pytest

from arlearn.cli import main
from arlearn.cli.reproduce import BEGIN, END, readme_with_table, results_pages
from arlearn.errors import ArlearnError
from arlearn.experiments.claims import (
    TITLE_MAX,
    Claim,
    claims_doc,
    fmt_claimed,
    claims_table,
    judge,
    load_claims,
    measure,
    reproduce,
    results_table,
    select,
)

ROOT = Path(__file__).resolve().parents[1]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped (but - and _), spaces to -."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#+ (.*)", line)
        if m:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def test_every_claim_loads_with_a_unique_id_and_a_section_that_exists():
    claims = load_claims()
    assert len({c.id for c in claims}) == len(claims) > 20
    docs = {f.relative_to(ROOT / "docs").as_posix(): anchors(f.read_text(encoding="utf-8"))
            for f in (ROOT / "docs").rglob("*.md")}
    for c in claims:
        page, _, anchor = c.section.partition("#")
        assert page in docs, (c.id, c.section)
        assert anchor in docs[page], (c.id, c.section)
    assert {c.tier for c in claims} >= {"smoke", "quick", "standard"}
    assert [c.topic for c in claims if c.readme][0] == "multiplication"


def test_the_readme_table_and_docs_claims_are_the_generated_ones():
    claims = load_claims()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = claims_table([c for c in claims if c.readme])
    assert readme_with_table(readme, table) == readme, "README table is stale: arlearn reproduce --update-readme README.md"
    doc = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    assert doc == claims_doc(claims), "docs/claims.md is stale: arlearn reproduce --update-doc docs/claims.md"
    for c in claims:
        assert f"[`{c.id}`]" in doc


def test_every_readme_claim_has_a_short_title_and_its_row_shows_it():
    claims = [c for c in load_claims() if c.readme]
    table = claims_table(claims)
    for c in claims:
        assert c.title and len(c.title) <= TITLE_MAX, c.id
        assert f"| {c.title} |" in table
        assert c.statement not in table  # the README's rows are short: the statement is in docs/claims.md
    with pytest.raises(ArlearnError, match="at most 60"):
        claim(title="x" * 61)
    # the machine without its notes, but "(no AMX)" names one
    row = claims_table([claim(title="t", machine="Xeon (one thread a run); EPYC (no AMX) (seeds 1-2)")])
    assert "| Xeon; EPYC (no AMX) |" in row


def test_each_results_page_opens_with_its_generated_table_of_the_claims_measured_on_it():
    claims = load_claims()
    pages = results_pages(claims, ROOT / "docs" / "results")
    for path, text in pages.items():
        assert text == path.read_text(encoding="utf-8"), \
            f"{path.name}: stale table: arlearn reproduce --update-results docs/results"
    covered = {f"results/{p.name}" for p in pages}
    for c in claims:  # every claim is a row of the page its section is on
        page = c.section.partition("#")[0]
        if page.startswith("results/"):
            assert page in covered, (c.id, page)
            assert f"`arlearn reproduce {c.id}`" in results_table(claims, page) or c.kind == "manual"
            assert f"[{c.id}](#" in results_table(claims, page)
    assert results_table(claims, "results/nowhere.md").count("\n") == 2  # the header alone


def test_a_table_between_markers_is_replaced_and_missing_markers_are_an_error():
    text = f"intro\n{BEGIN}\nold\n{END}\nrest\n"
    assert readme_with_table(text, "| new |\n") == f"intro\n{BEGIN}\n| new |\n{END}\nrest\n"
    with pytest.raises(ArlearnError, match="marker"):
        readme_with_table("no markers", "x")


def claim(**kw):
    base = dict(id="c", statement="s", section="results.md#x", kind="train", preset="quick", metric="exact_match",
                value=0.9, sd=0.0, check="each_at_least", bound=0.8, machine="m", measured="2026-12-06",
                cost_minutes=1.0, tier="smoke", seeds=(0, 1))
    base.update(kw)
    return Claim(**base)


def test_checks_judge_the_measured_values():
    assert judge(claim(), [0.85, 0.9]) and not judge(claim(), [0.79, 1.0])
    assert judge(claim(check="mean_at_least", bound=0.85), [0.8, 0.95])
    assert not judge(claim(check="mean_at_least", bound=0.9), [0.8, 0.95])
    assert judge(claim(metric="val_perplexity", check="mean_at_most", bound=21.0), [20.9, 21.05])
    assert judge(claim(kind="prove", source="adder2", check="equals", value=True, bound=None), [True])
    assert not judge(claim(kind="prove", source="adder2", check="equals", value=True, bound=None), [False])
    assert not judge(claim(), [])


@pytest.mark.parametrize("kw,msg", [
    ({"kind": "nope"}, "unknown kind"),
    ({"check": "mean_at_least", "bound": None}, "needs a numeric bound"),
    ({"tier": "huge"}, "unknown tier"),
    ({"kind": "manual"}, "needs the command"),
    ({"kind": "sweep-length"}, "needs models"),
])
def test_malformed_claims_are_one_line_errors(kw, msg):
    with pytest.raises(ArlearnError, match=msg):
        claim(**kw)


def test_a_claims_file_with_an_unknown_or_missing_key_is_rejected(tmp_path):
    (tmp_path / "t.toml").write_text('[[claims]]\nid = "x"\nstatement = "s"\nbogus = 1\n')
    with pytest.raises(ArlearnError, match="unknown key 'bogus'"):
        load_claims(tmp_path)
    (tmp_path / "t.toml").write_text('[[claims]]\nid = "x"\nstatement = "s"\n')
    with pytest.raises(ArlearnError, match="missing key"):
        load_claims(tmp_path)


def test_tiers_are_cumulative_and_unknown_ids_are_named():
    claims = load_claims()
    smoke = select(claims, tier="smoke")
    quick = select(claims, tier="quick")
    assert smoke and set(c.id for c in smoke) < set(c.id for c in quick)
    with pytest.raises(ArlearnError, match="unknown claim 'nope'"):
        select(claims, ["nope"])


TINY = ["task.n=2", "task.m=2", "model.d=8", "model.hidden=16", "train.steps=20", "train.warmup=2",
        "train.batch_size=16", "train.train_examples=200", "train.threads=1", "eval.examples=20",
        'train.device="cpu"', "train.eval_every=0"]


@pytest.mark.slow
def test_reproduce_trains_judges_resumes_and_reads_back(tmp_path, monkeypatch):
    import arlearn.training.trainer as trainer

    calls = []
    real = trainer.train

    def counting(cfg, run_dir, **kw):
        calls.append(Path(run_dir).name)
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(trainer, "train", counting)
    easy = claim(id="easy", overrides=tuple(TINY), check="each_at_least", bound=0.0, seeds=(0, 1))
    hard = claim(id="hard", run="easy", overrides=tuple(TINY), check="each_at_least", bound=1.01, seeds=(0, 1))
    report = reproduce([easy, hard], tmp_path, run_kw={"executor": "serial"})
    assert [r["status"] for r in report["claims"]] == ["pass", "fail"] and report["fail"] == 1
    assert calls == ["seed-0", "seed-1"]  # the two claims share one run folder: trained once
    saved = json.loads((tmp_path / "reproduce.json").read_text())
    assert saved["claims"][0]["values"] == report["claims"][0]["values"]
    calls.clear()
    again = reproduce([easy], tmp_path, run_kw={"executor": "serial"})
    assert calls == [] and again["claims"][0]["values"] == report["claims"][0]["values"]  # resumed: read back
    # --from: read without training; a folder without the runs is "missing", not a failure
    read = measure(easy, tmp_path / "easy", train=False)
    assert read["status"] == "pass" and calls == []
    assert measure(easy, tmp_path / "elsewhere", train=False)["status"] == "missing"
    # `arlearn report` on the reproduction: claimed vs measured per claim, and the seeds' curves
    from arlearn.reporting.report import build_report

    out = build_report([tmp_path], tmp_path / "report" / "r.html")
    md = out["markdown"].read_text()
    assert "| easy |" in md and "| PASS |" in md  # reproduce.json holds the last reproduction: `easy` alone
    assert "easy/seed-0: training curves" in md


def test_cli_lists_and_rejects_unknown_claims_in_one_line(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "smoke-prove-mult8" in out and "mult-4x4-demo" in out
    assert main(["reproduce", "no-such-claim", "-o", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown claim 'no-such-claim'" in err[0]


def test_a_prove_claim_compiles_and_proves_and_a_manual_one_is_not_run(tmp_path):
    proved = measure(claim(kind="prove", source="adder2", metric="proved", check="equals", value=True, bound=None),
                     tmp_path / "p")
    assert proved["status"] == "pass" and proved["measured"] == "proven exact"
    manual = measure(claim(kind="manual", command="arlearn bench"), tmp_path / "m")
    assert manual["status"] == "manual" and "arlearn bench" in manual["note"]


def test_a_claim_that_cannot_run_is_an_error_row_and_the_others_still_run(tmp_path):
    broken = claim(id="broken", kind="prove", source=str(tmp_path / "missing.bench"), metric="proved",
                   check="equals", value=True, bound=None)
    fine = claim(id="fine", kind="prove", source="adder2", metric="proved", check="equals", value=True, bound=None)
    report = reproduce([broken, fine], tmp_path / "out")
    assert [r["status"] for r in report["claims"]] == ["error", "pass"] and report["error"] == 1
    assert "missing.bench" in report["claims"][0]["note"]


def test_a_proof_checked_by_hand_reads_as_one_in_the_tables():
    c = next(c for c in load_claims() if c.kind == "manual" and c.metric == "proved")
    assert fmt_claimed(c) == "proven exact"
    assert "**proven exact**" in results_table(load_claims(), c.section.partition("#")[0])
    assert "**True**" not in results_table(load_claims(), c.section.partition("#")[0])


def test_a_dotted_metric_reads_nested_results_and_a_missing_one_names_the_claim(tmp_path):
    results = {"exact_match": 0.5, "train_seconds": 3.0,
               "variants": {"n16": {"exact_match": 1.0}, "n32": {"exact_match": 0.995}}}
    for s in (0, 1):
        (tmp_path / f"seed-{s}").mkdir()
        (tmp_path / f"seed-{s}" / "results.json").write_text(json.dumps(results))
    c = claim(id="long-sums", metric="variants.n32.exact_match", value=0.995, bound=0.99)
    row = measure(c, tmp_path, train=False)
    assert row["status"] == "pass" and row["values"] == [0.995, 0.995]
    assert row["measured"] == fmt_claimed(c) == "99.50% ± 0.00%"  # a rate, as exact_match is
    assert "**99.50% ± 0.00%** (answer)" in claims_table([c], short=False)
    for metric, words in (("variants.n64.exact_match", "(no 'n64' in variants, which has 'n16', 'n32')"),
                          ("nope.exact_match", "no metric 'nope.exact_match'")):
        with pytest.raises(ArlearnError) as err:
            measure(claim(id="long-sums", metric=metric), tmp_path, train=False)
        assert "claim 'long-sums'" in str(err.value) and words in str(err.value)
