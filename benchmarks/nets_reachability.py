"""Reachability on the Model Checking Contest nets: one JSON line per net.

    .venv/bin/python benchmarks/nets_reachability.py            # every net in shared/mcc
    .venv/bin/python benchmarks/nets_reachability.py --net Kanban-PT-00005

Each line has the markings and edges found, the seconds the search took, markings and
edges per second, the peak resident memory of the process (each net runs in a fresh
process, so the figure is that net's) and whether the counts match ``oracle.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from treadle.core.nets import explore, model

MCC = Path(__file__).resolve().parents[2] / "shared" / "mcc"


def measure(name: str) -> dict[str, object]:
    net = model.Net.from_pnml((MCC / f"{name}.pnml").read_bytes())
    expected = json.loads((MCC / "oracle.json").read_text()).get(name, {})
    started = time.perf_counter()
    space = explore.explore(net, max_states=100_000_000)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "net": name,
        "markings": space.states,
        "edges": space.edges,
        "seconds": round(seconds, 4),
        "markings_per_s": round(space.states / seconds),
        "edges_per_s": round(space.edges / seconds),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "bits_per_place": space.layout.width,
        "words_per_marking": space.layout.words,
        "matches_oracle": (space.states, space.edges)
        == (expected.get("states"), expected.get("transitions")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", help="run only this net (a file name in shared/mcc, no suffix)")
    args = parser.parse_args()
    if args.net:
        print(json.dumps(measure(args.net)), flush=True)
        return
    oracle = json.loads((MCC / "oracle.json").read_text())
    for name in sorted(oracle, key=lambda n: oracle[n]["states"]):
        # One process per net, so that peak memory belongs to that net alone.
        subprocess.run([sys.executable, __file__, "--net", name], check=True)


if __name__ == "__main__":
    main()
