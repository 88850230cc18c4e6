"""Members and invitations (api.md §3): listing, adding an existing user at
once or inviting a new one with a single-use token, accepting the
invitation, changing roles and removing members — each effective on the
member's very next request, and never losing the organization's last
owner."""
import uuid

import pytest

import mailsink
from conftest import (RFC3339_RE, UUID_RE, Account, accept_invite, add_member, assert_error,
                      assert_invalid, assert_status, assert_unauthenticated, at_once, create_key,
                      hold_workers, invite, login, new_email, new_password, race, register, report)

MEMBERS = "/api/v1/members"
ME = "/api/v1/auth/me"
MEMBER_FIELDS = {"user_id", "email", "full_name", "role", "status", "joined_at"}
TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in",
                "user", "organization", "role"}


def members(account):
    r = account.get(f"{MEMBERS}?limit=200")
    assert r.status == 200, r
    return {m["user_id"]: m for m in r.json()["data"]}


def membership(stack, org_id, user_id):
    return stack.psql("SELECT role, status FROM homebot.memberships"
                      " WHERE organization_id = :'o' AND user_id = :'u'", o=org_id, u=user_id)


def me(account):
    r = account.get(ME)
    assert r.status == 200, r
    return r.json()


# ---- GET /api/v1/members --------------------------------------------------

def test_list_is_a_collection_of_the_organizations_members(account):
    r = account.get(MEMBERS)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"data", "next_cursor"}, body
    [m] = body["data"]
    assert set(m) == MEMBER_FIELDS, m
    assert m["user_id"] == account.user_id
    assert m["email"] == account.email
    assert m["role"] == "owner" and m["status"] == "active", m
    assert RFC3339_RE.fullmatch(m["joined_at"]), m


def test_list_shows_every_member_with_role_and_status(account):
    viewer = add_member(account, "viewer")
    invited = invite(account, role="admin")
    listed = members(account)
    assert set(listed) == {account.user_id, viewer.user_id, invited["user_id"]}
    role_status = {uid: (m["role"], m["status"]) for uid, m in listed.items()}
    assert role_status[viewer.user_id] == ("viewer", "active")
    assert role_status[invited["user_id"]] == ("admin", "invited")


def test_list_is_newest_first_and_pages(account):
    for role in ("viewer", "member", "admin"):
        add_member(account, role)
    seen, url = [], f"{MEMBERS}?limit=2"
    while url:
        r = account.get(url)
        assert r.status == 200, r
        body = r.json()
        seen += body["data"]
        url = body["next_cursor"] and f"{MEMBERS}?limit=2&cursor={body['next_cursor']}"
    assert len(seen) == 4 and len({m["user_id"] for m in seen}) == 4, seen
    assert [m["role"] for m in seen] == ["admin", "member", "viewer", "owner"], seen


def test_viewer_may_list_members(account):
    viewer = add_member(account, "viewer")
    assert set(members(viewer)) == {account.user_id, viewer.user_id}


def test_list_without_a_credential_is_401(stack):
    assert_unauthenticated(stack.get(MEMBERS), "not_authenticated")


# ---- POST /api/v1/members ---------------------------------------------------

def test_existing_user_is_invited_not_added(stack, account):
    other = register(stack)
    r = account.post(MEMBERS, {"email": other.email, "role": "member"})
    assert r.status == 201, r
    m = r.json()
    assert set(m) == MEMBER_FIELDS, m
    assert m["user_id"] == other.user_id
    assert m["status"] == "invited" and m["role"] == "member", m
    assert membership(stack, account.org_id, other.user_id) == [("member", "invited")]
    assert_error(other.post("/api/v1/auth/switch", {"organization_id": account.org_id}),
                 403, "not_a_member")


def test_the_answer_is_the_same_whether_or_not_the_account_exists(stack, account):
    other = register(stack, full_name="Known Person")
    known = account.post(MEMBERS, {"email": other.email.upper(), "role": "member"}).json()
    unknown = account.post(MEMBERS, {"email": new_email().upper(), "role": "member"}).json()
    assert set(known) == set(unknown) == MEMBER_FIELDS
    assert known["full_name"] == unknown["full_name"] == "", (known, unknown)
    assert known["email"] == other.email.upper(), known
    assert known["status"] == unknown["status"] == "invited"
    listed = members(account)
    # The list too shows the address as the inviter wrote it, not the
    # stored one (whose case would tell), and no name.
    assert listed[other.user_id]["full_name"] == "", listed[other.user_id]
    assert listed[other.user_id]["email"] == other.email.upper(), listed[other.user_id]


def test_a_role_change_of_an_invited_account_tells_no_name(stack, account):
    other = register(stack, full_name="Private Person")
    m = account.post(MEMBERS, {"email": other.email, "role": "viewer"}).json()
    r = account.patch(f"{MEMBERS}/{m['user_id']}", {"role": "member"})
    assert r.status == 200, r
    assert r.json()["full_name"] == "" and r.json()["status"] == "invited", r


def test_invited_user_joins_once_accepted(stack, account):
    other = register(stack)
    m = invite(account, other.email, role="viewer")
    # Unverified: the mailed token proves the address, sets the password
    # and ends the sessions the account had.
    # (A new one: the account's last 5 are refused, as at a reset.)
    password = new_password()
    r = accept_invite(stack, m["invite_token"], password)
    assert r.status == 200, r
    inside = Account(stack, other.email, password, r.json())
    assert me(inside)["role"] == "viewer" and me(inside)["email_verified"] is True
    assert other.get("/api/v1/auth/me").status == 401


def test_existing_user_is_found_whatever_the_case_of_the_email(stack, account):
    other = register(stack)
    r = account.post(MEMBERS, {"email": "  " + other.email.upper() + " ", "role": "member"})
    assert r.status == 201, r
    assert r.json()["user_id"] == other.user_id
    assert "invite_token" not in r.json()


def test_unknown_email_is_invited_by_mail_and_the_answer_has_no_token(stack, account):
    email = new_email()
    r = account.post(MEMBERS, {"email": email, "role": "member"})
    assert r.status == 201, r
    m = r.json()
    assert set(m) == MEMBER_FIELDS, m
    assert m["status"] == "invited" and m["email"] == email, m
    assert UUID_RE.fullmatch(m["user_id"]), m
    assert membership(stack, account.org_id, m["user_id"]) == [("member", "invited")]
    token = mailsink.wait_token(stack, email, "/account/invite")
    assert len(token) >= 43 and token.encode() not in r.body


def test_invite_token_is_stored_only_as_a_hash(stack, account):
    m = invite(account)
    [(row,)] = stack.psql("SELECT row_to_json(i)::text FROM homebot.invitations i"
                          " WHERE user_id = :'u'", u=m["user_id"])
    assert m["invite_token"] not in row


def test_every_invite_token_is_different(account):
    assert invite(account)["invite_token"] != invite(account)["invite_token"]


def test_active_member_again_is_409_already_member(stack, account):
    other = add_member(account, "member")
    r = account.post(MEMBERS, {"email": other.email, "role": "admin"})
    assert_error(r, 409, "already_member")
    assert membership(stack, account.org_id, other.user_id) == [("member", "active")]


def test_invited_member_again_is_409_already_member(account):
    m = invite(account)
    assert_error(account.post(MEMBERS, {"email": m["email"], "role": "member"}), 409,
                 "already_member")


def test_the_owner_himself_is_409_already_member(account):
    r = account.post(MEMBERS, {"email": account.email, "role": "member"})
    assert_error(r, 409, "already_member")


def test_unknown_role_is_422_with_details(account):
    err = assert_invalid(account.post(MEMBERS, {"email": new_email(), "role": "superuser"}), "role")
    assert err["details"][0]["message"], err


@pytest.mark.parametrize("body,field", [
    ({"role": "member"}, "email"),
    ({"email": "not-an-email", "role": "member"}, "email"),
    ({"email": new_email()}, "role"),
    ({"email": new_email(), "role": "Owner"}, "role"),
], ids=["missing_email", "bad_email", "missing_role", "wrong_case_role"])
def test_invalid_member_is_422(account, body, field):
    assert_invalid(account.post(MEMBERS, body), field)


def test_invalid_member_creates_no_user(stack, account):
    email = new_email()
    account.post(MEMBERS, {"email": email, "role": "nobody"})
    assert stack.psql("SELECT id FROM homebot.users WHERE email = :'e'", e=email) == []


def test_admin_cannot_add_an_owner(stack, account):
    admin = add_member(account, "admin")
    other = register(stack)
    assert_error(admin.post(MEMBERS, {"email": other.email, "role": "owner"}), 403, "forbidden")
    assert membership(stack, account.org_id, other.user_id) == []


def test_admin_cannot_invite_an_owner(stack, account):
    admin = add_member(account, "admin")
    email = new_email()
    assert_error(admin.post(MEMBERS, {"email": email, "role": "owner"}), 403, "forbidden")
    assert stack.psql("SELECT id FROM homebot.users WHERE email = :'e'", e=email) == []


def test_owner_can_add_an_owner(stack, account):
    other = register(stack)
    r = account.post(MEMBERS, {"email": other.email, "role": "owner"})
    assert r.status == 201, r
    assert r.json()["role"] == "owner"


def test_admin_can_add_an_admin(stack, account):
    admin = add_member(account, "admin")
    other = register(stack)
    assert_status(admin.post(MEMBERS, {"email": other.email, "role": "admin"}), 201)


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_adding_without_members_write_is_403_forbidden(stack, account, role):
    who = add_member(account, role)
    other = register(stack)
    assert_error(who.post(MEMBERS, {"email": other.email, "role": "viewer"}), 403, "forbidden")


# ---- POST /api/v1/auth/accept-invite ----------------------------------------------

def test_accept_invite_is_200_with_a_token_response(stack, account):
    m = invite(account, role="admin")
    r = accept_invite(stack, m["invite_token"], full_name="Grace Hopper")
    assert r.status == 200, r
    t = r.json()
    assert set(t) == TOKEN_FIELDS, t
    assert t["user"] == {"id": m["user_id"], "email": m["email"], "full_name": "Grace Hopper",
                         "email_verified": True, "mfa_enabled": False}
    assert t["organization"]["id"] == account.org_id
    assert t["role"] == "admin"


def test_accepted_invitation_activates_the_membership(stack, account):
    m = invite(account)
    assert_status(accept_invite(stack, m["invite_token"]), 200)
    assert membership(stack, account.org_id, m["user_id"]) == [("member", "active")]
    assert members(account)[m["user_id"]]["status"] == "active"


def test_accepted_token_works_in_the_organization(stack, account):
    m = invite(account, role="viewer")
    t = accept_invite(stack, m["invite_token"]).json()
    joined = Account(stack, m["email"], None, t)
    body = me(joined)
    assert body["organization"]["id"] == account.org_id and body["role"] == "viewer", body


def test_accepted_password_logs_in(stack, account):
    m = invite(account)
    password = new_password()
    assert_status(accept_invite(stack, m["invite_token"], password), 200)
    r = login(stack, m["email"], password)
    assert r.status == 200, r
    assert r.json()["organization"]["id"] == account.org_id


def test_invite_token_is_single_use(stack, account):
    m = invite(account)
    assert_status(accept_invite(stack, m["invite_token"]), 200)
    assert_unauthenticated(accept_invite(stack, m["invite_token"]), "invalid_invite")


def test_second_use_does_not_change_the_password(stack, account):
    m = invite(account)
    first = new_password()
    assert_status(accept_invite(stack, m["invite_token"], first), 200)
    accept_invite(stack, m["invite_token"], new_password())
    assert_status(login(stack, m["email"], first), 200)


@pytest.mark.parametrize("token", ["garbage", "x" * 43, "A" * 1000],
                         ids=["short", "well_formed_unknown", "long"])
def test_unknown_invite_token_is_401_invalid_invite(stack, token):
    assert_unauthenticated(accept_invite(stack, token), "invalid_invite")


@pytest.mark.parametrize("password", ["short", "x" * 73], ids=["too_short", "too_long"])
def test_weak_password_is_422(stack, account, password):
    m = invite(account)
    assert_invalid(accept_invite(stack, m["invite_token"], password), "password")
    assert membership(stack, account.org_id, m["user_id"]) == [("member", "invited")]


def test_password_equal_to_the_email_is_422(stack, account):
    m = invite(account)
    assert_invalid(accept_invite(stack, m["invite_token"], m["email"]), "password")


def test_token_still_works_after_a_refused_password(stack, account):
    m = invite(account)
    accept_invite(stack, m["invite_token"], "short")
    assert_status(accept_invite(stack, m["invite_token"]), 200)


def test_invitation_of_a_removed_member_is_401_invalid_invite(stack, account):
    m = invite(account)
    assert_status(account.delete(f"{MEMBERS}/{m['user_id']}"), 204)
    assert_unauthenticated(accept_invite(stack, m["invite_token"]), "invalid_invite")


def test_expired_invitation_is_401_invalid_invite(stack, account):
    m = invite(account)
    stack.psql("UPDATE homebot.invitations SET expires_at = now() - interval '1 second'"
               " WHERE user_id = :'u'", u=m["user_id"])
    assert_unauthenticated(accept_invite(stack, m["invite_token"]), "invalid_invite")


def test_invitation_lasts_seven_days(stack, account):
    m = invite(account)
    [(seconds,)] = stack.psql("SELECT round(extract(epoch FROM expires_at - created_at))"
                              " FROM homebot.invitations WHERE user_id = :'u'", u=m["user_id"])
    assert int(float(seconds)) == 7 * 24 * 3600


def test_invited_user_cannot_log_in_before_accepting(stack, account):
    m = invite(account)
    assert_unauthenticated(login(stack, m["email"], new_password()), "invalid_credentials")


# ---- PATCH /api/v1/members/{user_id} ----------------------------------------------

def test_change_role_is_200_with_the_member(account):
    member = add_member(account, "member")
    r = account.patch(f"{MEMBERS}/{member.user_id}", {"role": "admin"})
    assert r.status == 200, r
    m = r.json()
    assert set(m) == MEMBER_FIELDS, m
    assert m["user_id"] == member.user_id and m["role"] == "admin" and m["status"] == "active", m


def test_role_change_applies_on_the_members_next_request(account):
    member = add_member(account, "member")
    before = me(member)
    assert before["role"] == "member"
    assert "members:write" not in before["permissions"]
    assert_status(account.patch(f"{MEMBERS}/{member.user_id}", {"role": "admin"}), 200)
    after = me(member)
    assert after["role"] == "admin"
    assert {"members:write", "audit:read", "org:update"} <= set(after["permissions"]), after
    assert_status(member.get("/api/v1/audit-log"), 200)


def test_demotion_applies_on_the_members_next_request(account):
    admin = add_member(account, "admin")
    assert_status(admin.get("/api/v1/audit-log"), 200)
    assert_status(account.patch(f"{MEMBERS}/{admin.user_id}", {"role": "viewer"}), 200)
    assert me(admin)["permissions"] == ["connections:read", "members:read", "mqtt:subscribe", "org:read",
                                        "teams:read"]
    assert_error(admin.get("/api/v1/audit-log"), 403, "forbidden")


def test_role_of_an_invited_member_can_change(stack, account):
    m = invite(account, role="viewer")
    r = account.patch(f"{MEMBERS}/{m['user_id']}", {"role": "admin"})
    assert r.status == 200, r
    assert r.json()["status"] == "invited"
    t = accept_invite(stack, m["invite_token"]).json()
    assert t["role"] == "admin"


def test_unknown_role_in_a_change_is_422(account):
    member = add_member(account, "member")
    assert_invalid(account.patch(f"{MEMBERS}/{member.user_id}", {"role": "god"}), "role")


def test_last_owner_cannot_be_demoted(stack, account):
    r = account.patch(f"{MEMBERS}/{account.user_id}", {"role": "admin"})
    assert_error(r, 409, "last_owner")
    assert membership(stack, account.org_id, account.user_id) == [("owner", "active")]


def test_an_owner_can_be_demoted_while_another_remains(stack, account):
    second = add_member(account, "owner")
    r = account.patch(f"{MEMBERS}/{account.user_id}", {"role": "admin"})
    assert r.status == 200, r
    assert_error(second.patch(f"{MEMBERS}/{second.user_id}", {"role": "admin"}), 409, "last_owner")


def test_invited_owner_does_not_count_as_an_owner_to_keep(stack, account):
    invite(account, role="owner")
    assert_error(account.patch(f"{MEMBERS}/{account.user_id}", {"role": "admin"}), 409,
                 "last_owner")


def test_admin_cannot_demote_an_owner(stack, account):
    admin = add_member(account, "admin")
    add_member(account, "owner")
    assert_error(admin.patch(f"{MEMBERS}/{account.user_id}", {"role": "member"}), 403, "forbidden")
    assert membership(stack, account.org_id, account.user_id) == [("owner", "active")]


def test_admin_cannot_promote_to_owner(stack, account):
    admin = add_member(account, "admin")
    member = add_member(account, "member")
    assert_error(admin.patch(f"{MEMBERS}/{member.user_id}", {"role": "owner"}), 403, "forbidden")
    assert_error(admin.patch(f"{MEMBERS}/{admin.user_id}", {"role": "owner"}), 403, "forbidden")


def test_owner_can_promote_to_owner(account):
    member = add_member(account, "member")
    assert_status(account.patch(f"{MEMBERS}/{member.user_id}", {"role": "owner"}), 200)
    assert me(member)["role"] == "owner"


def test_change_by_a_member_is_403_forbidden(stack, account):
    member = add_member(account, "member")
    viewer = add_member(account, "viewer")
    assert_error(member.patch(f"{MEMBERS}/{viewer.user_id}", {"role": "admin"}), 403, "forbidden")
    assert membership(stack, account.org_id, viewer.user_id) == [("viewer", "active")]


# ---- DELETE /api/v1/members/{user_id} ----------------------------------------------

def test_remove_is_204_and_the_member_is_gone(stack, account):
    member = add_member(account, "member")
    r = account.delete(f"{MEMBERS}/{member.user_id}")
    assert r.status == 204, r
    assert r.body == b""
    assert member.user_id not in members(account)
    assert membership(stack, account.org_id, member.user_id) == []


def test_removal_revokes_the_members_sessions_in_this_organization(stack, account):
    member = add_member(account, "member")
    second = Account(stack, member.email, member.password,
                     member.login(organization_id=account.org_id))
    assert_status(account.delete(f"{MEMBERS}/{member.user_id}"), 204)
    assert_unauthenticated(member.get(ME), "invalid_token")
    assert_unauthenticated(second.get(ME), "invalid_token")
    assert_unauthenticated(stack.post("/api/v1/auth/refresh", {"refresh_token": second.refresh}),
                           "invalid_refresh_token")
    rows = stack.psql("SELECT count(*) FROM homebot.sessions WHERE organization_id = :'o'"
                      " AND user_id = :'u' AND revoked_at IS NULL", o=account.org_id,
                      u=member.user_id)
    assert rows == [("0",)]


def test_removal_leaves_the_members_other_organizations_alone(stack, account):
    member = add_member(account, "member")
    home = member.home
    assert home.org_id != account.org_id
    assert_status(account.delete(f"{MEMBERS}/{member.user_id}"), 204)
    assert_status(home.get(ME), 200)
    assert_status(home.get(MEMBERS), 200)


def test_removed_members_api_keys_stop_working(stack, account):
    admin = add_member(account, "admin")
    k = create_key(admin, ["members:read"])
    assert_status(stack.get(MEMBERS, headers={"X-API-Key": k["key"]}), 200)
    assert_status(account.delete(f"{MEMBERS}/{admin.user_id}"), 204)
    assert_unauthenticated(stack.get(MEMBERS, headers={"X-API-Key": k["key"]}), "invalid_api_key")


def test_removed_member_can_no_longer_switch_in(stack, account):
    member = add_member(account, "member")
    assert_status(account.delete(f"{MEMBERS}/{member.user_id}"), 204)
    home = member.home
    assert_error(home.post("/api/v1/auth/switch", {"organization_id": account.org_id}), 403,
                 "not_a_member")


def test_last_owner_cannot_be_removed(stack, account):
    assert_error(account.delete(f"{MEMBERS}/{account.user_id}"), 409, "last_owner")
    assert membership(stack, account.org_id, account.user_id) == [("owner", "active")]
    assert_status(account.get(ME), 200)


def test_owner_can_leave_while_another_owner_remains(stack, account):
    second = add_member(account, "owner")
    assert_status(account.delete(f"{MEMBERS}/{account.user_id}"), 204)
    assert_unauthenticated(account.get(ME), "invalid_token")
    assert_error(second.delete(f"{MEMBERS}/{second.user_id}"), 409, "last_owner")


def test_admin_cannot_remove_an_owner(stack, account):
    admin = add_member(account, "admin")
    add_member(account, "owner")
    assert_error(admin.delete(f"{MEMBERS}/{account.user_id}"), 403, "forbidden")
    assert membership(stack, account.org_id, account.user_id) == [("owner", "active")]


def test_admin_can_remove_a_member(account):
    admin = add_member(account, "admin")
    member = add_member(account, "member")
    assert_status(admin.delete(f"{MEMBERS}/{member.user_id}"), 204)


def test_removing_an_invited_member_voids_the_invitation(stack, account):
    m = invite(account)
    assert_status(account.delete(f"{MEMBERS}/{m['user_id']}"), 204)
    assert stack.psql("SELECT id FROM homebot.invitations WHERE user_id = :'u'",
                      u=m["user_id"]) == []


def test_removal_by_a_viewer_is_403_forbidden(stack, account):
    viewer = add_member(account, "viewer")
    member = add_member(account, "member")
    assert_error(viewer.delete(f"{MEMBERS}/{member.user_id}"), 403, "forbidden")
    assert membership(stack, account.org_id, member.user_id) == [("member", "active")]


# ---- ids that name no member here --------------------------------------------------

@pytest.mark.parametrize("user_id", ["not-a-uuid", "12345", "00000000-0000-0000-0000-00000000000g",
                                     "6F9619FF-8B86-D011-B42D-00C04FC964FF"],
                         ids=["word", "number", "bad_hex", "upper_case"])
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_id_that_is_not_a_uuid_is_404(stack, account, method, user_id):
    body = {"role": "member"} if method == "PATCH" else None
    r = stack.request(method, f"{MEMBERS}/{user_id}", body=body, headers=account.auth)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_unknown_user_id_is_404(stack, account, method):
    body = {"role": "member"} if method == "PATCH" else None
    r = stack.request(method, f"{MEMBERS}/{uuid.uuid4()}", body=body, headers=account.auth)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_user_of_another_organization_is_404(stack, account, method):
    stranger = register(stack)
    body = {"role": "viewer"} if method == "PATCH" else None
    r = stack.request(method, f"{MEMBERS}/{stranger.user_id}", body=body, headers=account.auth)
    assert_error(r, 404, "not_found")
    assert membership(stack, stranger.org_id, stranger.user_id) == [("owner", "active")]
    assert_status(stranger.get(ME), 200)


# ---- owners changed at once ------------------------------------------------------

@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_owners_changed_at_once_never_fail_the_server(stack, account, change):
    # Each round: two other owners demoted (or removed) at the same moment.
    # Their transactions lock the same owner rows; a deadlock or a
    # serialization failure may cost one of them a retry, never a 500.
    statuses = []
    for _ in range(8):
        a, b = add_member(account, "owner"), add_member(account, "owner")
        if change == "demote":
            calls = [lambda u=u: account.patch(f"{MEMBERS}/{u.user_id}", {"role": "member"})
                     for u in (a, b)]
        else:
            calls = [lambda u=u: account.delete(f"{MEMBERS}/{u.user_id}") for u in (a, b)]
        for r in at_once(calls):
            assert r.status in (200, 204, 503), r
            if r.status == 503:
                assert r.header("Retry-After"), r
            statuses.append(r.status)
        for u in (a, b):
            account.delete(f"{MEMBERS}/{u.user_id}")
    assert statuses.count(503) < len(statuses), statuses


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_the_last_two_owners_each_stepping_down_at_once_leave_one(stack, change):
    # The only two owners each step down (demote or remove themselves) in
    # the same instant, until the workers' log shows the two requests
    # overlapping on different processes. Each transaction sees the other
    # owner still there; only the owner rows' lock keeps the organization
    # from ending with none: one succeeds, the other is 409 last_owner (or
    # 503 to retry, if the database chose it as a deadlock's victim).
    def setup():
        first = register(stack)
        second = add_member(first, "owner")
        if change == "demote":
            calls = [lambda a=a: a.patch(f"{MEMBERS}/{a.user_id}", {"role": "admin"})
                     for a in (first, second)]
        else:
            calls = [lambda a=a: a.delete(f"{MEMBERS}/{a.user_id}") for a in (first, second)]
        return calls, first.org_id

    def check(answers, org_id):
        done = [r for r in answers if r.status in (200, 204)]
        refused = [r for r in answers if r.status not in (200, 204)]
        assert len(done) == 1 and len(refused) == 1, answers
        if refused[0].status == 503:
            assert refused[0].header("Retry-After"), refused[0]
        else:
            assert_error(refused[0], 409, "last_owner")
        owners = stack.psql("SELECT count(*) FROM homebot.memberships WHERE organization_id = :'o'"
                            " AND role = 'owner' AND status = 'active'", o=org_id)
        assert owners == [("1",)], owners

    warm = register(stack)
    hold_workers(stack, [lambda: warm.get(MEMBERS)] * 2)
    pairs = race(stack, setup, check)
    report(f"last owners stepping down at once ({change}): the two requests overlapped "
           f"on different workers ({pairs} pair)")
