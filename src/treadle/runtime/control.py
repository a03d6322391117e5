"""Control flow of the engine through workflow code.

These derive from ``BaseException`` so that a workflow's ``except Exception`` cannot swallow
them; code that catches ``BaseException`` must re-raise ``EngineSignal``.
"""

from __future__ import annotations


class EngineSignal(BaseException):
    """The engine is unwinding the workflow; let it pass."""


class Suspend(EngineSignal):
    """The run waits for a timer, a signal or a child; it resumes by replay."""


class Fenced(EngineSignal):
    """This worker lost the run's lease (or the run was cancelled); stop without writing."""


class DeadlinePassed(EngineSignal):
    """The run passed its deadline."""


# What ``Execution.step_attempts`` asks of the code that drives it.
INVOKE = "invoke"  # run the step function once; send back (True, value) or (False, error)
WRITE = "write"  # commit (operation, topics to notify); send back the operation's return value
APPEND = "append"  # append this history row under the lease; send back whether it went in
SLEEP = "sleep"  # wait this many seconds; send back None
