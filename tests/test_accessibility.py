"""Every HTML page the project writes passes axe-core's WCAG 2.1 A and AA rules in Chromium: the
feedback pages of the demo class (a hostile student's included), the class report, each quiz
summary page and the similar-submissions page of two classes (tests/pages.py `PAGES`: one more page
there is one more test here).

axe-core (npm, MPL-2.0, pinned below) is not vendored: .ci/run installs it into the git-ignored
folder .axe/ (`npm install --prefix .axe axe-core@VERSION`), and this test does the same when it is
missing and npm is there. Without Chromium or npm the test skips, except under CI (CI=true), where
it fails: the accessibility claim must not pass unchecked. Each page is opened with its
Content-Security-Policy bypassed, since axe is itself a script and the pages allow none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pages
import pytest
from test_browser import CHROMIUM_FLAGS, find_or_install_chromium

from autograde.config import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_VERSION = "4.14.1"
AXE_DIR = ROOT / ".axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def find_or_install_axe() -> tuple[Path | None, str]:
    """(axe.min.js of the pinned version, '') or (None, why not)."""
    manifest = AXE.parent / "package.json"
    if AXE.exists() and json.loads(manifest.read_text()).get("version") == AXE_VERSION:
        return AXE, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "axe-core is not in .axe/ and there is no npm to install it (apt-get install npm)"
    done = subprocess.run([npm, "install", "--silent", "--no-save", "--no-package-lock", "--no-audit",
                           "--no-fund", "--prefix", str(AXE_DIR), f"axe-core@{AXE_VERSION}"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not AXE.exists():
        return None, f"npm install axe-core@{AXE_VERSION} failed: {done.stderr.strip()[-300:]}"
    return AXE, ""


def unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"the accessibility test cannot run under CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def axe_page():
    """A headless Chromium page (CSP bypassed) and axe-core's source."""
    sync_api = pytest.importorskip("playwright.sync_api")
    browser_path, why = find_or_install_chromium()
    if browser_path is None:
        unavailable(why)
    axe, why = find_or_install_axe()
    if axe is None:
        unavailable(why)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1300, "height": 1000})
        yield context.new_page(), axe.read_text()
        browser.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("a11y")


def violations(page, axe_source: str, url: str) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page at url."""
    page.goto(url)
    page.add_script_tag(content=axe_source)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           WCAG_21_AA)
    assert result["testEngine"]["version"] == AXE_VERSION
    ran = {rule["id"] for rule in result["passes"] + result["violations"]}
    assert {"html-has-lang", "color-contrast", "document-title"} <= ran, ran   # checked, not skipped
    return result["violations"]


def described(found: list[dict]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -- {len(v['nodes'])} nodes, e.g. "
                     f"{v['nodes'][0]['target']} {v['nodes'][0]['failureSummary'][:200]}"
                     for v in found)


@pytest.mark.parametrize("name", sorted(pages.PAGES))
def test_no_wcag_21_aa_violation(axe_page, folder, name):
    page, axe_source = axe_page
    (folder / name).mkdir()
    found = violations(page, axe_source, pages.PAGES[name](folder / name).as_uri())
    assert found == [], f"{name}:\n{described(found)}"
