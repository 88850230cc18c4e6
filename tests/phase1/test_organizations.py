"""Organizations (api.md §3): the caller's organizations with his role,
creating one (the caller becomes its owner), reading and updating the
credential's own organization, and switching between organizations."""
import uuid

import pytest

from conftest import (RFC3339_RE, UUID_RE, Account, add_member, assert_error, assert_invalid,
                      assert_status, bearer, create_key, register)

ORGS = "/api/v1/organizations"
CURRENT = "/api/v1/organizations/current"
SWITCH = "/api/v1/auth/switch"
ORG_FIELDS = {"id", "name", "slug", "settings", "created_at"}


def unique_name():
    return f"Org {uuid.uuid4().hex[:12]}"


def unique_slug():
    return f"slug-{uuid.uuid4().hex[:12]}"


def listed(account):
    r = account.get(f"{ORGS}?limit=200")
    assert r.status == 200, r
    return {o["id"]: o for o in r.json()["data"]}


# ---- GET /api/v1/organizations ----------------------------------------------

def test_list_is_a_collection_of_the_callers_organizations(account):
    r = account.get(ORGS)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"data", "next_cursor"}, body
    assert body["next_cursor"] is None, body
    [org] = body["data"]
    assert org["id"] == account.org_id
    assert org["name"] == account.tokens["organization"]["name"]
    assert org["slug"] == account.tokens["organization"]["slug"]
    assert org["role"] == "owner"
    assert RFC3339_RE.fullmatch(org["created_at"]), org


def test_list_gives_the_role_in_each_organization(account):
    viewer = add_member(account, "viewer")
    home = register_org_of(viewer)
    orgs = listed(viewer)
    assert set(orgs) == {account.org_id, home}, orgs
    assert orgs[account.org_id]["role"] == "viewer"
    assert orgs[home]["role"] == "owner"


def register_org_of(member):
    """The organization the member registered with (his first one)."""
    return member.home.org_id


def test_list_leaves_out_organizations_the_user_only_is_invited_to(stack, account):
    other = register(stack)
    r = other.post("/api/v1/members", {"email": account.email, "role": "member"})
    assert_status(r, 201)
    stack.psql("UPDATE homebot.memberships SET status = 'invited'"
               " WHERE organization_id = :'o' AND user_id = :'u'",
               o=other.org_id, u=account.user_id)
    assert set(listed(account)) == {account.org_id}


def test_list_pages_with_limit_and_cursor(account):
    for _ in range(3):
        assert_status(account.post(ORGS, {"name": unique_name()}), 201)
    seen, url = [], f"{ORGS}?limit=2"
    while url:
        r = account.get(url)
        assert r.status == 200, r
        body = r.json()
        assert len(body["data"]) <= 2, body
        seen += [o["id"] for o in body["data"]]
        url = body["next_cursor"] and f"{ORGS}?limit=2&cursor={body['next_cursor']}"
    assert len(seen) == 4 and len(set(seen)) == 4, seen
    assert seen[-1] == account.org_id, "newest first: the registered organization is last"


def test_list_with_an_api_key_is_403_forbidden(stack, account):
    k = create_key(account, ["org:read"])
    assert_error(stack.get(ORGS, headers={"X-API-Key": k["key"]}), 403, "forbidden")


# ---- POST /api/v1/organizations ---------------------------------------------

def test_create_is_201_with_the_organization(account):
    name = unique_name()
    r = account.post(ORGS, {"name": name})
    assert r.status == 201, r
    org = r.json()
    assert ORG_FIELDS <= set(org), org
    assert UUID_RE.fullmatch(org["id"]), org
    assert org["name"] == name
    assert org["settings"] == {}, org
    assert RFC3339_RE.fullmatch(org["created_at"]), org


def test_creator_is_the_owner_of_the_new_organization(stack, account):
    org = account.post(ORGS, {"name": unique_name()}).json()
    assert listed(account)[org["id"]]["role"] == "owner"
    rows = stack.psql("SELECT user_id, role, status FROM homebot.memberships"
                      " WHERE organization_id = :'o'", o=org["id"])
    assert rows == [(account.user_id, "owner", "active")], rows


def test_creator_can_switch_into_the_new_organization_as_owner(account):
    org = account.post(ORGS, {"name": unique_name()}).json()
    inside = account.switch(org["id"])
    assert inside.tokens["role"] == "owner"
    me = inside.get("/api/v1/auth/me").json()
    assert me["organization"]["id"] == org["id"] and me["role"] == "owner", me


def test_slug_is_derived_from_the_name(account):
    tag = uuid.uuid4().hex[:8]
    r = account.post(ORGS, {"name": f"Hello,  World! {tag}"})
    assert r.status == 201, r
    assert r.json()["slug"] == f"hello-world-{tag}", r


def test_derived_slug_that_is_taken_gets_a_suffix(account):
    name = unique_name()
    first = account.post(ORGS, {"name": name}).json()
    r = account.post(ORGS, {"name": name})
    assert r.status == 201, r
    second = r.json()
    assert second["slug"] != first["slug"]
    assert second["slug"].startswith(first["slug"] + "-"), (first, second)


def test_given_slug_is_used(account):
    slug = unique_slug()
    r = account.post(ORGS, {"name": unique_name(), "slug": slug})
    assert r.status == 201, r
    assert r.json()["slug"] == slug


def test_taken_slug_is_409_slug_taken(stack, account):
    slug = unique_slug()
    assert_status(account.post(ORGS, {"name": unique_name(), "slug": slug}), 201)
    other = register(stack)
    assert_error(other.post(ORGS, {"name": unique_name(), "slug": slug}), 409, "slug_taken")


def test_taken_slug_creates_nothing(stack, account):
    slug = unique_slug()
    assert_status(account.post(ORGS, {"name": unique_name(), "slug": slug}), 201)
    name = unique_name()
    account.post(ORGS, {"name": name, "slug": slug})
    assert stack.psql("SELECT id FROM homebot.organizations WHERE name = :'n'", n=name) == []


@pytest.mark.parametrize("slug", ["Upper", "under_score", "-leading", "trailing-", "sp ace", "",
                                  "a" * 64, "ünï"],
                         ids=["upper_case", "underscore", "leading_dash", "trailing_dash", "space",
                              "empty", "too_long", "non_ascii"])
def test_invalid_slug_is_422(account, slug):
    assert_invalid(account.post(ORGS, {"name": unique_name(), "slug": slug}), "slug")


@pytest.mark.parametrize("name", [None, "", "x" * 201], ids=["missing", "empty", "too_long"])
def test_invalid_name_is_422(account, name):
    body = {} if name is None else {"name": name}
    assert_invalid(account.post(ORGS, body), "name")


def test_create_with_an_api_key_is_403_forbidden(stack, account):
    k = create_key(account, ["org:read", "org:update"])
    r = stack.post(ORGS, {"name": unique_name()}, headers={"X-API-Key": k["key"]})
    assert_error(r, 403, "forbidden")


# ---- GET /api/v1/organizations/current ----------------------------------------

def test_current_is_the_credentials_organization(account):
    r = account.get(CURRENT)
    assert r.status == 200, r
    org = r.json()
    assert set(org) == ORG_FIELDS, org
    assert org["id"] == account.org_id
    assert org["slug"] == account.tokens["organization"]["slug"]
    assert org["settings"] == {}


def test_current_follows_the_session_not_the_user(account):
    other = account.post(ORGS, {"name": unique_name()}).json()
    inside = account.switch(other["id"])
    assert inside.get(CURRENT).json()["id"] == other["id"]
    assert account.get(CURRENT).json()["id"] == account.org_id


def test_current_with_an_api_key_is_the_keys_organization(stack, account):
    k = create_key(account, ["org:read"])
    r = stack.get(CURRENT, headers={"X-API-Key": k["key"]})
    assert r.status == 200, r
    assert r.json()["id"] == account.org_id


def test_current_needs_org_read(stack, account):
    k = create_key(account, ["members:read"])
    assert_error(stack.get(CURRENT, headers={"X-API-Key": k["key"]}), 403, "forbidden")


def test_current_without_a_credential_is_401(stack):
    r = stack.get(CURRENT)
    assert_error(r, 401, "not_authenticated")


# ---- PATCH /api/v1/organizations/current ---------------------------------------

def test_update_changes_the_name(account):
    name = unique_name()
    r = account.patch(CURRENT, {"name": name})
    assert r.status == 200, r
    assert set(r.json()) == ORG_FIELDS, r
    assert r.json()["name"] == name
    assert account.get(CURRENT).json()["name"] == name


def test_update_keeps_the_slug(account):
    slug = account.get(CURRENT).json()["slug"]
    assert account.patch(CURRENT, {"name": unique_name()}).json()["slug"] == slug


def test_update_stores_settings(account):
    settings = {"theme": "dark", "limits": {"devices": 10}, "tags": ["a", "b"], "beta": True}
    r = account.patch(CURRENT, {"settings": settings})
    assert r.status == 200, r
    assert r.json()["settings"] == settings
    assert account.get(CURRENT).json()["settings"] == settings


def test_settings_are_replaced_whole(account):
    assert_status(account.patch(CURRENT, {"settings": {"a": 1, "b": {"c": 2}}}), 200)
    r = account.patch(CURRENT, {"settings": {"b": {"d": 3}}})
    assert r.json()["settings"] == {"b": {"d": 3}}, r
    assert account.get(CURRENT).json()["settings"] == {"b": {"d": 3}}


def test_update_without_settings_keeps_them(account):
    assert_status(account.patch(CURRENT, {"settings": {"keep": "me"}}), 200)
    r = account.patch(CURRENT, {"name": unique_name()})
    assert r.json()["settings"] == {"keep": "me"}, r


def test_update_without_name_keeps_it(account):
    name = account.get(CURRENT).json()["name"]
    assert account.patch(CURRENT, {"settings": {"x": 1}}).json()["name"] == name


@pytest.mark.parametrize("settings", [[1, 2], "dark", 7, True],
                         ids=["array", "string", "number", "boolean"])
def test_settings_that_are_not_an_object_are_422(account, settings):
    before = account.get(CURRENT).json()
    assert_invalid(account.patch(CURRENT, {"settings": settings}), "settings")
    assert account.get(CURRENT).json() == before


@pytest.mark.parametrize("name", ["", "x" * 201], ids=["empty", "too_long"])
def test_update_with_an_invalid_name_is_422(account, name):
    assert_invalid(account.patch(CURRENT, {"name": name}), "name")


def test_name_of_200_characters_is_accepted(account):
    name = "n" * 200
    r = account.patch(CURRENT, {"name": name})
    assert r.status == 200, r
    assert r.json()["name"] == name


def test_update_leaves_other_organizations_alone(stack, account):
    other = register(stack)
    before = other.get(CURRENT).json()
    assert_status(account.patch(CURRENT, {"name": unique_name(), "settings": {"x": 1}}), 200)
    assert other.get(CURRENT).json() == before


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_update_by_a_role_without_org_update_is_403_forbidden(account, role):
    who = add_member(account, role)
    before = account.get(CURRENT).json()
    assert_error(who.patch(CURRENT, {"name": unique_name()}), 403, "forbidden")
    assert account.get(CURRENT).json() == before


def test_admin_may_update(account):
    admin = add_member(account, "admin")
    assert_status(admin.patch(CURRENT, {"name": unique_name()}), 200)


def test_update_with_a_key_needs_its_org_update_scope(stack, account):
    reader = create_key(account, ["org:read"])
    writer = create_key(account, ["org:update"])
    r = stack.patch(CURRENT, {"settings": {"by": "key"}}, headers={"X-API-Key": reader["key"]})
    assert_error(r, 403, "forbidden")
    r = stack.patch(CURRENT, {"settings": {"by": "key"}}, headers={"X-API-Key": writer["key"]})
    assert r.status == 200, r
    assert r.json()["settings"] == {"by": "key"}


# ---- POST /api/v1/auth/switch --------------------------------------------------

def test_switch_is_200_with_a_token_response_for_that_organization(account):
    org = account.post(ORGS, {"name": unique_name()}).json()
    r = account.post(SWITCH, {"organization_id": org["id"]})
    assert r.status == 200, r
    t = r.json()
    assert {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in",
            "user", "organization", "role"} <= set(t), t
    assert t["organization"] == {"id": org["id"], "name": org["name"], "slug": org["slug"]}
    assert t["user"]["id"] == account.user_id
    assert t["role"] == "owner"


def test_switched_token_acts_in_the_other_organization(account):
    viewer = add_member(account, "viewer")
    home = register_org_of(viewer)
    back = viewer.switch(home)
    me = back.get("/api/v1/auth/me").json()
    assert me["organization"]["id"] == home and me["role"] == "owner", me
    me = viewer.get("/api/v1/auth/me").json()
    assert me["organization"]["id"] == account.org_id and me["role"] == "viewer", me


def test_switch_starts_a_new_session(account):
    org = account.post(ORGS, {"name": unique_name()}).json()
    inside = account.switch(org["id"])
    assert inside.session_id != account.session_id
    assert_status(account.get("/api/v1/auth/me"), 200)


def test_switch_to_a_foreign_organization_is_403_not_a_member(stack, account):
    stranger = register(stack)
    r = account.post(SWITCH, {"organization_id": stranger.org_id})
    assert_error(r, 403, "not_a_member")


def test_switch_to_an_unknown_organization_is_403_not_a_member(account):
    r = account.post(SWITCH, {"organization_id": str(uuid.uuid4())})
    assert_error(r, 403, "not_a_member")


def test_switch_to_an_organization_only_invited_to_is_403_not_a_member(stack, account):
    other = register(stack)
    assert_status(other.post("/api/v1/members", {"email": account.email, "role": "member"}), 201)
    stack.psql("UPDATE homebot.memberships SET status = 'invited'"
               " WHERE organization_id = :'o' AND user_id = :'u'",
               o=other.org_id, u=account.user_id)
    assert_error(account.post(SWITCH, {"organization_id": other.org_id}), 403, "not_a_member")


def test_switch_with_a_malformed_organization_id_is_422(account):
    assert_invalid(account.post(SWITCH, {"organization_id": "not-a-uuid"}), "organization_id")


def test_switch_with_an_api_key_is_403_forbidden(stack, account):
    k = create_key(account, ["org:read"])
    r = stack.post(SWITCH, {"organization_id": account.org_id}, headers=bearer(k["key"]))
    assert_error(r, 403, "forbidden")


def test_switched_session_is_refreshable_in_that_organization(stack, account):
    org = account.post(ORGS, {"name": unique_name()}).json()
    inside = account.switch(org["id"])
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": inside.refresh})
    assert r.status == 200, r
    assert r.json()["organization"]["id"] == org["id"]
    fresh = Account(stack, account.email, account.password, r.json())
    assert fresh.get(CURRENT).json()["id"] == org["id"]
