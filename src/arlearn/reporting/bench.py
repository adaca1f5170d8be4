"""How `arlearn bench` results read: the report of `run_bench` as Markdown tables.

This module owns the text form of a bench report (`arlearn.experiments.bench.run_bench`):
one row per case with time, tokens/s, useful TFLOP/s and memory, then the ratios and the
epoch projections. The CLI prints it; the measuring stays in `arlearn.experiments`.
"""

from __future__ import annotations

from arlearn.experiments.bench_stats import case_name, median_cases


def format_report(report: dict) -> str:
    """The bench report as Markdown tables: every case (medians), the ratios, the projections."""
    lines = [f"arlearn bench on {report['environment']['cpu']} ({report['environment']['device']}, "
             f"{report['environment']['threads']} threads, load {report['environment']['load_average'][0]:.2f}; "
             f"median of {report['config'].get('rounds', 1)} round(s))"]
    lines.append("")
    lines.append("| case | impl | dtype | ms | tokens/s | TFLOP/s (useful) | peak mem MB | weights MB |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in report.get("medians") or median_cases(report["results"]):
        case = case_name(r) if r["what"] != "peak" else "peak " + "×".join(map(str, r["size"]))
        if "skipped" in r:
            lines.append(f"| {case} | {r['impl']} | {r['dtype']} | skipped: {r['skipped']} | | | | |")
            continue
        lines.append(
            f"| {case} | {r.get('impl', '-')} | {r['dtype']} | {1e3 * r['seconds']:.1f} | "
            f"{r['tokens_per_s']:.0f} | " if "tokens_per_s" in r else
            f"| {case} | {r.get('impl', '-')} | {r['dtype']} | {1e3 * r['seconds']:.1f} | - | ")
        lines[-1] += (f"{r['flops'] / 1e12:.3f} | {r.get('peak_memory_mb', '-')} | "
                      f"{r['weight_bytes'] / 2**20:.0f} |" if "weight_bytes" in r else
                      f"{r['flops'] / 1e12:.3f} | - | - |")
    lines.append("")
    lines.append("| ratio | value |")
    lines.append("|---|---|")
    for k, v in report["ratios"].items():
        lines.append(f"| {k} | {v:.3f} |")
    if report.get("projections"):
        lines += ["", "| projection | value |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in report["projections"].items()]
    return "\n".join(lines)
