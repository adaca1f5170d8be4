#!/usr/bin/env python
"""Long fuzzing run: ≥ 10,000 malformed inputs per parser, with counts.

    python scripts/fuzz.py                  # 10,000 inputs per parser
    python scripts/fuzz.py -n 1000 --seed 3
    python scripts/fuzz.py --only oversized --oversized 300   # only the oversized inputs

With `--oversized N` (default 300) it also tries N oversized or pathological inputs of each kind —
.bench netlists of up to 2,000,000 gates, combinational cycles, gates of fan-in up to 200,000,
random and non-halting Turing machines and specs with thousands of states, giant task options
(n, steps, tape = 10^3 … 10^15), one-line and long-story text files of up to 24 MB — under an
address-space cap (`--cap-gb`, default 2: RLIMIT_AS), where each must work or end in a one-line
ArlearnError (the memory budget of `arlearn.limits` refusing it) and never in a MemoryError. It
prints the peak memory (ru_maxrss) after each kind and the slowest input.

The property-based tests (tests/test_fuzz.py, hypothesis) explore each parser's input space with
shrinking but cost ~15 ms per example; this script is the fast, high-volume companion: a seeded
mutation fuzzer (deletions, duplications, insertions of nasty characters, truncations, byte flips
and JSON-structure edits of valid inputs, plus random text) over the same parsers. Every input
must either work or raise ArlearnError with a one-line message; anything else is printed with the
input that caused it and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NASTY = list(" \t\n\r=,.()[]{}#\"'\\:;-+x*_|<>0123456789") + ["\x00", "\ufeff", "é", "∑", "\ud800", "\U0001F600",
                                                              "INPUT(", "OUTPUT(", "NAND", "[task]", "nan", "inf",
                                                              "1e999", "-1", "\"\"", "true", "<bos>", "<eos>"]


def rand_text(rng: random.Random, n: int = 40) -> str:
    kind = rng.random()
    if kind < 0.4:
        return "".join(rng.choice(NASTY) for _ in range(rng.randint(0, n)))
    if kind < 0.7:
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, n)))
    return "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, n)))


def mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        n = len(text)
        i = rng.randint(0, n)
        j = rng.randint(i, min(n, i + 20))
        op = rng.choice(["delete", "dup", "insert", "replace", "truncate", "swap"])
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[i:]
        elif op == "truncate":
            text = text[:i]
        elif op == "swap" and n > 1:
            k = rng.randrange(n)
            text = text[:i] + text[k:k + (j - i)] + text[j:]
        else:
            ins = rand_text(rng, 8)
            text = text[:i] + ins + (text[j:] if op == "replace" else text[i:])
    return text


def rand_json(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth < 2 and r < 0.15:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and r < 0.3:
        return {rand_text(rng, 6): rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice([None, True, False, 0, -1, 1, 2**70, 1.5, float("nan"), float("inf"), "", "L", "R", "S",
                       "_", "0", "1", rand_text(rng, 6)])


def mutate_json(rng: random.Random, obj):
    obj = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 3)):
        node, path = obj, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
            key = rng.choice(sorted(node) if isinstance(node, dict) else range(len(node)))
            path.append((node, key))
            node = node[key]
        if not path:
            return rand_json(rng)
        parent, key = path[-1]
        op = rng.choice(["replace", "delete", "add"])
        if op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[rand_text(rng, 6)] = rand_json(rng)
        else:
            parent[key] = rand_json(rng)
    return obj


def peak_rss_mb() -> int:
    """This process's peak resident memory so far (ru_maxrss, KB on Linux), in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def cap_address_space(gb: float) -> None:
    import resource

    limit = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# -- oversized and pathological inputs ----------------------------------------------------------
def big_bench(r: random.Random) -> str:
    """A random netlist of 10^2 … 2·10^5 gates (one in 20: 10^6 … 2·10^6 gates, ~30 MB of text:
    refused from its size under a 2 GiB cap), each gate reading random earlier signals."""
    gates = int(10 ** (r.uniform(6, 6.3) if r.random() < 0.05 else r.uniform(2, 5.3)))
    ins = r.randint(2, 64)
    lines = [f"INPUT(i{k})" for k in range(ins)] + [f"OUTPUT(g{gates - 1})"]
    ops = ["AND", "OR", "NAND", "NOR", "XOR", "XNOR"]
    for k in range(gates):
        pool = k + ins
        args = [(f"g{j - ins}" if j >= ins else f"i{j}") for j in (r.randrange(max(pool - 50, 0), pool)
                                                                  for _ in range(r.randint(1, 3)))]
        lines.append(f"g{k} = {r.choice(ops)}({', '.join(args)})" if len(args) > 1 else f"g{k} = NOT({args[0]})")
    return "\n".join(lines) + "\n"


def cyclic_bench(r: random.Random) -> str:
    """Gates reading random gates, later ones included: cycles of every length, up to 10^5 gates."""
    gates = int(10 ** r.uniform(1, 5))
    lines = ["INPUT(a)", "INPUT(b)", f"OUTPUT(g{r.randrange(gates)})"]
    lines += [f"g{k} = AND({', '.join(f'g{r.randrange(gates)}' for _ in range(r.randint(1, 3)))}, a)"
              for k in range(gates)]
    return "\n".join(lines) + "\n"


def wide_bench(r: random.Random) -> str:
    """One gate of fan-in up to 2·10^5 (XOR/XNOR: k²/2 weights in the normal form)."""
    k = int(10 ** r.uniform(1, 5.3))
    op = r.choice(["XOR", "XNOR", "AND", "OR", "NAND", "NOR"])
    reads = [f"x{r.randrange(k)}" if r.random() < 0.3 else f"x{i}" for i in range(k)]
    return "".join(f"INPUT(x{i})\n" for i in range(k)) + f"OUTPUT(y)\ny = {op}({', '.join(reads)})\n"


def random_machine(r: random.Random) -> dict:
    """A random machine: 1 … 5,000 states, 2 … 200 symbols; most never halt on some input."""
    nq = int(10 ** r.uniform(0, 3.7)) if r.random() < 0.3 else r.randint(1, 6)
    ng = int(10 ** r.uniform(0.3, 2.3)) if r.random() < 0.2 else r.randint(2, 4)
    states = [f"q{i}" for i in range(nq)] + ["halt"]
    alphabet = ["_"] + [str(i) for i in range(ng - 1)]
    go = states if r.random() < 0.7 else states[:-1]  # never halting: no transition reaches halt
    table = {q: {a: [r.choice(alphabet), r.choice("LRS"), r.choice(go)] for a in alphabet} for q in states[:-1]}
    syms = alphabet[1:3] if len(alphabet) > 2 else alphabet
    return {"name": f"random-{nq}x{ng}", "alphabet": alphabet, "blank": "_", "states": states, "start": "q0",
            "halt": ["halt"], "origin": r.choice([0, 1, 3, 10**r.randint(1, 12)]),
            "input": {"kind": "strings", "symbols": syms, "length": r.randint(1, 8)},
            "transitions": {**table, "halt": {}}}


def giant_options(r: random.Random) -> tuple[str, dict]:
    big = lambda: int(10 ** r.uniform(1, 15))  # noqa: E731
    name = r.choice(["tm", "tm", "parity", "multiplication", "circuit"])
    if name == "tm":
        opts = {"machine": r.choice(["binary-increment", "palindrome", "unary-addition", "parity"]),
                "cot": r.choice(["none", "trace", "threshold"])}
        for key in ("n", "steps", "tape"):
            if r.random() < 0.6:
                opts[key] = big() if r.random() < 0.5 else r.randint(1, 64)
        return name, opts
    if name == "circuit":
        return name, {"generator": r.choice(["add", "mult", "parity", "cmp", "maj", "shift", "alu"]) + str(big())}
    return name, {k: big() for k in (("n", "m") if name == "multiplication" else ("n", "k")) if r.random() < 0.7}


def oversized_targets(tmp: Path) -> list:
    from arlearn.circuits import normalize, parse_bench
    from arlearn.tasks import corpus, make_task
    from arlearn.turing import check_input, input_from_index, load_machine, simulate

    def bench_call(text):
        normalize(parse_bench(text, "fuzz"))

    def machine_call(x):
        spec, how = x
        f = tmp / "machine.json"
        f.write_text(json.dumps(spec))
        tm = load_machine(str(f))
        if how == "run-tm":  # `arlearn run-tm SPEC --input …`: unbounded tape, the default step bound
            simulate(tm, check_input(tm, 0, input_from_index(tm, tm.input.length, 0)), knob="--max-steps")
        else:  # the tm task: automatic bounds, one example
            task = make_task("tm", {"machine": str(f), "cot": how})
            task.make_example(task.sample_input(random.Random(0)))

    def options_call(x):
        name, opts = x
        task = make_task(name, opts)
        task.vocab, task.seq_len  # noqa: B018

    corpus.PIECE_BYTES = 256 << 10  # blocks of 256 KB: a long story spans many
    files: dict = {}

    def text_file(r):
        size = r.choice([1, 4, 12, 24]) << 20
        kind = r.choice(["one line", "one story of many lines", "stories", "eot stories"])
        return kind, size

    def text_call(x):
        kind, size = x
        if x not in files:
            path = tmp / f"text-{len(files)}.txt"
            unit = {"one line": b"word ", "one story of many lines": b"a line of a story\n",
                    "stories": b"a short story.\n\n", "eot stories": b"a story\n<|endoftext|>\n"}[kind]
            with open(path, "wb") as f:
                block = unit * ((1 << 20) // len(unit))
                for _ in range(size >> 20):
                    f.write(block)
            files[x] = path
        for _ in corpus.stories(str(files[x])):
            pass

    return [
        ("oversized: .bench, up to 2M gates", big_bench, bench_call),
        ("oversized: .bench with cycles", cyclic_bench, bench_call),
        ("oversized: .bench fan-in up to 200k", wide_bench, bench_call),
        ("oversized: random/non-halting TMs",
         lambda r: (random_machine(r), r.choice(["run-tm", "none", "trace", "threshold"])), machine_call),
        ("oversized: giant task options", giant_options, options_call),
        ("oversized: one-line/long text files", text_file, text_call),
    ]


class Fuzzer:
    def __init__(self, n: int, seed: int):
        from arlearn.errors import ArlearnError

        self.n, self.seed, self.error_type = n, seed, ArlearnError
        self.counts: dict[str, Counter] = {}
        self.failures: list[str] = []

    def run(self, name: str, make_input, call, n: int = 0) -> None:
        """Try `n` (default: the fuzzer's) inputs from make_input(rng) on call(input)."""
        rng = random.Random(f"{self.seed}:{name}")
        c = self.counts.setdefault(name, Counter())
        t0 = time.perf_counter()
        slowest = 0.0
        for _ in range(n or self.n):
            x = make_input(rng)
            t1 = time.perf_counter()
            try:
                call(x)
                c["ok"] += 1
            except self.error_type as e:
                msg = str(e)
                if not msg or "\n" in msg:
                    c["unclear"] += 1
                    if c["unclear"] <= 3:  # the first few of each kind; the table has the counts
                        self.failures.append(f"{name}: message is not one line: {msg!r:.200} for input {x!r:.200}")
                else:
                    c["error"] += 1
            except Exception as e:  # noqa: BLE001 — the point: anything else is a bug
                c["crash"] += 1
                if c["crash"] <= 3:
                    tb = traceback.format_exception_only(type(e), e)[-1].strip()
                    self.failures.append(f"{name}: uncaught {tb} for input {x!r:.300}")
            slowest = max(slowest, time.perf_counter() - t1)
        c["seconds"] = round(time.perf_counter() - t0, 1)
        c["slowest_s"] = round(slowest, 2)
        c["peak_rss_mb"] = peak_rss_mb()
        print(f"{name:34s} {n or self.n:>7,} inputs  {c['ok']:>6,} ok  {c['error']:>7,} ArlearnError  "
              f"{c['crash']:>3} uncaught  {c['unclear']:>3} multi-line  ({c['seconds']} s, slowest input "
              f"{c['slowest_s']} s, peak RSS so far {c['peak_rss_mb']} MB)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="inputs per parser (default 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated substrings of parser names to run")
    ap.add_argument("--json", help="also write the counts here")
    ap.add_argument("--oversized", type=int, default=300, help="oversized inputs of each kind (default 300; 0: none)")
    ap.add_argument("--cap-gb", type=float, default=2.0,
                    help="address-space cap (RLIMIT_AS) in GiB for the whole run (default 2; 0: none)")
    args = ap.parse_args()
    if args.cap_gb:
        cap_address_space(args.cap_gb)

    import torch

    torch.set_num_threads(1)
    from arlearn.training import checkpoint
    from arlearn.config import dumps_toml, from_dict, resolve
    from arlearn.tasks import make_task
    from arlearn.circuits import parse_bench
    from arlearn.turing import load_machine, parse_machine, simulate

    fz = Fuzzer(args.n, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="arlearn-fuzz-"))
    targets = []

    # TOML configs: text files, structured values (+ building the task), --set overrides
    preset = resolve("quick").to_dict()
    toml_text = dumps_toml(preset)

    def config_file(text):
        f = tmp / "c.toml"
        f.write_bytes(text.encode("utf-8", "surrogatepass"))
        resolve(None, str(f))

    targets.append(("config (TOML text)", lambda r: mutate_text(r, toml_text) if r.random() < 0.8 else rand_text(r),
                    config_file))

    def build_cfg(d):
        cfg = from_dict(d)
        task = make_task(cfg.task_name, cfg.task_options)
        task.vocab, task.seq_len  # noqa: B018

    small_tasks = [{"name": "multiplication", "n": 2, "m": 2}, {"name": "parity", "n": 8},
                   {"name": "tm", "machine": "binary-increment"}, {"name": "circuit", "generator": "adder2"}]
    targets.append(("config (values, task options)",
                    lambda r: mutate_json(r, {**preset, "task": dict(r.choice(small_tasks))}), build_cfg))
    targets.append(("config (--set overrides)",
                    lambda r: [mutate_text(r, r.choice(["train.steps=5", "model.d=8", 'task.cot="long"', "eval.seed=1"]))
                               for _ in range(r.randint(1, 3))],
                    lambda ov: resolve("quick", None, ov)))

    # prompts of every task
    tasks = {"multiplication": make_task("multiplication", {"n": 4, "m": 4, "cot": "long"}),
             "multiplication paper": make_task("multiplication", {"n": 4, "m": 4, "cot": "paper"}),
             "tm": make_task("tm", {"machine": "binary-increment", "cot": "trace"}),
             "parity": make_task("parity", {}), "circuit": make_task("circuit", {"generator": "adder3"})}
    shared = REPO.parent / "shared" / "data"
    if (shared / "gpt2-tokenizer").is_dir():
        tasks["text (tokenizer)"] = make_task("text", {"train_path": str(shared / "tinystories" / "valid.txt"),
                                                       "valid_path": str(shared / "tinystories" / "valid.txt"),
                                                       "tokenizer_dir": str(shared / "gpt2-tokenizer")})
    else:
        print(f"(no shared data at {shared}: tokenizer input not fuzzed)")
    for name, task in tasks.items():
        good = {"multiplication": "1234 x 5678", "multiplication paper": "1234 x 5678", "tm": "0 1 1 0",
                "parity": " ".join("0110" * 8)[: 2 * task.n - 1] if hasattr(task, "n") else "0 1",
                "circuit": "0 1 1 0 1 0", "text (tokenizer)": "Once upon a time, there was a dog."}[name]
        symbols = list(task.vocab.symbols)[:200]

        def make(r, good=good, symbols=symbols):
            k = r.random()
            if k < 0.5:
                return mutate_text(r, good)
            if k < 0.8:
                return " ".join(r.choice(symbols) for _ in range(r.randint(0, 12)))
            return rand_text(r)

        targets.append((f"prompt ({name})", make, task.parse_prompt))

    # .bench circuits
    bench = "# c17\nINPUT(1)\nINPUT(2)\nINPUT(3)\nINPUT(6)\nOUTPUT(22)\nOUTPUT(23)\n10 = NAND(1, 3)\n" \
            "11 = NAND(3, 6)\n16 = NAND(2, 11)\n22 = XOR(10, 16)\n23 = NOT(16)\n"

    def bench_call(text):
        c = parse_bench(text, "fuzz")
        c.evaluate([0] * len(c.inputs))

    targets.append((".bench circuit", lambda r: mutate_text(r, bench) if r.random() < 0.85 else rand_text(r), bench_call))

    # Turing-machine specs: JSON structure and files
    spec = json.loads((resources.files("arlearn") / "machines" / "binary-increment.json").read_text())

    def tm_call(d):
        tm = parse_machine(d, "fuzz")
        simulate(tm, (), 50, 20)

    targets.append(("TM spec (JSON structure)", lambda r: mutate_json(r, spec), tm_call))
    spec_text = json.dumps(spec, indent=1)

    def tm_file(text):
        f = tmp / "m.json"
        f.write_bytes(text.encode("utf-8", "surrogatepass"))
        load_machine(str(f))

    targets.append(("TM spec (file)", lambda r: mutate_text(r, spec_text), tm_file))

    # checkpoint directories
    from arlearn.training import Trainer

    cfg = resolve("quick", None, ["task.n=2", "task.m=2", "model.d=8", "train.train_examples=64",
                                  "train.batch_size=8", "eval.examples=4", 'train.device="cpu"'])
    trainer = Trainer(cfg, tmp / "run", progress=False)
    trainer.train_step()
    good = trainer.save_checkpoint()
    state = json.loads((good / checkpoint.STATE).read_text())
    originals = {n: (good / n).read_bytes() for n in (checkpoint.MODEL, checkpoint.OPTIM, checkpoint.STATE)}
    work = tmp / "ck" / "step-00000001"
    shutil.copytree(good, work)

    def make_ck(r):
        name = r.choice(sorted(originals))
        raw = originals[name]
        op = r.choice(["truncate", "flip", "delete", "state", "garbage"])
        if op == "truncate":
            return name, raw[: r.randint(0, len(raw))]
        if op == "flip":
            b = bytearray(raw)
            for _ in range(r.randint(1, 4)):
                b[r.randrange(len(b))] ^= r.randint(1, 255)
            return name, bytes(b)
        if op == "delete":
            return name, None
        if op == "state":
            return checkpoint.STATE, json.dumps(mutate_json(r, state)).encode()
        return name, bytes(r.getrandbits(8) for _ in range(r.randint(0, 200)))

    def ck_call(x):
        name, data = x
        for n, raw in originals.items():  # restore the intact copy, then damage one file
            (work / n).write_bytes(raw)
        if data is None:
            (work / name).unlink()
        else:
            (work / name).write_bytes(data)
        ck = checkpoint.read_checkpoint(work)
        checkpoint.restore(ck, trainer.model, trainer.opt)

    targets.append(("checkpoint directory", make_ck, ck_call))

    if args.oversized:
        targets += [(name, make, call, args.oversized) for name, make, call in oversized_targets(tmp)]
    setup_rss = peak_rss_mb()
    print(f"peak RSS after setup (imports, tasks, a trained checkpoint): {setup_rss} MB", flush=True)
    t0 = time.perf_counter()
    only = [s for s in args.only.split(",") if s]
    for name, make, call, *n in targets:
        if not only or any(s in name for s in only):
            fz.run(name, make, call, *n)
    shutil.rmtree(tmp, ignore_errors=True)
    total = sum(c["ok"] + c["error"] + c["crash"] + c["unclear"] for c in fz.counts.values())
    print("\n| parser | inputs tried | worked | one-line ArlearnError | ArlearnError, multi-line message | uncaught "
          "| slowest input (s) | peak RSS after (MB) |\n|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, c in fz.counts.items():
        tried = c["ok"] + c["error"] + c["crash"] + c["unclear"]
        print(f"| {name} | {tried:,} | {c['ok']:,} | {c['error']:,} | {c['unclear']:,} | {c['crash']:,} "
              f"| {c['slowest_s']} | {c['peak_rss_mb']:,} |")
    cap = f"address space capped at {args.cap_gb} GiB" if args.cap_gb else "no address-space cap"
    print(f"\n{total:,} inputs in {time.perf_counter() - t0:.0f} s (seed {args.seed}, {cap}, peak RSS "
          f"{peak_rss_mb():,} MB, {setup_rss:,} MB of it before the first input); "
          f"{'every input worked or gave a one-line ArlearnError' if not fz.failures else 'FAILURES (first few of each):'}")
    for f in fz.failures:
        print("  " + f)
    if args.json:
        Path(args.json).write_text(json.dumps({"n": args.n, "seed": args.seed, "failures": fz.failures,
                                               "counts": {k: dict(v) for k, v in fz.counts.items()}}, indent=1))
    return 1 if fz.failures else 0


if __name__ == "__main__":
    sys.exit(main())
