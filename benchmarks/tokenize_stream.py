"""How fast, and in how much memory, does the text task tokenize a large corpus?

Builds a synthetic corpus of about `--mb` MB by repeating the shared TinyStories sample
(`../shared/data/tinystories/train.txt`, `<|endoftext|>`-separated) into a scratch directory,
then runs what `arlearn train` runs on a cache miss with the GPT-2 tokenizer: the streamed
SHA-256 of the stories (the cache key, `TextTask.corpus_key`) and the piece-by-piece tokenization
into the uint16 token file (`TextTask.tokens`). Reports seconds, MB/s and tokens/s of each phase,
the peak RSS of the process (`resource.getrusage`, which covers the whole run) against the RSS
before tokenizing, and projects both phases to the full TinyStories training text (~1.9 GB,
~470M GPT-2 tokens). The scratch directory is deleted afterwards (`--keep` keeps it).
Run against an older source tree (`PYTHONPATH=<tree>/src`), whose task has no separate
`corpus_key`, it times `tokens()` alone (hashing included) and reports no hash phase.

    python benchmarks/tokenize_stream.py [--mb 500] [--scratch DIR] [-o FILE]
"""
import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from arlearn.fileio import write_json
from arlearn.tasks import make_task

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FULL_BYTES = 1.9e9  #: TinyStories-train.txt (GPT-4 stories, ~2.1M stories)
FULL_TOKENS = 470e6  #: its GPT-2 tokens


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_s() -> float:
    """CPU seconds (user + system) of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KB on Linux


def build_corpus(path: Path, mb: float, source: Path) -> int:
    block = source.read_bytes()
    if not block.rstrip().endswith(b"<|endoftext|>"):
        block = block.rstrip(b"\n") + b"\n<|endoftext|>\n"
    copies = max(1, round(mb * 1e6 / len(block)))
    with open(path, "wb") as f:
        for _ in range(copies):
            f.write(block)
    return copies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=500, help="size of the synthetic corpus in MB (default 500)")
    ap.add_argument("--scratch", default=None,
                    help="scratch directory (default: a new one in the system's temp dir; deleted afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("-o", "--output", help="also write the results as JSON")
    args = ap.parse_args()

    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="arlearn-tokbench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    corpus = scratch / "train.txt"
    try:
        copies = build_corpus(corpus, args.mb, SHARED / "tinystories" / "train.txt")
        size = corpus.stat().st_size
        task = make_task("text", {"train_path": str(corpus), "valid_path": str(corpus), "tokenizer": "gpt2",
                                  "tokenizer_dir": str(SHARED / "gpt2-tokenizer"), "cache_dir": str(scratch / "cache")})
        task.tok  # load the tokenizer before measuring
        rss0, peak0 = rss_mb(), peak_rss_mb()
        t0 = time.perf_counter()
        if hasattr(task, "corpus_key"):  # older trees hash inside tokens()
            task.corpus_key("train")
        t_hash = time.perf_counter() - t0 if hasattr(task, "corpus_key") else None
        t0, c0 = time.perf_counter(), cpu_s()
        tokens = len(task.tokens("train", progress=True))
        t_tok, c_tok = time.perf_counter() - t0, cpu_s() - c0
        hash_min = FULL_BYTES / (size / t_hash) / 60 if t_hash else 0.0
        res = {
            "corpus_mb": round(size / 1e6, 1), "copies_of_train_txt": copies, "tokens": tokens,
            "threads": os.cpu_count(),
            "hash_s": t_hash and round(t_hash, 1), "hash_mb_per_s": t_hash and round(size / 1e6 / t_hash, 1),
            "tokenize_s": round(t_tok, 1), "tokenize_mb_per_s": round(size / 1e6 / t_tok, 2),
            "tokens_per_s": round(tokens / t_tok), "tokenize_cpu_s": round(c_tok, 1),
            "tokens_per_cpu_s": round(tokens / c_tok),
            "rss_before_mb": round(rss0, 1), "peak_rss_before_mb": round(peak0, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "projected_full_corpus_min": round(hash_min + FULL_TOKENS / (tokens / t_tok) / 60, 1),
            "arlearn": str(Path(__import__("arlearn").__file__).parent),
        }
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(res))
    if args.output:
        write_json(args.output, res)


if __name__ == "__main__":
    main()
