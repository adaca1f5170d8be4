"""Plain-text tables of run results (the CLI prints them to stderr)."""

from __future__ import annotations

#: (results key, column header) of the results table: both exact matches with their 95% Wilson
#: intervals and the n they count, and the chance level beside them
COLUMNS = [("model", "model"), ("cot", "cot"), ("parameters", "params"), ("cot_length", "CoT len"),
           ("exact_match", "answer exact match [95% CI]"), ("sequence_exact_match", "sequence exact match [95% CI]"),
           ("n", "n"), ("chance", "chance"), ("token_accuracy", "token acc"), ("train_seconds", "train s")]
#: rates shown with their interval (results key → the key of its interval)
INTERVALS = {"exact_match": "exact_match_interval", "sequence_exact_match": "sequence_exact_match_interval"}


def _cell(key: str, v, row: dict | None = None) -> str:
    if v is None:
        return ""
    if key in INTERVALS and isinstance((row or {}).get(INTERVALS[key]), list):
        lo, hi = row[INTERVALS[key]]
        return f"{v:.4f} [{lo:.4f}, {hi:.4f}]"
    if key == "chance":
        return f"{v:.4g}"
    if key == "parameters":
        return f"{v / 1e6:.2f}M"
    if isinstance(v, float):
        return f"{v:.4f}" if key != "train_seconds" else f"{v:.1f}"
    return str(v)


def results_table(rows: list[dict]) -> str:
    """A Markdown table of results rows (one per run)."""
    table = [[h for _, h in COLUMNS]] + [[_cell(k, r.get(k, ""), r) for k, _ in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine_line(machine: dict | None) -> str:
    """One line naming the hardware and matmul kernels a run used (results.json "machine")."""
    if not machine:
        return ""
    if "cpu" not in machine:
        return f"ran on {machine.get('device_name', '?')}, matmul dtype {machine.get('matmul_dtype', '?')}"
    isa = " ".join(machine.get("isa", [])) or "no AVX-512/AMX"
    forced = f", ONEDNN_MAX_CPU_ISA={machine['onednn_max_cpu_isa']}" if machine.get("onednn_max_cpu_isa") else ""
    return (f"ran on {machine['cpu']} ({isa}{forced}), {machine.get('threads', '?')} threads, "
            f"matmul dtype {machine.get('matmul_dtype', '?')}")
