"""Every error Treadle raises, under one root.

    TreadleError
    ├── UsageError                     bad input from the caller; nothing was stored
    │   ├── SerializationError         a value is not JSON
    │   ├── RegistrationError          a workflow or step definition is wrong
    │   │   ├── InvalidNetError        a Petri net is malformed (unknown place, bad weight, ...)
    │   │   │   └── PnmlError          a PNML document cannot be read as a place/transition net
    │   │   ├── InvalidFlowError       a flow is built wrongly (unknown task, join without inputs)
    │   │   └── UnsoundDefinitionError the analysis found errors in a flow or net
    │   ├── UnknownWorkflowError       no workflow has that name
    │   └── StepOutsideWorkflowError   a step function was called directly
    ├── RunError                       about one run (carries ``run_id``)
    │   ├── RunNotFoundError
    │   ├── RunConflictError           the id exists for another workflow
    │   ├── RunFinishedError           the run can no longer take that request
    │   ├── RunNotRetryableError       only failed or timed-out runs can be retried
    │   ├── RunFailedError             ``result()`` of a run that failed
    │   ├── RunCancelledError          ``result()`` of a run that was cancelled
    │   ├── RunTimedOutError           ``result()`` of a run that passed its deadline
    │   ├── ResultTimeoutError         ``result(timeout=...)`` gave up waiting
    │   └── NetChangeRefusedError      a change to a running net failed the analysis
    ├── WorkflowError                  raised inside workflow code
    │   ├── NonDeterminismError        replay met another step than the history holds
    │   ├── StepFailedError            a recorded step failure whose type cannot be rebuilt
    │   ├── StepTimeoutError           one attempt of a step ran past its timeout
    │   ├── WaitTimeoutError           ``wait_for`` reached its timeout
    │   └── NetStuckError              a net run reached a marking that enables nothing
    └── StoreError                     the database could not do what was asked
        ├── DatabaseUnavailableError   cannot open or reach the database
        ├── TransactionConflictError   rolled back for a deadlock or serialization failure
        └── SchemaError
            ├── NotATreadleDatabaseError
            ├── SchemaTooNewError      written by a newer Treadle
            └── SchemaOutdatedError    needs ``treadle migrate``

Each class's docstring is its default message; ``code`` is stable and documented in
``docs/errors.md``.
"""

from __future__ import annotations

from typing import Any


class TreadleError(Exception):
    """Treadle could not do what was asked."""

    code = "treadle_error"

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        for key, value in fields.items():
            setattr(self, key, value)
        super().__init__(self.message)


class UsageError(TreadleError, ValueError):
    """The call was given something it cannot use; nothing was stored.

    It is also a ``ValueError``, so code that guards argument checks that way keeps working.
    """

    code = "usage"


class SerializationError(UsageError):
    """A value cannot be stored: Treadle stores inputs, results and payloads as JSON."""

    code = "serialization"


class RegistrationError(UsageError):
    """A workflow or step definition is not valid."""

    code = "registration"


class InvalidNetError(RegistrationError):
    """The Petri net is not well formed: fix the place, transition or arc named here."""

    code = "invalid_net"


class PnmlError(InvalidNetError):
    """The PNML document cannot be read as a place/transition net (ISO/IEC 15909-2)."""

    code = "pnml"


class InvalidFlowError(RegistrationError):
    """The flow is not built correctly: fix the task, join or choice named here."""

    code = "invalid_flow"


class UnsoundDefinitionError(RegistrationError):
    """The flow or net can deadlock, never finish or grow without limit (findings below);
    fix it, or register it with ``allow_unsound=True`` to run it anyway."""

    code = "unsound_definition"
    findings: tuple[Any, ...]


class UnknownWorkflowError(UsageError):
    """No workflow is registered under that name: import the module that defines it."""

    code = "unknown_workflow"


class StepOutsideWorkflowError(UsageError):
    """A step was called directly; call it through ``ctx.step(fn, ...)`` inside a workflow."""

    code = "step_outside_workflow"


class RunError(TreadleError):
    """Something about one run went wrong."""

    code = "run"
    run_id: str

    def __init__(self, message: str | None = None, *, run_id: str, **fields: Any) -> None:
        super().__init__(message, run_id=run_id, **fields)


class RunNotFoundError(RunError):
    """No run has that id in this database."""

    code = "run_not_found"


class RunConflictError(RunError):
    """A run with that id already exists for another workflow."""

    code = "run_conflict"


class RunFinishedError(RunError):
    """The run has finished and can no longer take this request."""

    code = "run_finished"


class RunNotRetryableError(RunError):
    """Only a failed or timed-out run can be retried."""

    code = "run_not_retryable"


class RunFailedError(RunError):
    """The run failed."""

    code = "run_failed"
    error_type: str
    remote_traceback: str


class RunCancelledError(RunError):
    """The run was cancelled."""

    code = "run_cancelled"


class RunTimedOutError(RunError):
    """The run passed its deadline."""

    code = "run_timed_out"


class ResultTimeoutError(RunError):
    """The run did not finish within the time given to ``result``; it goes on running."""

    code = "result_timeout"


class NetChangeRefusedError(RunError):
    """The change to the running net was refused: from the run's current marking the changed
    net fails the analysis (findings below). Nothing was changed."""

    code = "net_change_refused"
    findings: tuple[Any, ...]


class WorkflowError(TreadleError):
    """Workflow code met a condition it has to handle."""

    code = "workflow"


class NonDeterminismError(WorkflowError):
    """Replaying the workflow met a different call than the one its history recorded."""

    code = "non_determinism"


class StepFailedError(WorkflowError):
    """A step failed and its error type could not be rebuilt in this process."""

    code = "step_failed"
    error_type: str
    step: str


class StepTimeoutError(WorkflowError):
    """An attempt of a step ran past its timeout."""

    code = "step_timeout"


class WaitTimeoutError(WorkflowError):
    """No signal arrived before the wait's timeout."""

    code = "wait_timeout"


class NetStuckError(WorkflowError):
    """The net run reached a marking that enables no transition and is not its final marking."""

    code = "net_stuck"


class StoreError(TreadleError):
    """The database could not do what was asked."""

    code = "store"


class DatabaseUnavailableError(StoreError):
    """The database cannot be opened or reached."""

    code = "database_unavailable"


class TransactionConflictError(StoreError):
    """Another transaction got in the way (a deadlock, a serialization failure) and the
    database rolled this one back; nothing was written: try again."""

    code = "transaction_conflict"


class SchemaError(StoreError):
    """The database schema is not one this Treadle can use."""

    code = "schema"


class NotATreadleDatabaseError(SchemaError):
    """The database holds tables of another application; point Treadle at its own database."""

    code = "not_a_treadle_database"


class SchemaTooNewError(SchemaError):
    """The database was written by a newer Treadle; upgrade Treadle to use it."""

    code = "schema_too_new"


class SchemaOutdatedError(SchemaError):
    """The database schema is older than this Treadle; run ``treadle migrate``."""

    code = "schema_outdated"
