"""make superadmin (scripts/stack.sh superadmin, through
homebot.ensure_superadmin): promoting or resetting an account ends every
session it had, so nobody holding one becomes a platform admin at the next
refresh; it clears the email's login lockout, so failed logins of others
cannot keep the superadmin out; and it refuses a password that breaks the
rules every other password follows."""
import os
import subprocess

from conftest import ROOT, STACK, assert_error, assert_status, login, new_password, register


def superadmin_command(stack, email, password):
    env = dict(os.environ, DATABASE_URL=stack.env["OWNER_URL"], BCRYPT_COST="4",
               PASSWORD_MIN_LENGTH="10")
    return subprocess.run([str(STACK), "superadmin", email, password], env=env, cwd=ROOT,
                          capture_output=True, text=True)


def test_promoting_an_account_ends_every_session_it_had(stack):
    a = register(stack)
    second = a.login()
    new = new_password()
    out = superadmin_command(stack, a.email, new)
    assert out.returncode == 0, out.stderr
    assert_error(a.get("/api/v1/auth/me"), 401, "invalid_token")
    for refresh in (a.refresh, second["refresh_token"]):
        r = stack.post("/api/v1/auth/refresh", {"refresh_token": refresh})
        assert r.status == 401, r
    r = login(stack, a.email, new)
    assert_status(r, 200)
    me = stack.get("/api/v1/admin/users", headers={
        "Authorization": "Bearer " + r.json()["access_token"]})
    assert_status(me, 200)


def test_it_clears_the_login_lockout_of_the_email(stack):
    a = register(stack)
    for _ in range(6):
        login(stack, a.email, "wrong-" + new_password())
    assert_error(login(stack, a.email, a.password), 429, "too_many_attempts")
    new = new_password()
    out = superadmin_command(stack, a.email, new)
    assert out.returncode == 0, out.stderr
    assert_status(login(stack, a.email, new), 200)


def test_it_refuses_a_short_password_and_changes_nothing(stack):
    a = register(stack)
    [(before,)] = stack.psql("SELECT password_hash FROM homebot.users WHERE id = :'id'",
                             id=a.user_id)
    out = superadmin_command(stack, a.email, "x")
    assert out.returncode != 0
    assert "PASSWORD must be 10 to 72 bytes long" in out.stderr, out.stderr
    [(after, admin)] = stack.psql("SELECT password_hash, is_superadmin FROM homebot.users"
                                  " WHERE id = :'id'", id=a.user_id)
    assert (after, admin) == (before, "f")
    assert_status(a.get("/api/v1/auth/me"), 200)
