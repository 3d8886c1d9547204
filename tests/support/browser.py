"""Headless Chromium for the browser tests, and the axe-core audit they run on a page."""
import os
import shutil

import pytest

from .commands import ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # `make axe` installs it (npm ci)
BLOCKING = ("serious", "critical")  # the impacts an audit must not find


def missing(reason: str) -> None:
    """Skip for want of a tool; fail instead where CI requires the browser tests."""
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


def chromium(width: int = 1280, height: int = 900):
    """Start headless Chromium under ChromeDriver; return the WebDriver (the caller quits it)."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        missing("Debian's chromium and chromium-driver are not installed "
                "(make test installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def axe_source() -> str:
    """Return axe-core's script, or skip (fail under REQUIRE_BROWSER) when it is not installed."""
    if not AXE.is_file():
        missing(f"axe-core is not installed at {AXE.relative_to(ROOT)}: run `make axe` (needs npm)")
    return AXE.read_text(encoding="utf-8")


def audit(driver, source: str) -> list[dict]:
    """Run axe-core on the page the driver shows; return its serious and critical violations.

    The script goes in through WebDriver, which the page's Content-Security-Policy does not
    govern, so the site itself keeps serving no inline or foreign script.
    """
    driver.execute_script(source)
    results = driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
           .then(function (r) { done(r.violations); })
           .catch(function (e) { done({error: String(e)}); });""")
    assert not isinstance(results, dict), results  # axe itself failed: say why
    return [v for v in results if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    """Return each violation's rule, impact and the first elements it names, one per line."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> "
                     + "; ".join(element(node) for node in v["nodes"][:5])
                     for v in violations)


def element(node: dict) -> str:
    """Return an element axe names: its CSS selector and why it fails."""
    summary = node.get("failureSummary", "").replace("\n", " ")
    return " ".join(map(str, node["target"])) + " " + summary
