"""Clustering at scale: ``cluster_customers`` on 1,000,000 customers with automatic k.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_clustering.py                   # 1,000,000 customers
    .venv/bin/python benchmarks/bench_clustering.py --customers 100000

The customers are generated with numpy (seeded): five latent groups with log-normal monetary
value, Poisson purchase days and exponential recency, so the data are skewed like real RFM
features and the pipeline's log transform matters. The run happens in a child process so its
peak memory (Linux ``VmHWM``, input included) is its own. Goal from the issue: under 60 s on 2
cores with k chosen automatically (k_range 2..8, silhouette on a sample). The result is printed and
saved as JSON to ``benchmarks/results/clustering_{customers}.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from _harness import RESULTS, ROOT, peak_mb

GOAL_SECONDS = 60.0


def _features(n: int, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    group = rng.choice(5, size=n, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    days = np.array([90.0, 30.0, 400.0, 200.0, 15.0])[group]
    freq = np.array([1.5, 6.0, 1.0, 3.0, 20.0])[group]
    money = np.array([8.0, 9.5, 7.5, 9.0, 11.0])[group]
    frame = pd.DataFrame(
        {
            "recency": rng.exponential(days).round(),
            "frequency": 1 + rng.poisson(freq),
            "monetary": np.exp(rng.normal(money, 0.6)).round(2),
        },
        index=pd.Index([f"C{i:07d}" for i in range(n)], name="customer_id"),
    )
    frame["monetary_mean"] = (frame["monetary"] / frame["frequency"]).round(2)
    return frame


def _child(n: int, seed: int) -> dict:
    from analysis_kit.clustering import cluster_customers

    features = _features(n, seed)
    start = time.perf_counter()
    result = cluster_customers(features, k="auto", k_range=(2, 8), random_state=0)
    seconds = time.perf_counter() - start
    return {
        "customers": n,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_mb(), 1),
        "k": int(result.k),
        "silhouette": {
            int(k): round(float(v), 4) for k, v in result.silhouette["silhouette"].items()
        },
        "sizes": {str(k): int(v) for k, v in result.profiles["size"].items()},
        "names": [str(v) for v in result.profiles["name_en"]],
        "notes": list(result.notes),
        "cores": len(os.sched_getaffinity(0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.customers, args.seed)))
        return
    command = [sys.executable, __file__, "--child", "--customers", str(args.customers)]
    command += ["--seed", str(args.seed)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    record = json.loads(done.stdout.strip().splitlines()[-1])
    verdict = "PASS" if record["seconds"] < GOAL_SECONDS else "MISS"
    print(
        f"{record['customers']:,d} customers, {record['cores']} cores: {record['seconds']:.1f} s, "
        f"peak {record['peak_mb']:,.0f} MB, k = {record['k']} "
        f"(silhouette {record['silhouette']})"
    )
    print(f"cluster sizes {record['sizes']}; names {record['names']}")
    for note in record["notes"]:
        print(f"note: {note}")
    print(f"goal {verdict}  under {GOAL_SECONDS:.0f} s with automatic k")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"clustering_{args.customers}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
