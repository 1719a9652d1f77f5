"""Every portal page: labelled controls, keyboard reachable, no layout shifts, and its
title and landmarks; checked in Chromium on the rendered page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.portal.conftest import login

PUBLIC = [
    "/", "/portal/tables", "/portal/tables/gaia_dr3.gaia_source", "/portal/login", "/portal/sky",
]
PRIVATE = ["/portal/query", "/portal/mydb", "/portal/files", "/portal/account"]

# Layout shifts accumulated while the page loads and settles (Cumulative Layout Shift);
# 0.1 is the usual bound for a page that does not jump under the reader's eyes.
CLS_BOUND = 0.1

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
  // The sky viewer's own widgets are Aladin Lite's, inside its application region.
  .filter((el) => !el.closest('#aladin-lite-div'))
  .filter((el) => {
    const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      || (el.tagName === 'BUTTON' && el.textContent.trim()) || el.title;
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""

LAYOUT_SHIFT = """() => new Promise((resolve) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(total), 1500);
})"""


def check_page(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert page.title().endswith("Data Lab"), path
    assert page.locator("main#main").count() == 1, path
    assert page.locator("nav[aria-label]").count() >= 1, path
    assert page.locator("h1").count() == 1, path
    assert page.evaluate(UNLABELLED) == [], path
    shift = page.evaluate(LAYOUT_SHIFT)
    assert shift < CLS_BOUND, f"{path}: layout shift {shift:.3f}"


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_are_accessible_and_stable(page: Page, path: str) -> None:
    check_page(page, path)


def test_private_pages_are_accessible_and_stable(page: Page) -> None:
    login(page)
    for path in PRIVATE:
        check_page(page, path)


def test_the_skip_link_and_navigation_work_by_keyboard(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # From the top, Tab reaches each section of the menu in order.
    page.goto("/")
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert ["Catalogs", "Tables", "Query", "Sky", "myDB", "Files"] == [
        s for s in seen if s in {"Catalogs", "Tables", "Query", "Sky", "myDB", "Files"}
    ]
    page.keyboard.press("Shift+Tab")
    page.goto("/")
    page.get_by_role("link", name="Tables").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/tables")
