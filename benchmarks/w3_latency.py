"""W3: 200 single-step runs, one after another, each awaited; submit-to-result latency.

    python benchmarks/w3_latency.py [--database URL] [--runs 200]

The worker is another process: the latency includes waking it and waking this client.
"""

from __future__ import annotations

import time

import bench_app
import harness


def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args()
    with harness.database(args.database) as url, harness.engine(url) as engine:
        with harness.workers(url, args.workers, args.concurrency):
            for _ in range(10):  # warm up connections and caches
                engine.result(engine.start(bench_app.sequential, 1), timeout=60)
            latencies = []
            for _ in range(args.runs):
                began = time.perf_counter()
                engine.result(engine.start(bench_app.sequential, 1), timeout=60)
                latencies.append((time.perf_counter() - began) * 1000)
        harness.report(
            "W3",
            url,
            runs=args.runs,
            workers=args.workers,
            p50_ms=round(harness.percentile(latencies, 50), 3),
            p99_ms=round(harness.percentile(latencies, 99), 3),
            max_ms=round(max(latencies), 3),
        )


if __name__ == "__main__":
    main()
