"""Attacks found in review, each pinned: cross-organization account takeover
through invitations, one request poisoning a worker, and client values that
used to reach the database as 500s."""
import http.client
import uuid

from conftest import (accept_invite, add_member, assert_error, assert_invalid,
                      create_key, invite, join, login, login_form, new_email, new_password,
                      register)

KEYS = "/api/v1/api-keys"


def test_invite_token_of_one_organization_cannot_open_another(stack):
    attacker, victim = register(stack), register(stack)
    email = new_email()
    token_a = invite(attacker, email)["invite_token"]
    # The victim organization invites the same address: invited, never
    # added at once.
    b = invite(victim, email, role="admin")
    assert b["status"] == "invited", b
    password = new_password()
    assert accept_invite(stack, token_a, password).status == 200
    # Whoever accepted A's invitation knows the password, but the victim's
    # membership is still only an invitation, and its token, now for a
    # verified account, cannot replace the password.
    assert_error(login(stack, email, password, organization_id=victim.org_id),
                 403, "not_a_member")
    assert_error(accept_invite(stack, b["invite_token"], new_password()),
                 401, "invalid_credentials")


def raw_get(stack, path, headers):
    """A request with header bytes http.client would refuse to send."""
    conn = http.client.HTTPConnection(stack.host, stack.port, timeout=30)
    try:
        conn.putrequest("GET", path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_invalid_utf8_user_agent_cannot_poison_a_worker(stack, account):
    key = create_key(account, ["api_keys:read"])["key"]
    fake = "hb_aaaaaaaa_" + "A" * 43
    for _ in range(12):  # reach every api_keys worker
        status = raw_get(stack, KEYS, {"Authorization": "Bearer " + fake,
                                       "User-Agent": b"\xff\xfe bad"})
        assert status == 401, status
    for _ in range(12):
        r = stack.get(KEYS, headers={"X-API-Key": key})
        assert r.status == 200, r


def test_user_agent_cut_mid_character_is_harmless(stack, account):
    ua = "a" * 511 + "é" * 10
    for _ in range(8):
        r = account.get(KEYS, headers={"User-Agent": ua.encode().decode("latin-1")})
        assert r.status == 200, r


def test_form_login_with_invalid_utf8_is_422(stack):
    r = stack.post("/api/v1/auth/login", "username=%ff&password=x",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_invalid(r, "username")


def test_form_login_with_valid_credentials_still_works(stack, account):
    assert login_form(stack, account.email, account.password).status == 200


def test_impossible_calendar_dates_are_422(account):
    for since in ("2026-02-30T00:00:00Z", "2026-01-01T29:00:00Z", "2026-01-01T00:00:69Z",
                  "2025-02-29T00:00:00Z"):
        assert_invalid(account.get(f"/api/v1/audit-log?since={since}"), "since")
    assert account.get("/api/v1/audit-log?since=2024-02-29T23:59:59Z").status == 200


def test_settings_with_a_nul_character_are_422(account):
    r = account.patch("/api/v1/organizations/current", {"settings": {"a": "x\u0000y"}})
    assert_invalid(r, "settings")


def test_removed_member_keys_do_not_come_back(stack, account):
    inside = add_member(account, "admin")
    key = create_key(inside, ["org:read"])["key"]
    assert stack.get("/api/v1/organizations/current", headers={"X-API-Key": key}).status == 200
    assert account.delete(f"/api/v1/members/{inside.user_id}").status == 204
    # Invited again, and accepted: the old key stays dead.
    again = join(account, inside.home, "admin")
    assert again.get("/api/v1/auth/me").json()["role"] == "admin"
    r = stack.get("/api/v1/organizations/current", headers={"X-API-Key": key})
    assert_error(r, 401, "invalid_api_key")



def test_a_long_path_keeps_the_log_line_whole(stack):
    stack.need_own()
    marker = "long-" + uuid.uuid4().hex
    stack.get("/" + "x" * 1900, headers={"X-Request-ID": marker})
    line = next(l for l in stack.web_log().splitlines() if marker in l)
    import json
    entry = json.loads(line)
    assert entry["status"] == 404 and entry["path"].endswith("...")
