"""pyproject.toml builds with the setuptools it asks for: `license = "Apache-2.0"` (PEP 639) is only
understood by setuptools 77 and later; an older one fails the build (or `make install`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]


def test_an_spdx_license_string_requires_setuptools_77():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(pyproject["project"]["license"], str)
    [setuptools] = [Requirement(r) for r in pyproject["build-system"]["requires"]
                    if Requirement(r).name == "setuptools"]
    allowed_below_77 = [v for v in ("68", "76.1.0") if setuptools.specifier.contains(Version(v))]
    assert allowed_below_77 == [], f"{setuptools} still allows a setuptools without PEP 639"
    assert setuptools.specifier.contains(Version("77.0.3"))
