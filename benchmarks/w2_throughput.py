"""W2: 500 runs of 5 no-op steps submitted at once; runs per second and submit-to-finish.

python benchmarks/w2_throughput.py [--database URL] [--runs 500] [--workers 1] [--submit many|one]

``--submit many`` (the default) starts the 500 runs with one ``engine.start_many`` call;
``--submit one`` with one ``engine.start`` call after another, as fast as one client thread
can, so that each start's round trip and commit are part of the figure.
"""

from __future__ import annotations

import time

import bench_app
import harness


def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--submit", choices=("many", "one"), default="many")
    args = p.parse_args()
    with harness.database(args.database) as url, harness.engine(url) as engine:
        with harness.workers(url, args.workers, args.concurrency):
            rates, p50s, p99s = [], [], []
            for _ in range(args.repeat):
                if args.submit == "many":
                    ids = engine.start_many(bench_app.sequential, [(args.steps,)] * args.runs)
                else:
                    ids = [engine.start(bench_app.sequential, args.steps) for _ in range(args.runs)]
                for run_id in ids:
                    engine.result(run_id, timeout=600)
                infos = [engine.get(run_id) for run_id in ids]
                first = min(info.created_at for info in infos)
                last = max(info.finished_at or 0.0 for info in infos)
                latencies = [((info.finished_at or 0.0) - info.created_at) * 1000 for info in infos]
                rates.append(args.runs / (last - first))
                p50s.append(harness.percentile(latencies, 50))
                p99s.append(harness.percentile(latencies, 99))
                time.sleep(0.2)
        harness.report(
            "W2",
            url,
            runs=args.runs,
            steps=args.steps,
            submit=args.submit,
            workers=args.workers,
            runs_per_second=round(harness.median(rates), 1),
            p50_ms=round(harness.median(p50s), 2),
            p99_ms=round(harness.median(p99s), 2),
        )


if __name__ == "__main__":
    main()
