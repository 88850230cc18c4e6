"""The client address behind a reverse proxy (README: "Behind a reverse
proxy"): X-Forwarded-For names the client only when the request comes from
one of TRUSTED_PROXIES, and then the per-IP limits, the sessions' IP, the
audit rows and the log line all use the address it names.

The tests talk to the web server from 127.0.0.1, so with
TRUSTED_PROXIES=127.0.0.1/32 they play the proxy: the X-Forwarded-For they
send is what a proxy in front would send, its last entry the address the
proxy saw. Two stacks of their own, with small limits, one trusting
127.0.0.1 and one trusting nobody (the default).
"""
import json
import time
import uuid

import pytest

from conftest import assert_error, assert_status, bearer, new_email, new_password, own_stack

LIMIT = 4
REFRESH_LIMIT = 3
SETTINGS = {"AUTH_RATE_PER_MINUTE": LIMIT, "REFRESH_RATE_PER_MINUTE": REFRESH_LIMIT}


@pytest.fixture(scope="module")
def untrusting_stack():
    yield from own_stack(**SETTINGS)


@pytest.fixture(scope="module")
def proxied_stack():
    yield from own_stack(TRUSTED_PROXIES="127.0.0.1/32", **SETTINGS)


def fresh(stack):
    # Fixed one-minute windows: a test's calls must not straddle one's end.
    second = time.time() % 60
    if second > 50:
        time.sleep(60.5 - second)
    stack.psql("DELETE FROM homebot.auth_rate_limits")
    return stack


@pytest.fixture
def untrusting(untrusting_stack):
    return fresh(untrusting_stack)


@pytest.fixture
def proxied(proxied_stack):
    return fresh(proxied_stack)


def xff(value, **extra):
    return dict(extra, **{"X-Forwarded-For": value})


def register(stack, client, **headers):
    r = stack.post("/api/v1/auth/register",
                   {"email": new_email(), "password": new_password(),
                    "organization_name": "Proxied"}, headers=xff(client, **headers))
    assert r.status == 201, r
    return r.json()


def failed_login(stack, client):
    """A login that counts against the auth limit of client; its status."""
    return stack.post("/api/v1/auth/login", {"email": new_email(), "password": "wrong-password"},
                      headers=xff(client))


def session_ips(stack, tokens):
    r = stack.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"]))
    assert r.status == 200, r
    return [s["ip"] for s in r.json()["data"]]


def log_line(stack, request_id):
    lines = [json.loads(l) for l in stack.web_log().splitlines()
             if l.startswith("{") and request_id in l]
    mine = [l for l in lines if l.get("request_id") == request_id]
    assert len(mine) == 1, lines
    return mine[0]


def test_without_trusted_proxies_forwarded_for_is_ignored(untrusting):
    s = untrusting
    rid = "proxy-" + uuid.uuid4().hex
    t = register(s, "203.0.113.50", **{"X-Request-ID": rid})
    assert session_ips(s, t) == ["127.0.0.1"]
    rows = s.psql("SELECT action, ip FROM homebot.audit_log WHERE request_id = :'rid'", rid=rid)
    assert rows and all(ip == "127.0.0.1" for _, ip in rows), rows
    line = log_line(s, rid)
    assert line["remote_addr"] == "127.0.0.1", line
    assert "peer_addr" not in line, line


def test_without_trusted_proxies_a_new_forwarded_for_each_call_still_gets_429(untrusting):
    s = untrusting
    for i in range(LIMIT):
        assert_status(failed_login(s, f"198.51.100.{i + 1}"), 401)
    r = failed_login(s, "198.51.100.200")
    assert_error(r, 429, "rate_limited")
    assert 0 < int(r.header("Retry-After")) <= 60, r.headers


def test_forwarded_clients_have_limits_of_their_own(proxied):
    s = proxied
    locked, other = "203.0.113.10", "203.0.113.20"
    t = register(s, other)
    for _ in range(LIMIT):
        assert_status(failed_login(s, locked), 401)
    assert_error(failed_login(s, locked), 429, "rate_limited")
    r = s.post("/api/v1/auth/login", {"email": t["user"]["email"], "password": "wrong-password"},
               headers=xff(locked))
    assert_error(r, 429, "rate_limited")
    # The client next to it still logs in, with a password of its own.
    password = new_password()
    email = new_email()
    assert_status(s.post("/api/v1/auth/register",
                         {"email": email, "password": password, "organization_name": "Other"},
                         headers=xff(other)), 201)
    r = s.post("/api/v1/auth/login", {"email": email, "password": password}, headers=xff(other))
    assert r.status == 200, r


def test_session_audit_row_and_log_line_record_the_forwarded_client(proxied):
    s = proxied
    t = register(s, "203.0.113.30")
    password = new_password()
    email = new_email()
    register_body = {"email": email, "password": password, "organization_name": "Audited"}
    assert_status(s.post("/api/v1/auth/register", register_body, headers=xff("203.0.113.31")), 201)
    rid = "proxy-" + uuid.uuid4().hex
    r = s.post("/api/v1/auth/login", {"email": email, "password": password},
               headers=xff("6.6.6.6, 2001:db8::32", **{"X-Request-ID": rid}))
    assert r.status == 200, r
    assert session_ips(s, t) == ["203.0.113.30"]
    assert sorted(session_ips(s, r.json())) == ["2001:db8::32", "203.0.113.31"]
    rows = s.psql("SELECT action, ip FROM homebot.audit_log WHERE request_id = :'rid'", rid=rid)
    assert rows and all(ip == "2001:db8::32" for _, ip in rows), rows
    line = log_line(s, rid)
    assert line["remote_addr"] == "2001:db8::32", line
    assert line["peer_addr"] == "127.0.0.1", line


@pytest.mark.parametrize("spelling", ["X_Forwarded_For", "X-Forwarded_For", "X_Forwarded-For"])
def test_an_underscore_spelling_cannot_stand_in_for_the_header(proxied, spelling):
    # CGI turns "_" and "-" alike into HTTP_X_FORWARDED_FOR; a client's
    # look-alike header must not replace what the trusted proxy appended.
    t = register(proxied, "203.0.113.50", **{spelling: "6.6.6.6"})
    assert session_ips(proxied, t) == ["203.0.113.50"]


def test_a_spoofed_left_part_does_not_escape_the_limit(proxied):
    s = proxied
    for i in range(LIMIT):
        assert_status(failed_login(s, f"192.0.2.{i + 1}, 203.0.113.40"), 401)
    assert_error(failed_login(s, "192.0.2.99, 203.0.113.40"), 429, "rate_limited")
    assert_error(failed_login(s, "garbage, 203.0.113.40"), 429, "rate_limited")
    assert_error(failed_login(s, "127.0.0.1, 203.0.113.40"), 429, "rate_limited")


def test_refresh_keeps_working_while_login_is_rate_limited(proxied):
    s = proxied
    client = "203.0.113.60"
    t = register(s, client)
    for _ in range(LIMIT - 1):
        assert_status(failed_login(s, client), 401)
    assert_error(failed_login(s, client), 429, "rate_limited")
    for _ in range(REFRESH_LIMIT):
        r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]},
                   headers=xff(client))
        assert r.status == 200, r
        t = r.json()
    r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]}, headers=xff(client))
    assert_error(r, 429, "rate_limited")
    assert 0 < int(r.header("Retry-After")) <= 60, r.headers
    # Another client behind the same proxy refreshes on.
    u = register(s, "203.0.113.61")
    r = s.post("/api/v1/auth/refresh", {"refresh_token": u["refresh_token"]},
               headers=xff("203.0.113.61"))
    assert r.status == 200, r


def test_a_flood_of_refreshes_does_not_block_logins(proxied):
    s = proxied
    client = "203.0.113.70"
    for _ in range(REFRESH_LIMIT):
        assert_status(s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"},
                             headers=xff(client)), 401)
    assert_error(s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"},
                        headers=xff(client)), 429, "rate_limited")
    t = register(s, client)
    r = s.post("/api/v1/auth/login", {"email": t["user"]["email"], "password": "wrong-password"},
               headers=xff(client))
    assert_error(r, 401, "invalid_credentials")


def test_repeated_forwarded_for_headers_are_read_as_one_list(proxied):
    # Two header lines are one list, in order, as if joined by a comma. The
    # first case tells a joined list from the first line alone, the second
    # from the last line alone (127.0.0.1 alone would be the client).
    s = proxied
    for lines, client in ((("203.0.113.90", "203.0.113.91"), "203.0.113.91"),
                          (("203.0.113.92", "127.0.0.1"), "203.0.113.92")):
        rid = "proxy-" + uuid.uuid4().hex
        headers = "".join(f"X-Forwarded-For: {v}\r\n" for v in lines)
        reply = s.raw((f"GET /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"X-Request-ID: {rid}\r\n{headers}Connection: close\r\n\r\n").encode())
        assert reply.startswith(b"HTTP/1.1 401"), reply
        line = log_line(s, rid)
        assert line["remote_addr"] == client, (lines, line)
        assert line["peer_addr"] == "127.0.0.1", line
