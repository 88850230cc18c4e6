"""/docs in a real browser: Swagger UI runs from local assets under its CSP,
lists the API, and its Authorize dialog and "Try it out" work against the
live server."""
from urllib.parse import parse_qs

from browser import browser  # noqa: F401  (the fixture)
from conftest import register

ME = "#operations-Authentication-getMe"


def operation(method, path):
    return f'.opblock-{method} .opblock-summary-path[data-path="{path}"]'


def test_docs_page_runs_without_console_errors(stack, browser):
    browser.open("/docs")
    browser.visible(operation("get", "/api/v1/auth/me"))
    assert browser.console_errors() == []


def test_docs_page_lists_the_endpoints(stack, browser):
    browser.open("/docs")
    for method, path in (("get", "/api/v1/auth/me"), ("post", "/api/v1/auth/login"),
                         ("post", "/api/v1/auth/register"), ("get", "/api/v1/members"),
                         ("get", "/health")):
        assert browser.visible(operation(method, path)).text == path


def test_authorize_with_the_password_flow_then_try_me(stack, browser):
    a = register(stack)
    browser.open("/docs")
    browser.visible(operation("get", "/api/v1/auth/me"))

    browser.click("button.authorize")
    browser.type("#oauth_username", a.email)
    browser.type("#oauth_password", a.password)
    browser.click('button[aria-label="Apply given OAuth2 credentials"]')
    browser.wait_until(lambda: any(b.text == "Logout" for b in browser.find_all(".modal-ux button")),
                       "the dialog to show the account as authorized")
    logins = browser.requests("POST")
    assert [r["url"] for r in logins] == [stack.url + "/api/v1/auth/login"], logins
    form = parse_qs(logins[0]["body"])
    assert form["username"] == [a.email] and form["password"] == [a.password], form
    browser.click(".modal-ux button.close-modal")

    browser.click(ME + " .opblock-summary-control")
    browser.click(ME + " button.try-out__btn")
    browser.click(ME + " button.execute")
    body = browser.wait_text(ME + " .live-responses-table .response-col_description pre",
                             f'"email": "{a.email}"')
    assert a.user_id in body
    assert browser.text(ME + " .live-responses-table .response .response-col_status") == "200"
    assert browser.console_errors() == []
