"""The signed-in account pages in a real browser: /account/mfa, where a
person turns on two-factor authentication (api.md §12), and
/account/security, where they see their sessions and revoke any of them
(api.md §2; the new sign-in notice links to it).

Both sign in with email and password, and with a code from the app or a
recovery code when the account has two-factor authentication; their
tokens stay in the page's memory, never in storage or a cookie. Errors
show the message of the API's error envelope."""
import re

import pytest
from selenium.webdriver.common.keys import Keys

from browser import browser  # noqa: F401
from conftest import (SECRETS, assert_error, assert_status, bearer, jwt_parts, login,
                      register)
from test_mfa import Codes, enrol

ACCOUNT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
               "form-action 'none'; frame-ancestors 'none'")
# The two-factor page alone shows an image of a data: URI (the QR code).
MFA_CSP = ACCOUNT_CSP.replace("img-src 'self';", "img-src 'self' data:;")
STATUS = "#status"
RECOVERY_RE = re.compile(r"[a-z2-7]{5}-[a-z2-7]{5}")
CURL = "curl/8.5.0"
ME = "/api/v1/auth/me"
SESSIONS = "/api/v1/auth/sessions"


def sid(tokens):
    return jwt_parts(tokens["access_token"])[1]["sid"]


def nothing_stored(browser):
    """The page kept no token where it outlives the page."""
    return browser.driver.execute_script(
        "return localStorage.length === 0 && sessionStorage.length === 0 && "
        "document.cookie === ''")


def sign_in(browser, a):
    """Fills and sends the sign-in form of the open page."""
    browser.type("#email", a.email)
    browser.type("#password", a.password)
    browser.click("#signin-form button")


def sign_in_with_code(browser, a, code):
    sign_in(browser, a)
    browser.visible("#code-form")
    browser.type("#code", code)
    browser.click("#code-form button")


def session_items(browser):
    return {li.get_attribute("data-session-id"): li
            for li in browser.find_all("#sessions li")}


# ---- served like the other account pages --------------------------------------

@pytest.mark.parametrize("page,csp", [("security", ACCOUNT_CSP), ("mfa", MFA_CSP)])
def test_page_is_html_under_its_narrow_csp(stack, page, csp):
    r = assert_status(stack.get(f"/account/{page}"), 200)
    assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
    assert r.header("Content-Security-Policy") == csp, r.headers
    assert r.header("Cache-Control") == "no-cache", r.headers
    assert r.header("X-Frame-Options") == "DENY"
    html = r.body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), html
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html, re.I), html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for path in assets:
        assert_status(stack.get(path), 200)
    # Every field has its label, for the keyboard and screen readers.
    for field in re.findall(r'<input id="([^"]+)"', html):
        assert f'<label for="{field}">' in html, field


@pytest.mark.parametrize("path", ["/account/security/", "/account/mfa.html",
                                  "/account/securityx", "/account/security.html"])
def test_near_names_are_404(stack, path):
    assert_error(stack.get(path), 404, "not_found")


# ---- /account/mfa --------------------------------------------------------------

def test_enrol_on_the_mfa_page_then_manage_sessions(stack, browser):
    a = register(stack)
    browser.open("/account/mfa")
    assert not browser.is_shown("#start-form")
    sign_in(browser, a)
    browser.visible("#start-form")
    browser.wait_text("#who", f"Signed in as {a.email}.")
    browser.type("#start-password", a.password)
    browser.click("#start-form button")

    browser.visible("#confirm-form")
    secret = browser.text("#secret").replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    SECRETS.add(secret)
    qr = browser.visible("#qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
    # The image loaded under the page's CSP (a refused one has no width).
    assert browser.wait_until(lambda: browser.driver.execute_script(
        "var i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0"),
        "the QR code to render")
    codes = Codes(secret)
    browser.type("#totp-code", codes.next())
    browser.click("#confirm-form button")

    browser.visible("#recovery")
    browser.wait_text(STATUS + ".done", "Two-factor authentication is on.")
    shown = [li.text for li in browser.find_all("#recovery-codes li")]
    assert len(shown) == 10 and len(set(shown)) == 10, shown
    assert all(RECOVERY_RE.fullmatch(c) for c in shown), shown
    assert "only time they are shown" in browser.text("#recovery")
    assert not browser.is_shown("#confirm-form")
    assert browser.text("#secret") == ""  # the key does not stay on screen
    assert a.get(ME).json()["mfa_enabled"] is True
    assert assert_status(login(stack, a.email, a.password), 200).json()["mfa_required"] is True
    posts = [p["url"] for p in browser.requests("POST")]
    assert posts == [stack.url + p for p in ("/api/v1/auth/login", "/api/v1/auth/mfa/totp",
                                             "/api/v1/auth/mfa/totp/confirm")], posts
    assert nothing_stored(browser)
    assert browser.console_errors() == []

    # A second session, of another device, signed in through the API.
    first = assert_status(login(stack, a.email, a.password, headers={"User-Agent": CURL}), 200)
    r = stack.post("/api/v1/auth/mfa/verify",
                   {"mfa_token": first.json()["mfa_token"], "code": codes.next()},
                   headers={"User-Agent": CURL})
    second = assert_status(r, 200).json()
    assert_status(stack.get(ME, headers=bearer(second["access_token"])), 200)

    # /account/security: password, then a code.
    browser.open("/account/security")
    sign_in_with_code(browser, a, codes.next())
    browser.visible("#signed-in")
    browser.wait_text("#who", f"Signed in as {a.email}.")
    items = browser.wait_until(lambda: (i := session_items(browser)) and sid(second) in i and i,
                               "the sessions to show")
    api = {s["id"]: s for s in stack.get(SESSIONS, headers=bearer(second["access_token"]))
           .json()["data"]}
    assert set(items) == set(api), (items, api)
    other = items[sid(second)]
    assert other.find_element("css selector", ".device").text == "curl"
    assert api[sid(second)]["ip"] in other.text
    [current] = browser.find_all("#sessions li.current")
    assert "(this page)" in current.text
    assert re.match(r"Chrome on Linux", current.find_element("css selector", ".device").text)

    # Revoking the other session ends it at once.
    other.find_element("css selector", "button.revoke").click()
    browser.wait_text(STATUS + ".done", "The session of curl is revoked")
    browser.wait_until(lambda: sid(second) not in session_items(browser), "the session to go")
    assert_error(stack.get(ME, headers=bearer(second["access_token"])), 401, "invalid_token")
    deletes = [d["url"] for d in browser.requests("DELETE")]
    assert deletes == [f"{stack.url}{SESSIONS}/{sid(second)}"], deletes
    assert_status(a.get(ME), 200)  # the others stay

    # Revoking the page's own session signs the page out.
    page_sid = browser.find("#sessions li.current").get_attribute("data-session-id")
    browser.find("#sessions li.current button.revoke").click()
    browser.wait_text(STATUS + ".done", "it is signed out")
    browser.visible("#signin-form")
    assert not browser.is_shown("#signed-in")
    assert page_sid not in {s["id"] for s in a.get(SESSIONS).json()["data"]}
    assert nothing_stored(browser)
    assert browser.errors_besides_answers() == []


def test_mfa_page_shows_a_wrong_password(stack, browser):
    a = register(stack)
    expected = assert_error(a.post("/api/v1/auth/mfa/totp", {"password": "wrong-" + a.password}),
                            401, "invalid_credentials")["message"]
    browser.open("/account/mfa")
    sign_in(browser, a)
    browser.type("#start-password", "wrong-" + a.password)
    browser.click("#start-form button")
    browser.wait_text(STATUS + ".error", expected)
    # Still signed in, the form there to try again.
    assert browser.is_shown("#start-form") and not browser.is_shown("#confirm-form")
    assert browser.find("#start-form button").is_enabled()
    assert a.get(ME).json()["mfa_enabled"] is False
    assert browser.errors_besides_answers("/api/v1/auth/mfa/totp") == []


def test_mfa_page_refuses_a_code_of_the_wrong_shape_before_sending(stack, browser):
    a = register(stack)
    browser.open("/account/mfa")
    sign_in(browser, a)
    browser.type("#start-password", a.password)
    browser.click("#start-form button")
    browser.visible("#confirm-form")
    browser.type("#totp-code", "12ab")
    browser.click("#confirm-form button")
    browser.wait_text(STATUS + ".error", "Type the 6-digit code")
    posts = [p["url"] for p in browser.requests("POST")]
    assert stack.url + "/api/v1/auth/mfa/totp/confirm" not in posts, posts
    assert a.get(ME).json()["mfa_enabled"] is False


# ---- /account/security ------------------------------------------------------------

def test_wrong_code_shows_the_error_and_no_sessions(stack, browser):
    a = register(stack)
    codes, _ = enrol(a)
    wrong = codes.wrong()
    token = assert_status(login(stack, a.email, a.password), 200).json()["mfa_token"]
    expected = assert_error(stack.post("/api/v1/auth/mfa/verify",
                                       {"mfa_token": token, "code": wrong}),
                            401, "invalid_mfa_code")["message"]
    browser.open("/account/security")
    sign_in_with_code(browser, a, wrong)
    browser.wait_text(STATUS + ".error", expected)
    assert browser.is_shown("#code-form")
    assert not browser.is_shown("#signed-in")
    assert browser.find_all("#sessions li") == []
    assert [r for r in browser.requests("GET") if SESSIONS in r["url"]] == []
    assert nothing_stored(browser)
    assert browser.errors_besides_answers("/api/v1/auth/mfa/verify") == []


def test_a_recovery_code_signs_in_once(stack, browser):
    a = register(stack)
    _, recovery = enrol(a)
    browser.open("/account/security")
    sign_in_with_code(browser, a, recovery[0].upper())
    browser.visible("#signed-in")
    assert browser.find_all("#sessions li.current")
    body = [p["body"] for p in browser.requests("POST") if "/mfa/verify" in p["url"]]
    assert len(body) == 1 and f'"recovery_code":"{recovery[0]}"' in body[0], body
    token = assert_status(login(stack, a.email, a.password), 200).json()["mfa_token"]
    assert_error(stack.post("/api/v1/auth/mfa/verify",
                            {"mfa_token": token, "recovery_code": recovery[0]}),
                 401, "invalid_mfa_code")


def test_wrong_password_shows_the_error(stack, browser):
    a = register(stack)
    expected = assert_error(login(stack, a.email, "wrong-" + a.password),
                            401, "invalid_credentials")["message"]
    browser.open("/account/security")
    browser.type("#email", a.email)
    browser.type("#password", "wrong-" + a.password)
    browser.click("#signin-form button")
    browser.wait_text(STATUS + ".error", expected)
    assert browser.is_shown("#signin-form") and not browser.is_shown("#signed-in")
    assert not browser.is_shown("#code-form")
    assert browser.errors_besides_answers("/api/v1/auth/login") == []


def test_sessions_page_works_with_the_keyboard_and_signs_out(stack, browser):
    a = register(stack)
    browser.open("/account/security")
    browser.type("#email", a.email)
    browser.find("#password").send_keys(a.password + Keys.ENTER)
    browser.visible("#signed-in")
    page_sid = browser.wait_until(
        lambda: browser.find("#sessions li.current").get_attribute("data-session-id"),
        "the page's own session")
    assert page_sid in {s["id"] for s in a.get(SESSIONS).json()["data"]}
    assert a.session_id in session_items(browser)
    button = browser.find("#sign-out")
    browser.driver.execute_script("arguments[0].focus()", button)
    button.send_keys(Keys.ENTER)
    browser.wait_text(STATUS + ".done", "You are signed out.")
    browser.visible("#signin-form")
    assert page_sid not in {s["id"] for s in a.get(SESSIONS).json()["data"]}
    assert nothing_stored(browser)
    assert browser.console_errors() == []


def test_leaving_the_page_ends_its_session(stack, browser):
    a = register(stack)
    browser.open("/account/security")
    sign_in(browser, a)
    page_sid = browser.wait_until(
        lambda: browser.find("#sessions li.current").get_attribute("data-session-id"),
        "the page's own session")
    assert page_sid in {s["id"] for s in a.get(SESSIONS).json()["data"]}
    browser.open("/account/mfa")
    browser.wait_until(lambda: page_sid not in {s["id"] for s in a.get(SESSIONS).json()["data"]},
                       "the page's session to end")
    assert_status(a.get(ME), 200)  # only the page's own


def test_mfa_page_says_when_it_is_on_already(stack, browser):
    a = register(stack)
    codes, _ = enrol(a)
    browser.open("/account/mfa")
    sign_in_with_code(browser, a, codes.next())
    browser.wait_text(STATUS + ".done", "Two-factor authentication is on for your account already.")
    assert browser.visible("#who").text == f"Signed in as {a.email}."
    assert not browser.is_shown("#start-form") and not browser.is_shown("#confirm-form")
    assert [p["url"] for p in browser.requests("POST")] == [
        stack.url + "/api/v1/auth/login", stack.url + "/api/v1/auth/mfa/verify"]
    assert browser.console_errors() == []
