"""Helpers of the email-ownership tests (api.md §2, "Email ownership"):
the mailed flows driven the way a person would drive them, each token
taken from the mail that carried it, never from an API answer.

Every token taken here is kept in MAILED, so that a test can look for
them where they must never be (logs, job rows, API answers).
"""
from conftest import Account, assert_status, assert_unauthenticated, new_password
from mailsink import count as page_count
from mailsink import mails_to, settle, wait_token

VERIFY, RESET, INVITE, CHANGE = "/account/verify", "/account/reset", "/account/invite", "/account/email"

# Every token a test took out of a mail.
MAILED = set()


def count(stack, address, page=None):
    """How many mails address has (linking to page, when given), once no
    mail job is pending."""
    settle(stack)
    return len(mails_to(stack, address)) if page is None else page_count(stack, address, page)


def next_token(stack, address, page, before):
    """The token of the mail to address linking to page that follows the
    before such mails it had."""
    token = wait_token(stack, address, page, count=before + 1)
    MAILED.add(token)
    return token


def mailed(stack, address, page, action):
    """Runs action(); returns (its result, the token of the one new mail to
    address linking to page)."""
    before = count(stack, address, page)
    result = action()
    return result, next_token(stack, address, page, before)


def no_new_mail(stack, address, before):
    settle(stack)
    got = mails_to(stack, address)
    assert len(got) == before, [m["Subject"] for m in got[before:]]


def verify_token(stack, address):
    """The token of the verification mail a registration sent to address."""
    token = wait_token(stack, address, VERIFY)
    MAILED.add(token)
    return token


def verify(stack, token):
    return stack.post("/api/v1/auth/verify-email", {"token": token})


def forgot(stack, address):
    return stack.post("/api/v1/auth/password/forgot", {"email": address})


def reset(stack, token, password):
    return stack.post("/api/v1/auth/password/reset", {"token": token, "new_password": password})


def reset_token(stack, address):
    """Asks for a reset link for address; returns the mailed token."""
    r, token = mailed(stack, address, RESET, lambda: forgot(stack, address))
    assert_status(r, 202)
    return token


def invite(admin, address, role="member"):
    """admin invites address; returns (the 201 body, the mailed token)."""
    r, token = mailed(admin.stack, address, INVITE,
                      lambda: admin.post("/api/v1/members", {"email": address, "role": role}))
    assert_status(r, 201)
    return r.json(), token


def accept(stack, token, password=None, headers=None, **extra):
    body = {"invite_token": token, **extra}
    if password is not None:
        body["password"] = password
    return stack.post("/api/v1/auth/accept-invite", body, headers=headers)


def accepted_account(stack, address, password, resp):
    """The Account of a 200 token response of address."""
    assert_status(resp, 200)
    return Account(stack, address, password, resp.json())


def join_by_mail(admin, address, role="member"):
    """A new address invited by admin and accepted through the mail; its
    Account in admin's organization."""
    _, token = invite(admin, address, role)
    password = new_password()
    return accepted_account(admin.stack, address, password, accept(admin.stack, token, password))


def verified(stack, account):
    """Verifies account's address through its registration mail."""
    assert_status(verify(stack, verify_token(stack, account.email)), 200)
    return account


def expire(stack, table, user_id):
    """Makes every live token of the user in table (email_tokens or
    invitations) expired a second ago."""
    stack.psql(f"UPDATE homebot.{table} SET expires_at = now() - interval '1 second'"
               " WHERE user_id = :'u' AND used_at IS NULL AND expires_at > now()", u=user_id)


def dead(stack, account):
    """Asserts that neither the access nor the refresh token of account works."""
    assert_unauthenticated(account.get("/api/v1/auth/me"), "invalid_token")
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": account.refresh})
    assert r.status == 401, r

