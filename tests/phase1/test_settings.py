"""Settings (api.md §10): platform settings, the public ones readable by
anyone and cacheable, the rest only through the admin endpoints; one key
of the credential's organization's settings at a time, with ETag and
If-Match (api.md §1 "Row metadata"). Every change is audited with its old
and new value."""
import json
import uuid

import pytest

from conftest import (RFC3339_RE, add_member, assert_error, assert_invalid, assert_status,
                      assert_unauthenticated, create_key, hold_workers, race, register, report)

ADMIN = "/api/v1/admin/settings"
PUBLIC = "/api/v1/settings"
ORG = "/api/v1/organizations/current/settings"
PLATFORM_FIELDS = {"key", "value", "description", "is_public", "created_at", "updated_at",
                   "created_by", "updated_by", "version"}
ORG_FIELDS = {"key", "value", "version", "updated_at", "updated_by"}


def put(who, path, body, **headers):
    return who.stack.request("PUT", path, body=body, headers={**who.auth, **headers})


def new_key(prefix="test"):
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def events(stack, action, target):
    return [json.loads(c) for (c,) in stack.psql(
        "SELECT changes FROM homebot.audit_log WHERE action = :'a' AND target_id = :'t'"
        " ORDER BY occurred_at, id", a=action, t=target)]


# ---- platform settings: the admin endpoints ---------------------------------------

def test_put_creates_then_replaces_a_platform_setting_with_row_metadata(stack, superadmin):
    key = new_key()
    r = assert_status(put(superadmin, f"{ADMIN}/{key}",
                          {"value": {"a": 1}, "description": "first", "is_public": True}), 201)
    s = r.json()
    assert set(s) == PLATFORM_FIELDS
    assert (s["key"], s["value"], s["description"], s["is_public"], s["version"]) == \
        (key, {"a": 1}, "first", True, 1)
    assert s["created_by"] == s["updated_by"] == superadmin.user_id
    assert RFC3339_RE.match(s["created_at"]) and RFC3339_RE.match(s["updated_at"])
    assert r.header("ETag") == '"1"'
    # Absent description and is_public stay as they were.
    r = assert_status(put(superadmin, f"{ADMIN}/{key}", {"value": [1, 2]}), 200)
    s2 = r.json()
    assert (s2["value"], s2["description"], s2["is_public"], s2["version"]) == \
        ([1, 2], "first", True, 2)
    assert s2["created_at"] == s["created_at"] and r.header("ETag") == '"2"'
    listed = [x for x in all_settings(superadmin) if x["key"] == key]
    assert listed == [s2]


def all_settings(sa):
    out, cursor = [], None
    for _ in range(100):
        r = assert_status(sa.get(f"{ADMIN}?limit=2" + (f"&cursor={cursor}" if cursor else "")),
                          200)
        out += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("next_cursor never ends")


def test_the_body_cannot_set_the_row_metadata(stack, superadmin):
    key = new_key()
    s = assert_status(put(superadmin, f"{ADMIN}/{key}",
                          {"value": 1, "version": 99, "created_by": str(uuid.uuid4()),
                           "updated_by": str(uuid.uuid4())}), 201).json()
    assert (s["version"], s["created_by"], s["updated_by"]) == \
        (1, superadmin.user_id, superadmin.user_id)


def test_platform_changes_are_audited_with_old_and_new_value(stack, superadmin):
    key = new_key()
    put(superadmin, f"{ADMIN}/{key}", {"value": "one"})
    put(superadmin, f"{ADMIN}/{key}", {"value": "two", "is_public": True})
    assert_status(superadmin.delete(f"{ADMIN}/{key}"), 204)
    changed = events(stack, "admin.setting.changed", key)
    assert [(c["old"], c["new"]) for c in changed] == [
        (None, {"value": "one", "description": "", "is_public": False}),
        ({"value": "one", "description": "", "is_public": False},
         {"value": "two", "description": "", "is_public": True})]
    [deleted] = events(stack, "admin.setting.deleted", key)
    assert deleted == {"key": key, "old": {"value": "two", "description": "", "is_public": True},
                       "new": None}
    [(org,)] = stack.psql("SELECT DISTINCT coalesce(organization_id::text, 'platform')"
                          " FROM homebot.audit_log WHERE target_id = :'k'", k=key)
    assert org == "platform"


def test_delete_removes_and_a_second_delete_is_404(stack, superadmin):
    key = new_key()
    put(superadmin, f"{ADMIN}/{key}", {"value": True, "is_public": True})
    assert_status(superadmin.delete(f"{ADMIN}/{key}"), 204)
    assert key not in stack.get(PUBLIC).json()
    assert_error(superadmin.delete(f"{ADMIN}/{key}"), 404, "not_found")
    assert_error(superadmin.delete(f"{ADMIN}/Not-A-Key"), 404, "not_found")


def test_platform_if_match(stack, superadmin):
    key = new_key()
    assert_error(put(superadmin, f"{ADMIN}/{key}", {"value": 1}, **{"If-Match": '"1"'}),
                 412, "precondition_failed")
    assert_error(put(superadmin, f"{ADMIN}/{key}", {"value": 1}, **{"If-Match": "*"}),
                 412, "precondition_failed")
    put(superadmin, f"{ADMIN}/{key}", {"value": 1})
    assert_status(put(superadmin, f"{ADMIN}/{key}", {"value": 2}, **{"If-Match": '"1"'}), 200)
    assert_error(put(superadmin, f"{ADMIN}/{key}", {"value": 3}, **{"If-Match": '"1"'}),
                 412, "precondition_failed")
    assert_error(superadmin.delete(f"{ADMIN}/{key}", headers={"If-Match": '"1"'}),
                 412, "precondition_failed")
    assert_status(superadmin.delete(f"{ADMIN}/{key}", headers={"If-Match": '"2"'}), 204)


@pytest.mark.parametrize("key,body,field", [
    ("Upper", {"value": 1}, "key"),
    ("9starts-with-digit", {"value": 1}, "key"),
    ("a" * 65, {"value": 1}, "key"),
    ("ok.key", {}, "value"),
    ("ok.key", {"value": "x" * 33000}, "value"),
    ("ok.key", {"value": "a\u0000b"}, "value"),
    ("ok.key", {"value": 1, "description": "d" * 1001}, "description"),
    ("ok.key", {"value": 1, "is_public": "yes"}, "is_public"),
])
def test_invalid_platform_setting_is_422(superadmin, key, body, field):
    assert_invalid(put(superadmin, f"{ADMIN}/{key}", body), field)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1e-400", "123456789012345678901234567890",
                                    "0.1", "-0"])
def test_a_number_is_refused_or_kept_as_written(stack, superadmin, account, number):
    # Numbers JSON text can write but a double cannot hold: never a 5xx,
    # and what is stored reads back as the same number.
    for who, path in ((superadmin, f"{ADMIN}/{new_key()}"), (account, f"{ORG}/{new_key()}")):
        r = who.stack.request("PUT", path, body=f'{{"value": {number}}}',
                              headers={**who.auth, "Content-Type": "application/json"})
        assert r.status in (200, 201, 400, 422), r
        if r.status < 300:
            assert float(r.json()["value"]) == float(number), (number, r)
        else:
            assert_invalid(r, "value")
    assert float(account.get(path).json()["value"]) == float(number) if r.status < 300 else \
        account.get(path).status == 404


def test_a_value_of_null_is_a_value(superadmin):
    key = new_key()
    s = assert_status(put(superadmin, f"{ADMIN}/{key}", {"value": None}), 201).json()
    assert s["value"] is None


@pytest.mark.parametrize("method,path", [("GET", ADMIN), ("PUT", ADMIN + "/some.key"),
                                         ("DELETE", ADMIN + "/some.key")])
def test_admin_settings_need_a_superadmin(stack, account, superadmin, method, path):
    body = {"value": 1} if method == "PUT" else None
    assert_error(stack.request(method, path, body=body, headers=account.auth), 403, "forbidden")
    assert_unauthenticated(stack.request(method, path, body=body), "not_authenticated")
    key = create_key(account, ["org:read"])["key"]
    assert_error(stack.request(method, path, body=body, headers={"X-API-Key": key}),
                 403, "forbidden")


def test_homebot_app_cannot_read_the_table(stack):
    err = stack.psql_error("SET ROLE homebot_app; SELECT * FROM homebot.platform_settings")
    assert "permission denied" in err


# ---- the public settings ------------------------------------------------------------

def test_public_settings_need_no_token_and_leak_no_private_key(stack, superadmin):
    pub, priv = new_key("pub"), new_key("priv")
    put(superadmin, f"{ADMIN}/{pub}", {"value": {"shown": True}, "is_public": True})
    put(superadmin, f"{ADMIN}/{priv}", {"value": "hidden-value-7f3a", "is_public": False})
    r = assert_status(stack.get(PUBLIC), 200)
    body = r.json()
    assert body[pub] == {"shown": True}
    assert priv not in body and "hidden-value-7f3a" not in r.body.decode()
    assert r.header("Cache-Control") == "public, max-age=60"
    assert r.header("ETag", ) and r.header("ETag").startswith('"')
    # A private setting made public shows; a public one made private goes.
    put(superadmin, f"{ADMIN}/{priv}", {"value": "now-public", "is_public": True})
    put(superadmin, f"{ADMIN}/{pub}", {"value": {"shown": True}, "is_public": False})
    body = stack.get(PUBLIC).json()
    assert body[priv] == "now-public" and pub not in body
    # A token changes nothing.
    assert stack.get(PUBLIC, headers=superadmin.auth).json() == body


def test_public_settings_answer_304_for_the_current_etag(stack, superadmin):
    r = stack.get(PUBLIC)
    etag = r.header("ETag")
    r2 = stack.get(PUBLIC, headers={"If-None-Match": etag})
    assert r2.status == 304 and r2.body == b"", r2
    assert r2.header("ETag") == etag and r2.header("Cache-Control") == "public, max-age=60"
    assert stack.get(PUBLIC, headers={"If-None-Match": '"other"'}).status == 200
    # Any change of a public setting gives a new ETag, and the old one a 200.
    put(superadmin, f"{ADMIN}/{new_key()}", {"value": 1, "is_public": True})
    r3 = assert_status(stack.get(PUBLIC, headers={"If-None-Match": etag}), 200)
    assert r3.header("ETag") != etag
    # A private change does not.
    etag = r3.header("ETag")
    put(superadmin, f"{ADMIN}/{new_key()}", {"value": 1})
    assert stack.get(PUBLIC, headers={"If-None-Match": etag}).status == 304


def test_public_settings_304_also_for_the_etag_of_a_compressed_answer(stack, superadmin):
    # Over 1 KiB the web server gzips the answer and names its ETag
    # "<hash>-gzip"; a client that sends that one back is current too.
    key = new_key("big")
    put(superadmin, f"{ADMIN}/{key}", {"value": "z" * 3000, "is_public": True})
    gz = {"Accept-Encoding": "gzip"}
    r = assert_status(stack.get(PUBLIC, headers=gz), 200)
    assert r.header("Content-Encoding") == "gzip", r.headers
    r2 = stack.get(PUBLIC, headers={**gz, "If-None-Match": r.header("ETag")})
    assert r2.status == 304 and r2.body == b"", (r.headers, r2)
    plain = stack.get(PUBLIC).header("ETag")
    assert stack.get(PUBLIC, headers={"If-None-Match": plain[:-1] + '-gzip"'}).status == 304
    assert stack.get(PUBLIC, headers={"If-None-Match": plain[:-1] + '-other"'}).status == 200
    assert_status(superadmin.delete(f"{ADMIN}/{key}"), 204)


def test_public_settings_take_only_get(stack):
    r = stack.post(PUBLIC, {})
    assert_error(r, 405, "method_not_allowed")


# ---- organization settings ---------------------------------------------------------

def test_org_setting_put_and_get_with_etag(stack, account):
    key = new_key()
    assert_error(account.get(f"{ORG}/{key}"), 404, "not_found")
    r = assert_status(put(account, f"{ORG}/{key}", {"value": {"tz": "UTC"}}), 200)
    s = r.json()
    assert set(s) == ORG_FIELDS
    assert (s["key"], s["value"], s["updated_by"]) == (key, {"tz": "UTC"}, account.user_id)
    assert r.header("ETag") == f'"{s["version"]}"'
    g = assert_status(account.get(f"{ORG}/{key}"), 200)
    assert g.json() == s and g.header("ETag") == r.header("ETag")
    assert account.get("/api/v1/organizations/current").json()["settings"][key] == {"tz": "UTC"}


def test_org_settings_version_is_raised_by_every_change(stack, account):
    key = new_key()
    v1 = put(account, f"{ORG}/{key}", {"value": 1}).json()["version"]
    v2 = put(account, f"{ORG}/{key}", {"value": 2}).json()["version"]
    assert v2 == v1 + 1
    # A PATCH of the whole document is a change too.
    settings = account.get("/api/v1/organizations/current").json()["settings"]
    account.patch("/api/v1/organizations/current", {"settings": {**settings, "x": 1}})
    assert account.get(f"{ORG}/{key}").json()["version"] == v2 + 1
    # A rename is not.
    account.patch("/api/v1/organizations/current", {"name": "Renamed"})
    assert account.get(f"{ORG}/{key}").json()["version"] == v2 + 1


def test_org_setting_stale_if_match_is_412(stack, account):
    key = new_key()
    etag = put(account, f"{ORG}/{key}", {"value": 1}).header("ETag")
    assert_status(put(account, f"{ORG}/{key}", {"value": 2}, **{"If-Match": etag}), 200)
    assert_error(put(account, f"{ORG}/{key}", {"value": 3}, **{"If-Match": etag}),
                 412, "precondition_failed")
    assert_error(put(account, f"{ORG}/{key}", {"value": 3}, **{"If-Match": "garbage"}),
                 412, "precondition_failed")
    assert account.get(f"{ORG}/{key}").json()["value"] == 2


def test_org_setting_changes_are_audited_with_old_and_new_value(stack, account):
    key = new_key()
    put(account, f"{ORG}/{key}", {"value": "a"})
    put(account, f"{ORG}/{key}", {"value": "b"})
    assert [(c["old"], c["new"]) for c in events(stack, "setting.changed", key)] == [
        (None, {"value": "a"}), ({"value": "a"}, {"value": "b"})]
    r = account.get(f"/api/v1/audit-log?action=setting.changed")
    assert any(e["target_id"] == key for e in r.json()["data"])


def test_org_settings_permissions(stack, account):
    viewer = add_member(account, "viewer")
    key = new_key()
    put(account, f"{ORG}/{key}", {"value": 1})
    assert_status(viewer.get(f"{ORG}/{key}"), 200)
    assert_error(put(viewer, f"{ORG}/{key}", {"value": 2}), 403, "forbidden")
    assert_unauthenticated(stack.get(f"{ORG}/{key}"), "not_authenticated")
    api_key = create_key(account, ["org:read"])["key"]
    assert_status(stack.get(f"{ORG}/{key}", headers={"X-API-Key": api_key}), 200)
    assert_error(stack.request("PUT", f"{ORG}/{key}", body={"value": 2},
                               headers={"X-API-Key": api_key}), 403, "forbidden")


def test_org_settings_are_isolated_between_organizations(stack, account):
    other = register(stack)
    key = new_key()
    put(account, f"{ORG}/{key}", {"value": "mine"})
    assert_error(other.get(f"{ORG}/{key}"), 404, "not_found")
    put(other, f"{ORG}/{key}", {"value": "theirs"})
    assert account.get(f"{ORG}/{key}").json()["value"] == "mine"
    assert other.get(f"{ORG}/{key}").json()["value"] == "theirs"


@pytest.mark.parametrize("key,body,field", [
    ("Bad%20Key", {"value": 1}, "key"),
    ("ok.key", {}, "value"),
    ("ok.key", {"value": "x" * 17000}, "value"),
])
def test_invalid_org_setting_is_422(account, key, body, field):
    assert_invalid(put(account, f"{ORG}/{key}", body), field)


def test_org_settings_cannot_grow_past_16_kib(stack):
    a = register(stack)
    assert_status(put(a, f"{ORG}/{new_key()}", {"value": "x" * 9000}), 200)
    assert_invalid(put(a, f"{ORG}/{new_key()}", {"value": "y" * 9000}), "value")


def test_org_setting_race_same_if_match_one_wins(stack, account):
    # Two PUTs with the same If-Match released at once, until the workers'
    # log shows them overlapping on different processes: the row lock
    # orders them, and the second sees the first's version.
    def setup():
        key = new_key("race")
        etag = put(account, f"{ORG}/{key}", {"value": 0}).header("ETag")
        calls = [lambda i=i: put(account, f"{ORG}/{key}", {"value": i}, **{"If-Match": etag})
                 for i in (1, 2)]
        return calls, key

    def check(answers, key):
        assert sorted(r.status for r in answers) == [200, 412], answers
        [won] = [r for r in answers if r.status == 200]
        assert account.get(f"{ORG}/{key}").json()["value"] == won.json()["value"]

    # Two workers of the orgs program kept warm (mod_fcgid starts a second
    # one only for a request that waited), so that the PUTs can overlap.
    warm = register(stack)
    hold_workers(stack, [lambda: warm.get("/api/v1/organizations/current")] * 2)
    pairs = race(stack, setup, check)
    report(f"settings If-Match race: {pairs} pairs overlapped on different workers")
