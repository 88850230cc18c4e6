"""The account pages that mailed links open (api.md §2, Email ownership),
in a real browser: /account/verify, /reset, /invite and /email#token=….

A page reads its token from the fragment, takes it out of the address
bar, and POSTs it only when the person presses the button: opening the
link (as a mail scanner does) consumes nothing. Errors show the message of
the API's error envelope."""
import re
import secrets
import time
import uuid

import pytest

from browser import browser, last_mail_number, mailed_link  # noqa: F401
from conftest import (SECRETS, assert_error, assert_invalid, assert_status, login,
                      new_email, new_password, register)

PAGES = ["verify", "reset", "invite", "email"]
ENDPOINT = {
    "verify": "/api/v1/auth/verify-email",
    "reset": "/api/v1/auth/password/reset",
    "invite": "/api/v1/auth/accept-invite",
    "email": "/api/v1/auth/email/confirm",
}
ACCOUNT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
               "form-action 'none'; frame-ancestors 'none'")
STATUS = "#status"
SETTLE = 1.0  # seconds a page gets to do anything on its own after loading


def bogus_token():
    """A token of the shape the mails carry (256 bits, base64url) that no
    mail did."""
    return secrets.token_urlsafe(32)


def typed_password():
    """A password the test types into a page; test_logs.py checks that none
    reaches a log."""
    pw = new_password()
    SECRETS.add(pw)
    return pw


def api_error_message(stack, page, token):
    """The message the API answers a bogus token of this page's kind with,
    after checking the envelope and the code api.md §2 fixes."""
    code, body = {
        "verify": ("invalid_verification_token", {"token": token}),
        "reset": ("invalid_reset_token", {"token": token, "new_password": new_password()}),
        "invite": ("invalid_invite", {"invite_token": token, "password": new_password()}),
        "email": ("invalid_verification_token", {"token": token}),
    }[page]
    return assert_error(stack.post(ENDPOINT[page], body), 401, code)["message"]


def fill_page(browser, page):
    """Fills the fields a page with a token needs before its button."""
    if page == "reset":
        pw = typed_password()
        browser.type("#new-password", pw)
        browser.type("#repeat-password", pw)
    elif page == "invite":
        browser.type("#password", typed_password())


# ---- served like every answer, under the narrowest CSP ------------------------

@pytest.mark.parametrize("page", PAGES)
def test_account_page_is_html_under_the_narrow_csp(stack, page):
    r = assert_status(stack.get(f"/account/{page}"), 200)
    assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
    assert r.header("Content-Security-Policy") == ACCOUNT_CSP, r.headers
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("Referrer-Policy") == "no-referrer"
    html = r.body.decode()
    assert re.search(r'<html lang="en">', html)
    assert 'name="viewport"' in html
    # No inline code: every script has a src, no style element or
    # attribute, no on… handler; and every asset is this server's own.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), html
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html, re.I), html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for path in assets:
        assert_status(stack.get(path), 200)


@pytest.mark.parametrize("path,ctype", [("/account/account.js", "text/javascript"),
                                        ("/account/account.css", "text/css")])
def test_account_assets_are_served(stack, path, ctype):
    r = assert_status(stack.get(path), 200)
    assert r.header("Content-Type").startswith(ctype), r.headers
    assert r.body


@pytest.mark.parametrize("path", ["/account", "/account/", "/account/nothing",
                                  "/account/verify.html", "/account/verify/",
                                  "/account/account", "/accounts", "/account/" + "v" * 300])
def test_unknown_account_path_is_404_envelope(stack, path):
    r = stack.get(path)
    assert_error(r, 404, "not_found")
    assert r.header("Cache-Control") == "no-store", r.headers


# ---- what opening a link does: nothing, visibly ------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_opening_a_link_only_shows_the_page(stack, browser, page):
    # What a mail scanner that follows the link gets: a page that runs
    # cleanly, drops the token from the address bar and sends nothing.
    token = bogus_token()
    browser.open(f"/account/{page}#token={token}")
    button = browser.visible("#form button")
    time.sleep(SETTLE)
    assert browser.console_errors() == []
    assert browser.url == f"{stack.url}/account/{page}", browser.url
    assert token not in browser.driver.execute_script("return window.location.href")
    assert browser.requests("POST") == []
    assert button.is_enabled()
    assert browser.text(STATUS) == ""


@pytest.mark.parametrize("page", ["verify", "invite", "email"])
def test_a_link_without_token_is_called_incomplete(stack, browser, page):
    browser.open(f"/account/{page}")
    browser.wait_text(STATUS, "This link is incomplete")
    assert not browser.is_shown("#form")
    assert browser.requests("POST") == []
    assert browser.console_errors() == []


# ---- pressing the button with a token no mail carried ----------------------------

@pytest.mark.parametrize("page", PAGES)
def test_confirming_a_bogus_token_shows_the_api_message(stack, browser, page):
    token = bogus_token()
    expected = api_error_message(stack, page, bogus_token())
    browser.open(f"/account/{page}#token={token}")
    fill_page(browser, page)
    browser.click("#form button")
    browser.wait_text(STATUS + ".error", expected)
    posts = browser.requests("POST")
    assert [p["url"] for p in posts] == [stack.url + ENDPOINT[page]], posts
    field = "invite_token" if page == "invite" else "token"
    assert f'"{field}":"{token}"' in posts[0]["body"], posts[0]["body"]
    # The form stays, to try again.
    assert browser.find("#form button").is_enabled()
    assert browser.errors_besides_answers(ENDPOINT[page]) == []


def test_reset_page_refuses_two_different_passwords_before_sending(stack, browser):
    browser.open(f"/account/reset#token={bogus_token()}")
    browser.type("#new-password", typed_password())
    browser.type("#repeat-password", typed_password())
    browser.click("#form button")
    browser.wait_text(STATUS + ".error", "The two passwords differ")
    assert browser.requests("POST") == []


# ---- reset without a token: the forgot-password form ------------------------------

def test_reset_page_without_token_mails_a_link(stack, browser):
    a = register(stack)
    browser.open("/account/reset")
    assert not browser.is_shown("#form")
    browser.type("#email", a.email)
    browser.click("#forgot-form button")
    browser.wait_text(STATUS + ".done",
                      "If an account exists for that address, a link is on its way.")
    posts = browser.requests("POST")
    assert [p["url"] for p in posts] == [stack.url + "/api/v1/auth/password/forgot"], posts
    assert f'"email":"{a.email}"' in posts[0]["body"]
    assert mailed_link(stack, a.email, "reset")


def test_reset_page_without_token_shows_the_validation_details(stack, browser):
    # Valid for the browser's type=email field, not for Homebot (no dot).
    address = f"someone-{uuid.uuid4().hex[:8]}@localhost"
    err = assert_invalid(stack.post("/api/v1/auth/password/forgot", {"email": address}), "email")
    browser.open("/account/reset")
    browser.type("#email", address)
    browser.click("#forgot-form button")
    shown = browser.wait_text(STATUS + ".error", err["message"])
    for d in err["details"]:
        assert d["message"] in shown, shown
    assert browser.errors_besides_answers("/api/v1/auth/password/forgot") == []


# ---- the links the mails carry ------------------------------------------------

def test_verify_link_confirms_the_address(stack, browser):
    a = register(stack)  # registering mails the first verification link
    browser.open(mailed_link(stack, a.email, "verify"))
    browser.click("#form button")
    browser.wait_text(STATUS + ".done", f"Your email address {a.email} is confirmed.")
    assert not browser.is_shown("#form")
    assert a.get("/api/v1/auth/me").json()["email_verified"] is True


def test_reset_link_sets_the_new_password(stack, browser):
    a = register(stack)
    since = last_mail_number(stack)
    assert_status(stack.post("/api/v1/auth/password/forgot", {"email": a.email}), 202)
    browser.open(mailed_link(stack, a.email, "reset", since=since))
    pw = typed_password()
    browser.type("#new-password", pw)
    browser.type("#repeat-password", pw)
    browser.click("#form button")
    browser.wait_text(STATUS + ".done", "Your password is changed. You can now sign in with it.")
    assert_status(login(stack, a.email, pw), 200)
    assert_error(login(stack, a.email, a.password), 401, "invalid_credentials")


def test_invite_link_lets_a_new_account_join(stack, browser):
    org = f"Org {uuid.uuid4().hex[:12]}"
    owner = register(stack, organization_name=org)
    email = new_email()
    assert_status(owner.post("/api/v1/members", {"email": email, "role": "member"}), 201)
    browser.open(mailed_link(stack, email, "invite"))
    pw = typed_password()
    browser.type("#password", pw)
    browser.type("#full-name", "Ada Lovelace")
    browser.click("#form button")
    browser.wait_text(STATUS + ".done", f"You joined {org} as member.")
    r = assert_status(login(stack, email, pw, organization_id=owner.org_id), 200)
    assert r.json()["user"]["full_name"] == "Ada Lovelace", r
    assert r.json()["user"]["email_verified"] is True, r


def test_email_link_changes_the_address(stack, browser):
    a = register(stack)
    new = new_email()
    assert_status(a.post("/api/v1/auth/email", {"new_email": new, "password": a.password}), 202)
    browser.open(mailed_link(stack, new, "email"))
    browser.click("#form button")
    browser.wait_text(STATUS + ".done", f"Your email address is now {new}.")
    assert a.get("/api/v1/auth/me").json()["email"] == new
