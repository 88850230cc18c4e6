"""Platform administration (api.md §5): a superadmin made on the server
(make superadmin, i.e. scripts/stack.sh superadmin and the SQL it runs)
logs in like anyone and then administers every organization and user with
curl-able endpoints; everyone else gets 403 forbidden there."""
import os
import re
import subprocess
import uuid
from urllib.parse import quote

import pytest

import mailsink

from conftest import (RFC3339_RE, ROOT, STACK, UUID_RE, Account, accept_invite, add_member,
                      assert_error, assert_invalid, assert_status, assert_unauthenticated,
                      create_key, login, make_superadmin, new_email, new_password, register)

ADMIN = "/api/v1/admin"
ORG_FIELDS = {"id", "name", "slug", "created_at", "suspended", "member_count"}
USER_FIELDS = {"id", "email", "full_name", "created_at", "disabled", "is_superadmin"}

# Every admin endpoint, with a body where it takes one.
ROUTES = [
    ("GET", "/organizations", None),
    ("POST", "/organizations", {"name": "Nope", "owner_email": "nope@example.com"}),
    ("POST", "/organizations/{org}/suspend", None),
    ("POST", "/organizations/{org}/unsuspend", None),
    ("GET", "/users?email=example", None),
    ("POST", "/users/{user}/disable", None),
    ("POST", "/users/{user}/enable", None),
    ("POST", "/users/{user}/unlock", None),
    ("GET", "/audit-log", None),
]
ROUTE_IDS = [f"{m}_{p.split('?')[0]}" for m, p, _ in ROUTES]


def route(path, account):
    return ADMIN + path.format(org=account.org_id, user=account.user_id)


def all_pages(sa, path):
    out, cursor = [], None
    sep = "&" if "?" in path else "?"
    for _ in range(1000):
        r = sa.get(f"{ADMIN}{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        out += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("next_cursor never ends")


def admin_org(sa, org_id):
    """The organization as GET /admin/organizations lists it."""
    [o] = [o for o in all_pages(sa, "/organizations") if o["id"] == org_id]
    return o


def run_superadmin_script(stack, email, password=None, owner_only=False):
    """scripts/stack.sh superadmin against the test stack's database, given
    as an external database (the path make superadmin takes on a production
    host): DATABASE_URL the programs' role and MIGRATE_DATABASE_URL the
    owner, or (owner_only) DATABASE_URL the owner alone."""
    env = dict(os.environ, BCRYPT_COST="4", ASAN_OPTIONS="detect_leaks=0")
    env.pop("MIGRATE_DATABASE_URL", None)
    if owner_only:
        env["DATABASE_URL"] = stack.env["OWNER_URL"]
    else:
        env.update(DATABASE_URL=stack.env["APP_URL"], MIGRATE_DATABASE_URL=stack.env["OWNER_URL"])
    args = [str(STACK), "superadmin", email] + ([password] if password else [])
    return subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)


# ---- who may administer ------------------------------------------------------------

@pytest.mark.parametrize("method,path,body", ROUTES, ids=ROUTE_IDS)
def test_admin_endpoint_is_403_forbidden_for_a_normal_user(stack, account, method, path, body):
    r = stack.request(method, route(path, account), body=body, headers=account.auth)
    assert_error(r, 403, "forbidden")


@pytest.mark.parametrize("method,path,body", ROUTES, ids=ROUTE_IDS)
def test_admin_endpoint_is_401_without_a_token(stack, account, method, path, body):
    r = stack.request(method, route(path, account), body=body)
    assert_unauthenticated(r, "not_authenticated")


@pytest.mark.parametrize("method,path,body", ROUTES, ids=ROUTE_IDS)
def test_admin_endpoint_is_403_for_a_superadmins_api_key(stack, superadmin, method, path, body):
    k = create_key(superadmin, ["org:read"])
    r = stack.request(method, route(path, superadmin), body=body, headers={"X-API-Key": k["key"]})
    assert_error(r, 403, "forbidden")


def test_organization_owner_is_not_a_superadmin(stack, account):
    admin = add_member(account, "admin")
    for who in (account, admin):
        assert_error(who.get(f"{ADMIN}/organizations"), 403, "forbidden")


def test_normal_users_refused_suspend_changes_nothing(stack, account):
    stranger = register(stack)
    r = account.post(f"{ADMIN}/organizations/{stranger.org_id}/suspend")
    assert_error(r, 403, "forbidden")
    assert_status(stranger.get("/api/v1/auth/me"), 200)


def test_superadmin_flag_applies_on_the_next_request(stack, account):
    assert_error(account.get(f"{ADMIN}/organizations"), 403, "forbidden")
    stack.psql("UPDATE homebot.users SET is_superadmin = true WHERE id = :'u'", u=account.user_id)
    assert_status(account.get(f"{ADMIN}/organizations"), 200)
    stack.psql("UPDATE homebot.users SET is_superadmin = false WHERE id = :'u'", u=account.user_id)
    assert_error(account.get(f"{ADMIN}/organizations"), 403, "forbidden")


# ---- make superadmin -------------------------------------------------------------------

def test_ensure_superadmin_makes_a_user_who_logs_in_and_administers(stack):
    sa = make_superadmin(stack)
    assert sa.tokens["organization"]["name"] == "Administration"
    assert sa.tokens["role"] == "owner"
    assert_status(sa.get(f"{ADMIN}/organizations"), 200)


def test_ensure_superadmin_promotes_an_existing_user_and_sets_the_password(stack, account):
    sa = make_superadmin(stack, email=account.email)
    assert sa.user_id == account.user_id
    assert sa.org_id == account.org_id, "an active membership: no organization of its own"
    assert_status(sa.get(f"{ADMIN}/users"), 200)
    assert_unauthenticated(login(stack, account.email, account.password), "invalid_credentials")


@pytest.mark.parametrize("owner_only", [False, True],
                         ids=["migrate_database_url", "database_url_only"])
def test_stack_superadmin_command_works_on_an_external_database(stack, owner_only):
    stack.need_own()
    email, password = new_email(), new_password()
    out = run_superadmin_script(stack, email, password, owner_only)
    assert out.returncode == 0, out.stderr
    assert f"superadmin {email} is ready" in out.stdout, out.stdout
    assert password not in out.stdout + out.stderr
    r = login(stack, email, password)
    assert r.status == 200, r
    sa = Account(stack, email, password, r.json())
    assert_status(sa.get(f"{ADMIN}/audit-log"), 200)


def test_stack_superadmin_command_generates_and_prints_a_password_once(stack):
    stack.need_own()
    email = new_email()
    out = run_superadmin_script(stack, email)
    assert out.returncode == 0, out.stderr
    m = re.search(r"password \(shown once\): (\S+)", out.stdout)
    assert m, out.stdout
    assert_status(login(stack, email, m.group(1)), 200)


def test_stack_superadmin_command_refuses_a_non_email(stack):
    stack.need_own()
    out = run_superadmin_script(stack, "not-an-email", new_password())
    assert out.returncode != 0
    assert "EMAIL must be an email address" in out.stderr


def test_ensure_superadmin_is_audited_as_a_platform_event(stack):
    sa = make_superadmin(stack)
    rows = stack.psql("SELECT organization_id, actor_type FROM homebot.audit_log"
                      " WHERE action = 'admin.superadmin.ensured' AND target_id = :'u'",
                      u=sa.user_id)
    assert rows == [("", "system")], rows


# ---- organizations ------------------------------------------------------------------------

def test_organizations_lists_every_organization_with_member_count(stack, superadmin):
    a = register(stack)
    add_member(a, "viewer")
    add_member(a, "admin")
    b = register(stack)
    listed = {o["id"]: o for o in all_pages(superadmin, "/organizations")}
    assert {a.org_id, b.org_id, superadmin.org_id} <= set(listed)
    assert set(listed[a.org_id]) == ORG_FIELDS, listed[a.org_id]
    assert listed[a.org_id]["member_count"] == 3
    assert listed[b.org_id]["member_count"] == 1
    assert listed[a.org_id]["suspended"] is False
    assert RFC3339_RE.fullmatch(listed[a.org_id]["created_at"])


def test_member_count_leaves_out_invited_members(stack, superadmin, account):
    r = account.post("/api/v1/members", {"email": new_email(), "role": "viewer"})
    assert r.json()["status"] == "invited", r
    assert admin_org(superadmin, account.org_id)["member_count"] == 1


def test_organizations_page_newest_first(stack, superadmin):
    register(stack)
    register(stack)
    first = superadmin.get(f"{ADMIN}/organizations?limit=1").json()
    assert first["next_cursor"], first
    second = superadmin.get(f"{ADMIN}/organizations?limit=1&cursor={first['next_cursor']}").json()
    assert first["data"][0]["created_at"] >= second["data"][0]["created_at"]
    assert first["data"][0]["id"] != second["data"][0]["id"]


def test_create_organization_invites_a_new_owner_by_mail_and_answers_no_token(stack, superadmin):
    email = new_email()
    r = superadmin.post(f"{ADMIN}/organizations", {"name": "Made by admin", "owner_email": email})
    assert r.status == 201, r
    org = r.json()
    assert UUID_RE.fullmatch(org["id"]) and UUID_RE.fullmatch(org["owner_id"]), org
    assert org["owner_status"] == "invited"
    token = mailsink.wait_token(stack, email, "/account/invite")
    assert "invite_token" not in org and token.encode() not in r.body, org
    [mail] = mailsink.mails_to(stack, email)
    assert "Made by admin" in mail["Subject"], mail["Subject"]
    rows = stack.psql("SELECT user_id, role, status FROM homebot.memberships"
                      " WHERE organization_id = :'o'", o=org["id"])
    assert rows == [(org["owner_id"], "owner", "invited")], rows


def test_new_owner_accepts_the_mailed_invitation_into_the_organization(stack, superadmin):
    email = new_email()
    org = superadmin.post(f"{ADMIN}/organizations",
                          {"name": "Accepted", "owner_email": email}).json()
    password = new_password()
    token = mailsink.wait_token(stack, email, "/account/invite")
    r = accept_invite(stack, token, password, full_name="New Owner")
    assert r.status == 200, r
    t = r.json()
    assert t["organization"]["id"] == org["id"] and t["role"] == "owner", t
    assert t["user"]["email"] == email and t["user"]["email_verified"] is True, t
    owner = Account(stack, email, password, t)
    me = owner.get("/api/v1/auth/me").json()
    assert me["role"] == "owner" and "members:owners" in me["permissions"], me
    assert admin_org(superadmin, org["id"])["member_count"] == 1


def test_an_existing_user_is_invited_too_and_owns_the_organization_only_once_accepted(
        stack, superadmin, account):
    r = superadmin.post(f"{ADMIN}/organizations",
                        {"name": "For existing", "owner_email": account.email})
    assert r.status == 201, r
    org = r.json()
    assert org["owner_id"] == account.user_id and org["owner_status"] == "invited", org
    assert "invite_token" not in org
    assert_error(account.post("/api/v1/auth/switch", {"organization_id": org["id"]}),
                 403, "not_a_member")
    token = mailsink.wait_token(stack, account.email, "/account/invite")
    # The account's address is unverified: the mailed link proves it, and
    # sets a new password (one of the account's last 5 would be refused,
    # as at a reset: test_password_policy.py).
    assert_invalid(accept_invite(stack, token, account.password), "password")
    password = new_password()
    r = accept_invite(stack, token, password)
    assert r.status == 200 and r.json()["role"] == "owner", r
    account.password = password


def test_create_organization_with_a_slug(superadmin):
    slug = f"admin-{uuid.uuid4().hex[:10]}"
    r = superadmin.post(f"{ADMIN}/organizations",
                        {"name": "Slugged", "slug": slug, "owner_email": new_email()})
    assert r.status == 201, r
    assert r.json()["slug"] == slug
    r = superadmin.post(f"{ADMIN}/organizations",
                        {"name": "Slugged", "slug": slug, "owner_email": new_email()})
    assert_error(r, 409, "slug_taken")


@pytest.mark.parametrize("body,field", [
    ({"owner_email": "x@example.com"}, "name"),
    ({"name": "No owner"}, "owner_email"),
    ({"name": "Bad owner", "owner_email": "nobody"}, "owner_email"),
    ({"name": "Bad slug", "slug": "Bad Slug", "owner_email": "x@example.com"}, "slug"),
], ids=["no_name", "no_owner", "bad_owner_email", "bad_slug"])
def test_invalid_organization_is_422(superadmin, body, field):
    assert_invalid(superadmin.post(f"{ADMIN}/organizations", body), field)


def test_suspension_refuses_the_organizations_tokens_and_keys(stack, superadmin, account):
    member = add_member(account, "member")
    k = create_key(account, ["org:read"])
    r = superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend")
    assert r.status == 200, r
    assert set(r.json()) == ORG_FIELDS and r.json()["suspended"] is True, r
    for who in (account, member):
        assert_error(who.get("/api/v1/auth/me"), 403, "organization_suspended")
    assert_error(stack.get("/api/v1/organizations/current", headers={"X-API-Key": k["key"]}),
                 403, "organization_suspended")
    assert_error(login(stack, account.email, account.password), 403, "organization_suspended")


def test_suspension_leaves_other_organizations_alone(stack, superadmin, account):
    member = add_member(account, "member")
    assert_status(superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend"), 200)
    assert_status(member.home.get("/api/v1/auth/me"), 200)


def test_unsuspension_restores_the_tokens_and_keys(stack, superadmin, account):
    k = create_key(account, ["org:read"])
    assert_status(superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend"), 200)
    r = superadmin.post(f"{ADMIN}/organizations/{account.org_id}/unsuspend")
    assert r.status == 200, r
    assert r.json()["suspended"] is False
    assert_status(account.get("/api/v1/auth/me"), 200)
    assert_status(stack.get("/api/v1/organizations/current", headers={"X-API-Key": k["key"]}), 200)


def test_suspended_flag_shows_in_the_list(superadmin, account):
    assert_status(superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend"), 200)
    assert admin_org(superadmin, account.org_id)["suspended"] is True


def test_suspending_twice_keeps_the_first_time(stack, superadmin, account):
    assert_status(superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend"), 200)
    first = stack.psql("SELECT suspended_at FROM homebot.organizations WHERE id = :'o'",
                       o=account.org_id)
    assert_status(superadmin.post(f"{ADMIN}/organizations/{account.org_id}/suspend"), 200)
    assert stack.psql("SELECT suspended_at FROM homebot.organizations WHERE id = :'o'",
                      o=account.org_id) == first


@pytest.mark.parametrize("action", ["suspend", "unsuspend"])
@pytest.mark.parametrize("org_id", ["not-a-uuid", str(uuid.uuid4())], ids=["malformed", "unknown"])
def test_suspending_an_unknown_organization_is_404(superadmin, action, org_id):
    assert_error(superadmin.post(f"{ADMIN}/organizations/{org_id}/{action}"), 404, "not_found")


# ---- users ---------------------------------------------------------------------------------

def test_users_finds_by_email(superadmin, account):
    r = superadmin.get(f"{ADMIN}/users?email={account.email}")
    assert r.status == 200, r
    [u] = r.json()["data"]
    assert set(u) == USER_FIELDS, u
    assert u["id"] == account.user_id and u["email"] == account.email
    assert u["disabled"] is False and u["is_superadmin"] is False


def test_users_search_is_by_part_and_any_case(superadmin, account):
    part = account.email.split("@")[0][-12:].upper()
    data = superadmin.get(f"{ADMIN}/users?email={part}").json()["data"]
    assert [u["id"] for u in data] == [account.user_id], data


def test_users_search_text_is_not_a_pattern(superadmin, account):
    assert superadmin.get(f"{ADMIN}/users?email=user-%25%40").json()["data"] == []
    assert superadmin.get(f"{ADMIN}/users?email=_____________").json()["data"] == []


def test_users_never_shows_a_password_hash(superadmin, account):
    r = superadmin.get(f"{ADMIN}/users?email={account.email}")
    assert b"$2b$" not in r.body and b"hash" not in r.body


def test_disable_revokes_every_session_of_the_user(stack, superadmin, account):
    member = add_member(account, "member")
    r = superadmin.post(f"{ADMIN}/users/{member.user_id}/disable")
    assert r.status == 200, r
    assert set(r.json()) == USER_FIELDS and r.json()["disabled"] is True, r
    assert_unauthenticated(member.get("/api/v1/auth/me"), "invalid_token")
    assert_unauthenticated(member.home.get("/api/v1/auth/me"), "invalid_token")
    rows = stack.psql("SELECT count(*) FROM homebot.sessions WHERE user_id = :'u'"
                      " AND revoked_at IS NULL", u=member.user_id)
    assert rows == [("0",)]


def test_disabled_user_cannot_log_in(stack, superadmin, account):
    assert_status(superadmin.post(f"{ADMIN}/users/{account.user_id}/disable"), 200)
    assert_error(login(stack, account.email, account.password), 403, "account_disabled")


def test_disabled_users_keys_stop_working(stack, superadmin, account):
    k = create_key(account, ["org:read"])
    assert_status(superadmin.post(f"{ADMIN}/users/{account.user_id}/disable"), 200)
    assert_unauthenticated(stack.get("/api/v1/organizations/current",
                                     headers={"X-API-Key": k["key"]}), "invalid_api_key")


def test_enable_lets_the_user_log_in_again(stack, superadmin, account):
    assert_status(superadmin.post(f"{ADMIN}/users/{account.user_id}/disable"), 200)
    r = superadmin.post(f"{ADMIN}/users/{account.user_id}/enable")
    assert r.status == 200, r
    assert r.json()["disabled"] is False
    assert_status(login(stack, account.email, account.password), 200)
    assert_unauthenticated(account.get("/api/v1/auth/me"), "invalid_token")


def test_unlock_clears_a_login_lockout(stack, superadmin, account):
    for _ in range(5):
        assert_status(login(stack, account.email, "wrong-password-1"), 401)
    assert_error(login(stack, account.email, account.password), 429, "too_many_attempts")
    r = superadmin.post(f"{ADMIN}/users/{account.user_id}/unlock")
    assert r.status == 200, r
    assert r.json()["id"] == account.user_id
    assert_status(login(stack, account.email, account.password), 200)


def test_unlock_of_a_user_who_is_not_locked_is_harmless(stack, superadmin, account):
    assert_status(superadmin.post(f"{ADMIN}/users/{account.user_id}/unlock"), 200)
    assert_status(login(stack, account.email, account.password), 200)


@pytest.mark.parametrize("action", ["disable", "enable", "unlock"])
@pytest.mark.parametrize("user_id", ["not-a-uuid", str(uuid.uuid4())], ids=["malformed", "unknown"])
def test_acting_on_an_unknown_user_is_404(superadmin, action, user_id):
    assert_error(superadmin.post(f"{ADMIN}/users/{user_id}/{action}"), 404, "not_found")


# ---- the platform audit log ---------------------------------------------------------------

def platform_events(sa, query):
    return all_pages(sa, f"/audit-log?{query}")


def test_admin_actions_are_audited_with_their_target(stack, superadmin):
    a, b = register(stack), register(stack)
    rid_s, rid_d = "admin-" + uuid.uuid4().hex, "admin-" + uuid.uuid4().hex
    superadmin.post(f"{ADMIN}/organizations/{a.org_id}/suspend", headers={"X-Request-ID": rid_s})
    superadmin.post(f"{ADMIN}/users/{b.user_id}/disable", headers={"X-Request-ID": rid_d})
    [s] = [e for e in platform_events(superadmin, "action=admin.organization.suspended")
           if e["request_id"] == rid_s]
    assert s["target_id"] == a.org_id and s["organization_id"] == a.org_id, s
    assert s["actor"] == {"type": "user", "id": superadmin.user_id}, s
    [d] = [e for e in platform_events(superadmin, "action=admin.user.disabled")
           if e["request_id"] == rid_d]
    assert d["target_id"] == b.user_id, d


class WithRequestId:
    """Posts as account, every request carrying this X-Request-ID."""

    def __init__(self, account, request_id):
        self.account = account
        self.request_id = request_id

    def post(self, path, body=None):
        return self.account.post(path, body, headers={"X-Request-ID": self.request_id})


ADMIN_ACTIONS = {
    "admin.organization.created":
        lambda sa, a: sa.post(f"{ADMIN}/organizations",
                              {"name": "Audited", "owner_email": a.email}),
    "admin.organization.suspended":
        lambda sa, a: sa.post(f"{ADMIN}/organizations/{a.org_id}/suspend"),
    "admin.organization.unsuspended":
        lambda sa, a: sa.post(f"{ADMIN}/organizations/{a.org_id}/unsuspend"),
    "admin.user.disabled": lambda sa, a: sa.post(f"{ADMIN}/users/{a.user_id}/disable"),
    "admin.user.enabled": lambda sa, a: sa.post(f"{ADMIN}/users/{a.user_id}/enable"),
    "admin.user.unlocked": lambda sa, a: sa.post(f"{ADMIN}/users/{a.user_id}/unlock"),
}


@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_every_admin_action_is_in_the_platform_audit_log(superadmin, account, action):
    request_id = "admin-" + uuid.uuid4().hex
    r = ADMIN_ACTIONS[action](WithRequestId(superadmin, request_id), account)
    assert r.status in (200, 201), r
    found = [e for e in platform_events(superadmin, f"action={action}")
             if e["request_id"] == request_id]
    assert len(found) == 1, found
    assert found[0]["actor"] == {"type": "user", "id": superadmin.user_id}, found


def test_platform_audit_log_spans_organizations(stack, superadmin):
    a, b = register(stack), register(stack)
    superadmin.post(f"{ADMIN}/organizations/{a.org_id}/suspend")
    superadmin.post(f"{ADMIN}/organizations/{b.org_id}/suspend")
    suspended = {e["organization_id"] for e in
                 platform_events(superadmin, "action=admin.organization.suspended")}
    assert {a.org_id, b.org_id} <= suspended
    [first] = platform_events(superadmin, f"action=auth.register&actor_id={a.user_id}")
    registered = {e["organization_id"] for e in platform_events(
        superadmin, f"action=auth.register&since={quote(first['occurred_at'])}")}
    assert {a.org_id, b.org_id} <= registered


def test_platform_audit_log_holds_platform_events(stack, superadmin, account):
    superadmin.post(f"{ADMIN}/users/{account.user_id}/disable")
    [e] = [e for e in platform_events(superadmin, "action=admin.user.disabled")
           if e["target_id"] == account.user_id]
    assert e["organization_id"] is None, e
    rows = [e for e in platform_events(superadmin, "action=row.users.update")
            if e["target_id"] == account.user_id]
    assert rows and rows[0]["organization_id"] is None, rows


def test_admin_events_are_not_in_the_organizations_own_log(superadmin, account):
    superadmin.post(f"{ADMIN}/users/{account.user_id}/unlock")
    actions = {e["action"] for e in account.get("/api/v1/audit-log?limit=200").json()["data"]}
    assert "admin.user.unlocked" not in actions


def test_platform_audit_log_filters_and_pages(superadmin):
    first = superadmin.get(f"{ADMIN}/audit-log?limit=2").json()
    assert len(first["data"]) == 2 and first["next_cursor"], first
    second = superadmin.get(f"{ADMIN}/audit-log?limit=2&cursor={first['next_cursor']}").json()
    assert not {e["id"] for e in first["data"]} & {e["id"] for e in second["data"]}
    assert_invalid(superadmin.get(f"{ADMIN}/audit-log?since=yesterday"), "since")
    assert_invalid(superadmin.get(f"{ADMIN}/audit-log?actor_id=nobody"), "actor_id")


def test_cursor_of_an_organizations_audit_log_is_refused_by_the_platform_log(superadmin, account):
    add_member(account, "viewer")
    cursor = account.get("/api/v1/audit-log?limit=1").json()["next_cursor"]
    assert_error(superadmin.get(f"{ADMIN}/audit-log?cursor={cursor}"), 400, "invalid_cursor")
