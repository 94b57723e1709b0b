"""The whole flow in a real browser: Playwright drives the system Chromium against `streamlit run app.py`.

open the app → the Overview shows segments → open a segment → rename it → export it for
Google → the downloaded file has Google's headers (and the export has its audit row).
Each page is saved as a screenshot to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
GOOGLE_HEADER = "Email,Phone,First Name,Last Name,Country,Zip"
NEW_NAME = "Browser-named shoppers"

# CI (.ci/run) sets REQUIRE_BROWSER=1: there a missing Chromium fails the suite instead of skipping it.
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not REQUIRED,
                                reason="needs the system Chromium (apt-get install chromium)")


def test_chromium_is_installed():
    assert CHROMIUM.exists(), "the real-browser test needs /usr/bin/chromium (apt-get install -y chromium)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {seconds:.0f} s")


@pytest.fixture
def app_url(demo_runs_db, tmp_path):
    """`streamlit run app.py` on a free port against a copy of the demo database (cwd: a scratch folder)."""
    workdir = tmp_path / "cwd"
    (workdir / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
    port = _free_port()
    env = {**os.environ, "SEGMENTATION_DB": str(demo_runs_db)}
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _settled(page) -> None:
    """Wait until Streamlit has finished running the script for the last interaction."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    try:  # a 64-colour palette keeps the PNGs small enough to commit
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)
    except ImportError:
        pass


def _go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    _settled(page)


def test_open_rename_export_in_a_real_browser(app_url, demo_runs_db, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    con = duckdb.connect(str(demo_runs_db), read_only=True)
    run_id, largest, suggested = con.execute(
        "SELECT s.run_id, s.segment_id, s.suggested_name FROM segments s JOIN runs r USING (run_id) "
        "WHERE s.segment_id <> -1 ORDER BY r.as_of DESC, r.run_id DESC, s.size DESC LIMIT 1").fetchall()[0]
    n_segments = con.execute("SELECT count(*) FROM segments WHERE run_id = ? AND segment_id <> -1",
                             [run_id]).fetchone()[0]
    con.close()
    assert n_segments >= 3

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(120_000)

        # open → the Overview shows the segments of the latest snapshot
        page.goto(app_url)
        page.get_by_role("heading", name="Overview", exact=True).wait_for()
        _settled(page)
        open_buttons = page.locator('[class*="st-key-open_"] button')  # the cards' buttons, by widget key
        expect(open_buttons).to_have_count(n_segments)  # one card per segment (waits for them all)
        expect(open_buttons.first).to_be_visible()
        expect(page.get_by_text(suggested, exact=True).first).to_be_visible()
        _shoot(page, "overview")

        # open the largest segment (its card's button) → its profile
        page.locator(f'.st-key-open_{largest} button').click()
        page.get_by_role("heading", name=suggested, exact=True).wait_for()
        _settled(page)
        _shoot(page, "segment")

        # its rules, with their fidelity and the SQL clause
        rules = page.get_by_role("heading", name="As rules for your audience tools")
        rules.scroll_into_view_if_needed()
        expect(page.get_by_text("WHERE ", exact=False).first).to_be_visible()
        expect(page.get_by_test_id("stMetricLabel").filter(has_text="F1")).to_be_visible()
        _shoot(page, "segment_rules")

        # rename it: saved as soon as Enter is pressed
        name_box = page.get_by_label("Name", exact=True)
        name_box.fill(NEW_NAME)
        name_box.press("Enter")
        page.get_by_text(f"Saved the name: “{NEW_NAME}”").wait_for()
        page.get_by_role("heading", name=NEW_NAME, exact=True).wait_for()
        con = duckdb.connect(str(demo_runs_db), read_only=True)
        stored = con.execute("SELECT name, named_by FROM segments WHERE run_id = ? AND segment_id = ?",
                             [run_id, largest]).fetchall()[0]
        con.close()
        assert stored[0] == NEW_NAME and stored[1].startswith("app:")

        # export it for Google: the segment just opened is preselected, Google is the first platform
        _go(page, "Export")
        page.get_by_role("heading", name="Checks").wait_for()
        expect(page.get_by_test_id("stDownloadButton")).to_be_visible()
        _shoot(page, "export")
        expand = page.get_by_role("heading", name="Expand with lookalikes")
        expand.scroll_into_view_if_needed()
        expect(page.get_by_test_id("stMetricLabel").filter(has_text="Recall at the top 20 %")).to_be_visible()
        _shoot(page, "export_expand")
        with page.expect_download() as download_info:
            page.get_by_test_id("stDownloadButton").get_by_role("button").click()
        download = download_info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert download.suggested_filename == f"google_run{run_id}_segment{largest}.csv"
        lines = saved.read_text(encoding="utf-8").splitlines()
        assert lines[0] == GOOGLE_HEADER and len(lines) > 100
        con = duckdb.connect(str(demo_runs_db), read_only=True)
        audit = con.execute("SELECT platform, n_rows, segment_id FROM exports").fetchall()
        con.close()
        assert audit == [("google", len(lines) - 1, largest)]

        # the other pages, for the README
        for title in ("Map", "Evolution", "Run", "Data"):
            _go(page, title)
            page.wait_for_timeout(800)  # charts finish drawing
            _shoot(page, title.lower())
            if title == "Evolution":  # value over time, drawn as one line per segment
                value = page.get_by_role("heading", name="Value over time")
                value.scroll_into_view_if_needed()
                page.wait_for_timeout(800)
                expect(page.locator(".js-plotly-plot").last).to_be_visible()
                _shoot(page, "evolution_value")
        context.close()
        browser.close()
