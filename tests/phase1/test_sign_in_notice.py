"""The new sign-in notice (api.md §12, README "New sign-in notice"): a
login that issues tokens, by password or at the second step of a TOTP
login, from a device not seen for that user in 90 days (user-agent family
and /24 or /48 network) mails the user what, when and from where, with a
link to the account's security page. The registration's device is the
account's first; the first step of a TOTP login and a refresh are no
sign-in of their own.

A stack of its own that trusts 127.0.0.1 as a proxy, so X-Forwarded-For
plays the client's address (as in test_trusted_proxies.py), and whose
PUBLIC_URL is known.
"""
import calendar
import re
import time

import pytest

import mailsink
from conftest import assert_status, new_email, new_password, own_stack, verify_email
from test_mfa import enrol

PUBLIC_URL = "https://homebot.example/base"
SUBJECT = "New sign-in to your Homebot account"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


@pytest.fixture(scope="module")
def stack():
    yield from own_stack(TRUSTED_PROXIES="127.0.0.1/32", PUBLIC_URL=PUBLIC_URL)


def device(ua, ip):
    return {"User-Agent": ua, "X-Forwarded-For": ip}


def register(stack, ua=FIREFOX, ip="198.51.100.7", verified=True):
    """A new account registered from (ua, ip), its address verified unless
    told; (email, password, tokens)."""
    email, password = new_email(), new_password()
    r = stack.post("/api/v1/auth/register",
                   {"email": email, "password": password, "organization_name": "Notice"},
                   headers=device(ua, ip))
    assert_status(r, 201)
    if verified:
        verify_email(stack, r.json()["user"]["id"])
    return email, password, r.json()


def login(stack, email, password, ua, ip):
    r = stack.post("/api/v1/auth/login", {"email": email, "password": password},
                   headers=device(ua, ip))
    assert_status(r, 200)
    return r.json()


def notices(stack, email):
    """The notices mailed to email so far, once no mail job is pending."""
    mailsink.settle(stack)
    return [m for m in mailsink.mails_to(stack, email) if m["Subject"] == SUBJECT]


def wait_notices(stack, email, count):
    deadline = time.monotonic() + 20
    while len(got := notices(stack, email)) < count:
        assert time.monotonic() < deadline, f"{count} notice(s) expected, {len(got)} arrived"
        time.sleep(0.05)
    return got


def test_a_login_from_the_registration_device_mails_nothing(stack):
    email, password, _ = register(stack, FIREFOX, "198.51.100.7")
    # Another host of the same /24, a newer version of the same browser.
    login(stack, email, password, FIREFOX.replace("120.0", "121.0"), "198.51.100.200")
    assert notices(stack, email) == []


def test_another_user_agent_family_mails_once_with_what_when_and_where(stack):
    email, password, tokens = register(stack, FIREFOX, "198.51.100.7")
    before = time.time()
    answer = login(stack, email, password, CHROME, "198.51.100.8")
    [mail] = wait_notices(stack, email, 1)
    text = mailsink.body(mail)
    assert "Chrome on Windows" in text, text
    assert "198.51.100.0/24" in text and "198.51.100.8" in text, text
    when = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", text)
    assert when, text
    sent = calendar.timegm(time.strptime(when.group(1), "%Y-%m-%d %H:%M:%S"))
    assert before - 5 < sent < time.time() + 5, (when.group(1), before)
    assert re.findall(r"https?://\S+", text) == [PUBLIC_URL + "/account/security"], text
    assert "#token=" not in text and "token" not in text.lower(), text
    for secret in (password, answer["access_token"], answer["refresh_token"],
                   tokens["access_token"], tokens["refresh_token"]):
        assert secret not in mail.as_string()

    # The same device again: nothing more.
    login(stack, email, password, CHROME, "198.51.100.9")
    assert len(notices(stack, email)) == 1


@pytest.mark.parametrize("first, second, network", [
    ("203.0.113.5", "203.0.113.250", "203.0.113.0/24"),
    ("2001:db8:5:1::1", "2001:db8:5:ffff::2", "2001:db8:5::/48"),
])
def test_another_network_mails_once(stack, first, second, network):
    email, password, _ = register(stack, FIREFOX, "198.51.100.7")
    login(stack, email, password, FIREFOX, first)
    [mail] = wait_notices(stack, email, 1)
    assert network in mailsink.body(mail) and "Firefox on Linux" in mailsink.body(mail)
    login(stack, email, password, FIREFOX, second)
    assert len(notices(stack, email)) == 1


def test_a_device_is_new_to_each_user_on_its_own(stack):
    email_a, password_a, _ = register(stack, FIREFOX, "198.51.100.7")
    email_b, password_b, _ = register(stack, CHROME, "192.0.2.7")
    login(stack, email_a, password_a, CHROME, "192.0.2.8")
    login(stack, email_b, password_b, CHROME, "192.0.2.8")
    assert len(wait_notices(stack, email_a, 1)) == 1
    assert notices(stack, email_b) == []


def test_a_device_not_seen_for_90_days_is_new_again(stack):
    email, password, tokens = register(stack, FIREFOX, "198.51.100.7")
    stack.psql("UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '91 days'"
               " WHERE user_id = :'user'", user=tokens["user"]["id"])
    login(stack, email, password, FIREFOX, "198.51.100.7")
    assert len(wait_notices(stack, email, 1)) == 1
    login(stack, email, password, FIREFOX, "198.51.100.7")
    assert len(notices(stack, email)) == 1


def test_the_retention_job_forgets_devices_unseen_for_90_days_but_the_last(stack):
    email, password, tokens = register(stack, FIREFOX, "198.51.100.7")
    user = tokens["user"]["id"]
    login(stack, email, password, CHROME, "198.51.100.7")
    login(stack, email, password, CHROME, "203.0.113.9")
    assert len(wait_notices(stack, email, 2)) == 2
    for days, network in ((120, "198.51.100.0/24"), (100, "203.0.113.0/24")):
        stack.psql("UPDATE homebot.sign_in_devices SET last_seen_at = now() - make_interval(days => :'d')"
                   " WHERE user_id = :'user' AND network = :'net'", d=str(days), user=user, net=network)

    def devices():
        return sorted(stack.psql("SELECT family, network::text FROM homebot.sign_in_devices"
                                 " WHERE user_id = :'user'", user=user))
    assert len(devices()) == 3
    [(job_id,)] = stack.psql("INSERT INTO homebot.jobs (kind) VALUES ('jobs.retention')"
                             " RETURNING id; NOTIFY homebot_jobs")
    deadline = time.monotonic() + 20
    while stack.psql("SELECT status FROM homebot.jobs WHERE id = :'id'", id=job_id) != [("succeeded",)]:
        assert time.monotonic() < deadline, stack.psql("SELECT status, last_error FROM homebot.jobs"
                                                       " WHERE id = :'id'", id=job_id)
        time.sleep(0.05)
    # Both devices were past 90 days; the one seen last stays.
    assert devices() == [("Chrome on Windows", "203.0.113.0/24")], devices()
    # The account is still known: a forgotten device mails as new.
    login(stack, email, password, FIREFOX, "198.51.100.7")
    assert len(wait_notices(stack, email, 3)) == 3


def test_an_address_not_verified_gets_no_notice(stack):
    """It may be a stranger's, who would learn where the account's holder
    signs in from."""
    email, password, _ = register(stack, FIREFOX, "198.51.100.7", verified=False)
    login(stack, email, password, CHROME, "203.0.113.9")
    assert notices(stack, email) == []


def test_a_refresh_from_elsewhere_mails_nothing(stack):
    email, _, tokens = register(stack, FIREFOX, "198.51.100.7")
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                   headers=device(CHROME, "203.0.113.77"))
    assert_status(r, 200)
    assert notices(stack, email) == []


def test_the_second_step_of_a_totp_login_mails_and_the_first_does_not(stack):
    email, password, tokens = register(stack, FIREFOX, "198.51.100.7")

    class Account:
        def post(self, path, body):
            return stack.post(path, body, headers={
                "Authorization": "Bearer " + tokens["access_token"], **device(FIREFOX, "198.51.100.7")})
    account = Account()
    account.password = password
    codes, _ = enrol(account)

    def two_steps(ua, ip):
        before = len(notices(stack, email))
        first = login(stack, email, password, ua, ip)
        assert first["mfa_required"] is True, first
        assert len(notices(stack, email)) == before, "the first step alone mailed"
        r = stack.post("/api/v1/auth/mfa/verify", {"mfa_token": first["mfa_token"], "code": codes.next()},
                       headers=device(ua, ip))
        assert_status(r, 200)
        return r.json()

    two_steps(FIREFOX, "198.51.100.7")
    assert notices(stack, email) == [], "a known device"
    answer = two_steps(CHROME, "2001:db8:77::1")
    [mail] = wait_notices(stack, email, 1)
    text = mailsink.body(mail)
    assert "Chrome on Windows" in text and "2001:db8:77::/48" in text, text
    assert PUBLIC_URL + "/account/security" in text and "#token=" not in text, text
    assert answer["access_token"] not in text and answer["refresh_token"] not in text
    two_steps(CHROME, "2001:db8:77::2")
    assert len(notices(stack, email)) == 1
