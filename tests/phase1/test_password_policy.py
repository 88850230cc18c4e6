"""Password checks (api.md §12): a new password that cracklib's dictionary
or rules call easy to guess, or that equals one of the account's last 5
passwords, is 422 with the reason in details, wherever a password is set:
register, change, reset and invitation acceptance."""
import pytest

from conftest import (assert_invalid, assert_status, login, new_email, new_password,
                      register)
from ownership import accept, invite, reset, reset_token

PASSWORD = "/api/v1/auth/password"
WEAK = {"dictionary": ("password123", "dictionary word"),
        "keyboard_row": ("qwertyuiop", "dictionary word"),
        "repeated": ("aaaaaaaaaaaa", "DIFFERENT characters"),
        "alphabet": ("abcdefghijklmn", "simplistic/systematic")}
REUSED = "must differ from the account's last 5 passwords"


def reason(err, field):
    return " ".join(d["message"] for d in err["details"] if d["field"] == field)


def change(account, new):
    r = account.post(PASSWORD, {"current_password": account.password, "new_password": new})
    if r.status == 204:
        account.password = new
    return r


@pytest.mark.parametrize("kind", sorted(WEAK))
def test_register_refuses_a_guessable_password_with_cracklibs_reason(stack, kind):
    password, why = WEAK[kind]
    r = stack.post("/api/v1/auth/register", {"email": new_email(), "password": password,
                                             "organization_name": "Weak"})
    err = assert_invalid(r, "password")
    assert "too easy to guess" in reason(err, "password"), err
    assert why in reason(err, "password"), err


def test_register_takes_a_passphrase(stack):
    assert register(stack, password="correct horse battery staple").email


@pytest.mark.parametrize("kind", sorted(WEAK))
def test_change_refuses_a_guessable_password(stack, account, kind):
    password, why = WEAK[kind]
    err = assert_invalid(change(account, password), "new_password")
    assert why in reason(err, "new_password"), err
    assert_status(login(stack, account.email, account.password), 200)


def test_change_refuses_the_current_password(account):
    err = assert_invalid(change(account, account.password), "new_password")
    assert reason(err, "new_password") == REUSED, err


def test_change_refuses_each_of_the_last_5_and_takes_the_sixth(stack):
    a = register(stack)
    used = [a.password]
    for _ in range(4):
        used.append(new_password())
        assert_status(change(a, used[-1]), 204)
    # Current: used[4]; before it used[3..0]: all five refused.
    for old in used:
        err = assert_invalid(change(a, old), "new_password")
        assert reason(err, "new_password") == REUSED, err
    assert_status(change(a, new_password()), 204)
    # used[0] is the sixth password back now.
    assert_status(change(a, used[0]), 204)
    assert_status(login(stack, a.email, used[0]), 200)


def test_the_history_is_never_a_password_oracle_without_the_current_password(stack, account):
    # A stolen access token without the password learns nothing: the
    # current password is checked (and counted) before the history.
    r = account.post(PASSWORD, {"current_password": "not-" + account.password,
                                "new_password": account.password})
    assert r.status == 401, r


def test_reset_refuses_a_recent_password_and_a_guessable_one(stack):
    a = register(stack)
    first = a.password
    assert_status(change(a, new_password()), 204)
    token = reset_token(stack, a.email)
    for password, why in ((a.password, REUSED), (first, REUSED),
                          ("password123", "dictionary word")):
        err = assert_invalid(reset(stack, token, password), "new_password")
        assert why in reason(err, "new_password"), err
    # The refusals left the link usable.
    fresh = new_password()
    assert_status(reset(stack, token, fresh), 204)
    assert_status(login(stack, a.email, fresh), 200)


def test_invitation_acceptance_refuses_a_guessable_password(stack, account):
    address = new_email()
    _, token = invite(account, address)
    err = assert_invalid(accept(stack, token, "password123"), "password")
    assert "dictionary word" in reason(err, "password"), err
    assert_status(accept(stack, token, new_password()), 200)
