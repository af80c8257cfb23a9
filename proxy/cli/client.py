"""A connection to a running vecgate's Admin service; gRPC errors become `Failure`s."""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from proxy.admin.generated import admin_pb2_grpc
from proxy.cli.failure import ExitCode, Failure

Reply = TypeVar("Reply", bound=Message)

#: How long to look for a live connection after a deadline, to tell "slow" from "absent".
_PROBE_SECONDS = 0.5


class AdminClient:
    """Calls `vecgate.v1.Admin` at `target` with the admin key in the `api-key` metadata.

    with AdminClient("127.0.0.1:6334", "s3cret", timeout=10) as admin:
        reply = admin.call("Status", admin_pb2.StatusRequest(), admin_pb2.StatusReply)
    """

    def __init__(self, target: str, admin_key: str | None, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._metadata = (("api-key", admin_key),) if admin_key else ()
        self._channel = grpc.insecure_channel(target)
        self._stub = admin_pb2_grpc.AdminStub(self._channel)  # type: ignore[no-untyped-call]

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._channel.close()

    def call(self, rpc: str, request: Message, reply_type: type[Reply]) -> Reply:
        """Call one Admin RPC; raise `Failure` with the status name and details on error."""
        method = getattr(self._stub, rpc)
        try:
            reply = method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        if not isinstance(reply, reply_type):  # pragma: no cover - the stub decodes reply_type
            raise TypeError(f"{rpc} answered {type(reply).__name__}, not {reply_type.__name__}")
        return reply

    def stream(
        self, rpc: str, request: Message, *, timeout: float | None
    ) -> Generator[Message, None, None]:
        """Read a server stream (`timeout` None: until the server ends it); errors as `call`.

        Close the generator before the client (`contextlib.closing`): that cancels the call.
        """
        call = getattr(self._stub, rpc)(request, timeout=timeout, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as error:
            raise self._failure(error) from None
        finally:
            call.cancel()

    def _failure(self, error: grpc.RpcError) -> Failure:
        """The exit code and one-line reason for an RPC error."""
        code, details = _status(error)
        name = code.name
        if code is grpc.StatusCode.UNAVAILABLE or (
            code is grpc.StatusCode.DEADLINE_EXCEEDED and not self._connected()
        ):
            return Failure(
                f"{name}: cannot reach vecgate at {self.target}: {details}",
                ExitCode.UNREACHABLE,
            )
        return Failure(f"{name}: {details}")

    def _connected(self) -> bool:
        """Whether the channel holds a live connection (so a deadline means a slow answer)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=_PROBE_SECONDS)
        except grpc.FutureTimeoutError:
            return False
        return True


def _status(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """The status code and details an RPC error carries (a `grpc.Call` at run time)."""
    code_of, details_of = getattr(error, "code", None), getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    details = details_of() if callable(details_of) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    return code, details if isinstance(details, str) and details else str(error)
