"""Scaling: how the RFM summary and the event funnel grow from 1 to 50 million lines, per engine.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_scaling.py                       # 1M, 10M, 50M (long)
    .venv/bin/python benchmarks/bench_scaling.py --plot-only           # replot saved results
    .venv/bin/python benchmarks/bench_scaling.py --sizes 100000 1000000

For each size it runs ``bench_rfm.py --rows N`` and ``bench_funnel.py --rows N`` (every contender
in its own child process, as those scripts do; their tables and goal lines are shown as they
run), then reads the JSON they save under ``benchmarks/results/`` and draws time and peak memory
against size on log-log axes, one line per contender, into ``benchmarks/scaling.png``. The legend
gives each contender's growth exponent: the slope of log(time) against log(lines) between the
smallest and the largest size (1 is linear; below 1 means fixed costs still matter at the small
end). A Markdown table of the figures is printed for the README. Put ``lifetimes`` on
``PYTHONPATH`` (see ``bench_rfm.py``) to include it.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

from _harness import RESULTS, ROOT, fmt

SIZES = (1_000_000, 10_000_000, 50_000_000)
BENCHMARKS = {
    "rfm": ("bench_rfm.py", "RFM summary (order lines)"),
    "funnel": ("bench_funnel.py", "3-step event funnel (events)"),
}
FIGURE = ROOT / "benchmarks" / "scaling.png"
#: One colour per contender, the same in every panel.
COLORS = {
    "pandas": "tab:orange",
    "polars": "tab:blue",
    "duckdb": "tab:olive",
    "sql": "tab:purple",
    "spark": "tab:green",
    "pandas_lifetimes": "tab:red",
    "lifetimes": "tab:gray",
}


def _run(name: str, rows: int, extra: list[str]) -> None:
    script = ROOT / "benchmarks" / BENCHMARKS[name][0]
    print(f"\n=== {script.name} --rows {rows:,d} ===", flush=True)
    subprocess.run([sys.executable, str(script), "--rows", str(rows), *extra], check=True)


def _load(name: str, sizes: list[int]) -> dict[str, dict[int, dict]]:
    """``{contender: {rows: record}}`` from the saved JSON of each size that has one."""
    by_contender: dict[str, dict[int, dict]] = {}
    for rows in sizes:
        path = RESULTS / f"{name}_{rows}.json"
        if not path.exists():
            continue
        for which, record in json.loads(path.read_text())["results"].items():
            if "seconds" in record:
                by_contender.setdefault(which, {})[rows] = record
    return by_contender


def _exponent(points: dict[int, dict], key: str) -> float | None:
    """Slope of log(value) against log(rows) between the smallest and largest size."""
    if len(points) < 2:
        return None
    low, high = min(points), max(points)
    a, b = points[low][key], points[high][key]
    if not (a and b):
        return None
    return math.log(b / a) / math.log(high / low)


def _plot(data: dict[str, dict[str, dict[int, dict]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(data), figsize=(6.5 * len(data), 8.5), squeeze=False)
    for col, (name, by_contender) in enumerate(data.items()):
        for which, points in sorted(by_contender.items()):
            rows = sorted(points)
            for row, key in ((0, "seconds"), (1, "peak_mb")):
                slope = _exponent(points, key)
                label = which if slope is None else f"{which} (exponent {slope:.2f})"
                values = [points[r][key] for r in rows]
                color = COLORS.get(which)
                axes[row][col].plot(rows, values, marker="o", color=color, label=label)
        for row, ylabel in ((0, "seconds (best run)"), (1, "peak memory, MB (VmHWM)")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("lines")
            ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1e6:g}M")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        axes[0][col].set_title(BENCHMARKS[name][1])
        axes[1][col].axhline(4096, color="grey", linestyle="--", linewidth=1)
        axes[1][col].annotate("4 GB", (0.45, 4096 * 1.05), xycoords=("axes fraction", "data"))
    fig.suptitle("analysis_kit engines on 2 cores: time and memory against size")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)
    print(f"\nsaved {FIGURE.relative_to(ROOT)}")


def _table(data: dict[str, dict[str, dict[int, dict]]], sizes: list[int]) -> str:
    lines = []
    for name, by_contender in data.items():
        present = [s for s in sizes if any(s in p for p in by_contender.values())]
        head = " | ".join(f"{s / 1e6:g}M s / MB" for s in present)
        lines += [f"\n{BENCHMARKS[name][1]}\n", f"| contender | {head} | exponent |"]
        lines.append("|---|" + "---|" * (len(present) + 1))
        for which, points in sorted(by_contender.items()):
            cells = [
                f"{fmt(points[s]['seconds'], '.1f')} / {fmt(points[s]['peak_mb'], ',.0f')}"
                if s in points
                else "-"
                for s in present
            ]
            lines.append(
                f"| {which} | {' | '.join(cells)} | {fmt(_exponent(points, 'seconds'), '.2f')} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--plot-only", action="store_true", help="replot the saved results")
    args, extra = parser.parse_known_args()
    if not args.plot_only:
        for rows in args.sizes:
            for name in args.only:
                _run(name, rows, extra)
    data = {name: _load(name, args.sizes) for name in args.only}
    data = {name: d for name, d in data.items() if d}
    if not data:
        raise SystemExit(f"no saved results for sizes {args.sizes} in {RESULTS}")
    _plot(data)
    print(_table(data, args.sizes))


if __name__ == "__main__":
    main()
