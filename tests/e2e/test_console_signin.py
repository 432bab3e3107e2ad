from __future__ import annotations

from typing import Any

from livegate.core.permissions import Role
from tests.conftest import PASSWORD, create_account
from tests.e2e.conftest import LiveServer


def test_administrator_signs_in_through_chromium_and_reaches_the_console(live: LiveServer, browser: Any) -> None:
    created = live.platform.bootstrap_admin()
    assert created is not None
    username, password = created
    page = browser.new_page()
    page.goto(f"{live.url}/console")
    assert page.locator("text=Sign in").first.is_visible()  # 401 page offers sign-in
    page.goto(f"{live.url}/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[data-testid=signin-submit]")
    page.wait_for_url(f"{live.url}/console")
    assert page.locator("[data-testid=console-title]").inner_text() == "Rooms"
    assert page.locator("[data-testid=who]").inner_text() == "Administrator"
    page.click("a[data-panel=audit]")
    page.wait_for_selector(".audit-row")
    assert "auth.sign_in" in page.locator("[data-audit]").inner_text()


def test_a_wrong_password_shows_the_reason_and_an_audience_cannot_open_the_console(
    live: LiveServer, browser: Any
) -> None:
    create_account(live.platform, "viewer1", Role.AUDIENCE)
    page = browser.new_page()
    page.goto(f"{live.url}/signin")
    page.fill("input[name=username]", "viewer1")
    page.fill("input[name=password]", "not the password")
    page.click("[data-testid=signin-submit]")
    assert "Wrong username" in page.locator("[data-testid=signin-error]").inner_text()
    page.fill("input[name=username]", "viewer1")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=signin-submit]")
    page.wait_for_url(f"{live.url}/")
    resp = page.goto(f"{live.url}/console")
    assert resp is not None and resp.status == 403
