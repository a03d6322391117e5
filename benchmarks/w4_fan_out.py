"""W4: one run that fans out 500 no-op steps and joins them; seconds.

python benchmarks/w4_fan_out.py [--database URL] [--width 500]
"""

from __future__ import annotations

import time

import bench_app
import harness


def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--width", type=int, default=500)
    args = p.parse_args()
    with harness.database(args.database) as url, harness.engine(url) as engine:
        with harness.workers(url, args.workers, args.concurrency):
            in_worker, end_to_end = [], []
            for _ in range(args.repeat):
                began = time.perf_counter()
                run_id = engine.start(bench_app.fan_out, args.width)
                engine.result(run_id, timeout=600)
                end_to_end.append(time.perf_counter() - began)
                info = engine.get(run_id)
                assert info.started_at is not None and info.finished_at is not None
                in_worker.append(info.finished_at - info.started_at)
        harness.report(
            "W4",
            url,
            width=args.width,
            workers=args.workers,
            seconds=round(harness.median(in_worker), 4),
            seconds_submit_to_result=round(harness.median(end_to_end), 4),
        )


if __name__ == "__main__":
    main()
