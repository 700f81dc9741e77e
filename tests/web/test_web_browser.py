"""End to end in a real browser: Selenium driving Debian's chromium and chromium-driver.

No browser is downloaded at test time: the test uses /usr/bin/chromium and
/usr/bin/chromedriver (``.ci/run`` installs them with apt when missing) and skips
without them, except under CI=true, where it fails. Screenshots land in the test's
tmp folder; with MONITOR_SCREENSHOTS=DIR they are also copied there (the README's
screenshot of the matches page is made that way).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from websites import ADMIN, Site

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
LIVE_ITEM = (b"<item><title>Rain floods Zoom's office in mainland China</title>"
             b"<link>https://news.example/flood</link><guid>flood</guid>"
             b"<description>Heavy rain hit the city.</description></item>")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if IN_CI:
            pytest.fail("chromium/chromium-driver missing (CI=true): apt-get install them")
        pytest.skip("Debian chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: object, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    target = os.environ.get("MONITOR_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def test_a_user_logs_in_watches_searches_tries_retries_and_logs_out(
        browser: object, sqlite_url: str, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    wait = WebDriverWait(d, 20)  # type: ignore[arg-type]
    with Site(sqlite_url, tmp_path) as site:
        site.make_dead_alert()
        d.get(site.base + "/alerts")  # type: ignore[attr-defined]
        wait.until(ec.url_contains("/login"))  # pages need a login
        d.find_element(By.ID, "token").send_keys(ADMIN)  # type: ignore[attr-defined]
        d.find_element(By.ID, "login").click()  # type: ignore[attr-defined]
        live = wait.until(ec.presence_of_element_located((By.ID, "live")))
        assert "Zoom signs partner-only deal" in live.text
        _shot(d, tmp_path, "overview")

        # A poll stores a new match: it appears on the open page without a reload.
        wait.until(lambda drv: drv.execute_script(
            "return document.readyState") == "complete")
        site.feeds.add("/world.xml", site.feeds.routes["/world.xml"].body.replace(
            b"</channel>", LIVE_ITEM + b"</channel>"),
            headers={"Content-Type": "application/rss+xml"})
        asyncio.run(site.monitor.poll(all_feeds=True))
        fresh = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#live li.new")))
        assert "Rain floods Zoom" in fresh.text
        _shot(d, tmp_path, "overview-live")

        # Search: typing filters the results in place (htmx), the URL follows.
        d.find_element(By.LINK_TEXT, "Matches").click()  # type: ignore[attr-defined]
        box = wait.until(ec.element_to_be_clickable((By.ID, "q")))
        box.send_keys("partner")
        wait.until(lambda drv: "q=partner" in drv.current_url)
        wait.until(lambda drv: "Weather" not in drv.find_element(By.ID, "results").text)
        assert "Zoom signs partner-only deal" in d.find_element(By.ID, "results").text  # type: ignore[attr-defined]
        box.clear()
        box.send_keys("zoom")
        wait.until(lambda drv: "q=zoom" in drv.current_url)
        wait.until(lambda drv: "Rain floods" in drv.find_element(By.ID, "results").text)
        _shot(d, tmp_path, "matches")
        # The hostile title is text on the page, and its javascript: link is no link.
        shown = d.find_element(By.ID, "results").text  # type: ignore[attr-defined]
        assert "<script>alert('title')</script> Zoom goes rogue" in shown  # shown as text
        links = [a.get_attribute("href") or "" for a in d.find_elements(By.TAG_NAME, "a")]  # type: ignore[attr-defined]
        assert not [h for h in links if h.lower().startswith("javascript:")]
        with pytest.raises(NoAlertPresentException):  # no feed script ran
            d.switch_to.alert  # type: ignore[attr-defined]  # noqa: B018

        # The evidence of a match.
        item = next(li for li in d.find_elements(By.CSS_SELECTOR, "#results li.match")  # type: ignore[attr-defined]
                    if li.find_element(By.CLASS_NAME, "rule").text == "zoom-china")
        item.find_element(By.LINK_TEXT, "evidence").click()
        table = wait.until(ec.presence_of_element_located((By.ID, "evidence")))
        assert "@Zoom" in table.text and "@China" in table.text
        _shot(d, tmp_path, "evidence")

        # The match's story: its articles, and the way back to its matches.
        d.find_element(By.CSS_SELECTOR, 'p.meta a[href^="/stories/"]').click()  # type: ignore[attr-defined]
        articles = wait.until(ec.presence_of_element_located((By.ID, "story-articles")))
        assert "Zoom" in articles.text
        _shot(d, tmp_path, "story")
        d.find_element(By.LINK_TEXT, "Stories").click()  # type: ignore[attr-defined]
        listing = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.stories")))
        assert "Weather: rain over Berlin" in listing.text
        _shot(d, tmp_path, "stories")

        # Try a query: results as you type; a broken query shows the caret.
        d.find_element(By.LINK_TEXT, "Rules").click()  # type: ignore[attr-defined]
        query = wait.until(ec.element_to_be_clickable((By.ID, "try-query")))
        query.send_keys('@Zoom AND "partner-only"')
        wait.until(lambda drv: "would match" in drv.find_element(By.ID, "trial").text)
        assert "1 of" in d.find_element(By.ID, "trial").text  # type: ignore[attr-defined]
        query.send_keys(" AND (")
        wait.until(lambda drv: "Column" in drv.find_element(By.ID, "trial").text)
        assert "^" in d.find_element(By.CSS_SELECTOR, "pre.caret").text  # type: ignore[attr-defined]
        _shot(d, tmp_path, "try-query")

        # Apply the rules to the stored articles (nothing new: the poll matched them).
        d.find_element(By.ID, "apply-rules").click()  # type: ignore[attr-defined]
        applied = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.applied")))
        assert "articles scanned, 0 new matches" in applied.text
        _shot(d, tmp_path, "rules-apply")

        # Retry the dead alert.
        d.find_element(By.LINK_TEXT, "Alerts").click()  # type: ignore[attr-defined]
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.retry"))).click()
        wait.until(lambda drv: not drv.find_elements(By.CSS_SELECTOR, "tr.status-dead"))
        assert not site.monitor.store.list_alerts(status="dead")
        _shot(d, tmp_path, "alerts")

        # A phone-sized window still shows the matches without sideways scrolling.
        d.set_window_size(390, 844)  # type: ignore[attr-defined]
        d.get(site.base + "/matches")  # type: ignore[attr-defined]
        width = d.execute_script("return document.documentElement.scrollWidth")  # type: ignore[attr-defined]
        assert width <= 390
        _shot(d, tmp_path, "matches-phone")
        d.set_window_size(1280, 900)  # type: ignore[attr-defined]

        # The system's dark preference gives a dark page.
        background = "return getComputedStyle(document.body).backgroundColor"
        assert d.execute_script(background) == "rgb(255, 255, 255)"  # type: ignore[attr-defined]
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {  # type: ignore[attr-defined]
            "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        assert d.execute_script(background) == "rgb(17, 20, 24)"  # type: ignore[attr-defined]
        _shot(d, tmp_path, "matches-dark")

        d.find_element(By.ID, "logout").click()  # type: ignore[attr-defined]
        wait.until(ec.url_contains("/login"))
        d.get(site.base + "/matches")  # type: ignore[attr-defined]
        wait.until(ec.url_contains("/login"))  # the session is gone
