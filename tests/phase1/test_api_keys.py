"""API keys (api.md §2 and §3): created with a subset of the creator's
permissions, shown once, stored as a hash, revoked at once, and never
worth more than the creator still holds."""
import re
import secrets
import uuid
from datetime import datetime, timedelta

import pytest

from conftest import (RFC3339_RE, UUID_RE, assert_error, assert_invalid, assert_status,
                      assert_unauthenticated, bearer, create_key, key_secret, register,
                      set_role)

KEYS = "/api/v1/api-keys"
KEY_RE = re.compile(r"hb_([a-z0-9]{8})_[A-Za-z0-9_-]{43}")
FIELDS = {"id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at",
          "created_by"}


def as_key(stack, key, method, path, body=None):
    return stack.request(method, path, body=body, headers={"X-API-Key": key})


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_create_is_201_with_the_key(account):
    r = account.post(KEYS, {"name": "deploy bot", "scopes": ["org:read", "api_keys:read"]})
    assert r.status == 201, r
    k = r.json()
    assert set(k) == FIELDS | {"key"}, k
    assert UUID_RE.fullmatch(k["id"]), k
    assert k["name"] == "deploy bot"
    assert sorted(k["scopes"]) == ["api_keys:read", "org:read"]
    assert RFC3339_RE.fullmatch(k["created_at"]), k
    assert k["expires_at"] is None and k["last_used_at"] is None, k
    assert k["created_by"] == account.user_id


def test_key_has_the_documented_shape_and_its_prefix(account):
    k = create_key(account, ["org:read"])
    m = KEY_RE.fullmatch(k["key"])
    assert m, k
    assert m.group(1) == k["prefix"]


def test_every_key_is_different(account):
    a, b = create_key(account, ["org:read"]), create_key(account, ["org:read"])
    assert a["key"] != b["key"] and a["prefix"] != b["prefix"]


def test_key_is_stored_only_as_a_hash(stack, account):
    k = create_key(account, ["org:read"])
    [row] = stack.psql("SELECT row_to_json(k)::text FROM homebot.api_keys k WHERE id = :'id'",
                       id=k["id"])
    secret = key_secret(k["key"])
    assert secret not in row[0], row


def test_key_never_appears_in_list_or_get(account):
    k = create_key(account, ["org:read"])
    listed = account.get(KEYS)
    got = account.get(f"{KEYS}/{k['id']}")
    for r in (listed, got):
        assert r.status == 200, r
        assert k["key"].encode() not in r.body
        assert key_secret(k["key"]).encode() not in r.body
    [item] = listed.json()["data"]
    assert set(item) == FIELDS, item
    assert set(got.json()) == FIELDS, got


def test_get_returns_the_key_as_created(account):
    k = create_key(account, ["org:read", "members:read"], name="reader", expires_in_days=30)
    got = account.get(f"{KEYS}/{k['id']}").json()
    assert got == {f: k[f] for f in FIELDS}


def test_key_authenticates_as_x_api_key(stack, account):
    k = create_key(account, ["org:read"])
    assert_status(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), 200)


def test_key_authenticates_as_bearer(stack, account):
    k = create_key(account, ["org:read"])
    r = stack.get("/api/v1/auth/me", headers=bearer(k["key"]))
    assert r.status == 200, r
    assert r.json()["auth_method"] == "api_key"


@pytest.mark.parametrize("scopes", [["org:read", "no:such"], ["ORG:READ"],
                                    ["org:read,members:read"], [""], [1], "org:read"],
                         ids=["unknown", "wrong_case", "comma_joined", "empty_name", "not_a_string",
                              "not_a_list"])
def test_unknown_scope_is_422(account, scopes):
    assert_invalid(account.post(KEYS, {"name": "k", "scopes": scopes}), "scopes")


def test_scope_the_creator_does_not_hold_is_422(stack, account):
    set_role(stack, account.org_id, account.user_id, "admin")
    for scope in ("org:delete", "members:owners"):
        r = account.post(KEYS, {"name": "k", "scopes": ["org:read", scope]})
        assert_invalid(r, "scopes")


def test_key_cannot_create_keys_even_with_api_keys_write(stack, account):
    # A key that could mint keys would leave a lasting successor behind a
    # short-lived or revoked one: only a person (an access token) creates keys.
    k = create_key(account, ["api_keys:read", "api_keys:write"])
    r = as_key(stack, k["key"], "POST", KEYS, {"name": "child", "scopes": ["api_keys:read"]})
    assert_error(r, 403, "forbidden")
    assert account.get(KEYS).json()["data"][0]["id"] == k["id"], "no child key was stored"


@pytest.mark.parametrize("name", ["", None, "x" * 101], ids=["empty", "missing", "too_long"])
def test_bad_name_is_422(account, name):
    body = {"scopes": ["org:read"]}
    if name is not None:
        body["name"] = name
    assert_invalid(account.post(KEYS, body), "name")


def test_missing_scopes_is_422(account):
    assert_invalid(account.post(KEYS, {"name": "k"}), "scopes")


@pytest.mark.parametrize("days", [0, -1, "7", 1.5])
def test_bad_expires_in_days_is_422(account, days):
    r = account.post(KEYS, {"name": "k", "scopes": ["org:read"], "expires_in_days": days})
    assert_invalid(r, "expires_in_days")


def test_expires_in_days_sets_expires_at(account):
    k = create_key(account, ["org:read"], expires_in_days=7)
    delta = parse_time(k["expires_at"]) - parse_time(k["created_at"])
    assert abs(delta - timedelta(days=7)) < timedelta(minutes=1), k


def test_list_is_a_collection_newest_first(account):
    ids = [create_key(account, ["org:read"], name=f"k{i}")["id"] for i in range(3)]
    r = account.get(KEYS)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"data", "next_cursor"}
    assert body["next_cursor"] is None
    assert [k["id"] for k in body["data"]] == ids[::-1]


def test_list_pages_through_every_key_once(account):
    ids = [create_key(account, ["org:read"], name=f"k{i}")["id"] for i in range(3)]
    seen, url = [], f"{KEYS}?limit=1"
    for _ in range(10):
        body = account.get(url).json()
        assert len(body["data"]) <= 1, body
        seen += [k["id"] for k in body["data"]]
        if body["next_cursor"] is None:
            break
        url = f"{KEYS}?limit=1&cursor={body['next_cursor']}"
    assert seen == ids[::-1]


@pytest.mark.parametrize("limit", ["0", "201", "abc"])
def test_list_limit_out_of_range_is_422(account, limit):
    assert_invalid(account.get(f"{KEYS}?limit={limit}"), "limit")


def test_list_tampered_cursor_is_400_invalid_cursor(account):
    create_key(account, ["org:read"])
    create_key(account, ["org:read"])
    cursor = account.get(f"{KEYS}?limit=1").json()["next_cursor"]
    bad = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    assert_error(account.get(f"{KEYS}?cursor={bad}"), 400, "invalid_cursor")


def test_list_cursor_of_another_organization_is_400_invalid_cursor(stack, account):
    other = register(stack)
    create_key(other, ["org:read"])
    create_key(other, ["org:read"])
    cursor = other.get(f"{KEYS}?limit=1").json()["next_cursor"]
    assert_error(account.get(f"{KEYS}?cursor={cursor}"), 400, "invalid_cursor")


def test_list_shows_only_this_organizations_keys(stack, account):
    mine = create_key(account, ["org:read"])
    create_key(register(stack), ["org:read"])
    assert [k["id"] for k in account.get(KEYS).json()["data"]] == [mine["id"]]


def test_delete_is_204_and_the_key_is_401_at_once(stack, account):
    k = create_key(account, ["org:read"])
    assert_status(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), 200)
    r = account.delete(f"{KEYS}/{k['id']}")
    assert r.status == 204, r
    assert_unauthenticated(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), "invalid_api_key")


def test_deleted_key_is_404_and_not_listed(account):
    k = create_key(account, ["org:read"])
    account.delete(f"{KEYS}/{k['id']}")
    assert_error(account.get(f"{KEYS}/{k['id']}"), 404, "not_found")
    assert_error(account.delete(f"{KEYS}/{k['id']}"), 404, "not_found")
    assert account.get(KEYS).json()["data"] == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_other_organizations_key_is_404(stack, account, method):
    other = register(stack)
    k = create_key(other, ["org:read"])
    assert_error(account.stack.request(method, f"{KEYS}/{k['id']}", headers=account.auth),
                 404, "not_found")
    assert_status(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), 200)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("kid", ["not-a-uuid", "1", str(uuid.uuid4()).upper(), str(uuid.uuid4())])
def test_unknown_or_malformed_key_id_is_404(account, method, kid):
    r = account.stack.request(method, f"{KEYS}/{kid}", headers=account.auth)
    assert_error(r, 404, "not_found")


def test_key_with_api_keys_read_can_list_keys(stack, account):
    k = create_key(account, ["api_keys:read"])
    r = as_key(stack, k["key"], "GET", KEYS)
    assert r.status == 200, r
    assert k["id"] in [item["id"] for item in r.json()["data"]]
    assert_status(as_key(stack, k["key"], "GET", f"{KEYS}/{k['id']}"), 200)


def test_key_with_api_keys_read_cannot_create_keys(stack, account):
    k = create_key(account, ["api_keys:read"])
    r = as_key(stack, k["key"], "POST", KEYS, {"name": "x", "scopes": ["api_keys:read"]})
    assert_error(r, 403, "forbidden")


def test_key_with_api_keys_read_cannot_revoke_keys(stack, account):
    k = create_key(account, ["api_keys:read"])
    assert_error(as_key(stack, k["key"], "DELETE", f"{KEYS}/{k['id']}"), 403, "forbidden")


def test_key_with_only_org_read_cannot_list_keys(stack, account):
    k = create_key(account, ["org:read"])
    assert_error(as_key(stack, k["key"], "GET", KEYS), 403, "forbidden")


def test_viewer_cannot_list_or_create_keys(stack, account):
    set_role(stack, account.org_id, account.user_id, "viewer")
    assert_error(account.get(KEYS), 403, "forbidden")
    assert_error(account.post(KEYS, {"name": "k", "scopes": ["org:read"]}), 403, "forbidden")


def test_creator_losing_a_permission_restricts_the_key_at_once(stack, account):
    k = create_key(account, ["api_keys:read", "org:read"])
    assert_status(as_key(stack, k["key"], "GET", KEYS), 200)
    set_role(stack, account.org_id, account.user_id, "viewer")
    assert_error(as_key(stack, k["key"], "GET", KEYS), 403, "forbidden")
    me = as_key(stack, k["key"], "GET", "/api/v1/auth/me").json()
    assert me["permissions"] == ["org:read"], me


def test_key_of_a_removed_creator_is_401(stack, account):
    k = create_key(account, ["org:read"])
    stack.psql("DELETE FROM homebot.memberships"
               " WHERE organization_id = :'org' AND user_id = :'user'",
               org=account.org_id, user=account.user_id)
    assert_unauthenticated(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), "invalid_api_key")


def test_last_used_at_is_set_after_use(stack, account):
    k = create_key(account, ["api_keys:read"])
    assert account.get(f"{KEYS}/{k['id']}").json()["last_used_at"] is None
    as_key(stack, k["key"], "GET", "/api/v1/auth/me")
    used = account.get(f"{KEYS}/{k['id']}").json()["last_used_at"]
    assert used is not None and RFC3339_RE.fullmatch(used), used
    assert parse_time(used) >= parse_time(k["created_at"])


def test_expired_key_is_401_invalid_api_key(stack, account):
    k = create_key(account, ["org:read"], expires_in_days=1)
    assert_status(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), 200)
    stack.psql("UPDATE homebot.api_keys SET expires_at = now() - interval '1 second'"
               " WHERE id = :'id'", id=k["id"])
    assert_unauthenticated(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), "invalid_api_key")


def test_key_of_a_suspended_organization_is_403(stack, account):
    k = create_key(account, ["org:read"])
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=account.org_id)
    assert_error(as_key(stack, k["key"], "GET", "/api/v1/auth/me"), 403, "organization_suspended")


def _wrong_secret(key):
    head, secret = key[:12], key_secret(key)
    return f"{head}{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"


@pytest.mark.parametrize("mangle", [
    lambda k: "hb_short",
    lambda k: "hb_" + secrets.token_hex(4) + "_" + secrets.token_urlsafe(32),
    _wrong_secret,
    lambda k: k[:-1],
    lambda k: k + "x",
    lambda k: "hb_" + k[3:11].upper() + k[11:],
    lambda k: k.replace("_", "-", 1),
], ids=["malformed", "unknown", "wrong_secret", "truncated", "extended", "upper_prefix",
        "bad_separator"])
def test_bad_api_key_is_401_invalid_api_key(stack, account, mangle):
    # A prefix is 8 random characters of [a-z0-9]: one key in about 28,000
    # ((10/36)^8) has digits alone there, which upper_prefix would leave
    # unchanged. Such a key is passed over for the next one.
    keys = (create_key(account, ["org:read"])["key"] for _ in range(5))
    key = next(k for k in keys if re.search("[a-z]", k[3:11]))
    bad = mangle(key)
    assert bad != key
    assert_unauthenticated(as_key(stack, bad, "GET", "/api/v1/auth/me"), "invalid_api_key")


@pytest.mark.parametrize("key", ["hb_short", "hb_" + "a" * 8 + "_" + "b" * 43])
def test_bad_api_key_as_bearer_is_401_invalid_api_key(stack, key):
    r = stack.get("/api/v1/auth/me", headers=bearer(key))
    assert_unauthenticated(r, "invalid_api_key")


def test_access_token_is_not_an_api_key(stack, account):
    # X-API-Key carries API keys only; access tokens go in Authorization.
    r = as_key(stack, account.access, "GET", "/api/v1/auth/me")
    assert_unauthenticated(r, "invalid_api_key")
