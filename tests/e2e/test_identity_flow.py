"""Chromium walks a publisher from sign-up to "verified": phone code, agreements, document
details and photo, and a reviewer's approval in the console in between (Arts. 12, 13)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from livegate.core.permissions import Role
from tests.conftest import PASSWORD, create_account
from tests.e2e.conftest import LiveServer
from tests.identity.helpers import jpeg_bytes, resident_id

PHONE = "+8613512345678"


def test_a_publisher_signs_up_verifies_and_is_approved_by_staff(live: LiveServer, browser: Any) -> None:
    outbox = live.platform.identity.outbox
    assert outbox is not None
    page = browser.new_page()
    page.goto(f"{live.url}/signup")
    page.fill("input[name=username]", "anchor-li")
    page.fill("input[name=nickname]", "小李直播")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=signup-submit]")
    page.wait_for_url(f"{live.url}/account")
    assert page.locator("[data-testid=nickname]").inner_text() == "小李直播"

    page.fill("#phone-input", "135 1234 5678")
    page.click("[data-testid=send-code]")
    page.wait_for_selector("[data-testid=code-sent]:has-text('Code sent')")
    code = outbox.last_code(PHONE)
    assert code is not None
    page.fill("input[name=code]", code)
    page.click("[data-testid=verify-code]")
    page.wait_for_selector("[data-testid=phone-status]:has-text('+86 135****5678')")

    page.click("[data-testid=accept-agreements]")
    page.wait_for_selector("[data-testid=agreements-ok]")

    page.select_option("select[name=doc_type]", "resident_id")
    page.fill("input[name=number]", "12345")
    page.fill("input[name=real_name]", "李白")
    page.click("[data-testid=submit-verification]")
    page.wait_for_selector("[data-testid=verification-error]:has-text('18 characters')")
    page.fill("input[name=number]", resident_id(dt.date(1995, 5, 5), 321, "510104"))
    page.click("[data-testid=submit-verification]")
    page.wait_for_selector("[data-testid=verification-status]:has-text('awaiting review')")
    page.set_input_files("input[type=file]", files=[{"name": "id.jpg", "mimeType": "image/jpeg",
                                                     "buffer": jpeg_bytes((120, 80))}])
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector("text=Photos attached: 1")

    create_account(live.platform, "reviewer-wang", Role.REVIEWER)
    staff = browser.new_context().new_page()
    staff.goto(f"{live.url}/signin")
    staff.fill("input[name=username]", "reviewer-wang")
    staff.fill("input[name=password]", PASSWORD)
    staff.click("[data-testid=signin-submit]")
    staff.wait_for_url(f"{live.url}/console")
    staff.goto(f"{live.url}/console/identity")
    card = staff.locator("[data-verification]")
    assert card.count() == 1
    assert "李白" not in card.inner_text() and "李*" in card.inner_text()
    assert card.locator("text=Photos").count() == 1
    staff.fill("[data-testid=decision-reason]", "document, name and photo agree")
    staff.click("[data-testid=decide]")
    staff.wait_for_selector("[data-testid=queue-empty]")

    page.goto(f"{live.url}/account")
    assert page.locator("[data-testid=verification-status]").inner_text() == "verified"
    page.goto(f"{live.url}/studio/identity")
    assert page.locator("[data-testid=verification-status]").inner_text() == "verified"
    assert page.locator("[data-testid=agreements-ok]").count() == 1
