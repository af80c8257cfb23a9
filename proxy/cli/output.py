"""Where command output goes: JSON or rich renderables on stdout, one-line reasons on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console, RenderableType


def message_dict(message: Message) -> dict[str, Any]:
    """A reply as scripts see it: every field, under its proto field name."""
    return MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def print_json(message: Message) -> None:
    """Write a reply as indented JSON on stdout."""
    sys.stdout.write(json.dumps(message_dict(message), indent=2) + "\n")
    sys.stdout.flush()


def stdout_console() -> Console:
    """A console for people: colour on a terminal, plain text in a pipe.

    Lines are not wrapped (a refusal stays one line for grep); tables fit the width.
    """
    return Console(highlight=False, soft_wrap=True)


def show(*renderables: RenderableType) -> None:
    """Print tables and lines for people on stdout."""
    console = stdout_console()
    for renderable in renderables:
        console.print(renderable)


def emit(message: Message, as_json: bool, for_people: Callable[[], RenderableType]) -> None:
    """A read command's reply: JSON for scripts, or what `for_people` renders."""
    if as_json:
        print_json(message)
    else:
        show(for_people())


def print_reason(reason: str) -> None:
    """The one line a failed command writes on stderr."""
    sys.stderr.write(f"vecgate: {reason}\n")
    sys.stderr.flush()
