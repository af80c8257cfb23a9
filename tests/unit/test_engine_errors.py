"""Engine exceptions become the error a Qdrant server would answer, never a raw exception."""

from __future__ import annotations

from adapters.embedded import engine_error
from proxy.errors import Internal, InvalidArgument


def test_engine_value_errors_are_client_errors():
    """A value the engine refuses is INVALID_ARGUMENT with Qdrant's 'Wrong input' prefix."""
    error = engine_error(ValueError("bad vector"))
    assert isinstance(error, InvalidArgument)
    assert error.message == "Wrong input: bad vector"


def test_type_errors_are_our_bugs():
    """A TypeError means vecgate built an engine object wrongly: INTERNAL, not a client fault."""
    assert isinstance(engine_error(TypeError("argument 'id': not an int")), Internal)
    assert isinstance(engine_error(RuntimeError("disk full")), Internal)
