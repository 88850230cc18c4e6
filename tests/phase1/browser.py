"""A real browser for the end-to-end tests: headless Chromium driven by
chromedriver through Selenium (Debian's chromium, chromium-driver and
python3-selenium; scripts/deps.sh installs them).

Each test gets its own browser with a fresh profile in a temporary
directory, so nothing (cookies, storage, cache) carries over from another
test. It needs no display, and runs as root too (--no-sandbox), as
make check does on a build machine.
The browser's console and the requests it sends are recorded through the
goog:loggingPrefs capability, so a test can say "no console errors" and
"nothing was POSTed".

Use the `browser` fixture: `from browser import browser` in a test module.
"""
import email
import email.policy
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 15  # seconds any one thing may take to show up

CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",             # Chromium's sandbox refuses to run as root
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--window-size=1280,1000",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class Browser:
    """One headless Chromium on one Homebot stack."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.profile = tempfile.mkdtemp(prefix="homebot-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in CHROMIUM_ARGS:
            opts.add_argument(arg)
        opts.add_argument(f"--user-data-dir={self.profile}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.implicitly_wait(0)
        self._console = []
        self._requests = []

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- what the page did ------------------------------------------------

    def _drain(self):
        self._console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                req = msg["params"]["request"]
                self._requests.append({"method": req["method"], "url": req["url"],
                                       "body": req.get("postData")})

    def console(self):
        """Every console entry so far: dicts with level, message, source."""
        self._drain()
        return list(self._console)

    def console_errors(self):
        """The console entries of level SEVERE (errors, CSP violations,
        failed loads)."""
        return [e for e in self.console() if e["level"] == "SEVERE"]

    def errors_besides_answers(self, *endpoints):
        """The console errors, less the line Chromium itself logs for any
        4xx answer to a fetch ("Failed to load resource") from one of
        endpoints: an error answer is to be shown, never to throw."""
        return [e for e in self.console_errors()
                if not (e["source"] == "network" and any(p in e["message"] for p in endpoints))]

    def requests(self, method=None):
        """The requests the browser sent to this stack so far (dicts with
        method, url and body), optionally only those of one method."""
        self._drain()
        return [r for r in self._requests
                if r["url"].startswith(self.base_url + "/")
                and (method is None or r["method"] == method)]

    # ---- driving it -------------------------------------------------------

    def open(self, path):
        """Loads base_url + path and waits until the document is loaded."""
        self.driver.get(self.base_url + path)
        self.wait_until(lambda: self.driver.execute_script(
            "return document.readyState") == "complete", "the page to load")

    @property
    def url(self):
        return self.driver.current_url

    def wait_until(self, condition, what, timeout=WAIT):
        """Waits until condition() is truthy; returns its value. The
        failure names what was awaited and the console so far."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = condition()
            except (NoSuchElementException, StaleElementReferenceException):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what}; console: "
                                     f"{self.console()}")
            time.sleep(0.05)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def xpath(self, xpath):
        return self.driver.find_element(By.XPATH, xpath)

    def visible(self, css):
        """The displayed element for css, waiting for it."""
        def shown():
            el = self.find(css)
            return el if el.is_displayed() else None
        return self.wait_until(shown, f"{css} to show")

    def is_shown(self, css):
        els = self.find_all(css)
        return bool(els) and els[0].is_displayed()

    def text(self, css):
        els = self.find_all(css)
        return els[0].text if els else ""

    def wait_text(self, css, pattern):
        """Waits until the text of css matches the regular expression
        pattern (or contains the plain string); returns that text."""
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        return self.wait_until(lambda: (t := self.text(css)) and rx.search(t) and t,
                               f"{css} to show {rx.pattern!r} (shows {self.text(css)!r})")

    def type(self, css, text):
        el = self.visible(css)
        el.clear()
        el.send_keys(text)

    def click(self, css):
        self.visible(css).click()


@pytest.fixture
def browser(stack):
    """A fresh headless Chromium on the session's stack."""
    b = Browser(stack.url)
    try:
        yield b
    finally:
        b.close()


# ---- mails the stack sent (scripts/smtp-sink.py keeps them) -------------------

ACCOUNT_LINK = re.compile(r"/account/(verify|reset|invite|email)#token=[A-Za-z0-9_-]+")


def mailed_link(stack, to, page, since=0, timeout=WAIT):
    """The path and fragment (/account/<page>#token=…) of the newest link
    to page in a mail to address `to` among the sink's mails numbered
    above `since`, waiting for homebot-worker to send it. The link's host
    is PUBLIC_URL's, so the test opens the path on its own stack."""
    stack.need_own()
    mail_dir = Path(stack.env["MAIL_DIR"])
    deadline = time.monotonic() + timeout
    while True:
        found = None
        for f in sorted(mail_dir.glob("*.eml"), key=lambda p: int(p.stem)):
            if int(f.stem) <= since:
                continue
            msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if to.lower() not in str(msg["To"]).lower():
                continue
            body = msg.get_body(("plain",)).get_content()
            for m in ACCOUNT_LINK.finditer(body):
                if m.group(1) == page:
                    found = m.group(0)
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {to} with an /account/{page} link "
                                 f"within {timeout} s")
        time.sleep(0.1)


def last_mail_number(stack):
    """The number of the newest mail the sink holds (0 when none)."""
    stack.need_own()
    numbers = [int(f.stem) for f in Path(stack.env["MAIL_DIR"]).glob("*.eml")]
    return max(numbers, default=0)
