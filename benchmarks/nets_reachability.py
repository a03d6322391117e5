"""Reachability on the Model Checking Contest nets: one JSON line per net.

    .venv/bin/python benchmarks/nets_reachability.py               # every net, compiled search
    .venv/bin/python benchmarks/nets_reachability.py --pure        # the pure-Python reference
    .venv/bin/python benchmarks/nets_reachability.py --both        # a line for each search
    .venv/bin/python benchmarks/nets_reachability.py --net Kanban-PT-00005 [--pure]
    .venv/bin/python benchmarks/nets_reachability.py --analyse     # the whole analyse(net)

Each line has the markings and edges found, the seconds the search took (wall clock, and the
CPU time of the process: steadier on a busy machine), markings and edges per second, the
peak resident memory of the process (each net runs in a fresh process, so the figure is that
net's, imports included), the seconds spent importing Treadle and the search before it
started, and whether the counts match ``oracle.json``.
``--analyse`` times ``treadle.accel.analyse(net)`` (``--pure``: ``core.nets.analyse``)
instead of the search alone: coverability, the search and soundness together.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

MCC = Path(__file__).resolve().parents[2] / "shared" / "mcc"


def measure(name: str, *, pure: bool, whole: bool) -> dict[str, object]:
    started = time.perf_counter()
    # Imported here, inside the timed start-up: a fresh process pays for them once.
    from treadle import accel
    from treadle.core.nets import analysis, explore, model

    if not pure and not accel.available():
        sys.exit(f"the compiled search is not installed: {accel.search.why_unavailable()}")
    search = explore.explore if pure else accel.search.explore
    loaded = time.perf_counter()
    net = model.Net.from_pnml((MCC / f"{name}.pnml").read_bytes())
    expected = json.loads((MCC / "oracle.json").read_text()).get(name, {})
    begun, cpu = time.perf_counter(), time.process_time()
    if whole:
        report = analysis.analyse(net, max_states=100_000_000, explorer=search)
        markings, edges = report.states, report.edges
        width: object = None
        words: object = None
    else:
        space = search(net, max_states=100_000_000)
        markings, edges = space.states, space.edges
        width, words = space.layout.width, space.layout.words
    seconds = time.perf_counter() - begun
    cpu = time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "net": name,
        "search": "pure" if pure else "compiled",
        "measured": "analyse" if whole else "search",
        "markings": markings,
        "edges": edges,
        "seconds": round(seconds, 4),
        "cpu_seconds": round(cpu, 4),
        "markings_per_s": round(markings / seconds),
        "edges_per_s": round(edges / seconds),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "import_seconds": round(loaded - started, 4),
        "bits_per_place": width,
        "words_per_marking": words,
        "matches_oracle": (markings, edges)
        == (expected.get("states"), expected.get("transitions")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--net", help="run only this net (a file name in shared/mcc, no suffix)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pure", action="store_true", help="the pure-Python search")
    which.add_argument("--both", action="store_true", help="each net with both searches")
    parser.add_argument("--analyse", action="store_true", help="time analyse(net) as a whole")
    args = parser.parse_args()
    if args.net and not args.both:
        print(json.dumps(measure(args.net, pure=args.pure, whole=args.analyse)), flush=True)
        return
    oracle = json.loads((MCC / "oracle.json").read_text())
    names = [args.net] if args.net else sorted(oracle, key=lambda n: oracle[n]["states"])
    searches = [[], ["--pure"]] if args.both else [["--pure"] if args.pure else []]
    extra = ["--analyse"] if args.analyse else []
    for name in names:
        for chosen in searches:
            # One process per net and search, so that peak memory belongs to that run alone.
            command = [sys.executable, __file__, "--net", name, *chosen, *extra]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
