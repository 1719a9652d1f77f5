"""The Files page in a real browser: folders, uploads with a progress bar per file,
listing with sizes and MD5s, download, rename, delete after a confirmation."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.portal.conftest import PortalSite, login

# A file name that would run script if a page ever put names in as HTML.
HOSTILE_NAME = "<img src=x onerror=alert(1)>.txt"


def row(page: Page, name: str):  # type: ignore[no-untyped-def]
    """The listing's row for the node called ``name``."""
    return page.locator("#files-body tr[data-path]").filter(
        has=page.locator(".name", has_text=name)
    )


def test_folder_upload_download_rename_delete(page: Page, portal: PortalSite, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    top = f"web_{uuid.uuid4().hex[:8]}"
    big = tmp_path / "survey.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    hostile = tmp_path / HOSTILE_NAME
    hostile.write_text("harmless text\n")

    login(page)
    page.goto("/portal/files")
    page.get_by_label("Folder name").fill(top)
    page.get_by_role("button", name="Create folder").click()
    expect(page.locator("#files-status")).to_have_text(f"Created vos://{top}.")
    page.get_by_role("link", name=f"{top}/").click()
    page.wait_for_url(f"**/portal/files?path={top}")
    crumbs = page.get_by_role("navigation", name="Folder path")
    expect(crumbs.get_by_role("link")).to_have_text(["vos://", top])
    expect(page.locator("#files-empty")).to_have_text("This folder is empty.")

    page.get_by_label("Files", exact=True).set_input_files([str(big), str(hostile)])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#files-status")).to_have_text("2 of 2 files uploaded.")
    bars = page.locator("#upload-list progress")
    expect(bars).to_have_count(2)
    for i in range(2):
        expect(bars.nth(i)).to_have_js_property("value", 1)
    digest = hashlib.md5(big.read_bytes()).hexdigest()
    expect(page.locator("#upload-list li").first).to_contain_text(f"MD5 {digest}")

    survey = row(page, "survey.bin")
    expect(survey.locator(".size")).to_have_text("3.0 MiB")
    expect(survey.locator(".size")).to_have_attribute("title", f"{3 * 1024 * 1024 + 17:,} bytes")
    expect(survey.locator(".md5")).to_have_text(digest)
    expect(survey.locator(".modified")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    # The hostile name is shown as text, exactly, and nothing ran.
    expect(row(page, HOSTILE_NAME).locator(".name")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#files-body img")).to_have_count(0)
    page.reload()  # drawn from the listing the page carries itself
    expect(row(page, HOSTILE_NAME).locator(".name")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#files-body img")).to_have_count(0)

    with page.expect_download() as info:
        survey.get_by_role("link", name="Download survey.bin").click()
    download = info.value
    assert download.suggested_filename == "survey.bin"
    assert Path(download.path()).read_bytes() == big.read_bytes()

    # The same name again: refused unless replacing.
    page.get_by_label("Files", exact=True).set_input_files([str(hostile)])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#files-status")).to_have_text("0 of 1 file uploaded.")
    expect(page.locator("#upload-list .status")).to_contain_text("already exists")
    page.get_by_label("Replace files of the same name").check()
    page.get_by_label("Files", exact=True).set_input_files([str(hostile)])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#files-status")).to_have_text("1 of 1 file uploaded.")

    # Rename, then a clash and a hostile name are refused with the storage's message.
    survey.get_by_role("button", name="Rename survey.bin").click()
    field = page.get_by_label("New name for survey.bin (or vos://folder/ to move it)")
    expect(field).to_be_focused()
    field.fill("../escape.bin")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#files-status")).to_contain_text("a name cannot contain '/'")
    field.fill("renamed.bin")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#files-status")).to_have_text(f"Now vos://{top}/renamed.bin.")
    expect(row(page, "survey.bin")).to_have_count(0)
    expect(row(page, "renamed.bin").locator(".md5")).to_have_text(digest)

    # Delete a file: confirm first; cancel keeps it.
    renamed = row(page, "renamed.bin")
    renamed.get_by_role("button", name="Delete renamed.bin").click()
    confirm = page.get_by_role("group", name="Confirm deleting renamed.bin")
    expect(confirm).to_contain_text(f"Delete vos://{top}/renamed.bin?")
    cancel = confirm.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    cancel.click()
    expect(renamed).to_have_count(1)
    renamed.get_by_role("button", name="Delete renamed.bin").click()
    page.get_by_role("button", name="Delete file").click()
    expect(page.locator("#files-status")).to_have_text(f"Deleted vos://{top}/renamed.bin.")
    expect(row(page, "renamed.bin")).to_have_count(0)

    # Up to the root by the breadcrumb; the folder (not empty) goes only with its contents.
    crumbs.get_by_role("link", name="vos://").click()
    page.wait_for_url("**/portal/files?path=")
    folder = row(page, f"{top}/")
    expect(folder.locator(".kind")).to_have_text("folder")
    folder.get_by_role("button", name=f"Delete {top}").click()
    expect(page.get_by_role("group", name=f"Confirm deleting {top}")).to_contain_text(
        f"Delete the folder vos://{top} and everything in it?")
    page.get_by_role("button", name="Delete folder and contents").click()
    expect(page.locator("#files-status")).to_have_text(f"Deleted vos://{top}.")
    expect(row(page, f"{top}/")).to_have_count(0)
    assert not (portal.home / "storage" / "demo00" / top).exists()
    assert dialogs == []


def test_keyboard_only_new_folder_and_delete(page: Page, portal: PortalSite) -> None:
    name = f"keys_{uuid.uuid4().hex[:8]}"
    login(page)
    page.goto("/portal/files")
    page.get_by_label("Folder name").focus()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.locator("#files-status")).to_have_text(f"Created vos://{name}.")
    delete = row(page, f"{name}/").get_by_role("button", name=f"Delete {name}")
    delete.focus()
    page.keyboard.press("Enter")
    cancel = page.get_by_role("group", name=f"Confirm deleting {name}").get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Delete folder and contents")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#files-status")).to_have_text(f"Deleted vos://{name}.")
    expect(row(page, f"{name}/")).to_have_count(0)
