"""Branches and topics, read-only, from the bot's configuration file (the one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from mostrador.panel_api.models import BranchOut, TopicOut

log = structlog.get_logger("panel.catalog")


@dataclass
class Catalog:
    branches: list[BranchOut] = field(default_factory=list)
    topics: list[TopicOut] = field(default_factory=list)

    def branch_ids(self) -> set[str]:
        return {b.id for b in self.branches}

    def topic_ids(self) -> set[str]:
        return {t.id for t in self.topics}


def load_catalog(bot_config_path) -> Catalog:
    """The bot config's branches and topics. A broken or missing config must not take the panel
    down (tickets are still workable), so failures give an empty catalog and a log line."""
    try:
        from mostrador.bot.config import load_config

        config = load_config(str(bot_config_path) if bot_config_path else None)
    except Exception as exc:  # noqa: BLE001 - the bot's own start-up reports the details
        log.warning("panel.catalog_unavailable", error=str(exc)[:300])
        return Catalog()
    return Catalog(
        branches=[BranchOut(id=b.id, name=b.name, address=b.address, hours=b.hours or None) for b in config.branches],
        topics=[TopicOut(id=t.id, title=t.title, description=t.description) for t in config.topics],
    )
