"""What the analysis reports, and how it prints: like a compiler's errors, with a trace."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping


class Severity(enum.StrEnum):
    """How bad a finding is; ``treadle check`` fails on an error."""

    ERROR = "error"  # the definition is wrong: it can deadlock, never finish, grow forever
    WARNING = "warning"  # the analysis could not finish: the verdict is partial
    NOTE = "note"  # context for the findings above it


class Kind(enum.StrEnum):
    """Which property a finding is about."""

    DEADLOCK = "deadlock"  # a reachable marking enables nothing and is not final
    DEAD_TRANSITION = "dead_transition"  # a transition is enabled in no reachable marking
    UNBOUNDED = "unbounded"  # places grow without limit (Karp-Miller)
    STATE_BOUND = "state_bound"  # the search stopped at the state bound
    BOUNDEDNESS_UNKNOWN = "boundedness_unknown"  # coverability ran out of budget
    NOT_WORKFLOW_NET = "not_workflow_net"  # soundness asked of a net that is not a WF-net
    OPTION_TO_COMPLETE = "option_to_complete"  # a reachable marking cannot reach the final one
    PROPER_COMPLETION = "proper_completion"  # the sink is marked alongside other tokens
    MORE = "more"  # further findings of one kind were left out


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem, with the shortest firing sequence that shows it."""

    kind: Kind
    severity: Severity
    message: str
    """What is wrong, e.g. ``deadlock at [p1, p2]``."""
    witness: tuple[str, ...] | None = None
    """Transitions to fire from the initial marking to see it; None when no sequence applies."""
    loop: tuple[str, ...] = ()
    """For unbounded places: a sequence that can be fired again and again after ``witness``."""
    marking: Mapping[str, int] | None = None
    """The marking the finding is about, when there is one."""
    subject: str | None = None
    """The transition or place the finding is about, when there is one."""

    def format(self, source: str) -> str:
        text = f"{source}: {self.severity.value}: {self.message}"
        if self.witness is not None:
            text += ": reached by " + (", ".join(self.witness) or "the initial marking")
        if self.loop:
            text += "; then repeat " + ", ".join(self.loop)
        return text


def format_findings(findings: Iterable[Finding], source: str = "net") -> str:
    """One line per finding, ``net.pnml: error: deadlock at [p1]: reached by a, b``."""
    return "\n".join(finding.format(source) for finding in findings)
