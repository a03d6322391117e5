"""The public surface: exactly these names, each shown under ``treadle``."""

from __future__ import annotations

import inspect

import treadle as tr

EXPECTED = [
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


def test_all_is_pinned() -> None:
    assert tr.__all__ == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in EXPECTED:
        assert hasattr(tr, name), name


def test_classes_and_functions_show_the_public_module() -> None:
    for name in EXPECTED:
        obj = getattr(tr, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == "treadle", f"{name} shows {obj.__module__}"


def test_errors_share_one_root() -> None:
    for name in EXPECTED:
        obj = getattr(tr, name)
        if inspect.isclass(obj) and name.endswith("Error"):
            assert issubclass(obj, tr.TreadleError), name
            assert isinstance(obj.code, str) and obj.code, name
            assert (obj.__doc__ or "").strip(), f"{name} has no default message"


def test_engine_signals_are_not_exceptions() -> None:
    assert issubclass(tr.EngineSignal, BaseException)
    assert not issubclass(tr.EngineSignal, Exception)


def test_version() -> None:
    assert isinstance(tr.__version__, str) and tr.__version__
