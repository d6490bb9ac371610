"""Test folders have no __init__.py (pytest's default import mode), so two test modules with the same
basename in different tiers collide when run together. Keep every basename unique."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_basenames_are_unique():
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py" and "fixtures" not in p.parts)
    assert [name for name, count in names.items() if count > 1] == []
