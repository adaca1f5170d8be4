"""Property-based fuzzing of every parser and loader a user can hand input to.

Each generated input must either work or raise `ArlearnError` with a one-line message; any other
exception is a bug. Example counts are modest here (the suite must stay fast); set
ARLEARN_FUZZ_EXAMPLES to run more — scripts/fuzz.py runs ≥ 10,000 per parser and prints the counts
(it reads them from the file named by ARLEARN_FUZZ_COUNTS, written at the end of this module).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arlearn.training import checkpoint
from arlearn.config import dumps_toml, from_dict, resolve
from arlearn.errors import ArlearnError
from arlearn import circuits, turing
from arlearn.tasks import make_task
from arlearn.tasks import text as text_mod

EXAMPLES = int(os.environ.get("ARLEARN_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                suppress_health_check=list(HealthCheck), database=None)
COUNTS: dict[str, Counter] = defaultdict(Counter)


def check(target: str, fn, *args):
    """Call fn(*args): it works, or it raises ArlearnError with one clear line. Counts both."""
    try:
        out = fn(*args)
    except ArlearnError as e:
        msg = str(e)
        assert msg and "\n" not in msg and len(msg) < 2000, f"{target}: unclear error message {msg!r}"
        COUNTS[target]["error"] += 1
        return None
    COUNTS[target]["ok"] += 1
    return out


@pytest.fixture(autouse=True)
def _write_counts():
    yield  # after every test, so a long run that is stopped still reports what it tried
    path = os.environ.get("ARLEARN_FUZZ_COUNTS")
    if path:
        Path(path).write_text(json.dumps({k: dict(v) for k, v in COUNTS.items()}, indent=1))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """One folder for the files fuzz inputs are written to (each example overwrites its file)."""
    return tmp_path_factory.mktemp("fuzz")


# strings with the characters parsers trip over: separators, brackets, quotes, controls, unicode,
# lone surrogates (what Python makes of invalid UTF-8 in argv), and digits
NASTY = st.sampled_from(list(" \t\n\r=,.()[]{}#\"'\\:;-+x*_|<>0123456789") + ["\x00", "\ufeff", "é", "∑", "\ud800"])
any_text = st.one_of(st.text(max_size=60), st.text(alphabet=NASTY, max_size=60),
                     st.text(alphabet=st.characters(), max_size=40))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                          max_leaves=12)


def mutate_text(data, text: str) -> str:
    """Delete, duplicate, insert or replace a random slice of a valid input."""
    for _ in range(data.draw(st.integers(1, 4))):
        n = len(text)
        i = data.draw(st.integers(0, n))
        j = data.draw(st.integers(i, min(n, i + 20)))
        op = data.draw(st.sampled_from(["delete", "dup", "insert", "replace", "truncate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[i:]
        elif op == "truncate":
            text = text[:i]
        else:
            ins = data.draw(any_text)
            text = text[:i] + ins + (text[j:] if op == "replace" else text[i:])
    return text


def mutate_json(data, obj):
    """Replace, delete or add a value at a random path of a JSON document."""
    obj = copy.deepcopy(obj)
    for _ in range(data.draw(st.integers(1, 3))):
        node, path = obj, []
        while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            path.append((node, key))
            node = node[key]
        if not path:
            return data.draw(json_value) if data.draw(st.booleans()) else obj
        parent, key = path[-1]
        op = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(json_value)
        else:
            parent[key] = data.draw(json_value)
    return obj


# -- TOML configs -----------------------------------------------------------------------------------
PRESET = resolve("quick").to_dict()
KEYS = {sec: sorted(v) for sec, v in PRESET.items()}
toml_scalar = st.one_of(st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=False), st.text(max_size=10),
                        st.lists(st.integers(-5, 5), max_size=3))


@FUZZ
@given(st.data())
def test_fuzz_config_toml_text(scratch, data):
    text = dumps_toml(PRESET)
    text = mutate_text(data, text) if data.draw(st.booleans()) else data.draw(any_text)
    f = scratch / "c.toml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    check("config (TOML text)", resolve, None, str(f))


@FUZZ
@given(st.data())
def test_fuzz_config_values_and_task_options(data):
    d = copy.deepcopy(PRESET)
    for _ in range(data.draw(st.integers(1, 3))):
        sec = data.draw(st.sampled_from(sorted(KEYS) + ["bogus"]))
        key = data.draw(st.sampled_from(KEYS.get(sec, []) + ["nope"]))
        d.setdefault(sec, {})[key] = data.draw(toml_scalar)
    if data.draw(st.booleans()):  # a small task of another kind, with fuzzed options
        d["task"] = {"name": data.draw(st.sampled_from(["multiplication", "parity", "tm", "circuit", "nosuch"])),
                     **data.draw(st.dictionaries(st.sampled_from(["n", "m", "cot", "machine", "generator", "k",
                                                                   "operands", "steps", "tape", "length"]),
                                                 st.one_of(st.integers(-3, 8), st.text(max_size=8)), max_size=3))}

    def build(d):
        cfg = from_dict(d)
        task = make_task(cfg.task_name, cfg.task_options)
        task.vocab, task.seq_len  # noqa: B018 — realise lazy properties
        return cfg

    check("config (values, task options)", build, d)


@FUZZ
@given(st.lists(any_text, max_size=3))
def test_fuzz_config_overrides(overrides):
    check("config (--set overrides)", resolve, "quick", None, overrides)


# -- prompts ----------------------------------------------------------------------------------------
PROMPT_TASKS = {
    "multiplication": make_task("multiplication", {"n": 4, "m": 4, "cot": "long"}),
    "multiplication paper": make_task("multiplication", {"n": 4, "m": 4, "cot": "paper"}),
    "tm": make_task("tm", {"machine": "binary-increment", "cot": "trace"}),
}
for _name, _opts in (("parity", {}), ("circuit", {"generator": "adder3"})):
    try:
        PROMPT_TASKS[_name] = make_task(_name, _opts)
    except (ArlearnError, KeyError):  # not registered on this checkout
        pass


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROMPT_TASKS))
@FUZZ
@given(data=st.data())
def test_fuzz_prompts(name, data):
    task = PROMPT_TASKS[name]
    symbols = [s for s in task.vocab.symbols]
    words = st.lists(st.sampled_from(symbols) | any_text, max_size=8).map(" ".join)
    text = data.draw(st.one_of(words, any_text, st.from_regex(r"\s*\d{1,6}\s*[x*]\s*\d{1,6}\s*", fullmatch=True)))
    toks = check(f"prompt ({name})", task.parse_prompt, text)
    if toks is not None:
        assert task.vocab.encode(toks) is not None  # what parses is encodable


# -- .bench circuits --------------------------------------------------------------------------------
BENCH = """# c17-like
INPUT(1)
INPUT(2)
INPUT(3)
OUTPUT(22)
10 = NAND(1, 3)
11 = NAND(3, 2)
22 = XOR(10, 11)
"""
bench_line = st.one_of(
    st.builds(lambda k, s: f"{k}({s})", st.sampled_from(["INPUT", "OUTPUT", "input", "OUT"]), st.text(NASTY, max_size=4)),
    st.builds(lambda o, g, a: f"{o} = {g}({', '.join(a)})", st.text("abc123", min_size=1, max_size=3),
              st.sampled_from(["AND", "NAND", "OR", "NOR", "NOT", "BUFF", "XOR", "XNOR", "MUX", "and"]),
              st.lists(st.text("abc123", min_size=0, max_size=3), max_size=4)),
    any_text)


@FUZZ
@given(st.data())
def test_fuzz_bench(data):
    kind = data.draw(st.integers(0, 2))
    if kind == 0:
        text = mutate_text(data, BENCH)
    elif kind == 1:
        text = "\n".join(data.draw(st.lists(bench_line, max_size=10)))
    else:
        text = data.draw(any_text)
    c = check(".bench circuit", circuits.parse_bench, text, "fuzz")
    if c is not None:
        c.evaluate([0] * len(c.inputs))  # what parses evaluates


# -- Turing-machine specs ---------------------------------------------------------------------------
def _spec():
    from importlib import resources

    return json.loads((resources.files("arlearn") / "machines" / "binary-increment.json").read_text())


SPEC = _spec()


# found by fuzzing (fixed in tasks/turing.py): a transition whose move is a list/object raised
# TypeError: unhashable type at `if move not in MOVES`
@FUZZ
@given(st.data())
def test_fuzz_tm_spec(data):
    spec = mutate_json(data, SPEC) if data.draw(st.integers(0, 3)) else data.draw(json_value)
    tm = check("TM spec (JSON structure)", turing.parse_machine, spec, "fuzz")
    if tm is not None:
        check("TM spec (simulating what parsed)", turing.simulate, tm, (), 50, 20)


@FUZZ
@given(st.data())
def test_fuzz_tm_spec_file(scratch, data):
    raw = json.dumps(SPEC, indent=1)
    text = mutate_text(data, raw) if data.draw(st.booleans()) else data.draw(any_text)
    f = scratch / "m.json"
    f.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    check("TM spec (file)", turing.load_machine, str(f))


# -- tokenizer input (text task) --------------------------------------------------------------------
def _text_task(shared: Path):
    return make_task("text", {"train_path": str(shared / "tinystories" / "valid.txt"),
                              "valid_path": str(shared / "tinystories" / "valid.txt"),
                              "tokenizer": "gpt2", "tokenizer_dir": str(shared / "gpt2-tokenizer"),
                              "max_stories": 20})


def test_fuzz_tokenizer_input(shared_data):
    task = _text_task(shared_data)

    @FUZZ
    @given(st.one_of(any_text, st.text(min_size=100, max_size=400)))
    def prompt(text):
        toks = check("tokenizer (text prompt)", task.parse_prompt, text)
        if toks is not None:
            assert len(toks) >= 1

    @FUZZ
    @given(any_text)
    def stories(text):
        check("tokenizer (corpus splitting)", text_mod.split_stories, text.encode("utf-8", "replace").decode())

    prompt()
    stories()


# found by fuzzing (fixed in tasks/text.py): a lone surrogate — what Python makes of invalid UTF-8 in
# argv, e.g. `arlearn generate --prompt $'\xff'` — used to reach the Rust tokenizer as a TypeError
def test_tokenizer_rejects_invalid_unicode_with_a_clear_error(shared_data):
    task = _text_task(shared_data)
    with pytest.raises(ArlearnError, match="not valid Unicode"):
        task.parse_prompt("a \ud800 b")


# -- checkpoint directories -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    from arlearn.training import Trainer

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("ckpt")
    cfg = resolve("quick", None, ["task.n=2", "task.m=2", "model.d=8", "train.train_examples=64", "train.batch_size=8",
                                  "eval.examples=4", 'train.device="cpu"'])
    t = Trainer(cfg, d, progress=False)
    t.train_step()
    return t, t.save_checkpoint()


@pytest.mark.slow
def test_fuzz_checkpoint_dirs(good_checkpoint, tmp_path):
    trainer, good = good_checkpoint
    names = [checkpoint.MODEL, checkpoint.OPTIM, checkpoint.STATE]
    state = json.loads((good / checkpoint.STATE).read_text())
    n = [0]

    @FUZZ
    @given(st.data())
    def fuzz(data):
        n[0] += 1
        d = tmp_path / f"step-{n[0]:08d}"
        shutil.copytree(good, d)
        op = data.draw(st.sampled_from(["truncate", "flip", "delete", "state", "garbage"]))
        name = data.draw(st.sampled_from(names))
        f = d / name
        raw = f.read_bytes()
        if op == "truncate":
            f.write_bytes(raw[: data.draw(st.integers(0, len(raw)))])
        elif op == "flip":
            b = bytearray(raw)
            for _ in range(data.draw(st.integers(1, 4))):
                i = data.draw(st.integers(0, len(b) - 1))
                b[i] ^= data.draw(st.integers(1, 255))
            f.write_bytes(bytes(b))
        elif op == "delete":
            f.unlink()
        elif op == "state":  # a structurally mutated (but well-formed) state.json
            (d / checkpoint.STATE).write_text(json.dumps(mutate_json(data, state)))
        else:
            f.write_bytes(data.draw(st.binary(max_size=200)))

        def load():
            ck = checkpoint.read_checkpoint(d)
            checkpoint.restore(ck, trainer.model, trainer.opt)

        check("checkpoint directory", load)
        shutil.rmtree(d)

    fuzz()
