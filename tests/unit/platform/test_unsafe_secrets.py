"""The sandbox's secrets are public (they are in this repository). With real credentials, or on a
distributed ingest facing the network, nothing may start with them — or with empty ones."""

from __future__ import annotations

import logging

import pytest
import structlog

from mostrador.platform.settings import SANDBOX_APP_SECRET, SANDBOX_VERIFY_TOKEN, Settings, UnsafeSecrets

REAL = {"whatsapp_app_secret": "0123456789abcdef0123456789abcdef", "whatsapp_verify_token": "my-own-verify-token"}


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """Settings come from the environment here, as in the processes: start from a clean one."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield monkeypatch
    structlog.reset_defaults()  # the entry points configure the logs
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("whatsapp_app_secret", SANDBOX_APP_SECRET, "WHATSAPP_APP_SECRET is the public sandbox value"),
    ("whatsapp_app_secret", "", "WHATSAPP_APP_SECRET is empty"),
    ("whatsapp_verify_token", SANDBOX_VERIFY_TOKEN, "WHATSAPP_VERIFY_TOKEN is the public sandbox value"),
    ("whatsapp_verify_token", "  ", "WHATSAPP_VERIFY_TOKEN is empty"),
])
@pytest.mark.parametrize("webhook_endpoint", [False, True])
def test_an_access_token_needs_a_real_app_secret_and_verify_token(field, value, problem, webhook_endpoint):
    settings = Settings(whatsapp_access_token="EAAG-real-token", **{**REAL, field: value})
    with pytest.raises(UnsafeSecrets) as refused:
        settings.check_secrets(webhook_endpoint=webhook_endpoint)
    assert problem in str(refused.value) and "WHATSAPP_ACCESS_TOKEN is set" in str(refused.value)
    assert not value.strip() or value not in str(refused.value)  # names the setting, never shows its value


def test_real_credentials_with_real_secrets_start():
    Settings(whatsapp_access_token="EAAG-real-token", **REAL).check_secrets(webhook_endpoint=True)


def test_the_sandbox_flag_does_not_excuse_real_credentials():
    settings = Settings(whatsapp_access_token="EAAG-real-token", whatsapp_sandbox=True)
    with pytest.raises(UnsafeSecrets):
        settings.check_secrets()


def test_without_a_token_the_embedded_sandbox_may_use_its_public_secrets():
    settings = Settings()
    assert settings.sandbox
    settings.check_secrets()


@pytest.mark.parametrize("secret", [SANDBOX_APP_SECRET, ""])
def test_a_distributed_ingest_refuses_a_public_or_empty_app_secret_unless_it_is_the_sandbox(secret):
    with pytest.raises(UnsafeSecrets, match="WHATSAPP_APP_SECRET is .* receives webhooks .* WHATSAPP_SANDBOX=true"):
        Settings(whatsapp_app_secret=secret).check_secrets(webhook_endpoint=True)
    Settings(whatsapp_app_secret=secret, whatsapp_sandbox=True).check_secrets(webhook_endpoint=True)
    Settings(whatsapp_app_secret="bench-app-secret").check_secrets(webhook_endpoint=True)


def test_an_empty_access_token_is_no_token(environment):
    environment.setenv("WHATSAPP_ACCESS_TOKEN", "")  # docker-compose's ${WHATSAPP_ACCESS_TOKEN:-}
    settings = Settings()
    assert settings.whatsapp_access_token is None and settings.sandbox


def test_a_distributed_service_exits_with_the_reason_before_building_anything(environment):
    from mostrador.platform.runner import run_service

    def build(_ctx):
        raise AssertionError("built with unsafe secrets")

    environment.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-real-token")
    environment.setenv("WHATSAPP_VERIFY_TOKEN", "my-own-verify-token")
    with pytest.raises(SystemExit) as stopped:
        run_service("tickets", build)
    assert str(stopped.value.code).startswith("tickets: refusing to start: WHATSAPP_APP_SECRET is the public")

    environment.delenv("WHATSAPP_ACCESS_TOKEN")
    with pytest.raises(SystemExit) as stopped:
        run_service("ingest", build)
    assert "ingest: refusing to start: WHATSAPP_APP_SECRET" in str(stopped.value.code)

    environment.setenv("WHATSAPP_SANDBOX", "true")  # past the check: now it only misses its broker
    with pytest.raises(SystemExit) as stopped:
        run_service("ingest", build)
    assert "AMQP_URL is required" in str(stopped.value.code)


def test_make_run_exits_with_the_reason(environment):
    from deploy import embedded

    environment.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-real-token")
    environment.setenv("WHATSAPP_APP_SECRET", "0123456789abcdef")
    with pytest.raises(SystemExit) as stopped:
        embedded.main()
    assert "WHATSAPP_VERIFY_TOKEN is the public sandbox value" in str(stopped.value.code)
    with pytest.raises(UnsafeSecrets):
        embedded.build_embedded(Settings(whatsapp_access_token="EAAG-real-token"), journal=False)


def test_run_distributed_in_sandbox_mode_passes_the_check_and_talks_to_its_fake_graph(environment):
    from deploy.distributed import Cluster
    from mostrador.whatsapp.factory import SANDBOX_TOKEN, whatsapp_client

    cluster = Cluster(env={"AMQP_URL": "amqp://x/", "DATABASE_URL": "postgresql://x/"},
                      ports={"ingest": 8001, "chat": 8004}, fake_graph_port=9009)
    for name, value in cluster.service_env("ingest").items():
        if name.lower() in Settings.model_fields:
            environment.setenv(name, value)
    settings = Settings()
    assert settings.whatsapp_access_token is None and settings.whatsapp_sandbox
    settings.check_secrets(webhook_endpoint=True)
    client = whatsapp_client(settings)
    assert str(client._http.base_url) == "http://127.0.0.1:9009/v25.0/"
    assert client._http.headers["authorization"] == f"Bearer {SANDBOX_TOKEN}"
