"""Logging in and out in a real browser, by keyboard as well as by mouse."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.client.conftest import PASSWORDS
from tests.portal.conftest import login


def test_login_account_token_and_logout(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Catalogs")).to_be_visible()
    expect(page.locator("#table-hipparcos\\.hip2")).to_be_visible()
    login(page)
    page.locator("#account-link").click()
    expect(page.get_by_role("heading", name="Account demo00")).to_be_visible()
    page.get_by_role("button", name="Make a new token").click()
    expect(page.locator("#new-token")).to_contain_text("demo00.")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-link")).to_be_visible()


def test_login_by_keyboard_and_wrong_password(page: Page) -> None:
    page.goto("/portal/login")
    # The form puts the cursor in the user name field itself.
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("demo01")
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    page.get_by_label("Password").fill(PASSWORDS["demo01"])
    page.keyboard.press("Enter")
    expect(page.locator("#account-link")).to_have_text("demo01")
