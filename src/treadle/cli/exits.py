"""Exit codes of the ``treadle`` command: a contract that scripts rely on."""

from __future__ import annotations

import enum

from treadle import errors


class ExitCode(enum.IntEnum):
    OK = 0  # the command did what was asked
    RUN_DID_NOT_SUCCEED = 1  # the run waited for failed, was cancelled or timed out
    CHECK_FOUND_ERRORS = 1  # treadle check: a finding is an error (the same "it did not pass")
    USAGE = 2  # bad input: arguments, module, workflow, run id, or a run in the wrong state
    WAIT_TIMED_OUT = 3  # --timeout passed before the run finished; the run goes on
    STORE = 4  # the database cannot be opened, is not Treadle's, or has another schema


HELP = """Exit codes:

- 0: success
- 1: the run you waited for did not succeed (failed, cancelled or timed out), or
  `treadle check` found an error
- 2: bad input or usage: unknown module or workflow, arguments that are not JSON, no such
  run, a run that has finished, no database file
- 3: timed out waiting (the run goes on)
- 4: database problem: cannot open it, not a Treadle database, or a schema of another
  Treadle version
"""


def code_for(exc: errors.TreadleError) -> ExitCode:
    """The exit code for an error that ends a command."""
    if isinstance(exc, errors.StoreError):
        return ExitCode.STORE
    if isinstance(exc, errors.ResultTimeoutError):
        return ExitCode.WAIT_TIMED_OUT
    if isinstance(exc, errors.RunFailedError | errors.RunCancelledError | errors.RunTimedOutError):
        return ExitCode.RUN_DID_NOT_SUCCEED
    if isinstance(exc, errors.UsageError | errors.RunError):
        return ExitCode.USAGE
    # Not expected at the command line (a WorkflowError is raised inside workflow code):
    # report it as a plain failure rather than blame the caller's input.
    return ExitCode.RUN_DID_NOT_SUCCEED
