"""Every setting, from the environment (pydantic-settings). One class for all services: each reads
what it needs, and the deployment files are checked against these names."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

META_GRAPH_BASE_URL = "https://graph.facebook.com/v25.0"
# The sandbox's secrets are in this public repository: fine against the fake Graph API, never for real.
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-verify-token"


class UnsafeSecrets(ValueError):
    """A public or empty WhatsApp secret where it would have to protect something real."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Where and how to run
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to")
    port: int = Field(8000, description="HTTP port (embedded: the one port for everything)")
    workers: int = Field(1, ge=1, le=64, description="panel-api: HTTP worker processes on the one port (about "
                                                     "one per core); the other services run as one process")
    data_dir: Path = Field(Path("./var"), description="Embedded mode: SQLite files, bus journal, media")
    database_url: str | None = Field(None, description="Distributed mode: PostgreSQL URL")
    db_schema: str | None = Field(None, description="PostgreSQL schema of this service (default: its name)")
    db_pool_size: int = Field(5, description="PostgreSQL connections per store")
    db_group_commit: int = Field(32, ge=1, description="Event-store saves of concurrent messages that may "
                                                       "share one transaction (1: each its own)")
    amqp_url: str | None = Field(None, description="Distributed mode: RabbitMQ URL")
    bus_namespace: str = Field("mostrador", description="Prefix of every exchange and queue")
    bus_prefetch: int = Field(64, description="Unacked messages a consumer may hold")
    bus_delivery_limit: int = Field(5, description="Deliveries before a message is dead-lettered")
    bus_topology_settle_seconds: float = Field(
        5.0, description="A new RabbitMQ topology is left this long before traffic (quorum queues on 3.10 "
                         "declared ~1 s before a broker crash are lost); 0 disables")
    log_level: str = Field("INFO")
    log_format: str = Field("json", description="json or console")
    public_url: str | None = Field(None, description="Public base URL of the panel (for links)")

    # WhatsApp Cloud API (no access token: the embedded sandbox is used)
    whatsapp_graph_base_url: str = Field(META_GRAPH_BASE_URL)
    whatsapp_phone_number_id: str = Field("109876543210987")
    whatsapp_access_token: SecretStr | None = Field(None, description="Set: the real Cloud API (empty = unset)")
    whatsapp_app_secret: SecretStr = Field(SecretStr(SANDBOX_APP_SECRET))
    whatsapp_verify_token: SecretStr = Field(SecretStr(SANDBOX_VERIFY_TOKEN))
    whatsapp_sandbox: bool = Field(
        False, description="Distributed mode against the fake Graph API (make run-distributed without a token): "
                           "no access token needed, and the public sandbox secrets are accepted")
    whatsapp_throughput: float = Field(80.0, description="Messages per second our number may send")
    whatsapp_max_body_bytes: int = Field(3 * 1024 * 1024, description="Largest webhook body accepted")

    # The product's clocks
    ticket_expiry_hours: float = Field(48.0, description="A ticket not final this long after its first message: VENCIDO")
    chat_window_hours: float = Field(24.0, description="WhatsApp's customer-service window")
    scheduler_poll_seconds: float = Field(1.0, description="How often due deadlines are looked for")
    chat_send_grace_seconds: float = Field(
        10.0, description="After a crash mid-send: how long to wait for WhatsApp's status before sending again")

    # The bot and the panel
    bot_config: Path | None = Field(None, description="YAML file with the bot's texts, branches and topics")
    admin_username: str | None = Field(None, description="First admin user (created at start if missing)")
    admin_password: SecretStr | None = Field(None)
    session_hours: float = Field(12.0, description="Panel sessions expire after this long idle")
    login_max_failures: int = Field(5, description="Failed logins before an account/IP is locked out")
    login_lockout_seconds: float = Field(300.0)

    # Where the other services answer HTTP (distributed mode; panel-api proxies media from ingest)
    ingest_url: str = Field("http://127.0.0.1:8001")

    @field_validator("whatsapp_access_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # compose passes ${WHATSAPP_ACCESS_TOKEN:-}: an empty value means no credentials, not a blank token
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(raw, str) and not raw.strip() else value

    def check_secrets(self, *, webhook_endpoint: bool = False) -> None:
        """Refuse to start with a public or empty app secret / verify token where they protect something
        real: whenever an access token is set (the real Cloud API), and on a distributed ingest (its webhook
        and media face the network) unless WHATSAPP_SANDBOX says it is the sandbox."""
        real = self.whatsapp_access_token is not None
        if not real and (self.whatsapp_sandbox or not webhook_endpoint):
            return
        secrets = [("WHATSAPP_APP_SECRET", self.whatsapp_app_secret, SANDBOX_APP_SECRET)]
        if real:  # the handshake Meta makes when the webhook is registered for the real number
            secrets.append(("WHATSAPP_VERIFY_TOKEN", self.whatsapp_verify_token, SANDBOX_VERIFY_TOKEN))
        problems = []
        for name, value, public in secrets:
            raw = value.get_secret_value()
            if not raw.strip():
                problems.append(f"{name} is empty")
            elif raw == public:
                problems.append(f"{name} is the public sandbox value")
        if problems:
            why = ("WHATSAPP_ACCESS_TOKEN is set (the real WhatsApp Cloud API)" if real
                   else "this ingest receives webhooks from the network")
            raise UnsafeSecrets(
                f"refusing to start: {' and '.join(problems)} while {why}, so webhooks could be forged and the "
                "internal media token computed. Set WHATSAPP_APP_SECRET to your Meta app's secret and "
                "WHATSAPP_VERIFY_TOKEN to a random value of your own"
                + ("." if real else " (or WHATSAPP_SANDBOX=true when this runs against the fake Graph API)."))

    @property
    def internal_token(self) -> str:
        """Bearer token for service-to-service calls (panel-api fetching media from ingest), derived
        from the app secret every service already holds."""
        import hashlib
        import hmac
        return hmac.new(self.whatsapp_app_secret.get_secret_value().encode(), b"mostrador-internal",
                        hashlib.sha256).hexdigest()

    @property
    def sandbox(self) -> bool:
        return self.whatsapp_access_token is None

    def schema_for(self, service: str) -> str:
        return self.db_schema or service.replace("-", "_")

    def sqlite_path(self, name: str) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / f"{name}.db")
