"""Configuration loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import ConfigError, hash_key, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_qdrant_ports_and_local_data():
    """Unconfigured, vecgate listens on Qdrant's ports on loopback, data in ./vecgate-data."""
    config = load_config()
    assert (config.server.host, config.server.grpc_port, config.server.http_port) == (
        "127.0.0.1",
        6334,
        6333,
    )
    assert config.server.data_dir == Path("vecgate-data")
    assert (config.tags.model_key, config.tags.version_key) == (
        "embedding_model",
        "embedding_version",
    )


def test_example_file_is_valid_and_equals_the_defaults():
    """vecgate.example.toml loads, and every value it shows is the default."""
    assert load_config(ROOT / "vecgate.example.toml") == load_config()


def test_flags_beat_the_file(tmp_path):
    """An override (a command-line flag) wins over the file; unset flags leave the file's value."""
    path = tmp_path / "c.toml"
    path.write_text("[server]\ngrpc_port = 7000\nhttp_port = 7001\n")
    config = load_config(path, {"server": {"grpc_port": 8000, "http_port": None}})
    assert (config.server.grpc_port, config.server.http_port) == (8000, 7001)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[server]\nport = 1\n", "server.port: unknown setting"),
        ("[server]\ngrpc_port = 70000\n", "server.grpc_port"),
        ('[tags]\nmodel_key = "a"\nversion_key = "a"\n', "must differ"),
        ('[[keys]]\nname = "a"\nsha256 = "abc"\n', "keys.0.sha256"),
        (
            '[identity]\ndefault = "minilm"\n',
            "identity.default: embedding model 'minilm' has no version",
        ),
        ("not toml = = 1", "not valid TOML"),
    ],
)
def test_bad_configuration_is_refused_with_the_entry_named(tmp_path, text, needle):
    """Each kind of bad configuration raises ConfigError naming what to fix."""
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert needle in str(excinfo.value)


def test_missing_file_is_refused():
    """A --config path that does not exist stops start-up."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path("/nonexistent/vecgate.toml"))


def test_keys_are_stored_hashed():
    """hash_key is the SHA-256 hex digest the configuration stores."""
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_unset_flags_leave_defaults():
    """Flags the user did not give (None) neither override the file nor break validation."""
    config = load_config(None, {"server": {"host": None, "grpc_port": None, "data_dir": None}})
    assert config.server == load_config().server


def test_environment_overrides_single_settings(tmp_path):
    """VECGATE_<SECTION>_<SETTING> beats the file; flags beat the environment."""
    path = tmp_path / "c.toml"
    path.write_text("[server]\ngrpc_port = 7000\n")
    environ = {
        "VECGATE_SERVER_GRPC_PORT": "7100",
        "VECGATE_DEPRECATION_WARN_DAYS": "7",
        "VECGATE_IDENTITY_DEFAULT": "minilm@3",
    }
    config = load_config(path, environ=environ)
    assert (config.server.grpc_port, config.deprecation.warn_days) == (7100, 7)
    assert config.identity.default == "minilm@3"
    assert (
        load_config(path, {"server": {"grpc_port": 7200}}, environ=environ).server.grpc_port == 7200
    )
    with pytest.raises(ConfigError, match=r"server\.grpc_port"):
        load_config(path, environ={"VECGATE_SERVER_GRPC_PORT": "many"})


def test_errors_name_the_file_and_what_is_accepted(tmp_path):
    """A bad value names the file, the entry and the accepted values."""
    path = tmp_path / "vecgate.toml"
    path.write_text('[[keys]]\nname = "a"\nsha256 = "' + "0" * 64 + '"\nrole = "root"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, environ={})
    text = str(excinfo.value)
    assert text.startswith(f"{path}: ")
    assert "keys.0.role" in text
    assert "'reader', 'writer' or 'admin'" in text


def test_admin_key_adds_an_admin_binding():
    """--admin-key / VECGATE_ADMIN_KEY adds a key named admin with the admin role."""
    config = load_config(environ={"VECGATE_ADMIN_KEY": "s3cret"})
    (key,) = config.keys
    assert (key.name, key.role, key.sha256) == ("admin", "admin", hash_key("s3cret"))
    assert load_config(environ={}, admin_key="other").keys[0].sha256 == hash_key("other")


def test_unpinned_model_in_config_is_refused(tmp_path):
    """A [[models]] entry naming a mutable tag stops start-up naming the entry."""
    path = tmp_path / "c.toml"
    path.write_text('[[models]]\nname = "minilm@latest"\nsunset = 2027-01-01\n')
    with pytest.raises(ConfigError, match=r"models\.minilm@latest"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("url", "target", "tls"),
    [
        ("qdrant://qdrant:6334", "qdrant:6334", False),
        ("qdrant://10.0.0.7", "10.0.0.7:6334", False),  # Qdrant's gRPC port by default
        ("qdrants://db.example.com:443", "db.example.com:443", True),
        ("qdrant://[::1]:7334", "[::1]:7334", False),
    ],
)
def test_remote_backend_urls(url, target, tls):
    """qdrant:// and qdrants:// name a Qdrant server's gRPC address; flags and env agree."""
    remote = load_config(overrides={"backend": {"url": url}}).backend.remote
    assert remote is not None
    assert (remote.target, remote.tls) == (target, tls)
    from_env = load_config(environ={"VECGATE_BACKEND_URL": url}).backend.remote
    assert from_env == remote
    assert load_config().backend.remote is None  # embedded by default


@pytest.mark.parametrize(
    "url",
    ["mongodb://m:27017", "http://qdrant:6333", "qdrant://", "qdrant://h:99999", "qdrant://h/x"],
)
def test_bad_backend_urls_are_refused_with_what_is_accepted(url):
    """An address vecgate cannot use stops start-up and says what would be accepted."""
    with pytest.raises(ConfigError) as refused:
        load_config(overrides={"backend": {"url": url}})
    assert "qdrant://HOST:PORT" in str(refused.value)
    assert "milvus://HOST:PORT" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "uri", "lite"),
    [
        ("milvus://m:19530", "http://m:19530", None),
        ("milvus://10.0.0.7", "http://10.0.0.7:19530", None),  # Milvus's port by default
        ("milvus://[::1]:7000", "http://[::1]:7000", None),
        ("milvus-lite:./milvus-data", None, Path("./milvus-data")),
    ],
)
def test_milvus_backend_urls(url, uri, lite):
    """milvus:// names a Milvus server, milvus-lite:PATH a directory vecgate serves with
    milvus-lite; neither is a remote Qdrant; consistency defaults to Strong."""
    backend = load_config(overrides={"backend": {"url": url}}).backend
    assert backend.milvus is not None
    assert (backend.milvus.uri, backend.milvus.lite) == (uri, lite)
    assert backend.remote is None
    assert backend.consistency == "Strong"
    assert load_config().backend.milvus is None


@pytest.mark.parametrize("url", ["milvus://", "milvus://h:99999", "milvus://h/x", "milvus-lite:"])
def test_bad_milvus_urls_name_the_form(url):
    """A malformed Milvus address stops start-up naming the accepted form."""
    with pytest.raises(ConfigError, match="milvus"):
        load_config(overrides={"backend": {"url": url}})
