"""Flows: graphs of tasks that compile to Petri nets.

builder    Flow, Task, Choice, Branch: tasks with dependencies, choices, joins, loops, maps
compiler   the compiled net (dead-path elimination), each transition's behaviour, printing
"""

from __future__ import annotations

from treadle.core.flows.builder import Branch, Choice, Flow, Task, TaskSpec
from treadle.core.flows.compiler import CompiledFlow, compile_flow, describe

__all__ = [
    "Branch",
    "Choice",
    "CompiledFlow",
    "Flow",
    "Task",
    "TaskSpec",
    "compile_flow",
    "describe",
]
