"""Account takeover, tried as an attacker would (api.md §2, "Email
ownership"): whoever does not hold the mailbox never gets, sees or keeps
what only a mailed token may give."""
import hashlib
import json
import re
import statistics
import time
import uuid
from pathlib import Path

import pytest

from conftest import (Account, assert_error, assert_status, assert_unauthenticated, create_key,
                      hash_password, login, new_email, new_password, register, report)
from mailsink import settle
from ownership import (CHANGE, INVITE, MAILED, RESET, VERIFY, accept, accepted_account, count, dead,
                       expire, forgot, invite, mailed, no_new_mail, reset, reset_token, verify,
                       verify_token)

# Strings of an answer long enough to be a token (base64url, 43 characters
# for 256 bits) or the hex of a hash.
TOKENISH = re.compile(r"[A-Za-z0-9_-]{32,}")


def tokenish(*bodies):
    found = set()
    for b in bodies:
        found.update(TOKENISH.findall(b.decode(errors="replace")))
    return found


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def assert_absent(token, *bodies):
    for b in bodies:
        text = b.decode(errors="replace") if isinstance(b, bytes) else b
        assert token not in text, "the token is in an answer"
        assert sha256_hex(token) not in text.lower(), "the token's hash is in an answer"


def members(account):
    return assert_status(account.get("/api/v1/members?limit=200"), 200).json()["data"]


def status_in(account, user_id):
    return [m["status"] for m in members(account) if m["user_id"] == user_id]


# ---- (a) an inviter never holds the invited address ----------------------------------------

def test_an_inviter_sees_nothing_that_lets_it_accept(stack):
    a = register(stack)
    victim = f"cfo-{uuid.uuid4().hex[:10]}@victim.example"
    r, token = mailed(stack, victim, INVITE,
                      lambda: a.post("/api/v1/members", {"email": victim, "role": "owner"}))
    assert_status(r, 201)
    user_id = r.json()["user_id"]
    settle(stack)
    answers = [r.body]
    answers.append(assert_status(a.get("/api/v1/members?limit=200"), 200).body)
    jobs = assert_status(a.get("/api/v1/jobs?limit=200"), 200)
    answers.append(jobs.body)
    for job in jobs.json()["data"]:
        answers.append(assert_status(a.get(f"/api/v1/jobs/{job['id']}"), 200).body)
    answers.append(assert_status(a.get("/api/v1/jobs?kind=mail"), 200).body)
    answers.append(assert_status(a.get("/api/v1/audit-log?limit=200"), 200).body)
    assert_absent(token, *answers)
    # Whatever A saw that looks like a token opens nothing.
    for candidate in tokenish(*answers):
        assert_unauthenticated(accept(stack, candidate, new_password()), "invalid_invite")
    assert status_in(a, user_id) == ["invited"]


def test_an_inviter_cannot_log_in_as_the_invited_address(stack):
    a = register(stack)
    victim = f"cfo-{uuid.uuid4().hex[:10]}@victim.example"
    body, token = invite(a, victim, "owner")
    for guess in ("", a.password, victim, new_password()):
        r = login(stack, victim, guess or "x")
        assert_unauthenticated(r, "invalid_credentials")
    assert_error(stack.post("/api/v1/auth/register", {
        "email": victim, "password": new_password(), "organization_name": "Mine"}), 409, "email_taken")
    # A's own credentials do not accept for the address.
    assert_unauthenticated(accept(stack, "A" * 43, a.password, headers=a.auth), "invalid_invite")
    # A reset asked by A goes to the mailbox, not to A.
    a_before = count(stack, a.email)
    mailed(stack, victim, RESET, lambda: forgot(stack, victim))
    no_new_mail(stack, a.email, a_before)
    assert status_in(a, body["user_id"]) == ["invited"]


def test_a_second_organization_waits_for_the_mailbox_owner(stack):
    a, b = register(stack), register(stack)
    victim = f"cfo-{uuid.uuid4().hex[:10]}@victim.example"
    body_a, token_a = invite(a, victim, "admin")
    body_b, token_b = invite(b, victim, "member")
    assert body_a["user_id"] == body_b["user_id"]
    uid = body_b["user_id"]
    assert status_in(b, uid) == ["invited"]
    # Nothing A could do with its own invitation activates B's.
    assert_unauthenticated(accept(stack, token_a[::-1], new_password()), "invalid_invite")
    assert status_in(b, uid) == ["invited"]
    # The mailbox owner accepts B's invitation through B's mail.
    password = new_password()
    t = assert_status(accept(stack, token_b, password), 200).json()
    assert t["organization"]["id"] == b.org_id
    assert status_in(b, uid) == ["active"]
    assert status_in(a, uid) == ["invited"]
    # Now verified: A's invitation needs the account's password.
    assert_unauthenticated(accept(stack, token_a, new_password()), "invalid_credentials")
    assert_status(accept(stack, token_a, password), 200)


# ---- (b) an account registered by someone else ---------------------------------------------

def squatted():
    """A victim's address, and its account registered by an attacker who
    holds two sessions in it."""
    return f"owner-{uuid.uuid4().hex[:10]}@victim.example"


def test_a_reset_by_the_mailbox_owner_ends_the_squatters_sessions(stack):
    address = squatted()
    attacker = register(stack, email=address)
    second = Account(stack, address, attacker.password, attacker.login())
    token = reset_token(stack, address)
    mine = new_password()
    assert_status(reset(stack, token, mine), 204)
    dead(stack, attacker)
    dead(stack, second)
    assert_unauthenticated(login(stack, address, attacker.password), "invalid_credentials")
    assert_status(login(stack, address, mine), 200)


def test_an_invitation_accepted_by_the_mailbox_owner_ends_the_squatters_sessions(stack):
    address = squatted()
    attacker = register(stack, email=address)
    b = register(stack)
    _, token = invite(b, address, "admin")
    # The squatter's session, unverified, cannot take the invitation.
    assert_error(attacker.get("/api/v1/auth/invitations"), 403, "email_not_verified")
    assert_status(attacker.get("/api/v1/auth/me"), 200)
    mine = new_password()
    owner = accepted_account(stack, address, mine, accept(stack, token, mine))
    assert owner.tokens["organization"]["id"] == b.org_id
    dead(stack, attacker)
    assert_unauthenticated(login(stack, address, attacker.password), "invalid_credentials")
    assert_status(owner.get("/api/v1/auth/me"), 200)


@pytest.mark.parametrize("takeover", ["reset", "invitation"])
def test_a_pending_email_change_of_the_squatter_dies_with_the_takeover(stack, takeover):
    address = squatted()
    attacker = register(stack, email=address)
    elsewhere = f"attacker-{uuid.uuid4().hex[:10]}@evil.example"
    r, change = mailed(stack, elsewhere, CHANGE, lambda: attacker.post(
        "/api/v1/auth/email", {"new_email": elsewhere, "password": attacker.password}))
    assert_status(r, 202)
    mine = new_password()
    if takeover == "reset":
        assert_status(reset(stack, reset_token(stack, address), mine), 204)
    else:
        _, token = invite(register(stack), address)
        assert_status(accept(stack, token, mine), 200)
    # The link the squatter kept must not move the owner's account away.
    assert_unauthenticated(stack.post("/api/v1/auth/email/confirm", {"token": change}),
                           "invalid_verification_token")
    assert_status(login(stack, address, mine), 200)


def confirm_change(stack, account, new):
    """account moves to the address new (a mailbox its holder owns)."""
    r, change = mailed(stack, new, CHANGE, lambda: account.post(
        "/api/v1/auth/email", {"new_email": new, "password": account.password}))
    assert_status(r, 202)
    assert_status(stack.post("/api/v1/auth/email/confirm", {"token": change}), 200)


def test_a_squatter_who_moves_the_account_away_leaves_its_invitations_behind(stack):
    # The squatter registers the victim's address; an organization invites
    # that address; the squatter then moves the account to a mailbox of
    # its own, which verifies it. The invitation was for the victim.
    address = squatted()
    attacker = register(stack, email=address)
    admin = register(stack)
    body, token = invite(admin, address, role="owner")
    confirm_change(stack, attacker, f"attacker-{uuid.uuid4().hex[:10]}@evil.example")
    r = attacker.get("/api/v1/auth/invitations")
    assert_status(r, 200)
    assert r.json()["data"] == [], r
    assert status_in(admin, body["user_id"]) == []
    # The victim's link is dead too; the organization invites the address
    # again, which now reaches a new account of the victim's own.
    assert_unauthenticated(accept(stack, token, new_password()), "invalid_invite")
    again, token = invite(admin, address, role="owner")
    assert again["user_id"] != body["user_id"]
    mine = new_password()
    assert accepted_account(stack, address, mine, accept(stack, token, mine)).tokens["role"] == "owner"


def test_a_password_change_voids_an_email_change_asked_for_before(stack):
    # Someone who held the session and the password asked to move the
    # account; the owner changes the password: the link must die with it.
    a = register(stack)
    new = f"thief-{uuid.uuid4().hex[:10]}@evil.example"
    r, change = mailed(stack, new, CHANGE, lambda: a.post(
        "/api/v1/auth/email", {"new_email": new, "password": a.password}))
    assert_status(r, 202)
    assert_status(a.post("/api/v1/auth/password", {"current_password": a.password,
                                                   "new_password": new_password()}), 204)
    assert_unauthenticated(stack.post("/api/v1/auth/email/confirm", {"token": change}),
                           "invalid_verification_token")


def test_make_superadmin_voids_what_a_squatter_asked_for(stack):
    # The squatter registers the address an operator will make superadmin,
    # and keeps an email-change link and an API key.
    address = squatted()
    attacker = register(stack, email=address)
    key = create_key(attacker, ["org:read"])["key"]
    new = f"attacker-{uuid.uuid4().hex[:10]}@evil.example"
    r, change = mailed(stack, new, CHANGE, lambda: attacker.post(
        "/api/v1/auth/email", {"new_email": new, "password": attacker.password}))
    assert_status(r, 202)
    stack.psql("SELECT * FROM homebot.ensure_superadmin(:'email', :'hash')",
               email=address, hash=hash_password(new_password()))
    assert_unauthenticated(stack.post("/api/v1/auth/email/confirm", {"token": change}),
                           "invalid_verification_token")
    assert_unauthenticated(stack.get("/api/v1/auth/me", headers={"X-API-Key": key}),
                           "invalid_api_key")


@pytest.mark.parametrize("takeover", ["reset", "invitation"])
def test_an_api_key_of_the_squatter_dies_with_the_takeover(stack, takeover):
    address = squatted()
    attacker = register(stack, email=address)
    key = create_key(attacker, ["org:read", "members:read"])["key"]
    assert_status(stack.get("/api/v1/auth/me", headers={"X-API-Key": key}), 200)
    mine = new_password()
    if takeover == "reset":
        assert_status(reset(stack, reset_token(stack, address), mine), 204)
    else:
        _, token = invite(register(stack), address)
        assert_status(accept(stack, token, mine), 200)
    assert_unauthenticated(stack.get("/api/v1/auth/me", headers={"X-API-Key": key}),
                           "invalid_api_key")


# ---- (c) every kind of token: single use, expiring, replaced -------------------------------

class Kind:
    """One kind of mailed token: how to get one for a fresh account, use it,
    and the answer of a dead one."""

    def __init__(self, name, page, code, issue, use):
        self.name, self.page, self.code = name, page, code
        self._issue, self._use = issue, use

    def setup(self, stack):
        return self._issue(stack, None)

    def again(self, stack, ctx):
        return self._issue(stack, ctx)

    def use(self, stack, ctx, token):
        return self._use(stack, ctx, token)


def _verify_issue(stack, ctx):
    if ctx is None:
        a = register(stack)
        return {"account": a, "address": a.email, "user": a.user_id, "table": "email_tokens"}, \
            verify_token(stack, a.email)
    a = ctx["account"]
    r, token = mailed(stack, a.email, VERIFY, lambda: a.post("/api/v1/auth/verify-email/resend"))
    assert_status(r, 202)
    return ctx, token


def _reset_issue(stack, ctx):
    if ctx is None:
        a = register(stack)
        ctx = {"account": a, "address": a.email, "user": a.user_id, "table": "email_tokens"}
    return ctx, reset_token(stack, ctx["address"])


def _invite_issue(stack, ctx):
    if ctx is None:
        owner = register(stack)
        address = new_email()
        body, token = invite(owner, address)
        return {"owner": owner, "address": address, "user": body["user_id"],
                "table": "invitations"}, token
    r, token = mailed(stack, ctx["address"], INVITE, lambda: ctx["owner"].post(
        f"/api/v1/members/{ctx['user']}/resend-invite"))
    assert_status(r, 202)
    return ctx, token


def _change_issue(stack, ctx):
    if ctx is None:
        a = register(stack)
        ctx = {"account": a, "user": a.user_id, "table": "email_tokens"}
    a = ctx["account"]
    ctx["address"] = new_email()
    r, token = mailed(stack, ctx["address"], CHANGE, lambda: a.post(
        "/api/v1/auth/email", {"new_email": ctx["address"], "password": a.password}))
    assert_status(r, 202)
    return ctx, token


KINDS = [
    Kind("verification", VERIFY, "invalid_verification_token", _verify_issue,
         lambda s, c, t: verify(s, t)),
    Kind("reset", RESET, "invalid_reset_token", _reset_issue,
         lambda s, c, t: reset(s, t, new_password())),
    Kind("invitation", INVITE, "invalid_invite", _invite_issue,
         lambda s, c, t: accept(s, t, new_password())),
    Kind("email_change", CHANGE, "invalid_verification_token", _change_issue,
         lambda s, c, t: s.post("/api/v1/auth/email/confirm", {"token": t})),
]
SUCCESS = {"verification": 200, "reset": 204, "invitation": 200, "email_change": 200}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_token_is_single_use(stack, kind):
    ctx, token = kind.setup(stack)
    assert_status(kind.use(stack, ctx, token), SUCCESS[kind.name])
    assert_unauthenticated(kind.use(stack, ctx, token), kind.code)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_token_expires(stack, kind):
    ctx, token = kind.setup(stack)
    expire(stack, ctx["table"], ctx["user"])
    assert_unauthenticated(kind.use(stack, ctx, token), kind.code)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_new_token_voids_the_older_one(stack, kind):
    ctx, first = kind.setup(stack)
    ctx, second = kind.again(stack, ctx)
    assert second != first
    assert_unauthenticated(kind.use(stack, ctx, first), kind.code)
    assert_status(kind.use(stack, ctx, second), SUCCESS[kind.name])


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_forged_token_is_refused(stack, kind):
    ctx, token = kind.setup(stack)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_unauthenticated(kind.use(stack, ctx, forged), kind.code)
    for junk in ("", "x", "A" * 1024):
        r = kind.use(stack, ctx, junk)
        assert r.status in (401, 422), r
    assert_status(kind.use(stack, ctx, token), SUCCESS[kind.name])


# ---- (d) no token outside the mail ---------------------------------------------------------

def test_no_organization_job_row_carries_a_token(stack):
    owner = register(stack)
    address = new_email()
    _, token = invite(owner, address)
    settle(stack)
    body = assert_status(owner.get("/api/v1/jobs?limit=200"), 200).body
    assert_absent(token, body)
    assert b'"mail"' not in body, "an organization sees mail jobs"


def test_a_sent_mail_job_keeps_no_secret(stack):
    owner = register(stack)
    address = new_email()
    _, token = invite(owner, address)
    settle(stack)
    rows = stack.psql("SELECT status, payload::text FROM homebot.jobs WHERE kind = 'mail'"
                      " AND payload->>'to' = :'to'", to=address)
    assert rows and all(s == "succeeded" for s, _ in rows), rows
    for _, payload in rows:
        assert "secret" not in json.loads(payload), payload
        assert token not in payload


def test_the_database_keeps_no_mailed_token(stack):
    # Every kind once, so the check means something when run alone.
    a = register(stack)
    verify_token(stack, a.email)
    reset_token(stack, a.email)
    elsewhere = new_email()
    mailed(stack, elsewhere, CHANGE, lambda: a.post(
        "/api/v1/auth/email", {"new_email": elsewhere, "password": a.password}))
    invite(a, new_email())
    settle(stack)
    tables = [r[0] for r in stack.psql(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables"
        " WHERE schemaname = 'homebot'")]
    dump = "\n".join("\n".join("\x1f".join(row) for row in stack.psql(f"SELECT t::text FROM {t} t"))
                     for t in tables)
    assert len(MAILED) >= 4
    leaked = [t for t in MAILED if t in dump]
    assert not leaked, f"{len(leaked)} mailed tokens stored in the database"


def test_no_log_line_holds_a_mailed_token(stack):
    stack.need_own()
    a = register(stack)
    verify(stack, verify_token(stack, a.email))
    reset(stack, reset_token(stack, a.email), new_password())
    settle(stack)
    logs = {p.name: p.read_text(errors="replace") for p in Path(stack.dir, "log").glob("*.log")}
    assert {"web.log", "worker.log"} <= set(logs), sorted(logs)
    assert len(MAILED) >= 2
    for name, text in logs.items():
        leaked = [t for t in MAILED if t in text]
        assert not leaked, f"{len(leaked)} mailed tokens in {name}, e.g. {leaked[0][:8]}…"
    # The links reached the mails only.
    assert "#token=" not in logs["web.log"] + logs["worker.log"]


# ---- (e) forgot-password tells nothing ------------------------------------------------------

def test_forgot_answers_the_same_for_known_and_unknown_addresses(stack):
    a = register(stack)
    known = forgot(stack, a.email)
    unknown = forgot(stack, new_email())
    assert (known.status, known.body) == (unknown.status, unknown.body) == (202, known.body)
    strip = {"x-request-id", "date", "content-length"}
    assert sorted((k.lower(), v) for k, v in known.headers if k.lower() not in strip) == \
        sorted((k.lower(), v) for k, v in unknown.headers if k.lower() not in strip)


ROUNDS = 30


def forgot_medians(stack):
    """A known address, an unknown one and a second unknown one (the
    control: what the noise alone makes of two equal paths) take turns,
    one request at a time, in rotating order; the worker is stopped
    meanwhile so that the mails it would send slow no request. The
    medians of each, in seconds."""
    # Fresh known addresses, each under its hourly mail limit, so that
    # every known call takes the whole path (a token, a mail job).
    sets = {"known": [register(stack).email for _ in range(ROUNDS)],
            "unknown": [new_email() for _ in range(ROUNDS)],
            "control": [new_email() for _ in range(ROUNDS)]}
    order = list(sets)
    took = {name: [] for name in sets}
    settle(stack)
    stack.control("worker-stop")
    try:
        for i in range(ROUNDS):
            for name in order[i % 3:] + order[:i % 3]:
                t0 = time.perf_counter()
                r = forgot(stack, sets[name][i])
                took[name].append(time.perf_counter() - t0)
                assert r.status == 202, r
    finally:
        stack.control("worker-start")
    return tuple(statistics.median(took[name]) for name in order)


def test_forgot_takes_as_long_for_known_and_unknown_addresses(stack):
    """The median of the known must stay within the noise of the unknown:
    0.1 ms, 10 %, and twice the gap between the two unknown sets. A path
    that does more for a known address is slower in every measurement; a
    busy machine's noise sometimes makes one look so, so the test measures
    up to three times and fails when none is within."""
    seen = []
    for _ in range(3):
        k, u, c = forgot_medians(stack)
        seen.append(f"known {k * 1000:.2f} ms, unknown {u * 1000:.2f} ms, control {c * 1000:.2f} ms")
        report(f"forgot-password medians ({stack.env.get('HOMEBOT_WEB')}): {seen[-1]}")
        if abs(k - u) <= 0.0001 + 0.1 * u + 2 * abs(u - c):
            return
    raise AssertionError("; ".join(seen))
