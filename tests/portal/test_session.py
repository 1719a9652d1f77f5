"""The portal's session and its protections, over plain HTTP: cookies, CSRF, redirects,
hostile input."""

from __future__ import annotations

import httpx

from collections.abc import Callable

from tests.portal.conftest import PortalSite, csrf_of

Sessions = Callable[..., httpx.Client]

HOSTILE = '<script>alert("x")</script>'


def test_login_sets_an_httponly_samesite_session_cookie(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    answer = client.post(
        "/portal/login",
        data={"username": "demo00", "password": "Andromeda-31-galaxy", "csrf_token": csrf_of(client), "next": "/portal/account"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/account"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("datalab_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    account = client.get("/portal/account")
    assert account.status_code == 200
    assert "demo00" in account.text


def test_csrf_cookie_is_httponly_and_strict(portal: PortalSite) -> None:
    answer = httpx.get(f"{portal.url}/portal/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("datalab_csrf=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert f'<meta name="csrf-token" content="{token}">' in answer.text


def test_login_without_the_csrf_token_is_refused(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    answer = client.post("/portal/login", data={"username": "demo00", "password": "Andromeda-31-galaxy"})
    assert answer.status_code == 403
    assert "security token" in answer.text
    assert "datalab_session" not in answer.headers.get("set-cookie", "")


def test_a_request_from_another_site_is_refused(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions()
    answer = client.post(
        "/portal/logout",
        data={"csrf_token": csrf_of(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert client.get("/portal/account").status_code == 200  # still logged in


def test_wrong_password_and_unknown_user_get_the_same_answer(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    answers = [
        client.post("/portal/login", data={"username": name, "password": "wrong-password", "csrf_token": csrf_of(client)})
        for name in ("demo01", "nobody-here")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert all("Wrong user name or password." in a.text for a in answers)


def test_pages_that_need_a_user_redirect_to_login(portal: PortalSite) -> None:
    answer = httpx.get(f"{portal.url}/portal/account")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/login?next=/portal/account"
    # The query string comes back after login too.
    answer = httpx.get(f"{portal.url}/portal/mydb", params={"x": "1 2"})
    assert answer.headers["location"] == "/portal/login?next=/portal/mydb%3Fx%3D1%2B2"


def test_login_never_redirects_to_another_site(portal: PortalSite, sessions: Sessions) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        client = sessions(None)
        answer = client.post(
            "/portal/login",
            data={"username": "demo00", "password": "Andromeda-31-galaxy", "csrf_token": csrf_of(client), "next": target},
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"


def test_hostile_and_huge_input_is_escaped_and_refused(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    answer = client.post("/portal/login", data={"username": HOSTILE, "password": "x", "csrf_token": csrf_of(client)})
    assert answer.status_code == 401
    assert HOSTILE not in answer.text
    assert "&lt;script&gt;" in answer.text
    huge = client.post("/portal/login", data={"username": "a" * 100_000, "password": "x", "csrf_token": csrf_of(client)})
    assert huge.status_code == 400
    assert "too long" in huge.text
    reflected = httpx.get(f"{portal.url}/portal/login", params={"next": f'/x"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in reflected.text


def test_logout_revokes_the_session_token(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions()
    token = client.cookies.get("datalab_session")
    assert token
    answer = client.post("/portal/logout", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303
    # The token itself is dead, not only the cookie: the REST API refuses it too.
    assert httpx.get(f"{portal.url}/auth/isValidToken", headers={"X-DL-AuthToken": token}).text.strip() != "True"
    stale = sessions(None, datalab_session=token)
    assert stale.get("/portal/account").status_code == 303


def test_the_session_cookie_does_not_open_the_protocol_services(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions()
    for path, params in (("/storage/ls", {"name": "vos://"}), ("/query/list", {})):
        with_cookie = client.get(path, params=params)
        without = httpx.get(f"{portal.url}{path}", params=params)
        assert with_cookie.status_code == without.status_code
        assert with_cookie.status_code >= 400, with_cookie.text


def test_account_page_makes_a_token_that_the_rest_api_accepts(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions()
    answer = client.post("/portal/account/token", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 200
    start = answer.text.index('id="new-token"')
    token = answer.text[start:].split(">", 1)[1].split("<", 1)[0]
    assert token.startswith("demo00.")
    assert token != client.cookies.get("datalab_session")
    who = httpx.get(f"{portal.url}/auth/whoAmI", headers={"X-DL-AuthToken": token})
    assert who.text.strip() == "demo00"


def test_unknown_portal_page_is_an_html_404(portal: PortalSite) -> None:
    answer = httpx.get(f"{portal.url}/portal/no-such-page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
