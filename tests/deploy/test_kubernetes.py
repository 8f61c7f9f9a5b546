"""The Kubernetes manifests (deploy/kubernetes): each overlay renders, every object is valid
against the Kubernetes JSON schemas, and the rendered pods hold the rules that matter for
security (non-root, no capabilities, read-only root, secrets by reference, deny by default).
"""

import base64
import copy
import os
import re
from typing import Any

import httpx
import kubernetes_validate
import pytest
from typer.testing import CliRunner

from services.cli import app as cli_app
from services.registry import SERVICES
from services.web.app import create_app as create_web_app
from services.web.settings import WebSettings
from shared.demo import is_demo_secret
from tests.deploy.manifests import (
    OVERLAYS,
    ROOT,
    Object,
    by_kind,
    config_maps,
    is_secret_setting,
    overlay,
    pods,
    setting_name,
)
from tests.deploy.netpol import Endpoint, allowed

# The oldest Kubernetes minor still supported upstream when this was written (2026-12), and
# the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.34", kubernetes_validate.latest_version())
# Custom resources of operators the deployment relies on: kubernetes-validate ships only the
# core API's schemas, so these are checked by the operator when applied.
CUSTOM_RESOURCES = {("postgresql.cnpg.io/v1", "Cluster")}
SERVING = {"ketenpas-identity": 8001, "ketenpas-release": 8002, "ketenpas-web": 8000}


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> tuple[Object, ...]:
    """One overlay's rendered objects."""
    return overlay(str(request.param))


def _containers(spec: Object) -> list[Object]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def _env(objects: tuple[Object, ...], container: Object) -> dict[str, Object]:
    """A container's environment: literal and referenced entries, and ConfigMap keys."""
    maps = config_maps(objects)
    env: dict[str, Object] = {}
    for source in container.get("envFrom", []):
        for key, value in maps[source["configMapRef"]["name"]].items():
            env[key] = {"name": key, "value": value}
    for entry in container.get("env", []):
        env[entry["name"]] = entry
    return env


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(
    objects: tuple[Object, ...], version: str
) -> None:
    unchecked = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.append((obj["apiVersion"], obj["kind"]))
    assert set(unchecked) <= CUSTOM_RESOURCES
    assert len(objects) > 20


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(by_kind(overlay("production"), "Deployment")[0])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContxt"] = container.pop("securityContext")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_each_overlay_has_the_processes_of_the_design(objects: tuple[Object, ...]) -> None:
    commands = {pod.name: pod.spec["containers"][0]["args"] for pod in pods(objects)}
    assert commands == {
        "ketenpas-identity": ["serve", "identity"],
        "ketenpas-release": ["serve", "release"],
        "ketenpas-web": ["serve", "web"],
        "ketenpas-webhooks": ["webhooks", "run"],
        "ketenpas-db-upgrade": ["db", "upgrade", "all"],
    }
    # One image for every process.
    images = {c["image"] for pod in pods(objects) for c in _containers(pod.spec)}
    assert len(images) == 1
    job = by_kind(objects, "Job")[0]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_every_command_is_one_the_cli_has(objects: tuple[Object, ...]) -> None:
    runner = CliRunner()
    for pod in pods(objects):
        for container in _containers(pod.spec):
            result = runner.invoke(cli_app, [*container["args"], "--help"])
            assert result.exit_code == 0, (pod.name, container["args"], result.output)


def test_the_release_service_leaves_the_webhooks_to_the_dispatcher(
    objects: tuple[Object, ...],
) -> None:
    containers = {pod.name: pod.spec["containers"][0] for pod in pods(objects)}
    release_env = _env(objects, containers["ketenpas-release"])
    assert release_env["KETENPAS_RELEASE_RUN_WEBHOOKS"]["value"] == "false"
    dispatcher_env = _env(objects, containers["ketenpas-webhooks"])
    assert "valueFrom" in dispatcher_env["KETENPAS_RELEASE_WEBHOOK_SECRET_KEY"]


def test_every_environment_variable_is_a_real_setting(objects: tuple[Object, ...]) -> None:
    for pod in pods(objects):
        for container in _containers(pod.spec):
            for name in _env(objects, container):
                assert setting_name(name) is not None, (pod.name, name)


def test_secrets_are_referenced_never_inlined(objects: tuple[Object, ...]) -> None:
    assert by_kind(objects, "Secret") == []
    for name, data in config_maps(objects).items():
        for key, value in data.items():
            assert not is_secret_setting(key), (name, key)
            assert not is_demo_secret(value), (name, key)
            assert not _looks_like_a_key(value), (name, key)
    for pod in pods(objects):
        for container in _containers(pod.spec):
            for name, entry in _env(objects, container).items():
                if is_secret_setting(name):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), (pod.name, name)
                    assert "value" not in entry


def test_the_migration_job_holds_the_database_and_no_key(objects: tuple[Object, ...]) -> None:
    [job] = [pod for pod in pods(objects) if pod.kind == "Job"]
    [container] = _containers(job.spec)
    secrets = {
        name: entry["valueFrom"]["secretKeyRef"]["name"]
        for name, entry in _env(objects, container).items()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert secrets == {
        "KETENPAS_IDENTITY_DATABASE_URL": "ketenpas-db-app",
        "KETENPAS_RELEASE_DATABASE_URL": "ketenpas-db-app",
    }


def _looks_like_a_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) >= 16
    except ValueError:
        return False


def test_every_container_runs_unprivileged_on_a_read_only_root(
    objects: tuple[Object, ...],
) -> None:
    for pod in pods(objects):
        pod_context = pod.spec.get("securityContext", {})
        assert pod.spec.get("automountServiceAccountToken") is False, pod.name
        assert not pod.spec.get("hostNetwork") and not pod.spec.get("hostPID"), pod.name
        assert all("hostPath" not in volume for volume in pod.spec.get("volumes", []))
        assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        for container in _containers(pod.spec):
            context = container.get("securityContext", {})
            assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
            assert context.get("runAsUser", pod_context.get("runAsUser", 0)) != 0
            assert context.get("allowPrivilegeEscalation") is False, pod.name
            assert context.get("privileged", False) is False, pod.name
            assert context.get("readOnlyRootFilesystem") is True, pod.name
            assert context.get("capabilities", {}).get("drop") == ["ALL"], pod.name
            assert not context.get("capabilities", {}).get("add"), pod.name


def test_every_container_has_requests_and_limits(objects: tuple[Object, ...]) -> None:
    for pod in pods(objects):
        for container in _containers(pod.spec):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) >= {"cpu", "memory"}, (pod.name, kind)


def test_every_serving_deployment_is_probed_on_paths_the_app_answers(
    objects: tuple[Object, ...],
) -> None:
    served = {pod.name: pod for pod in pods(objects) if pod.kind == "Deployment"}
    assert set(SERVING) <= set(served)
    for name, port in SERVING.items():
        container = served[name].spec["containers"][0]
        assert container["ports"][0]["containerPort"] == port
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (name, probe)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The dispatcher answers no request: its metrics port only, nothing to probe (a dead
    # process restarts).
    dispatcher = served["ketenpas-webhooks"].spec["containers"][0]
    assert [port["name"] for port in dispatcher["ports"]] == ["metrics"]
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(dispatcher)


async def test_the_probed_paths_exist() -> None:
    for spec in SERVICES.values():
        paths = spec.create_app(spec.settings()).openapi()["paths"]
        assert {"/healthz", "/readyz"} <= set(paths), spec.name
    web = create_web_app(WebSettings())
    async with (
        web.router.lifespan_context(web),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://web") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200


def test_autoscalers_budgets_and_services_point_at_the_deployments(
    objects: tuple[Object, ...],
) -> None:
    templates = {pod.name: pod.labels for pod in pods(objects) if pod.kind == "Deployment"}
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas} == set(SERVING)
    for hpa in hpas:
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for pdb in by_kind(objects, "PodDisruptionBudget"):
        assert any(_matches(pdb["spec"]["selector"]["matchLabels"], t) for t in templates.values())
    for service in by_kind(objects, "Service"):
        selected = [n for n, t in templates.items() if _matches(service["spec"]["selector"], t)]
        assert selected == [service["metadata"]["name"]]


def test_production_keeps_replicas_through_a_disruption() -> None:
    objects = overlay("production")
    budgets = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "PodDisruptionBudget")}
    assert set(budgets) == set(SERVING)
    for hpa in by_kind(objects, "HorizontalPodAutoscaler"):
        name = hpa["spec"]["scaleTargetRef"]["name"]
        assert hpa["spec"]["minReplicas"] > budgets[name]["minAvailable"]
    # One webhook dispatcher leads, another stands by to take over.
    dispatcher = next(
        d for d in by_kind(objects, "Deployment") if d["metadata"]["name"] == "ketenpas-webhooks"
    )
    assert dispatcher["spec"]["replicas"] >= 2


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    ("overlay_name", "environment"), [("development", "development"), ("production", "production")]
)
def test_each_overlay_runs_in_its_environment(overlay_name: str, environment: str) -> None:
    maps = config_maps(overlay(overlay_name))
    values = {k: v for data in maps.values() for k, v in data.items() if k.endswith("ENVIRONMENT")}
    assert set(values) == {
        "KETENPAS_IDENTITY_ENVIRONMENT",
        "KETENPAS_RELEASE_ENVIRONMENT",
        "KETENPAS_WEB_ENVIRONMENT",
    }
    assert set(values.values()) == {environment}


# Stand-ins for what the Secrets hold, to show that the production settings start with them.
SECRET_STAND_INS = {
    "uri": "postgresql://ketenpas:pw@ketenpas-db-rw:5432/ketenpas",
    "cache-url": "redis://:pw@ketenpas-valkey:6379/0",
}


@pytest.mark.parametrize("service", ["identity", "release"])
def test_the_production_settings_start(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = overlay("production")
    container = next(
        pod.spec["containers"][0] for pod in pods(objects) if pod.name == f"ketenpas-{service}"
    )
    for key in list(os.environ):
        if key.startswith("KETENPAS_"):
            monkeypatch.delenv(key)
    for name, entry in _env(objects, container).items():
        if "value" in entry:
            monkeypatch.setenv(name, entry["value"])
        else:
            key = entry["valueFrom"]["secretKeyRef"]["key"]
            stand_in = SECRET_STAND_INS.get(key) or base64.b64encode(os.urandom(32)).decode()
            monkeypatch.setenv(name, stand_in)
    settings: Any = SERVICES[service].settings()
    assert settings.environment == "production"
    assert settings.database_schema == service


def test_the_production_release_service_reaches_identity_over_https() -> None:
    maps = config_maps(overlay("production"))
    url = next(
        d["KETENPAS_RELEASE_IDENTITY_URL"]
        for d in maps.values()
        if "KETENPAS_RELEASE_IDENTITY_URL" in d
    )
    assert url.startswith("https://")


def _endpoints(objects: tuple[Object, ...]) -> dict[str, Endpoint]:
    namespace = objects[0]["metadata"]["namespace"]
    own = {"kubernetes.io/metadata.name": namespace}
    found = {
        pod.name.removeprefix("ketenpas-"): Endpoint(pod.name, namespace, pod.labels, own)
        for pod in pods(objects)
    }
    found.update(
        {
            "postgres": Endpoint("pg", namespace, {"cnpg.io/cluster": "ketenpas-db"}, own),
            "valkey": Endpoint("valkey", namespace, {"app.kubernetes.io/name": "valkey"}, own),
            "stranger": Endpoint("stranger", namespace, {"app": "stranger"}, own),
            "elsewhere": Endpoint(
                "other", "other", {"app": "x"}, {"kubernetes.io/metadata.name": "other"}
            ),
            "ingress": Endpoint(
                "controller",
                "ingress",
                {"app": "controller"},
                {"kubernetes.io/metadata.name": "ingress", "ketenpas/ingress-controller": "true"},
            ),
            "prometheus": Endpoint(
                "prometheus",
                "monitoring",
                {"app": "prometheus"},
                {"kubernetes.io/metadata.name": "monitoring", "ketenpas/prometheus": "true"},
            ),
            "cnpg-operator": Endpoint(
                "operator", "cnpg-system", {}, {"kubernetes.io/metadata.name": "cnpg-system"}
            ),
            "dns": Endpoint(
                "dns",
                "kube-system",
                {"k8s-app": "kube-dns"},
                {"kubernetes.io/metadata.name": "kube-system"},
            ),
            "internet": Endpoint("internet", ip="203.0.113.10"),
            "private": Endpoint("private", ip="10.1.2.3"),
        }
    )
    return found


# (source, destination, port): what must be allowed; any other pair of the matrix below
# must not be.
ALLOWED_EVERYWHERE = {
    ("ingress", "identity", 8001),
    ("ingress", "release", 8002),
    ("ingress", "web", 8000),
    ("identity", "postgres", 5432),
    ("release", "postgres", 5432),
    ("webhooks", "postgres", 5432),
    ("db-upgrade", "postgres", 5432),
    ("postgres", "postgres", 5432),
    ("cnpg-operator", "postgres", 8000),
    ("cnpg-operator", "postgres", 5432),
    ("identity", "valkey", 6379),
    ("release", "valkey", 6379),
    ("web", "valkey", 6379),
    ("release", "identity", 8001),
    ("webhooks", "identity", 8001),
    ("web", "identity", 8001),
    ("web", "release", 8002),
    ("webhooks", "internet", 443),
    ("prometheus", "identity", 9101),
    ("prometheus", "release", 9102),
    ("prometheus", "webhooks", 9102),
}
ALLOWED_IN_PRODUCTION = {
    # The identity service's https URL is served by the ingress controller.
    ("release", "ingress", 443),
    ("webhooks", "ingress", 443),
    ("web", "ingress", 443),
    # Witnesses of the audit logs, run by outside bodies.
    ("identity", "internet", 443),
    ("release", "internet", 443),
}
PORTS = (80, 443, 5432, 6379, 8000, 8001, 8002, 9101, 9102)


def test_network_policies_deny_by_default(objects: tuple[Object, ...]) -> None:
    policies = by_kind(objects, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert any(p["spec"]["policyTypes"] == ["Ingress"] for p in deny)
    egress_deny = [
        p
        for p in policies
        if p["spec"]["policyTypes"] == ["Egress"] and not p["spec"].get("egress")
    ]
    assert egress_deny
    for pod in pods(objects):
        assert any(
            all(pod.labels.get(k) == v for k, v in p["spec"]["podSelector"]["matchLabels"].items())
            for p in egress_deny
        ), pod.name


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_network_policies_allow_exactly_the_designed_connections(overlay_name: str) -> None:
    objects = overlay(overlay_name)
    policies = by_kind(objects, "NetworkPolicy")
    endpoints = _endpoints(objects)
    expected = ALLOWED_EVERYWHERE | (
        ALLOWED_IN_PRODUCTION if overlay_name == "production" else set()
    )
    ketenpas = [name for name, e in endpoints.items() if e.labels.get("app.kubernetes.io/part-of")]
    sources = [*ketenpas, "stranger", "elsewhere", "ingress", "prometheus", "cnpg-operator"]
    sources.append("postgres")
    destinations = [*ketenpas, "postgres", "valkey", "ingress", "internet", "private"]
    found = {
        (source, destination, port)
        for source in sources
        for destination in destinations
        for port in PORTS
        if source != destination or source == "postgres"
        if allowed(policies, endpoints[source], endpoints[destination], port)
    }
    # The ingress controller, the operator and the database keep their own egress (they are
    # not Ketenpas's pods): only what reaches Ketenpas's pods and the data stores counts.
    found = {
        (s, d, p) for s, d, p in found if s in ketenpas or d in [*ketenpas, "postgres", "valkey"]
    }
    assert found == expected
    for name in ketenpas:
        assert allowed(policies, endpoints[name], endpoints["dns"], 53), name


def test_the_policy_judge_can_refuse_and_allow() -> None:
    deny_all = {
        "metadata": {"name": "deny", "namespace": "n"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    a = Endpoint("a", "n", {"app": "a"}, {"kubernetes.io/metadata.name": "n"})
    b = Endpoint("b", "n", {"app": "b"}, {"kubernetes.io/metadata.name": "n"})
    assert allowed([], a, b, 80)
    assert not allowed([deny_all], a, b, 80)
    allow_a = {
        "metadata": {"name": "allow", "namespace": "n"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "b"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 80}]}
            ],
        },
    }
    assert allowed([deny_all, allow_a], a, b, 80)
    assert not allowed([deny_all, allow_a], a, b, 81)
    assert not allowed([deny_all, allow_a], b, a, 80)


def test_the_deployment_guide_names_every_secret_the_manifests_reference() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    rows = set(re.findall(r"^\| `([a-z-]+)` \| `([a-z-]+)` \| `(KETENPAS_\w+)`", guide, re.M))
    referenced = set()
    for name in OVERLAYS:
        objects = overlay(name)
        for pod in pods(objects):
            for container in _containers(pod.spec):
                for env_name, entry in _env(objects, container).items():
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        referenced.add((ref["name"], ref["key"], env_name))
    documented = {(secret, key) for secret, key, _ in rows}
    assert {(secret, key) for secret, key, _ in referenced} == documented
    # Each row's setting is one the secret feeds (the first one named in the row).
    for secret, key, env_name in rows:
        assert any(r[:2] == (secret, key) and r[2] == env_name for r in referenced), env_name


def test_the_metrics_port_is_the_one_the_settings_serve(objects: tuple[Object, ...]) -> None:
    containers = {pod.name: pod.spec["containers"][0] for pod in pods(objects)}
    for name, prefix, port in (
        ("identity", "KETENPAS_IDENTITY_", 9101),
        ("release", "KETENPAS_RELEASE_", 9102),
        ("webhooks", "KETENPAS_RELEASE_", 9102),  # the dispatcher reads the release settings
    ):
        container = containers[f"ketenpas-{name}"]
        env = _env(objects, container)
        assert env[prefix + "METRICS_PORT"]["value"] == str(port)
        assert env[prefix + "METRICS_HOST"]["value"] == "0.0.0.0"
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    # The Services (and so the Ingress) carry the public port only.
    for obj in by_kind(objects, "Service"):
        assert [p["name"] for p in obj["spec"]["ports"]] == ["http"]
