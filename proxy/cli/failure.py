"""Exit codes of the `vecgate` command and the one failure every command may raise."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a script can rely on: the process exit status of every command."""

    OK = 0
    REFUSED = 1  # a refusal, a failed check, or any error status vecgate returned
    USAGE = 2  # bad flags or arguments, or a configuration `serve` cannot start with
    UNREACHABLE = 3  # vecgate did not answer at the target


class Failure(Exception):
    """A command failed: `main` prints ``vecgate: <reason>`` on stderr and exits `code`."""

    def __init__(self, reason: str, code: ExitCode = ExitCode.REFUSED) -> None:
        super().__init__(reason)
        self.reason = " ".join(reason.split())
        self.code = code
