"""A workflow written as a plain ``def``: no ``async``, no ``await``.

A plain function with a ``tr.SyncContext`` first parameter is a workflow too. It runs in a
worker thread: ``ctx.step`` runs a step and returns its result; ``ctx.submit`` starts a step
without waiting and ``ctx.gather`` waits for the submitted steps, which run at the same time.
Steps are plain functions as well, and recorded exactly like those of async workflows.

Run it with ``python examples/sync_workflow.py``.
"""

from __future__ import annotations

import os
import time

import treadle as tr

DATABASE = "sync_workflow.db"
PAGES = ["home", "pricing", "docs", "blog", "careers"]


@tr.step
def fetch_sitemap(site: str) -> list[str]:
    return [f"https://{site}/{page}" for page in PAGES]


@tr.step
def check_page(url: str) -> dict[str, object]:
    time.sleep(0.2)  # a slow HTTP request
    return {"url": url, "ok": not url.endswith("careers")}


@tr.step
def file_ticket(broken: list[str]) -> str:
    return f"TICKET-{len(broken)}" if broken else "no ticket needed"


@tr.workflow
def link_check(ctx: tr.SyncContext, site: str) -> dict[str, object]:
    urls = ctx.step(fetch_sitemap, site)
    handles = [ctx.submit(check_page, url) for url in urls]
    pages = ctx.gather(*handles)
    broken = [str(page["url"]) for page in pages if not page["ok"]]
    return {"checked": len(pages), "broken": broken, "ticket": ctx.step(file_ticket, broken)}


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        began = time.monotonic()
        run_id = engine.start(link_check, "example.com")
        result = engine.result(run_id, timeout=30)
        elapsed = time.monotonic() - began
        print(f"link check of example.com: {result}")
        print(f"{len(PAGES)} pages of 0.2 s each checked in {elapsed:.1f} s, at the same time")
        steps = [e.name for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_COMPLETED]
        print("recorded steps:", ", ".join(str(step) for step in steps))


if __name__ == "__main__":
    main()
