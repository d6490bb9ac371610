import os
import shutil

import pytest

from tests.e2e.browser.browser_rig import CHROMIUM

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    # Debian's chromium drives these (deploy/scripts/ensure-chromium installs it; Playwright's own
    # browser downloads are not used). Missing: skipped with the reason — except under CI, where the
    # tests run and fail saying what is missing (browser_rig.chromium).
    if shutil.which(CHROMIUM) is not None or IN_CI:
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (run deploy/scripts/ensure-chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
