"""Two-factor authentication with TOTP (api.md §12): enrolment with the
secret, its otpauth URI and QR code, the two-step login with a single-use
mfa_token, codes accepted once, wrong codes counted toward the email's
lockout, single-use recovery codes and their regeneration, disabling with
password and code, and the organization's require_mfa.

The codes are computed here from the secret the enrolment answers, with
RFC 6238 written out over hmac/hashlib. A code of a step is accepted once,
and only a later step after it: each user's helper remembers the last
step it used and takes the next one of the window (now or now + 1), and
waits for the clock when both are used.
"""
import base64
import hashlib
import hmac
import re
import struct
import time
import uuid

from conftest import (SECRETS, assert_error, assert_status, bearer, create_key, join, login,
                      new_password, register)

B32_RE = re.compile(r"[A-Z2-7]{32}")


def totp(secret, step):
    key = base64.b32decode(secret)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 15
    value = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** 6
    return f"{value:06d}"


class Codes:
    """The codes of one secret, each step used once, in increasing order."""

    def __init__(self, secret):
        self.secret = secret
        self.last = None

    def next(self):
        while True:
            now = int(time.time() // 30)
            for step in (now, now + 1):
                if self.last is None or step > self.last:
                    self.last = step
                    return totp(self.secret, step)
            time.sleep(30 - time.time() % 30 + 0.05)

    def wrong(self):
        """A code of no step of the window."""
        now = int(time.time() // 30)
        window = {totp(self.secret, now + d) for d in range(-2, 3)}
        return next(c for c in (f"{i:06d}" for i in range(1000)) if c not in window)


def enrol(a):
    """Turns TOTP on for account a; returns (Codes, recovery codes)."""
    r = a.post("/api/v1/auth/mfa/totp", {"password": a.password})
    assert_status(r, 200)
    codes = Codes(r.json()["secret"])
    r = a.post("/api/v1/auth/mfa/totp/confirm", {"code": codes.next()})
    assert_status(r, 200)
    return codes, r.json()["recovery_codes"]


def first_step(stack, a, **extra):
    r = login(stack, a.email, a.password, **extra)
    assert_status(r, 200)
    body = r.json()
    assert body["mfa_required"] is True and body["expires_in"] == 300, body
    assert "access_token" not in body and "refresh_token" not in body, body
    return body["mfa_token"]


def verify(stack, token, **second):
    return stack.post("/api/v1/auth/mfa/verify", {"mfa_token": token, **second})


def test_enrolment_then_two_step_login(stack):
    a = register(stack)
    assert a.tokens["user"]["mfa_enabled"] is False
    assert a.get("/api/v1/auth/me").json()["mfa_enabled"] is False
    assert_error(a.post("/api/v1/auth/mfa/totp", {"password": "wrong-" + a.password}),
                 401, "invalid_credentials")
    # Nothing to confirm before the enrolment starts.
    assert_error(a.post("/api/v1/auth/mfa/totp/confirm", {"code": "123456"}),
                 409, "mfa_not_started")

    r = a.post("/api/v1/auth/mfa/totp", {"password": a.password})
    assert_status(r, 200)
    body = r.json()
    secret = body["secret"]
    assert B32_RE.fullmatch(secret), body
    assert body["otpauth_uri"].startswith("otpauth://totp/"), body
    assert f"secret={secret}&" in body["otpauth_uri"]
    assert "algorithm=SHA1&digits=6&period=30" in body["otpauth_uri"]
    svg = body["qr_svg"]
    assert svg.startswith("<svg xmlns=\"http://www.w3.org/2000/svg\"") and svg.endswith("</svg>")
    assert re.fullmatch(r'[^"]*"(M\d+ \d+h\d+v1h-\d+z)+"', svg.split(" d=")[1].split("/>")[0]), svg
    assert secret not in svg and a.email.split("@")[0] not in svg
    assert "<script" not in svg and "href" not in svg
    # Not on until confirmed: a login still answers tokens.
    assert "access_token" in login(stack, a.email, a.password).json()

    codes = Codes(secret)
    assert_error(a.post("/api/v1/auth/mfa/totp/confirm", {"code": codes.wrong()}),
                 401, "invalid_mfa_code")
    r = a.post("/api/v1/auth/mfa/totp/confirm", {"code": codes.next()})
    assert_status(r, 200)
    recovery = r.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10, recovery
    assert all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", c) for c in recovery), recovery
    assert a.get("/api/v1/auth/me").json()["mfa_enabled"] is True
    assert_error(a.post("/api/v1/auth/mfa/totp", {"password": a.password}), 409, "mfa_enabled")

    token = first_step(stack, a)
    r = verify(stack, token, code=codes.next())
    assert_status(r, 200)
    tokens = r.json()
    assert tokens["user"]["id"] == a.user_id and tokens["user"]["mfa_enabled"] is True
    assert tokens["organization"]["id"] == a.org_id and tokens["role"] == "owner"
    assert_status(stack.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])), 200)
    # A refresh keeps saying so.
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert_status(r, 200)
    assert r.json()["user"]["mfa_enabled"] is True
    # The mfa_token is single use.
    assert_error(verify(stack, token, code=codes.next()), 401, "invalid_mfa_token")


def test_the_organization_asked_for_at_login_is_kept(stack):
    owner = register(stack)
    a = register(stack)
    inside = join(owner, a)
    codes, _ = enrol(a)
    token = first_step(stack, a, organization_id=owner.org_id)
    r = verify(stack, token, code=codes.next())
    assert_status(r, 200)
    assert r.json()["organization"]["id"] == owner.org_id == inside.org_id


def test_a_code_is_accepted_once(stack):
    a = register(stack)
    codes, _ = enrol(a)
    code = codes.next()
    assert_status(verify(stack, first_step(stack, a), code=code), 200)
    # The same code again, inside its window: refused, and the token stays.
    token = first_step(stack, a)
    assert_error(verify(stack, token, code=code), 401, "invalid_mfa_code")
    assert_status(verify(stack, token, code=codes.next()), 200)


def test_wrong_codes_lock_the_email_like_failed_logins(stack):
    a = register(stack)
    codes, _ = enrol(a)
    token = first_step(stack, a)
    for _ in range(5):
        assert_error(verify(stack, token, code=codes.wrong()), 401, "invalid_mfa_code")
    r = verify(stack, token, code=codes.next())
    assert_error(r, 429, "too_many_attempts")
    assert int(r.header("Retry-After")) > 0
    # The lockout is the email's: a password login waits too.
    assert_error(login(stack, a.email, a.password), 429, "too_many_attempts")


def test_wrong_codes_of_an_authenticated_call_count_too(stack):
    a = register(stack)
    codes, _ = enrol(a)
    for _ in range(5):
        assert_error(a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.wrong()}),
                     401, "invalid_mfa_code")
    assert_error(a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.next()}),
                 429, "too_many_attempts")


def test_a_right_code_does_not_count_as_a_failure(stack):
    a = register(stack)
    codes, _ = enrol(a)
    for _ in range(4):
        assert_error(verify(stack, first_step(stack, a), code=codes.wrong()),
                     401, "invalid_mfa_code")
    # Four failures, then a success ends the count.
    assert_status(verify(stack, first_step(stack, a), code=codes.next()), 200)
    assert_error(verify(stack, first_step(stack, a), code=codes.wrong()),
                 401, "invalid_mfa_code")
    assert_status(verify(stack, first_step(stack, a), code=codes.next()), 200)


def test_a_recovery_code_works_once(stack):
    a = register(stack)
    _, recovery = enrol(a)
    assert_status(verify(stack, first_step(stack, a), recovery_code=recovery[0]), 200)
    assert_error(verify(stack, first_step(stack, a), recovery_code=recovery[0]),
                 401, "invalid_mfa_code")
    # Typed in capitals, without its dash: the same code.
    assert_status(verify(stack, first_step(stack, a),
                         recovery_code=recovery[1].replace("-", "").upper()), 200)
    assert_error(verify(stack, first_step(stack, a), recovery_code="not-a-code"),
                 401, "invalid_mfa_code")


def test_regenerating_kills_the_old_recovery_codes(stack):
    a = register(stack)
    codes, old = enrol(a)
    assert_error(a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.wrong()}),
                 401, "invalid_mfa_code")
    r = a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.next()})
    assert_status(r, 200)
    new = r.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert_error(verify(stack, first_step(stack, a), recovery_code=old[2]),
                 401, "invalid_mfa_code")
    assert_status(verify(stack, first_step(stack, a), recovery_code=new[2]), 200)


def test_disabling_needs_password_and_code_and_revokes_other_sessions(stack):
    a = register(stack)
    codes, _ = enrol(a)
    r = verify(stack, first_step(stack, a), code=codes.next())
    assert_status(r, 200)
    other = r.json()["access_token"]
    assert_error(a.delete("/api/v1/auth/mfa/totp",
                          body={"password": "wrong-" + a.password, "code": codes.wrong()}),
                 401, "invalid_credentials")
    assert_error(a.delete("/api/v1/auth/mfa/totp",
                          body={"password": a.password, "code": codes.wrong()}),
                 401, "invalid_mfa_code")
    r = a.delete("/api/v1/auth/mfa/totp", body={"password": a.password, "code": codes.next()})
    assert_status(r, 204)
    assert_error(stack.get("/api/v1/auth/me", headers=bearer(other)), 401, "invalid_token")
    me = a.get("/api/v1/auth/me")
    assert_status(me, 200)
    assert me.json()["mfa_enabled"] is False
    # A login is one step again; the old codes are gone.
    assert "access_token" in login(stack, a.email, a.password).json()
    assert_error(a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.next()}),
                 409, "mfa_not_enabled")


def test_mfa_tokens_that_are_not_live(stack):
    assert_error(verify(stack, "x" * 43, code="123456"), 401, "invalid_mfa_token")
    a = register(stack)
    codes, _ = enrol(a)
    token = first_step(stack, a)
    r = stack.post("/api/v1/auth/mfa/verify", {"mfa_token": token})
    assert_error(r, 422, "validation_failed")
    r = verify(stack, token, code="123456", recovery_code="abcde-fghij")
    assert_error(r, 422, "validation_failed")
    stack.need_own()
    stack.psql("UPDATE homebot.mfa_challenges SET expires_at = now() - interval '1 second'"
               " WHERE user_id = :'u'", u=a.user_id)
    assert_error(verify(stack, token, code=codes.next()), 401, "invalid_mfa_token")
    # An access token is no mfa_token.
    assert_error(verify(stack, a.access, code=codes.next()), 401, "invalid_mfa_token")


def test_require_mfa_holds_members_without_totp_at_enrolment(stack):
    owner = register(stack)
    member = join(owner, register(stack))
    key = create_key(owner, ["org:read", "members:read"])["key"]
    r = owner.put("/api/v1/organizations/current/settings/require_mfa", {"value": True})
    assert r.status in (200, 201), r
    # Everyone of the organization without TOTP is held, the owner too.
    for who in (owner, member):
        assert_error(who.get("/api/v1/members"), 403, "mfa_required")
        assert_error(who.get("/api/v1/organizations/current"), 403, "mfa_required")
        me = who.get("/api/v1/auth/me")
        assert_status(me, 200)
        assert me.json()["mfa_enabled"] is False
    # API keys are not people: never held.
    assert_status(stack.get("/api/v1/members", headers={"X-API-Key": key}), 200)
    # Enrolment stays open; once on, the member is through.
    codes, _ = enrol(member)
    assert_status(member.get("/api/v1/members"), 200)
    assert_status(stack.get("/api/v1/auth/me", headers=bearer(
        verify(stack, first_step(stack, member), code=codes.next()).json()["access_token"])), 200)
    # The owner too, who then turns the policy off.
    enrol(owner)
    r = owner.put("/api/v1/organizations/current/settings/require_mfa", {"value": False})
    assert_status(r, 200)
    late = join(owner, register(stack))
    assert_status(late.get("/api/v1/members"), 200)
    # Logout stays open to a held member.
    r = owner.put("/api/v1/organizations/current/settings/require_mfa", {"value": True})
    assert_status(r, 200)
    assert_error(late.get("/api/v1/members"), 403, "mfa_required")
    assert_status(late.post("/api/v1/auth/logout"), 204)


def test_events_are_audited_and_the_secret_is_never_stored_or_logged(stack):
    stack.need_own()
    a = register(stack)
    rid = "mfa-" + uuid.uuid4().hex
    r = a.post("/api/v1/auth/mfa/totp", {"password": a.password})
    secret = r.json()["secret"]
    codes = Codes(secret)
    r = a.post("/api/v1/auth/mfa/totp/confirm", {"code": codes.next()},
               headers={"X-Request-ID": rid + "-on"})
    assert_status(r, 200)
    recovery = r.json()["recovery_codes"]
    r = a.post("/api/v1/auth/mfa/recovery-codes", {"code": codes.next()},
               headers={"X-Request-ID": rid + "-re"})
    assert_status(r, 200)
    r = a.delete("/api/v1/auth/mfa/totp", body={"password": a.password, "code": codes.next()},
                 headers={"X-Request-ID": rid + "-off"})
    assert_status(r, 204)
    rows = stack.psql("SELECT request_id, action, actor_id, organization_id FROM homebot.audit_log"
                      " WHERE request_id LIKE :'p' AND action LIKE 'auth.mfa.%'"
                      " ORDER BY occurred_at", p=rid + "%")
    assert [(q, act) for q, act, _, _ in rows] == [
        (rid + "-on", "auth.mfa.enabled"),
        (rid + "-re", "auth.mfa.recovery_codes_regenerated"),
        (rid + "-off", "auth.mfa.disabled")], rows
    assert all(u == a.user_id and o == a.org_id for _, _, u, o in rows), rows
    # Enrol again and look at what the database holds.
    r = a.post("/api/v1/auth/mfa/totp", {"password": a.password})
    secret = r.json()["secret"]
    raw = base64.b32decode(secret)
    [(dump,)] = stack.psql("SELECT row_to_json(t)::text FROM homebot.user_totp t"
                           " WHERE user_id = :'u'", u=a.user_id)
    assert secret not in dump and raw.hex() not in dump
    [(audit,)] = stack.psql("SELECT coalesce(string_agg(row_to_json(l)::text, ' '), '')"
                            " FROM homebot.audit_log l WHERE actor_id = :'u'", u=a.user_id)
    log = stack.web_log()
    for s in [secret, raw.hex(), *recovery]:
        assert s not in log and s not in audit
    assert SECRETS >= {secret}
