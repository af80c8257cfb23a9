"""Identity parsing, the pin policy and physical names."""

from __future__ import annotations

import pytest

from proxy.errors import InvalidArgument, UnpinnedVersion
from proxy.identity import Identity, PinPolicy, binding_text
from proxy.naming import is_physical, physical_name


def test_parse_takes_the_last_at_sign_as_the_version_separator():
    """Model names may contain '@'-free paths and colons; the version follows the last '@'."""
    assert Identity.parse("sentence-transformers/all-MiniLM-L6-v2@2024.1") == Identity(
        "sentence-transformers/all-MiniLM-L6-v2", "2024.1"
    )
    assert str(Identity.parse(" nomic-embed-text:v1.5@3 ")) == "nomic-embed-text:v1.5@3"


@pytest.mark.parametrize("text", ["minilm", "@1", "min ilm@1", "minilm@1 2"])
def test_malformed_identities_are_invalid_argument(text):
    """A missing version separator, empty name or spaces are refused with INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgument):
        Identity.parse(text)


@pytest.mark.parametrize("version", ["latest", "LATEST", "stable", "main", "default", ""])
def test_mutable_and_empty_versions_are_refused(version):
    """`latest`, empty and mutable tags are refused whatever their case, naming the identity."""
    with pytest.raises(UnpinnedVersion) as excinfo:
        PinPolicy().parse(f"minilm@{version}", where="identity.default")
    assert excinfo.value.message.startswith("identity.default: ")
    assert "pin an explicit version" in excinfo.value.message


def test_pin_policy_list_is_configurable():
    """A custom mutable-tag list refuses what it names and nothing else."""
    policy = PinPolicy(["prod"])
    assert policy.parse("minilm@latest") == Identity("minilm", "latest")
    with pytest.raises(UnpinnedVersion):
        policy.parse("minilm@prod")


def test_physical_names_are_deterministic_distinct_and_safe():
    """Same input, same name; any difference in collection or binding, another name."""
    one = {"": Identity("minilm", "1")}
    name = physical_name("docs", one)
    assert name == physical_name("docs", {"": Identity("minilm", "1")})
    assert is_physical(name)
    others = {
        physical_name("docs", {"": Identity("minilm", "2")}),
        physical_name("docs2", one),
        physical_name("docs", {"text": Identity("minilm", "1")}),
        physical_name("do/cs", one),
        physical_name("do-cs", one),
    }
    assert name not in others
    assert len(others) == 5
    assert all(
        set(n) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        for n in others
    )
    assert len(physical_name("x" * 255, {"": Identity("m" * 200, "v" * 100)})) < 255


def test_binding_text_reads_naturally():
    """A single unnamed vector reads as name@version; several as name=model@version pairs."""
    assert binding_text({"": Identity("minilm", "1")}) == "minilm@1"
    assert (
        binding_text({"text": Identity("a", "1"), "image": Identity("b", "2")})
        == "image=b@2, text=a@1"
    )
