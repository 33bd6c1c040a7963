#!/usr/bin/env python3
"""Loads tickerfeed's pages in headless Chromium over WebDriver and reports
what a person would see.

usage: browser_check.py PLAN.json

PLAN is a JSON object:
  {"screenshots": DIR, "axe": PATH/TO/axe.min.js,
   "widths": [375, 1280], "height": 800,
   "host_rules": "MAP feeds.test:80 127.0.0.1:PORT",
   "pages": [{"name": "front", "url": "http://feeds.test/",
              "expect": {"board": ".board", "first_item": ".river .item",
                         "strip": ".river .item .strip",
                         "chart_label": null}}]}
(any of them may be null: the page has none; "host_rules" is
Chromium's --host-resolver-rules, so pages can be loaded at the public
address their links use.)

For each page at each width (emulated as a device of that width, a phone
below 600 px), the report has:
- "console": the browser log since the page started loading (console
  errors, and CSP violations: Chromium logs a refused load or script as a
  SEVERE entry from the source "security");
- "inner_width", "scroll_width", "client_width" of the document, and
  "styled": whether the stylesheet applied;
- "board", "first_item", "strip", "chart_label": where each expected
  element is
  ({"displayed", "left", "right", "top", "width", "height", "line_height"
  (its computed line height in px), "font_px" (its font size in px on
  screen: an SVG text's computed size times its drawing's scale), "text"
  (its textContent, hidden parts included)}) or null when it is missing;
- "axe": axe-core's findings ({"version", "passes": how many rules
  passed, "violations": [{"id", "impact", "help", "targets"}]});
- "screenshot": the full-page PNG written to DIR as NAME-WIDTH.png;
- "dark": {"axe", "screenshot"} again with prefers-color-scheme: dark
  (NAME-WIDTH-dark.png);
- "console_after_axe": what the log gained while axe-core ran;
- "strip_spoken": what a screen reader gets from the "strip" element,
  from Chromium's accessibility tree (its text nodes not hidden from it),
  or null without a "strip";
- "unstyled": {"styled" (false: the stylesheet was blocked),
  "strip_spoken"} again with the page's stylesheet blocked, as a reader
  that ignores CSS meets it, or null without a "strip".
Then "canary": a script element added to the last page by WebDriver, which
the page's CSP must refuse, and the browser log entries that refusal left;
it proves that WebDriver's own scripts (axe-core's) run despite the CSP and
that CSP violations do reach the log this report reads.

Prints one JSON report on stdout and writes it to DIR as report.json;
judging it is the caller's job (tests/integration/web.rs). Needs selenium (PyPI) and Debian's chromium
and chromium-driver; nothing is downloaded (Selenium Manager is not used:
the driver and browser paths are given).
"""

import base64
import json
import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

# Without the background-networking flags Chromium keeps trying hosts this
# closed network refuses; a new profile keeps runs independent.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]

# Where an element is, in CSS pixels of the viewport; null when missing.
WHERE = """
const el = document.querySelector(arguments[0]);
if (!el) return null;
const r = el.getBoundingClientRect();
const s = getComputedStyle(el);
// An SVG element's font size is in its drawing's units: on screen it is
// that times the drawing's scale.
const ctm = el.getScreenCTM ? el.getScreenCTM() : null;
const scale = ctm ? Math.hypot(ctm.a, ctm.b) : 1;
return {displayed: s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0,
        left: r.left, right: r.right, top: r.top, width: r.width, height: r.height,
        line_height: parseFloat(s.lineHeight), font_px: parseFloat(s.fontSize) * scale,
        text: el.textContent};
"""

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done({version: axe.version, passes: r.passes.length,
      violations: r.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}))
  .catch(e => done({error: String(e)}));
"""

CANARY = """
const s = document.createElement('script');
s.textContent = 'document.documentElement.dataset.canary = "ran"';
document.head.appendChild(s);
return document.documentElement.dataset.canary || null;
"""


def browser(profile, host_rules):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    if host_rules:
        options.add_argument(f"--host-resolver-rules={host_rules}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(30)
    return driver


def log(driver):
    """The browser log entries since the last call."""
    return [
        {"level": e["level"], "source": e.get("source", ""), "message": e["message"]}
        for e in driver.get_log("browser")
    ]


def scheme(driver, value):
    """Emulates the reader's `prefers-color-scheme`."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": value}]},
    )


def screenshot(driver, path):
    """The whole page, not only the viewport."""
    png = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    with open(path, "wb") as f:
        f.write(base64.b64decode(png["data"]))
    return path


def spoken(driver, selector):
    """The text a screen reader gets from the element `selector` finds, as
    Chromium's accessibility tree has it: the names of its text nodes
    that are not ignored (hidden by `display: none`, in a closed
    `<details>`, ...), in document order, one space between. None when
    the element is missing."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("Accessibility.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    found = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    if not found.get("nodeId"):
        return None
    backend = driver.execute_cdp_cmd("DOM.describeNode", {"nodeId": found["nodeId"]})["node"][
        "backendNodeId"
    ]
    nodes = driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
    by_id = {n["nodeId"]: n for n in nodes}
    start = next((n for n in nodes if n.get("backendDOMNodeId") == backend), None)
    if start is None:
        return ""
    words = []

    def walk(node):
        if node.get("role", {}).get("value") == "StaticText" and not node.get("ignored"):
            words.append(node.get("name", {}).get("value", ""))
        for child in node.get("childIds", []):
            if child in by_id:
                walk(by_id[child])

    walk(start)
    return " ".join(w for w in words if w)


def unstyled(driver, url, selector):
    """`spoken` for `selector` on the page loaded without its stylesheet,
    as a reader that ignores CSS meets it (a text browser, a reader
    view)."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*.css"]})
    try:
        driver.get(url)
        # As in `look`: the stylesheet sets the body's margin to 0.
        styled = driver.execute_script(
            "return getComputedStyle(document.body).marginTop === '0px';"
        )
        return {"styled": styled, "strip_spoken": spoken(driver, selector)}
    finally:
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        log(driver)  # the blocked stylesheet's error is this check's own


def look(driver, page, width, height, axe, shots):
    mobile = width < 600
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    scheme(driver, "light")
    log(driver)  # drop what an earlier page left
    driver.get(page["url"])
    report = {"name": page["name"], "url": page["url"], "width": width}
    report["console"] = log(driver)
    report.update(
        driver.execute_script(
            "const d = document.documentElement;"
            "return {inner_width: window.innerWidth, scroll_width: d.scrollWidth,"
            " client_width: d.clientWidth,"
            # The stylesheet sets the body's margin to 0; a browser's is 8px.
            " styled: document.styleSheets.length > 0"
            "  && getComputedStyle(document.body).marginTop === '0px'};"
        )
    )
    for key, selector in page["expect"].items():
        report[key] = driver.execute_script(WHERE, selector) if selector else None
    strip = page["expect"].get("strip")
    report["strip_spoken"] = spoken(driver, strip) if strip else None
    name = f"{page['name']}-{width}"
    report["screenshot"] = screenshot(driver, os.path.join(shots, f"{name}.png"))
    driver.execute_script(axe)
    report["axe"] = driver.execute_async_script(AXE_RUN)
    # The same page in the dark scheme: contrast is checked again.
    scheme(driver, "dark")
    report["dark"] = {
        "screenshot": screenshot(driver, os.path.join(shots, f"{name}-dark.png")),
        "axe": driver.execute_async_script(AXE_RUN),
    }
    # axe-core itself must not have tripped the CSP or the console.
    report["console_after_axe"] = log(driver)
    report["unstyled"] = unstyled(driver, page["url"], strip) if strip else None
    return report


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    with open(plan["axe"], encoding="utf-8") as f:
        axe = f.read()
    os.makedirs(plan["screenshots"], exist_ok=True)
    report = {"browser": None, "pages": [], "canary": None}
    with tempfile.TemporaryDirectory(prefix="tickerfeed-chromium-") as profile:
        driver = browser(profile, plan.get("host_rules"))
        try:
            report["browser"] = driver.capabilities.get("browserVersion")
            for page in plan["pages"]:
                for width in plan["widths"]:
                    report["pages"].append(
                        look(driver, page, width, plan["height"], axe, plan["screenshots"])
                    )
            ran = driver.execute_script(CANARY)
            report["canary"] = {"ran": ran, "console": log(driver)}
        finally:
            driver.quit()
    with open(os.path.join(plan["screenshots"], "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
