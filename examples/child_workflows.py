"""Child workflows: a parent run starts children, gathers their results, and cancels them.

``nightly_report`` starts one ``regional_report`` child run per region with ``ctx.child`` and
waits for all of them with ``ctx.gather``; each child is a run of its own, with its own
history, that any worker may execute. A child's id follows from its parent's, so a replay of
the parent finds the same children instead of starting new ones.

Then ``audit`` starts a child that waits for a sign-off that never comes; cancelling the
parent with ``engine.cancel`` cancels the child with it.

Run it with ``python examples/child_workflows.py``.
"""

from __future__ import annotations

import os
import time

import treadle as tr

DATABASE = "child_workflows.db"
SALES = {"north": [120, 80, 95], "south": [200, 40], "east": [10, 20, 30, 40], "west": [75]}


@tr.step
def load_sales(region: str) -> list[int]:
    return SALES[region]


@tr.workflow
async def regional_report(ctx: tr.Context, region: str) -> dict[str, int | str]:
    sales = await ctx.step(load_sales, region)
    return {"region": region, "orders": len(sales), "total": sum(sales)}


@tr.workflow
async def nightly_report(ctx: tr.Context, regions: list[str]) -> dict[str, int]:
    reports = await ctx.gather(*(ctx.child(regional_report, region) for region in regions))
    return {str(report["region"]): int(report["total"]) for report in reports}


@tr.workflow
async def sign_off(ctx: tr.Context, auditor: str) -> str:
    await ctx.wait_for("signed")
    return f"signed by {auditor}"


@tr.workflow
async def audit(ctx: tr.Context) -> str:
    return str(await ctx.child(sign_off, "margaret"))


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        parent = engine.start(nightly_report, sorted(SALES))
        print("totals by region:", engine.result(parent, timeout=30))
        for child in engine.list(parent=parent).runs:
            print(f"  child {child.id}  {child.workflow}  {child.status}  {child.result}")

        parent = engine.start(audit)
        while not engine.list(parent=parent).runs:
            time.sleep(0.05)
        child = engine.list(parent=parent).runs[0]
        print(f"audit started child {child.id}, which is {engine.get(child.id).status}")
        engine.cancel(parent)
        print(
            f"after cancelling the parent: parent {engine.get(parent).status}, "
            f"child {engine.get(child.id).status}"
        )


if __name__ == "__main__":
    main()
