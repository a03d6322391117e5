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
