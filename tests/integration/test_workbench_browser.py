"""The workbench in headless Chromium, served by `govlake serve web` as its users start it: a
liaison disputes a finding, an officer upholds the dispute, the dashboard and the department's
score change, and the finding's history shows both actions. Screenshots of the main pages are
written for a person to look at ($GOVLAKE_SCREENSHOTS, or the test's folder)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.serving.auth import users

pytestmark = pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("GOVLAKE_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (CI installs it and sets GOVLAKE_REQUIRE_BROWSER)",
)
ACCOUNTS = {
    "liaison": ("department_liaison", "gaj"),
    "officer": ("quality_officer", None),
    "analyst": ("city_analyst", None),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(city_lake_path, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(city_lake_path, lake, ignore=shutil.ignore_patterns("_staging", "_gx"))
    path = tmp_path / "users.json"
    for name, (role, department) in ACCOUNTS.items():
        users.add(
            path, name=name, role=role, division=None, department=department,
            password=f"{name}-password-1",
        )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.serving.cli", "serve", "web", "--lake", str(lake),
         "--users", str(path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_dispute_and_uphold_in_a_browser(served, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("GOVLAKE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")

            def log_in(name: str) -> None:
                page.goto(f"{served}/login")
                page.fill("input[name=username]", name)
                page.fill("input[name=password]", f"{name}-password-1")
                page.click("section.login button[type=submit]")
                page.wait_for_url(f"{served}/")

            def figures() -> tuple[int, int, int, float]:
                page.goto(f"{served}/")
                counts = [
                    int(page.inner_text(f"#{c}-count").replace(",", ""))
                    for c in ("open", "disputed", "dismissed")
                ]
                page.goto(f"{served}/departments/gaj")
                score = float(page.get_attribute("#department-score", "data-score"))
                return (*counts, score)

            # 1. a liaison of 公安 disputes one of their department's findings
            log_in("liaison")
            page.screenshot(path=str(shots / "dashboard-liaison.png"), full_page=True)
            page.goto(f"{served}/findings?rule=death_not_deregistered&status=open")
            page.screenshot(path=str(shots / "findings.png"), full_page=True)
            page.locator("#findings tbody a, #findings a").first.click()
            fid = re.search(r"/findings/([0-9a-f]+)$", page.url).group(1)
            assert "待整改" in page.inner_text("#state")
            page.fill("#act-dispute textarea[name=note]", "该人员户籍已于死亡后注销，见注销证明")
            page.fill("#act-dispute textarea[name=evidence]", "注销证明编号 ZX-2026-1103")
            page.click("#act-dispute button[type=submit]")
            assert "异议中" in page.inner_text("#state")
            page.click("header form button")  # log out
            page.wait_for_url(re.compile(r".*/login$"))

            # 2. an officer upholds it
            log_in("officer")
            open_before, disputed_before, dismissed_before, score_before = figures()
            page.screenshot(path=str(shots / "department.png"), full_page=True)
            page.goto(f"{served}/findings/{fid}")
            page.fill("#act-uphold textarea[name=note]", "已核实注销证明，异议成立")
            page.click("#act-uphold button[type=submit]")
            assert "已撤销" in page.inner_text("#state")

            # 3. the dashboard's count and the department's score change accordingly
            open_after, disputed_after, dismissed_after, score_after = figures()
            assert disputed_after == disputed_before - 1
            assert dismissed_after == dismissed_before + 1
            assert open_after == open_before  # it was disputed, not open, before the decision
            assert score_after > score_before
            page.goto(f"{served}/")
            page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

            # 4. the finding's history shows both actions, in order, with who took them
            page.goto(f"{served}/findings/{fid}")
            history = page.inner_text("#actions")
            assert history.index("提出异议") < history.index("异议成立")
            assert "liaison" in history and "officer" in history
            assert "该人员户籍已于死亡后注销" in history
            page.screenshot(path=str(shots / "finding.png"), full_page=True)
            # the text rendered in a CJK font, not as missing-glyph boxes
            assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '问题')")
        finally:
            browser.close()
    for name in ("dashboard.png", "findings.png", "finding.png", "department.png"):
        assert (shots / name).stat().st_size > 10_000
