"""Every setting, from the environment (pydantic-settings). One class for all services: each reads
what it needs, and the deployment files are checked against these names."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

META_GRAPH_BASE_URL = "https://graph.facebook.com/v25.0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Where and how to run
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to")
    port: int = Field(8000, description="HTTP port (embedded: the one port for everything)")
    data_dir: Path = Field(Path("./var"), description="Embedded mode: SQLite files, bus journal, media")
    database_url: str | None = Field(None, description="Distributed mode: PostgreSQL URL")
    db_schema: str | None = Field(None, description="PostgreSQL schema of this service (default: its name)")
    db_pool_size: int = Field(5, description="PostgreSQL connections per store")
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
    whatsapp_access_token: SecretStr | None = Field(None)
    whatsapp_app_secret: SecretStr = Field(SecretStr("sandbox-app-secret"))
    whatsapp_verify_token: SecretStr = Field(SecretStr("sandbox-verify-token"))
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
