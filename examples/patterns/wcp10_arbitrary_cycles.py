"""WCP-10 Arbitrary Cycles: loops with more than one way in or out, not nested blocks.

The graph here: A -> B -> C; C goes back to B while x < 2, else on to E; B leaves the loop
for D as soon as y holds. The loop has two exits (B -> D, C -> E). Python has no goto, so a
durable function writes such a graph as a loop over a state variable, one branch per node:
every node may go to any other, and the engine records each step as it would in any loop.

Run it with ``python examples/patterns/wcp10_arbitrary_cycles.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, D, E

import treadle as tr


@tr.step(name="B")
def b_checks_y(visit: int, y_from_visit: int | None) -> bool:
    return y_from_visit is not None and visit >= y_from_visit  # y: leave the loop for D


@tr.step(name="C")
def c_counts(x: int) -> int:
    return x + 1


@tr.workflow(name="wcp10.arbitrary_cycles")
async def arbitrary_cycles(ctx: tr.Context, y_from_visit: int | None) -> int:
    node, x, visits = "A", 0, 0
    while node != "end":
        if node == "A":
            await ctx.step(A)
            node = "B"
        elif node == "B":
            visits += 1
            node = "D" if await ctx.step(b_checks_y, visits, y_from_visit) else "C"
        elif node == "C":
            x = await ctx.step(c_counts, x)
            node = "B" if x < 2 else "E"
        else:  # D or E: the two ways out
            await ctx.step(D if node == "D" else E)
            node = "end"
    return visits


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "y never holds (out through C -> E)": engine.start(arbitrary_cycles, None),
        "y holds on the 2nd visit of B (out through B -> D)": engine.start(arbitrary_cycles, 2),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
