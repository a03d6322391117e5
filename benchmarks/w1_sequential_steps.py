"""W1: one run of 1000 sequential no-op steps; microseconds per step.

    python benchmarks/w1_sequential_steps.py [--database URL] [--steps 1000] [--sync]

Measured inside the worker, from the run's start to its end as the database records them.
"""

from __future__ import annotations

import bench_app
import harness


def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--sync", action="store_true", help="a sync workflow with sync steps")
    args = p.parse_args()
    workflow = bench_app.sequential_sync if args.sync else bench_app.sequential
    with harness.database(args.database) as url, harness.engine(url) as engine:
        with harness.workers(url, args.workers, args.concurrency):
            per_step = []
            for _ in range(args.repeat):
                run_id = engine.start(workflow, args.steps)
                engine.result(run_id, timeout=600)
                info = engine.get(run_id)
                assert info.started_at is not None and info.finished_at is not None
                per_step.append((info.finished_at - info.started_at) / args.steps * 1e6)
        harness.report(
            "W1",
            url,
            workflow="sync" if args.sync else "async",
            steps=args.steps,
            workers=args.workers,
            us_per_step=round(harness.median(per_step), 1),
            us_per_step_all=[round(v, 1) for v in per_step],
        )


if __name__ == "__main__":
    main()
