"""deploy/ agrees with the code: files parse, ports, probes, image names and configs match.

No docker or kubectl here, so these tests check what can be checked without them:
every YAML parses and its pieces reference each other; ports equal the defaults of
`proxy.config`; probes ask the gRPC health service on the gRPC port; the
Dockerfile's HEALTHCHECK command, run as written, passes against a real gateway and
fails against a closed port; the Kubernetes init container's script, run as
written, refuses placeholder secrets and otherwise builds a config vecgate accepts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from proxy import __version__
from proxy.config import ServerConfig, hash_key, load_config
from proxy.readiness import READY_SERVICE
from tests.gatewayproc import ROOT, GatewayProcess

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
GRPC_PORT = ServerConfig.model_fields["grpc_port"].default
HTTP_PORT = ServerConfig.model_fields["http_port"].default
IMAGE = f"vecgate:{__version__}"
#: The backend both compose and Kubernetes point at: the `qdrant` service's gRPC port.
QDRANT_URL = "qdrant://qdrant:6334"
APP_KEY = "test-application-key"


# --- reading the files ---


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage (the image that runs)."""
    instructions = _dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _one(instructions: list[tuple[str, str]], keyword: str) -> str:
    found = [args for kw, args in instructions if kw == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {found}"
    return found[0]


def _healthcheck_command() -> list[str]:
    """The HEALTHCHECK's CMD, exec form, exactly as the Dockerfile writes it."""
    args = _one(_final_stage(), "HEALTHCHECK")
    _options, sep, command = args.partition("CMD ")
    assert sep, "HEALTHCHECK has no CMD"
    argv = json.loads(command)
    assert isinstance(argv, list)
    return argv


def _yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def _compose() -> dict[str, Any]:
    return _yaml(DEPLOY / "compose.yaml")


def _k8s(kind: str) -> dict[str, Any]:
    """The one Kubernetes object of `kind` listed in kustomization.yaml."""
    found = []
    for name in _yaml(K8S / "kustomization.yaml")["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc and doc.get("kind") == kind:
                found.append(doc)
    assert len(found) == 1, f"expected one {kind} in deploy/k8s, found {len(found)}"
    return found[0]


def _pod() -> dict[str, Any]:
    return _k8s("Deployment")["spec"]["template"]


def _container(name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    (found,) = [c for c in _pod()["spec"][key] if c["name"] == name]
    return found


# --- files parse and reference each other ---


def test_every_yaml_file_parses_and_kustomization_lists_every_manifest():
    """Each YAML under deploy/ parses; k8s objects are complete; kustomize lists them all."""
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert {f.name for f in files} >= {"compose.yaml", "kustomization.yaml", "deployment.yaml"}
    for path in files:
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert docs, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in docs), path
    listed = _yaml(K8S / "kustomization.yaml")["resources"]
    manifests = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(manifests)
    kinds = set()
    for name in listed:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), name
            assert doc["metadata"]["name"].startswith("vecgate"), name
            kinds.add(doc["kind"])
    assert kinds == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }


def test_k8s_objects_point_at_each_other():
    """Selectors match the pod labels; the HPA scales the Deployment; volumes name real
    ConfigMap and Secret; the Secret keys the pod reads exist."""
    deployment = _k8s("Deployment")
    labels = _pod()["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _k8s("Service")["spec"]["selector"].items() <= labels.items()
    assert _k8s("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = _k8s("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    volumes = {v["name"]: v for v in _pod()["spec"]["volumes"]}
    configmap, secret = _k8s("ConfigMap"), _k8s("Secret")
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    for env in _container("vecgate")["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"]
            assert ref["key"] in secret["stringData"], ref
    mounted = {m["name"] for c in _pod()["spec"]["initContainers"] for m in c["volumeMounts"]}
    mounted |= {m["name"] for m in _container("vecgate")["volumeMounts"]}
    assert mounted == set(volumes)


def test_dockerignore_lets_in_what_the_dockerfile_copies():
    """Every path the Dockerfile copies from the build context is re-included."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copies = [args for kw, args in _dockerfile() if kw == "COPY" and "--from" not in args]
    sources = [src for args in copies for src in args.split()[:-1]]
    assert sources
    for src in sources:
        assert src.rstrip("/") in allowed, f"{src} is copied but .dockerignore excludes it"
        assert (ROOT / src).exists(), src


# --- ports, probes and images agree with the code ---


def test_ports_everywhere_are_the_codes_defaults():
    """EXPOSE, compose, the pod, the Service and both configs use proxy.config's ports."""
    assert set(_one(_final_stage(), "EXPOSE").split()) == {str(GRPC_PORT), str(HTTP_PORT)}
    published = _compose()["services"]["vecgate"]["ports"]
    assert {int(p.rsplit(":", 1)[1]) for p in published} == {GRPC_PORT, HTTP_PORT}
    ports = {p["name"]: p["containerPort"] for p in _container("vecgate")["ports"]}
    assert ports == {"grpc": GRPC_PORT, "http": HTTP_PORT}
    service = {p["name"]: p for p in _k8s("Service")["spec"]["ports"]}
    assert set(service) == {"grpc", "http"}
    for name, port in service.items():
        assert port["port"] == ports[name]
        assert port["targetPort"] == name
    assert service["grpc"]["appProtocol"] == "kubernetes.io/h2c"
    for text in (_configmap_toml(), (DEPLOY / "vecgate.toml").read_text()):
        server = tomllib.loads(text)["server"]
        assert (server["grpc_port"], server["http_port"]) == (GRPC_PORT, HTTP_PORT)
        assert server["host"] == "0.0.0.0"


def test_probes_ask_the_grpc_health_service_on_the_grpc_port():
    """Startup, readiness and liveness probes are native gRPC probes on the gRPC port:
    liveness and startup ask service "" (the process), readiness asks the service that
    follows the backend; the Docker HEALTHCHECK asks "" on the same port."""
    container = _container("vecgate")
    expected = {"startupProbe": "", "readinessProbe": READY_SERVICE, "livenessProbe": ""}
    for probe, service in expected.items():
        spec = container[probe]
        handlers = {"grpc", "httpGet", "tcpSocket", "exec"} & spec.keys()
        assert handlers == {"grpc"}, probe
        assert spec["grpc"]["port"] == GRPC_PORT, probe
        assert spec["grpc"].get("service", "") == service, probe
    argv = _healthcheck_command()
    code = argv[-1]
    assert "grpc_health.v1" in code
    assert "HealthStub" in code
    assert "service=''" in code
    assert f"'VECGATE_SERVER_GRPC_PORT', '{GRPC_PORT}'" in code


def test_image_name_is_the_same_in_compose_and_kubernetes():
    """compose builds vecgate:<version> from deploy/Dockerfile; every pod container runs it."""
    vecgate = _compose()["services"]["vecgate"]
    assert vecgate["image"] == IMAGE
    context = (DEPLOY / vecgate["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / vecgate["build"]["dockerfile"]) == DEPLOY / "Dockerfile"
    containers = _pod()["spec"]["containers"] + _pod()["spec"]["initContainers"]
    assert {c["image"] for c in containers} == {IMAGE}
    assert f"-t {IMAGE} ." in (DEPLOY / "Dockerfile").read_text()  # the build hint


def test_qdrant_image_matches_the_qdrant_client_version():
    """The compose Qdrant server has qdrant-client's major.minor (clients allow one apart)."""
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    major_minor = ".".join(pins["qdrant-client"].split(".")[:2])
    image = _compose()["services"]["qdrant"]["image"]
    name, _, tag = image.partition(":")
    assert name == "qdrant/qdrant"
    assert re.fullmatch(rf"v{re.escape(major_minor)}\.\d+", tag), tag


def test_compose_wires_vecgate_to_qdrant_and_jaeger():
    """vecgate's backend is the qdrant service; it starts after Qdrant is healthy and
    sends traces to Jaeger's OTLP gRPC port."""
    services = _compose()["services"]
    assert set(services) == {"vecgate", "qdrant", "jaeger"}
    vecgate = services["vecgate"]
    env = vecgate["environment"]
    assert env["VECGATE_BACKEND_URL"] == QDRANT_URL
    assert "healthcheck" in services["qdrant"]
    assert vecgate["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert vecgate["depends_on"]["jaeger"]["condition"] == "service_started"
    assert "healthcheck" not in vecgate, "vecgate's check is the image's HEALTHCHECK"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
    assert env["OTEL_SERVICE_NAME"] == "vecgate"
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_replicas_scale_and_stay_available():
    """At least two replicas, an HPA on CPU from two, a PDB, resources set for the HPA."""
    assert _k8s("Deployment")["spec"]["replicas"] >= 2
    hpa = _k8s("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    resources = _container("vecgate")["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    assert _k8s("PodDisruptionBudget")["spec"]["minAvailable"] >= 1


# --- the image: non-root, its own config ---


def test_image_runs_as_a_non_root_user_and_the_pod_agrees():
    """The final stage's USER is a numeric non-root uid; the pod runs as that uid with a
    read-only root filesystem and no privilege escalation."""
    stage = _final_stage()
    assert stage[0][1].startswith("python:3.11-slim")
    user = _one(stage, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "a numeric USER lets Kubernetes verify runAsNonRoot"
    assert int(uid) != 0
    assert gid
    assert int(gid) != 0
    pod_security = _pod()["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == int(uid)
    for container in _pod()["spec"]["containers"] + _pod()["spec"]["initContainers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
    install = [args for kw, args in _dockerfile() if kw == "RUN" and "pip install" in args]
    assert len(install) == 1
    assert "pip install -c constraints.txt ." in install[0]


def test_image_default_config_is_valid_and_keeps_data_on_the_volume():
    """deploy/vecgate.toml passes the config loader as `vecgate config check` runs it; the
    image's CMD reads it where the Dockerfile puts it; its data_dir is the VOLUME."""
    config = load_config(DEPLOY / "vecgate.toml", environ={})
    stage = _final_stage()
    volume = _one(stage, "VOLUME")
    assert str(config.server.data_dir) == volume
    assert config.backend.url == "embedded"
    cmd = json.loads(_one(stage, "CMD"))
    target = cmd[cmd.index("--config") + 1]
    assert f"COPY deploy/vecgate.toml {target}" in {f"{kw} {args}" for kw, args in stage}
    assert json.loads(_one(stage, "ENTRYPOINT")) == ["vecgate"]


# --- the Kubernetes configuration: ConfigMap + Secret ---


def _configmap_toml() -> str:
    return str(_k8s("ConfigMap")["data"]["vecgate.toml"])


def _run_init_container(
    tmp_path: Path, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the init container's script as written, its mounts mapped under tmp_path."""
    init = _container("config", init=True)
    assert init["command"][:2] == ["sh", "-c"]
    script = init["command"][2]
    volumes = {v["name"]: v for v in _pod()["spec"]["volumes"]}
    for mount in init["volumeMounts"]:
        local = tmp_path / mount["name"]
        local.mkdir()
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            files = _k8s("ConfigMap")["data"]
        elif "secret" in volume:
            files = secrets
        else:
            files = {}
        for name, content in files.items():
            (local / name).write_text(content)
        assert mount["mountPath"] + "/" in script, mount
        script = script.replace(mount["mountPath"] + "/", f"{local}/")
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )


def _filled_secrets() -> dict[str, str]:
    """The Secret's values with each PLACEHOLDER replaced as its comment asks."""
    values = dict(_k8s("Secret")["stringData"])
    keys = values.pop("keys.toml")
    filled = {"keys.toml": re.sub(r'"PLACEHOLDER[^"]*"', f'"{hash_key(APP_KEY)}"', keys)}
    filled |= {name: f"real-{name}-value" for name in values}
    assert all("PLACEHOLDER" not in text for text in filled.values())
    return filled


def _merged_config(tmp_path: Path) -> Path:
    result = _run_init_container(tmp_path, _filled_secrets())
    assert result.returncode == 0, result.stderr
    init = _container("config", init=True)
    (merged,) = [m for m in init["volumeMounts"] if m["name"] == "merged-config"]
    path = tmp_path / "merged-config" / "vecgate.toml"
    # The main container mounts the same volume where `--config` looks.
    args = _container("vecgate")["args"]
    config_arg = Path(args[args.index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in _container("vecgate")["volumeMounts"]}
    assert str(config_arg.parent) == mounts[merged["name"]]
    assert path.name == config_arg.name
    return path


def test_secret_values_are_all_marked_placeholders():
    """Every value of the shipped Secret is a visible placeholder (no real-looking key)."""
    values = _k8s("Secret")["stringData"]
    assert set(values) == {"keys.toml", "admin-key", "qdrant-api-key"}
    for name, value in values.items():
        assert "PLACEHOLDER" in value, name
    assert "PLACEHOLDER" not in _configmap_toml()


def test_init_container_refuses_to_start_with_placeholder_secrets(tmp_path):
    """With the Secret as shipped, the init container fails, names the files, writes nothing."""
    result = _run_init_container(tmp_path, dict(_k8s("Secret")["stringData"]))
    assert result.returncode != 0
    assert "PLACEHOLDER" in result.stderr
    assert "keys.toml" in result.stdout
    assert "admin-key" in result.stdout
    assert not (tmp_path / "merged-config" / "vecgate.toml").exists()


def test_configmap_and_secret_merge_into_a_valid_config(tmp_path):
    """ConfigMap + filled Secret, merged by the init container, load with the project's
    loader: listeners as the pod expects, the Secret's key bound, backend the qdrant
    service. (The backend url is checked by the loader in the next test.)"""
    path = _merged_config(tmp_path)
    raw = tomllib.loads(path.read_text())
    assert raw["backend"]["url"] == QDRANT_URL
    config = load_config(path, {"backend": {"url": "embedded"}}, environ={})
    assert config.server.host == "0.0.0.0"
    assert (config.server.grpc_port, config.server.http_port) == (GRPC_PORT, HTTP_PORT)
    assert [(k.name, k.sha256, k.role) for k in config.keys] == [
        ("indexer", hash_key(APP_KEY), "writer")
    ]
    env = {e["name"] for e in _container("vecgate")["env"]}
    assert {"VECGATE_ADMIN_KEY", "VECGATE_BACKEND_API_KEY"} <= env


def test_merged_kubernetes_config_passes_vecgate_config_check(tmp_path):
    """`vecgate config check` accepts the pod's merged config file, backend url included."""
    path = _merged_config(tmp_path)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECGATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "config", "check", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert QDRANT_URL in result.stdout


# --- the Docker HEALTHCHECK, run as written ---


def _run_healthcheck(grpc_port: int) -> subprocess.CompletedProcess[str]:
    """The HEALTHCHECK command exactly as written; `python` resolves to this venv's, as it
    resolves to the image's venv there; the port comes from the variable it reads."""
    argv = _healthcheck_command()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "VECGATE_SERVER_GRPC_PORT": str(grpc_port)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, env=env)


def test_healthcheck_passes_against_a_running_gateway(gateway: GatewayProcess):
    """Exit 0 against a serving gateway (its health service answers SERVING)."""
    result = _run_healthcheck(gateway.grpc_port)
    assert result.returncode == 0, f"{shlex.join(_healthcheck_command())}\n{result.stderr}"


def test_healthcheck_fails_against_a_closed_port():
    """Non-zero when nothing listens on the gRPC port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    result = _run_healthcheck(closed)
    assert result.returncode != 0
    assert "UNAVAILABLE" in result.stderr
