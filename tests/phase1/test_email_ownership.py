"""Email ownership end to end (api.md §2): verification, password reset,
email change and invitations, each through the mail the SMTP sink kept."""
import uuid

from conftest import (assert_error, assert_invalid, assert_status, assert_unauthenticated, login,
                      make_superadmin, new_email, new_password, register)
from mailsink import mails_to, settle
from ownership import (CHANGE, INVITE, accept, accepted_account, count, dead, expire, forgot,
                       invite, join_by_mail, mailed, no_new_mail, reset, reset_token,
                       verified, verify, verify_token)

LOGIN_MAX_ATTEMPTS = 5  # the session stack keeps the default
MAIL_PER_HOUR = 3       # the default, which the session stack keeps


def me(account):
    return assert_status(account.get("/api/v1/auth/me"), 200).json()


# ---- verification ---------------------------------------------------------------------------

def test_registration_mails_a_link_that_verifies_the_address(stack):
    a = register(stack)
    assert a.tokens["user"]["email_verified"] is False
    assert me(a)["email_verified"] is False
    r = assert_status(verify(stack, verify_token(stack, a.email)), 200)
    assert r.json() == {"user": {"id": a.user_id, "email": a.email, "full_name": "",
                                 "email_verified": True, "mfa_enabled": False}}, r
    assert me(a)["email_verified"] is True
    assert a.login()["user"]["email_verified"] is True


def test_a_verification_token_is_single_use(stack):
    a = register(stack)
    token = verify_token(stack, a.email)
    assert_status(verify(stack, token), 200)
    assert_unauthenticated(verify(stack, token), "invalid_verification_token")


def test_an_unknown_verification_token_is_401(stack):
    assert_unauthenticated(verify(stack, "A" * 43), "invalid_verification_token")


def test_resend_voids_the_older_link_and_is_409_once_verified(stack):
    a = register(stack)
    first = verify_token(stack, a.email)
    r, second = mailed(stack, a.email, "/account/verify",
                       lambda: a.post("/api/v1/auth/verify-email/resend"))
    assert_status(r, 202)
    assert second != first
    assert_unauthenticated(verify(stack, first), "invalid_verification_token")
    assert_status(verify(stack, second), 200)
    assert_error(a.post("/api/v1/auth/verify-email/resend"), 409, "already_verified")


def test_an_expired_verification_token_is_401(stack):
    a = register(stack)
    token = verify_token(stack, a.email)
    expire(stack, "email_tokens", a.user_id)
    assert_unauthenticated(verify(stack, token), "invalid_verification_token")
    assert me(a)["email_verified"] is False


# ---- password reset -------------------------------------------------------------------------

def test_reset_sets_the_password_and_ends_every_session(stack):
    a = register(stack)
    other = a.login()
    old_refresh = [a.refresh, other["refresh_token"]]
    token = reset_token(stack, a.email)
    new = new_password()
    r = assert_status(reset(stack, token, new), 204)
    assert r.body == b""
    assert_unauthenticated(login(stack, a.email, a.password), "invalid_credentials")
    fresh = assert_status(login(stack, a.email, new), 200).json()
    # The link reached the mailbox: the address is verified now.
    assert fresh["user"]["email_verified"] is True
    dead(stack, a)
    assert_unauthenticated(stack.get("/api/v1/auth/me", headers={
        "Authorization": f"Bearer {other['access_token']}"}), "invalid_token")
    for rt in old_refresh:
        assert stack.post("/api/v1/auth/refresh", {"refresh_token": rt}).status == 401


def test_reset_clears_the_lockout(stack):
    a = register(stack)
    for _ in range(LOGIN_MAX_ATTEMPTS):
        assert_unauthenticated(login(stack, a.email, "wrong-" + new_password()), "invalid_credentials")
    assert_error(login(stack, a.email, a.password), 429, "too_many_attempts")
    token = reset_token(stack, a.email)
    new = new_password()
    assert_status(reset(stack, token, new), 204)
    assert_status(login(stack, a.email, new), 200)


def test_a_reset_token_is_single_use(stack):
    a = register(stack)
    token = reset_token(stack, a.email)
    assert_status(reset(stack, token, new_password()), 204)
    second = new_password()
    assert_unauthenticated(reset(stack, token, second), "invalid_reset_token")
    assert_unauthenticated(login(stack, a.email, second), "invalid_credentials")


def test_an_expired_reset_token_is_401(stack):
    a = register(stack)
    token = reset_token(stack, a.email)
    expire(stack, "email_tokens", a.user_id)
    assert_unauthenticated(reset(stack, token, new_password()), "invalid_reset_token")
    assert_status(login(stack, a.email, a.password), 200)


def test_a_new_reset_link_voids_the_older_one(stack):
    a = register(stack)
    first = reset_token(stack, a.email)
    second = reset_token(stack, a.email)
    assert_unauthenticated(reset(stack, first, new_password()), "invalid_reset_token")
    assert_status(reset(stack, second, new_password()), 204)


def test_a_new_password_equal_to_the_email_is_422(stack):
    a = register(stack)
    token = reset_token(stack, a.email)
    assert_invalid(reset(stack, token, a.email), "new_password")
    # Refused before anything was written: the link still works.
    assert_status(reset(stack, token, new_password()), 204)


def test_forgot_for_an_unknown_address_sends_nothing(stack):
    address = new_email()
    assert_status(forgot(stack, address), 202)
    no_new_mail(stack, address, 0)


def test_the_fourth_reset_mail_within_the_hour_is_not_sent_yet_answered_the_same(stack):
    a = register(stack)
    before = count(stack, a.email)
    bodies = []
    for _ in range(MAIL_PER_HOUR):
        r = assert_status(forgot(stack, a.email), 202)
        bodies.append(r.body)
    settle(stack)
    assert len([m for m in mails_to(stack, a.email)[before:]]) == MAIL_PER_HOUR
    r = forgot(stack, a.email)
    assert (r.status, r.body) == (202, bodies[0])
    no_new_mail(stack, a.email, before + MAIL_PER_HOUR)


# ---- email change ---------------------------------------------------------------------------

def change_email(account, new, password=None):
    return account.post("/api/v1/auth/email",
                        {"new_email": new, "password": password or account.password})


def test_email_change_mails_the_new_address_and_notifies_the_old(stack):
    a = register(stack)
    new = new_email()
    old_count = count(stack, a.email)
    r, token = mailed(stack, new, CHANGE, lambda: change_email(a, new))
    assert_status(r, 202)
    notice = mails_to(stack, a.email)[old_count:]
    assert len(notice) == 1, [m["Subject"] for m in notice]
    # The notice carries no link that would do the change.
    assert token not in notice[0].get_body(preferencelist=("plain",)).get_content()
    # Nothing changes before the confirmation.
    assert_status(login(stack, a.email, a.password), 200)
    r = assert_status(stack.post("/api/v1/auth/email/confirm", {"token": token}), 200)
    user = r.json()["user"]
    assert (user["id"], user["email"], user["email_verified"]) == (a.user_id, new, True)
    assert_unauthenticated(login(stack, a.email, a.password), "invalid_credentials")
    assert_status(login(stack, new, a.password), 200)
    assert_unauthenticated(stack.post("/api/v1/auth/email/confirm", {"token": token}),
                           "invalid_verification_token")


def test_email_change_to_a_taken_address_is_409_at_request(stack):
    a, b = register(stack), register(stack)
    before = count(stack, b.email)
    assert_error(change_email(a, b.email.upper()), 409, "email_taken")
    no_new_mail(stack, b.email, before)


def test_email_change_is_409_at_confirm_when_the_address_was_taken_meanwhile(stack):
    a = register(stack)
    new = new_email()
    _, token = mailed(stack, new, CHANGE, lambda: change_email(a, new))
    register(stack, email=new)
    assert_error(stack.post("/api/v1/auth/email/confirm", {"token": token}), 409, "email_taken")
    assert_status(login(stack, a.email, a.password), 200)


def test_email_change_with_a_wrong_password_is_401_and_counts_toward_the_lockout(stack):
    a = register(stack)
    new = new_email()
    for _ in range(LOGIN_MAX_ATTEMPTS):
        assert_unauthenticated(change_email(a, new, "wrong-" + new_password()), "invalid_credentials")
    assert_error(login(stack, a.email, a.password), 429, "too_many_attempts")
    no_new_mail(stack, new, 0)


def test_a_right_password_at_an_email_change_ends_the_lockout_count_as_a_login_would(stack):
    a = register(stack)
    for _ in range(LOGIN_MAX_ATTEMPTS - 1):
        assert_unauthenticated(login(stack, a.email, "wrong-" + new_password()), "invalid_credentials")
    assert_status(change_email(a, new_email()), 202)
    # Counted as a failure, the right password would have locked the email
    # here; as a success it starts the count again.
    for _ in range(LOGIN_MAX_ATTEMPTS - 1):
        assert_unauthenticated(login(stack, a.email, "wrong-" + new_password()), "invalid_credentials")
    assert_status(login(stack, a.email, a.password), 200)


def test_a_right_password_at_an_email_change_to_a_taken_address_counts_as_right(stack):
    a, b = register(stack), register(stack)
    for _ in range(LOGIN_MAX_ATTEMPTS + 1):
        assert_error(change_email(a, b.email), 409, "email_taken")
    assert_status(login(stack, a.email, a.password), 200)


def test_password_change_guesses_count_toward_the_lockout(stack):
    a = register(stack)
    for _ in range(LOGIN_MAX_ATTEMPTS):
        r = a.post("/api/v1/auth/password", {"current_password": "wrong-" + new_password(),
                                             "new_password": new_password()})
        assert_unauthenticated(r, "invalid_credentials")
    assert_error(login(stack, a.email, a.password), 429, "too_many_attempts")
    r = a.post("/api/v1/auth/password", {"current_password": a.password,
                                         "new_password": new_password()})
    assert_error(r, 429, "too_many_attempts")


# ---- invitations ----------------------------------------------------------------------------

def test_inviting_answers_invited_without_a_token_or_a_name(stack):
    owner = register(stack)
    named = register(stack, full_name="Known Name")
    body, _ = invite(owner, named.email, "admin")
    assert body["status"] == "invited" and body["role"] == "admin", body
    assert body["full_name"] == "", body
    assert body["user_id"] == named.user_id
    assert not {"invite_token", "token"} & set(body), body
    listed = owner.get("/api/v1/members").json()["data"]
    [row] = [m for m in listed if m["user_id"] == named.user_id]
    assert (row["status"], row["full_name"]) == ("invited", ""), row


def test_a_new_address_accepts_through_the_mail_and_is_logged_in_with_its_role(stack):
    owner = register(stack)
    address = new_email()
    body, token = invite(owner, address, "admin")
    password = new_password()
    r = accept(stack, token, password, full_name="New Person")
    b = accepted_account(stack, address, password, r)
    t = r.json()
    assert (t["organization"]["id"], t["role"]) == (owner.org_id, "admin"), t
    assert t["user"]["email_verified"] is True and t["user"]["id"] == body["user_id"], t
    assert me(b)["role"] == "admin"
    listed = owner.get("/api/v1/members").json()["data"]
    [row] = [m for m in listed if m["user_id"] == b.user_id]
    assert (row["status"], row["full_name"]) == ("active", "New Person"), row
    assert_unauthenticated(accept(stack, token, new_password()), "invalid_invite")


def test_a_verified_account_accepts_with_its_password(stack):
    owner = register(stack)
    b = verified(stack, register(stack))
    _, token = invite(owner, b.email, "viewer")
    r = accept(stack, token, b.password)
    t = assert_status(r, 200).json()
    assert (t["user"]["id"], t["organization"]["id"], t["role"]) == (b.user_id, owner.org_id, "viewer")
    # Its password stays what it was.
    assert_status(login(stack, b.email, b.password, organization_id=owner.org_id), 200)


def test_a_verified_account_with_a_wrong_password_is_401_counted_like_a_login(stack):
    owner = register(stack)
    b = verified(stack, register(stack))
    _, token = invite(owner, b.email)
    for _ in range(LOGIN_MAX_ATTEMPTS):
        assert_unauthenticated(accept(stack, token, "wrong-" + new_password()), "invalid_credentials")
    assert_error(login(stack, b.email, b.password), 429, "too_many_attempts")
    assert_error(accept(stack, token, b.password), 429, "too_many_attempts")
    listed = owner.get("/api/v1/members").json()["data"]
    assert [m["status"] for m in listed if m["user_id"] == b.user_id] == ["invited"]


def test_a_verified_account_accepts_with_its_access_token(stack):
    owner = register(stack)
    b = verified(stack, register(stack))
    _, token = invite(owner, b.email, "member")
    t = assert_status(accept(stack, token, headers=b.auth), 200).json()
    assert (t["user"]["id"], t["organization"]["id"], t["role"]) == (b.user_id, owner.org_id, "member")


def test_another_accounts_access_token_does_not_accept(stack):
    owner = register(stack)
    b = verified(stack, register(stack))
    mallory = verified(stack, register(stack))
    _, token = invite(owner, b.email)
    assert_unauthenticated(accept(stack, token, headers=mallory.auth), "invalid_credentials")
    assert_unauthenticated(accept(stack, token, mallory.password, headers=mallory.auth),
                           "invalid_credentials")


def test_a_verified_account_accepts_through_its_invitations(stack):
    owner = register(stack)
    b = verified(stack, register(stack))
    invite(owner, b.email, "admin")
    data = assert_status(b.get("/api/v1/auth/invitations"), 200).json()["data"]
    [inv] = [i for i in data if i["organization"]["id"] == owner.org_id]
    assert inv["role"] == "admin" and inv["invited_by"] == owner.user_id, inv
    assert not {"token", "invite_token"} & set(inv), inv
    t = assert_status(b.post(f"/api/v1/auth/invitations/{inv['id']}/accept"), 200).json()
    assert (t["organization"]["id"], t["role"]) == (owner.org_id, "admin"), t
    assert b.get("/api/v1/auth/invitations").json()["data"] == []
    assert_error(b.post(f"/api/v1/auth/invitations/{inv['id']}/accept"), 404, "not_found")


def test_an_unverified_caller_is_403_on_invitations(stack):
    owner = register(stack)
    b = register(stack)
    invite(owner, b.email)
    assert_error(b.get("/api/v1/auth/invitations"), 403, "email_not_verified")
    inv_id = stack.psql("SELECT id FROM homebot.invitations WHERE user_id = :'u'", u=b.user_id)[0][0]
    assert_error(b.post(f"/api/v1/auth/invitations/{inv_id}/accept"), 403, "email_not_verified")
    listed = owner.get("/api/v1/members").json()["data"]
    assert [m["status"] for m in listed if m["user_id"] == b.user_id] == ["invited"]


def test_resend_invite_voids_the_old_link(stack):
    owner = register(stack)
    address = new_email()
    body, first = invite(owner, address)
    r, second = mailed(stack, address, INVITE,
                       lambda: owner.post(f"/api/v1/members/{body['user_id']}/resend-invite"))
    assert_status(r, 202)
    assert not {"token", "invite_token"} & set(r.json()), r
    assert_unauthenticated(accept(stack, first, new_password()), "invalid_invite")
    assert_status(accept(stack, second, new_password()), 200)
    assert_error(owner.post(f"/api/v1/members/{body['user_id']}/resend-invite"), 409, "already_member")


def test_resend_invite_of_an_unknown_member_is_404(stack):
    owner = register(stack)
    assert_error(owner.post(f"/api/v1/members/{uuid.uuid4()}/resend-invite"), 404, "not_found")
    stranger = register(stack)
    assert_error(owner.post(f"/api/v1/members/{stranger.user_id}/resend-invite"), 404, "not_found")


def test_an_expired_invitation_is_401(stack):
    owner = register(stack)
    address = new_email()
    body, token = invite(owner, address)
    expire(stack, "invitations", body["user_id"])
    assert_unauthenticated(accept(stack, token, new_password()), "invalid_invite")


def test_an_organization_made_by_an_admin_mails_its_owner_an_invitation(stack):
    sa = make_superadmin(stack)
    address = new_email()
    r, token = mailed(stack, address, INVITE, lambda: sa.post(
        "/api/v1/admin/organizations", {"name": "Made " + uuid.uuid4().hex[:8], "owner_email": address}))
    assert_status(r, 201)
    assert b"token" not in r.body and token.encode() not in r.body, r
    org_id = r.json()["id"]
    password = new_password()
    t = assert_status(accept(stack, token, password), 200).json()
    assert (t["organization"]["id"], t["role"]) == (org_id, "owner"), t



# ---- the audit log --------------------------------------------------------------------------

def test_the_flows_are_audited(stack):
    owner = register(stack)
    address = new_email()
    b = join_by_mail(owner, address, "member")
    org_actions = {e["action"]: e for e in
                   owner.get("/api/v1/audit-log?limit=200").json()["data"]}
    assert org_actions["member.invited"]["target_id"] == b.user_id
    assert org_actions["member.invite_accepted"]["target_id"] == b.user_id
    assert org_actions["member.invite_accepted"]["actor"] == {"type": "user", "id": b.user_id}

    c = register(stack)
    assert_status(verify(stack, verify_token(stack, c.email)), 200)
    assert_status(reset(stack, reset_token(stack, c.email), new_password()), 204)
    new = new_email()
    d = register(stack)
    _, token = mailed(stack, new, CHANGE, lambda: change_email(d, new))
    assert_status(stack.post("/api/v1/auth/email/confirm", {"token": token}), 200)

    sa = make_superadmin(stack)

    def events(action, target):
        r = assert_status(sa.get(f"/api/v1/admin/audit-log?action={action}&limit=200"), 200)
        return [e for e in r.json()["data"] if e["target_id"] == target]

    assert events("auth.email.verified", c.user_id)
    assert events("auth.password.reset", c.user_id)
    assert events("auth.email.changed", d.user_id)
    # Accepting as a new address verified it: audited as such.
    assert events("auth.email.verified", b.user_id)
