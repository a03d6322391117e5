"""Treadle: durable workflows in plain Python.

import treadle as tr

@tr.step
def greet(name: str) -> str:
    return f"hello {name}"

@tr.workflow
async def hello(ctx: tr.Context, name: str) -> str:
    return await ctx.step(greet, name)

engine = tr.Engine("sqlite:///treadle.db")
with engine.worker():
    print(engine.result(engine.start(hello, "world")))
"""

from __future__ import annotations

from treadle.checking import CheckReport, check
from treadle.core.durations import days, hours, minutes, seconds
from treadle.core.flows.builder import Flow
from treadle.core.history import Event, EventKind
from treadle.core.nets.changes import Arc, NetChange
from treadle.core.nets.model import Net, Transition
from treadle.core.retry import Retry
from treadle.core.runs import RunInfo, RunPage
from treadle.core.status import RunStatus
from treadle.errors import (
    InvalidFlowError,
    NetChangeRefusedError,
    NetStuckError,
    NonDeterminismError,
    ResultTimeoutError,
    RunCancelledError,
    RunConflictError,
    RunError,
    RunFailedError,
    RunFinishedError,
    RunNotFoundError,
    RunNotRetryableError,
    RunTimedOutError,
    SerializationError,
    StepFailedError,
    StepOutsideWorkflowError,
    StepTimeoutError,
    StoreError,
    TreadleError,
    UnknownWorkflowError,
    UnsoundDefinitionError,
    UsageError,
    WaitTimeoutError,
    WorkflowError,
)
from treadle.runtime.context import Context, StepCall, StepHandle, SyncContext
from treadle.runtime.control import EngineSignal
from treadle.runtime.engine import EmbeddedWorker, Engine
from treadle.runtime.nets.registration import workflow
from treadle.runtime.registry import Registry, Step, Workflow, step
from treadle.runtime.schedules import Schedule
from treadle.runtime.step_info import StepInfo, current_step
from treadle.runtime.worker import Worker, WorkerOptions

__version__ = "0.1.0"

__all__ = [
    "Arc",
    "CheckReport",
    "Context",
    "EmbeddedWorker",
    "Engine",
    "EngineSignal",
    "Event",
    "EventKind",
    "Flow",
    "InvalidFlowError",
    "Net",
    "NetChange",
    "NetChangeRefusedError",
    "NetStuckError",
    "NonDeterminismError",
    "Registry",
    "ResultTimeoutError",
    "Retry",
    "RunCancelledError",
    "RunConflictError",
    "RunError",
    "RunFailedError",
    "RunFinishedError",
    "RunInfo",
    "RunNotFoundError",
    "RunNotRetryableError",
    "RunPage",
    "RunStatus",
    "RunTimedOutError",
    "Schedule",
    "SerializationError",
    "Step",
    "StepCall",
    "StepFailedError",
    "StepHandle",
    "StepInfo",
    "StepOutsideWorkflowError",
    "StepTimeoutError",
    "StoreError",
    "SyncContext",
    "Transition",
    "TreadleError",
    "UnknownWorkflowError",
    "UnsoundDefinitionError",
    "UsageError",
    "WaitTimeoutError",
    "Worker",
    "WorkerOptions",
    "Workflow",
    "WorkflowError",
    "check",
    "current_step",
    "days",
    "hours",
    "minutes",
    "seconds",
    "step",
    "workflow",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = "treadle"
        except (AttributeError, TypeError):
            pass
del _name, _obj
