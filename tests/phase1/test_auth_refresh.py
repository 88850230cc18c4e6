"""POST /api/v1/auth/refresh (api.md §2): single-use refresh tokens, and
what happens when one is presented twice."""
import secrets

import pytest

from conftest import (access_ttl, assert_invalid, assert_status, assert_unauthenticated, bearer, hold_workers, jwt_parts,
                      race, register, report)

REFRESH = "/api/v1/auth/refresh"


def refresh(stack, token):
    return stack.post(REFRESH, {"refresh_token": token})


def test_refresh_returns_a_new_pair(stack, account):
    r = refresh(stack, account.refresh)
    assert r.status == 200, r
    t = r.json()
    assert t["access_token"] != account.access
    assert t["refresh_token"] != account.refresh
    assert t["user"]["id"] == account.user_id
    assert t["organization"] == account.tokens["organization"]
    assert t["role"] == "owner"
    assert t["expires_in"] == access_ttl(stack) and t["refresh_expires_in"] == 604800


def test_refreshed_access_token_continues_the_session(stack, account):
    t = refresh(stack, account.refresh).json()
    old, new = jwt_parts(account.access)[1], jwt_parts(t["access_token"])[1]
    assert new["sid"] == old["sid"]
    assert new["jti"] != old["jti"]
    assert_status(stack.get("/api/v1/auth/me", headers=bearer(t["access_token"])), 200)


def test_new_refresh_token_refreshes_again(stack, account):
    t = refresh(stack, account.refresh).json()
    r = refresh(stack, t["refresh_token"])
    assert r.status == 200, r


def test_used_refresh_token_is_401_refresh_token_reused(stack, account):
    assert_status(refresh(stack, account.refresh), 200)
    assert_unauthenticated(refresh(stack, account.refresh), "refresh_token_reused")


def test_reused_refresh_token_revokes_session(stack, account):
    t = refresh(stack, account.refresh).json()
    refresh(stack, account.refresh)
    r = stack.get("/api/v1/auth/me", headers=bearer(t["access_token"]))
    assert_unauthenticated(r, "invalid_token")
    assert_unauthenticated(refresh(stack, t["refresh_token"]), "invalid_refresh_token")


def test_reuse_leaves_the_users_other_sessions_alone(stack, account):
    other = account.login()
    refresh(stack, account.refresh)
    refresh(stack, account.refresh)
    assert_status(stack.get("/api/v1/auth/me", headers=bearer(other["access_token"])), 200)


def test_concurrent_refreshes_of_one_token_succeed_once(stack):
    # Four uses of one refresh token released at once, until the workers'
    # log shows two of them overlapping on different processes: exactly one
    # gets a new pair, the others are refused as a reuse, and the reuse
    # revokes the session, the new pair with it.
    def setup():
        a = register(stack)
        return [lambda: refresh(stack, a.refresh)] * 4, a

    def check(answers, a):
        assert sorted(r.status for r in answers) == [200, 401, 401, 401], answers
        for r in answers:
            if r.status == 401:
                assert_unauthenticated(r, "refresh_token_reused")
        [new] = [r.json() for r in answers if r.status == 200]
        sid = jwt_parts(a.access)[1]["sid"]
        [(revoked, tokens, used)] = stack.psql(
            "SELECT s.revoked_at IS NOT NULL, count(t.id), count(t.used_at)"
            "  FROM homebot.sessions s JOIN homebot.refresh_tokens t ON t.session_id = s.id"
            " WHERE s.id = :'sid' GROUP BY s.revoked_at", sid=sid)
        # The token used once, one successor issued (and never used): the
        # losers neither issued a pair nor left the session alive.
        assert (revoked, int(tokens), int(used)) == ("t", 2, 1)
        assert_unauthenticated(stack.get("/api/v1/auth/me", headers=bearer(new["access_token"])),
                               "invalid_token")

    warm = register(stack)
    hold_workers(stack, [lambda: stack.get("/api/v1/auth/sessions", headers=bearer(warm.access))] * 4)
    pairs = race(stack, setup, check)
    report(f"refresh reuse race: {pairs} pairs of 4 requests overlapped on different workers")


@pytest.mark.parametrize("token", [
    "garbage",
    secrets.token_urlsafe(32),         # well-formed, never issued
    "a" * 43 + "=",
    "!" * 43,
    "x" * 500,
], ids=["garbage", "unknown", "padded", "bad_chars", "long"])
def test_unknown_refresh_token_is_401_invalid_refresh_token(stack, token):
    assert_unauthenticated(refresh(stack, token), "invalid_refresh_token")


def test_access_token_is_not_a_refresh_token(stack, account):
    assert_unauthenticated(refresh(stack, account.access), "invalid_refresh_token")


def test_refresh_token_is_not_an_access_token(stack, account):
    r = stack.get("/api/v1/auth/me", headers=bearer(account.refresh))
    assert_unauthenticated(r, "invalid_token")


def test_refresh_token_of_a_suspended_organization_is_invalid(stack, account):
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=account.org_id)
    assert_unauthenticated(refresh(stack, account.refresh), "invalid_refresh_token")


def test_expired_refresh_token_is_invalid(stack, account):
    stack.psql("UPDATE homebot.refresh_tokens SET expires_at = now() - interval '1 second'"
               " WHERE session_id = :'sid'", sid=account.session_id)
    assert_unauthenticated(refresh(stack, account.refresh), "invalid_refresh_token")


def test_refresh_token_is_stored_only_as_a_hash(stack, account):
    rows = stack.psql("SELECT encode(token_hash, 'hex') FROM homebot.refresh_tokens"
                      " WHERE session_id = :'sid'", sid=account.session_id)
    assert len(rows) == 1 and len(rows[0][0]) == 64, rows
    assert account.refresh not in rows[0][0]


def test_missing_refresh_token_is_422(stack):
    assert_invalid(stack.post(REFRESH, {}), "refresh_token")
