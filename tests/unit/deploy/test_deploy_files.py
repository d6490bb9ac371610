"""No Docker engine runs here, so the deployment files are checked by reading them: every service is
there, run the way `make run-distributed` runs it, healthy-checked, and configured only with the
setting names the code reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.distributed import PORTS, module_of
from mostrador.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
SERVICES = set(PORTS)
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_every_service_directory_has_an_entry_point():
    for service in SERVICES:
        package = ROOT / "services" / service / "mostrador" / service.replace("-", "_")
        assert (package / "__main__.py").is_file(), service
        assert (package / "service.py").is_file(), service


def test_compose_runs_every_service_from_one_image_after_healthy_infrastructure():
    services = compose()["services"]
    assert SERVICES | {"postgres", "rabbitmq"} == set(services)
    images = {services[name]["image"] for name in SERVICES}
    assert images == {"mostrador:latest"}
    for name in SERVICES:
        spec = services[name]
        assert spec["command"] == ["python", "-m", module_of(name)]
        assert spec["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                      "rabbitmq": {"condition": "service_healthy"}}
        assert "/readyz" in " ".join(spec["healthcheck"]["test"])
    for infra in ("postgres", "rabbitmq"):
        assert services[infra]["healthcheck"]["test"]


def test_compose_configures_services_only_with_settings_the_code_reads():
    for name in SERVICES:
        env = set(compose()["services"][name]["environment"])
        unknown = env - SETTING_NAMES
        assert not unknown, f"{name}: {unknown} are not settings (typo?)"
        assert {"DATABASE_URL", "AMQP_URL"} <= env


def test_compose_will_not_start_without_the_webhook_secrets():
    """An empty app secret would let anyone forge webhooks: compose stops with a message instead."""
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        for secret in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
            assert env[secret].startswith("${" + secret + ":?"), f"{name}: {secret} = {env[secret]}"


def test_k8s_has_a_deployment_and_a_service_with_probes_for_every_service():
    docs = k8s_documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert set(deployments) == SERVICES and services == SERVICES
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", module_of(name)]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"mostrador-config", "mostrador-secrets"}
        assert {e["name"] for e in container["env"]} <= SETTING_NAMES


# One process each: an outbox relay per event log, customer order within one consumer, one timer.
SINGLE_PROCESS = {"tickets", "bot", "chat", "scheduler"}


def test_k8s_never_runs_two_pods_of_a_single_process_service_at_once():
    deployments = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Deployment"}
    for name in SINGLE_PROCESS:
        spec = deployments[name]["spec"]
        assert spec["replicas"] == 1, name
        # the default RollingUpdate starts the new pod before the old one stops
        assert spec.get("strategy", {}).get("type") == "Recreate", name


def test_k8s_config_and_secret_hold_only_setting_names_and_point_at_external_infrastructure():
    docs = k8s_documents()
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "mostrador-config")
    secret = next(d for d in docs if d["kind"] == "Secret")
    keys = set(config["data"]) | set(secret["stringData"])
    assert keys <= SETTING_NAMES, keys - SETTING_NAMES
    assert {"DATABASE_URL", "AMQP_URL", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_ACCESS_TOKEN"} <= set(secret["stringData"])
    assert not any(d["kind"] in ("StatefulSet",) for d in docs), "PostgreSQL/RabbitMQ are external"
