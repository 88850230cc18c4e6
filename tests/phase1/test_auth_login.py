"""POST /api/v1/auth/login (api.md §2): passwords, the lockout, and the
choice of organization."""
import collections
import uuid
import warnings
from urllib.parse import urlencode

import pytest

from conftest import (assert_error, assert_invalid, assert_status, assert_unauthenticated, at_once,
                      join_org, login, login_form, new_email, new_password, overlapping_pairs,
                      own_stack, register, report, spans)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # crypt leaves Python in 3.13
    import crypt

LOGIN = "/api/v1/auth/login"
LOGIN_MAX_ATTEMPTS = 5  # the default, which the session stack keeps


def fail_logins(stack, email, n):
    for _ in range(n):
        r = login(stack, email, "wrong-" + new_password())
        assert_unauthenticated(r, "invalid_credentials")


def test_login_is_200_with_a_token_response(stack, account):
    r = login(stack, account.email, account.password)
    assert r.status == 200, r
    t = r.json()
    assert t["user"]["id"] == account.user_id
    assert t["organization"] == account.tokens["organization"]
    assert t["role"] == "owner"
    assert t["token_type"] == "bearer"


def test_login_opens_a_new_session(stack, account):
    r = login(stack, account.email, account.password)
    token = r.json()["access_token"]
    me = stack.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["session_id"] != account.session_id


def test_login_accepts_the_oauth2_password_form(stack, account):
    r = login_form(stack, account.email, account.password)
    assert r.status == 200, r
    assert r.json()["user"]["id"] == account.user_id


def test_form_login_with_a_wrong_password_is_401(stack, account):
    assert_unauthenticated(login_form(stack, account.email, "wrong-password-123"),
                           "invalid_credentials")


@pytest.mark.parametrize("field", ["username", "password"])
def test_form_login_without_a_field_is_422(stack, field):
    form = {"username": new_email(), "password": new_password()}
    del form[field]
    r = stack.post(LOGIN, urlencode(form),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_invalid(r, field)


def test_email_is_case_insensitive_and_trimmed_at_login(stack, account):
    r = login(stack, f"  {account.email.upper()} ", account.password)
    assert r.status == 200, r


def test_wrong_password_is_401_invalid_credentials(stack, account):
    assert_unauthenticated(login(stack, account.email, account.password + "x"),
                           "invalid_credentials")


def test_unknown_email_and_wrong_password_look_the_same(stack, account):
    wrong = login(stack, account.email, "wrong-password-123")
    unknown = login(stack, new_email(), "wrong-password-123")
    a, b = wrong.json(), unknown.json()
    assert a["error"].pop("request_id") != b["error"].pop("request_id")
    assert (wrong.status, a) == (unknown.status, b)
    assert wrong.header("WWW-Authenticate") == unknown.header("WWW-Authenticate")


def test_password_is_case_sensitive(stack):
    a = register(stack, password="Correct-Horse-Battery")
    assert_unauthenticated(login(stack, a.email, "correct-horse-battery"), "invalid_credentials")


def test_password_longer_than_72_bytes_never_matches(stack):
    # bcrypt reads 72 bytes; a longer password must not pass on its prefix.
    a = register(stack, password=new_password(72))
    assert_unauthenticated(login(stack, a.email, a.password + "extra"), "invalid_credentials")


@pytest.mark.parametrize("field", ["email", "password"])
def test_missing_field_is_422(stack, field):
    b = {"email": new_email(), "password": new_password()}
    del b[field]
    assert_invalid(stack.post(LOGIN, b), field)


def test_malformed_organization_id_is_422(stack, account):
    assert_invalid(login(stack, account.email, account.password, organization_id="acme"),
                   "organization_id")


def test_five_failures_lock_the_email_even_for_the_right_password(stack, account):
    fail_logins(stack, account.email, 5)
    r = login(stack, account.email, account.password)
    assert_error(r, 429, "too_many_attempts")
    assert 0 < int(r.header("Retry-After")) <= 900, r.headers


def test_four_failures_do_not_lock(stack, account):
    fail_logins(stack, account.email, 4)
    assert_status(login(stack, account.email, account.password), 200)


def test_five_failures_lock_an_unknown_email_too(stack):
    email = new_email()
    fail_logins(stack, email, 5)
    r = login(stack, email, "wrong-password-123")
    assert_error(r, 429, "too_many_attempts")
    assert int(r.header("Retry-After")) > 0, r.headers


def test_a_success_after_four_failures_resets_the_count(stack, account):
    fail_logins(stack, account.email, 4)
    assert_status(login(stack, account.email, account.password), 200)
    # 8 failures in the window now, but only the 4 after the success count.
    fail_logins(stack, account.email, 4)
    assert_status(login(stack, account.email, account.password), 200)
    fail_logins(stack, account.email, 5)
    assert_error(login(stack, account.email, account.password), 429, "too_many_attempts")


def _parallel_logins(stack, email, n):
    """n wrong-password logins for email, released all at once."""
    return at_once([lambda: login(stack, email, "wrong-" + new_password())] * n)


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_parallel_failures_never_check_more_passwords_than_the_limit(stack, known):
    # An attempt counts before its password is checked, under the email's
    # lock: however many run at once, at most LOGIN_MAX_ATTEMPTS get as far
    # as bcrypt (401); the others are locked out before it (429).
    n = 16
    if known:
        a = register(stack)
        email = a.email
        # A stored hash of cost 12 makes each check last ~200 ms, so that
        # the requests are all in flight together.
        slow = crypt.crypt(new_password(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** 12))
        stack.psql("UPDATE homebot.users SET password_hash = :'h' WHERE id = :'id'",
                   h=slow, id=a.user_id)
    else:
        email = new_email()
    answers = _parallel_logins(stack, email, n)
    codes = collections.Counter((r.status, r.json()["error"]["code"]) for r in answers)
    checked = codes[(401, "invalid_credentials")]
    report(f"login lockout race ({'known' if known else 'unknown'} email): {n} parallel "
           f"wrong-password logins, {checked} password checks (401), "
           f"{codes[(429, 'too_many_attempts')]} locked out (429), limit {LOGIN_MAX_ATTEMPTS}")
    assert set(codes) <= {(401, "invalid_credentials"), (429, "too_many_attempts")}, answers
    assert checked <= LOGIN_MAX_ATTEMPTS, codes
    # Nothing else held them back: exactly the limit went through.
    assert checked == LOGIN_MAX_ATTEMPTS, codes
    for r in answers:
        if r.status == 429:
            assert 0 < int(r.header("Retry-After")) <= 900, r.headers
    [(failed,)] = stack.psql("SELECT count(*) FROM homebot.login_attempts"
                             " WHERE email = lower(:'email') AND NOT succeeded", email=email)
    assert int(failed) == checked
    [(failed_events, locked_events)] = stack.psql(
        "SELECT count(*) FILTER (WHERE action = 'auth.login.failed'),"
        "       count(*) FILTER (WHERE action = 'auth.locked')"
        "  FROM homebot.audit_log WHERE changes->>'email' = lower(:'email')", email=email)
    assert (int(failed_events), int(locked_events)) == (checked, 1)
    # The workers' own log: the attempts really ran at the same time.
    pairs = overlapping_pairs(spans(stack, answers))
    report(f"login lockout race ({'known' if known else 'unknown'} email): {pairs} pairs "
           f"of the {n} requests overlapped on different workers")
    assert pairs > 0, spans(stack, answers)


def test_lockout_counts_the_email_regardless_of_case(stack, account):
    for _ in range(5):
        login(stack, account.email.upper(), "wrong-password-123")
    assert_error(login(stack, account.email, account.password), 429, "too_many_attempts")


def test_lockout_is_per_email(stack, account):
    other = register(stack)
    fail_logins(stack, other.email, 5)
    assert_status(login(stack, account.email, account.password), 200)


def test_lockout_ends_when_the_failures_leave_the_window(stack, account):
    fail_logins(stack, account.email, 5)
    stack.psql("UPDATE homebot.login_attempts"
               " SET attempted_at = attempted_at - interval '901 seconds'"
               " WHERE email = lower(:'email')", email=account.email)
    assert_status(login(stack, account.email, account.password), 200)


def test_requested_organization_is_used(stack, account):
    other = register(stack)
    join_org(stack, other.org_id, account.user_id, "member")
    r = login(stack, account.email, account.password, organization_id=other.org_id)
    assert r.status == 200, r
    t = r.json()
    assert t["organization"]["id"] == other.org_id
    assert t["role"] == "member"


def test_login_picks_the_organization_used_last(stack, account):
    other = register(stack)
    join_org(stack, other.org_id, account.user_id, "admin")
    account.login(organization_id=other.org_id)
    t = account.login()
    assert t["organization"]["id"] == other.org_id
    assert t["role"] == "admin"


def test_organization_of_which_the_user_is_not_a_member_is_403_not_a_member(stack, account):
    other = register(stack)
    r = login(stack, account.email, account.password, organization_id=other.org_id)
    assert_error(r, 403, "not_a_member")


def test_unknown_organization_is_403_not_a_member(stack, account):
    r = login(stack, account.email, account.password, organization_id=str(uuid.uuid4()))
    assert_error(r, 403, "not_a_member")


def test_suspended_organization_refuses_login(stack, account):
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=account.org_id)
    assert_error(login(stack, account.email, account.password), 403, "organization_suspended")


def test_suspended_organization_refuses_existing_tokens(stack, account):
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=account.org_id)
    assert_error(account.get("/api/v1/auth/me"), 403, "organization_suspended")


def test_suspension_leaves_the_users_other_organizations_alone(stack, account):
    other = register(stack)
    join_org(stack, other.org_id, account.user_id, "member")
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=account.org_id)
    r = login(stack, account.email, account.password, organization_id=other.org_id)
    assert r.status == 200, r


def test_disabled_user_is_403_account_disabled(stack, account):
    stack.psql("UPDATE homebot.users SET disabled_at = now() WHERE id = :'id'", id=account.user_id)
    assert_error(login(stack, account.email, account.password), 403, "account_disabled")


def test_disabled_user_with_a_wrong_password_is_401(stack, account):
    # Only the right password learns that the account is disabled.
    stack.psql("UPDATE homebot.users SET disabled_at = now() WHERE id = :'id'", id=account.user_id)
    assert_unauthenticated(login(stack, account.email, "wrong-password-123"),
                           "invalid_credentials")


def test_higher_cost_hash_is_kept_at_login(stack, account):
    # The suite's stack hashes at cost 4: a stored cost-5 hash is stronger
    # than the setting asks, and a login must not weaken it (api.md §2:
    # only a hash of a lower cost is re-hashed).
    old = crypt.crypt(account.password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
    assert old.startswith("$2b$05$"), old
    stack.psql("UPDATE homebot.users SET password_hash = :'h' WHERE id = :'id'",
               h=old, id=account.user_id)
    assert_status(login(stack, account.email, account.password), 200)
    [(new,)] = stack.psql("SELECT password_hash FROM homebot.users WHERE id = :'id'",
                          id=account.user_id)
    assert new == old
    assert_status(login(stack, account.email, account.password), 200)


@pytest.fixture(scope="module")
def cost5_stack():
    yield from own_stack(BCRYPT_COST=5)


def test_lower_cost_hash_is_rehashed_at_login(cost5_stack):
    a = register(cost5_stack)
    old = crypt.crypt(a.password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    assert old.startswith("$2b$04$"), old
    cost5_stack.psql("UPDATE homebot.users SET password_hash = :'h' WHERE id = :'id'",
                     h=old, id=a.user_id)
    assert_status(login(cost5_stack, a.email, a.password), 200)
    [(new,)] = cost5_stack.psql("SELECT password_hash FROM homebot.users WHERE id = :'id'",
                                id=a.user_id)
    assert new.startswith("$2b$05$"), new
    assert crypt.crypt(a.password, new) == new
    assert_status(login(cost5_stack, a.email, a.password), 200)


def test_password_is_stored_only_as_a_bcrypt_hash(stack, account):
    [(stored,)] = stack.psql("SELECT password_hash FROM homebot.users WHERE id = :'id'",
                             id=account.user_id)
    assert stored.startswith("$2b$04$") and account.password not in stored, stored
