"""Connections (api.md §11): typed integration settings whose secret fields
are encrypted by the programs as secret values are and masked in every
answer but reveal's (which needs secrets:reveal and is audited), one
default per type in the organization and in each team, team scope (§9),
row metadata and ETag/If-Match (§1), connection.* in the audit log (§4)."""
import uuid

from conftest import (RFC3339_RE, add_member, assert_error, assert_invalid, create_key, register)

CONNECTIONS = "/api/v1/connections"
FIELDS = {"id", "name", "type", "team_id", "config", "is_active", "is_default", "secret_fields",
          "created_at", "updated_at", "created_by", "updated_by", "version"}


def value_of(tag=""):
    return f"pw-{tag}-{uuid.uuid4().hex}"


def kind():
    """A type of its own, so that defaults of other tests do not collide."""
    return "t" + uuid.uuid4().hex[:12]


def new_connection(account, **extra):
    body = {"name": f"conn-{uuid.uuid4().hex[:8]}", "type": kind(), **extra}
    r = account.post(CONNECTIONS, body)
    assert r.status == 201, r
    return r.json()


def path(conn, *rest):
    return "/".join([CONNECTIONS, conn["id"], *rest])


def no_value_in(obj, *values):
    for v in values:
        assert v not in repr(obj), obj


def test_create_masks_the_secret_fields_in_every_answer(account):
    password, token = value_of("password"), value_of("token")
    t = kind()
    r = account.post(CONNECTIONS, {"name": "Mail relay", "type": t,
                                   "config": {"host": "smtp.example.com", "port": 587},
                                   "secret_fields": {"password": password, "token": "short"},
                                   "version": 9, "created_by": str(uuid.uuid4())})
    assert r.status == 201, r
    c = r.json()
    assert set(c) == FIELDS, c
    assert c["name"] == "Mail relay" and c["type"] == t and c["team_id"] is None, c
    assert c["config"] == {"host": "smtp.example.com", "port": 587}, c
    assert c["is_active"] is True and c["is_default"] is False, c
    # Names and hints (a value of at least 16 characters), never a value.
    assert c["secret_fields"] == {"password": {"hint": password[-4:]}, "token": {"hint": None}}, c
    assert c["version"] == 1 and c["created_by"] == account.user_id, c
    assert RFC3339_RE.fullmatch(c["created_at"]), c
    assert r.header("ETag") == '"1"', r
    no_value_in(r.body, password, "short")
    r = account.get(path(c))
    assert r.status == 200 and r.json() == c and r.header("ETag") == '"1"', r
    listed = account.get(CONNECTIONS).json()["data"]
    assert c in listed, listed
    no_value_in(listed, password)
    r = account.patch(path(c), {"secret_fields": {"token": token}})
    assert r.status == 200, r
    no_value_in(r.body, password, token)
    assert r.json()["secret_fields"]["token"] == {"hint": token[-4:]}, r
    no_value_in(account.get(CONNECTIONS + "?type=" + t).json(), password, token)
    no_value_in(account.get("/api/v1/audit-log?limit=200").json(), password, token)


def test_reveal_answers_the_values_and_is_audited_without_them(account):
    password = value_of("reveal")
    c = new_connection(account, secret_fields={"password": password, "api_key": "k-1"})
    r = account.post(path(c, "reveal"))
    assert r.status == 200, r
    assert r.json() == {"secret_fields": {"password": password, "api_key": "k-1"}}, r
    assert r.header("Cache-Control") == "no-store", r
    events = account.get("/api/v1/audit-log?action=connection.revealed").json()["data"]
    ev = [e for e in events if e["target_id"] == c["id"]]
    assert len(ev) == 1 and ev[0]["actor"]["id"] == account.user_id, events
    assert sorted(ev[0]["changes"]["secret_fields"]) == ["api_key", "password"], ev
    no_value_in(account.get("/api/v1/audit-log?limit=200").json(), password)
    # A connection without secret fields reveals an empty object.
    bare = new_connection(account)
    assert account.post(path(bare, "reveal")).json() == {"secret_fields": {}}


def test_reveal_needs_secrets_reveal(account):
    c = new_connection(account, secret_fields={"password": "p-admin"})
    admin = add_member(account, "admin")
    viewer = add_member(account, "viewer")
    assert admin.get(path(c)).status == 200
    assert_error(admin.post(path(c, "reveal")), 403, "forbidden")
    assert_error(viewer.post(path(c, "reveal")), 403, "forbidden")
    key = create_key(account, ["connections:read", "connections:write"])["key"]
    auth = {"Authorization": "Bearer " + key}
    assert account.stack.get(path(c), headers=auth).status == 200
    assert_error(account.stack.post(path(c, "reveal"), headers=auth), 403, "forbidden")
    key = create_key(account, ["secrets:reveal"])["key"]
    r = account.stack.post(path(c, "reveal"), headers={"Authorization": "Bearer " + key})
    assert r.status == 200 and r.json() == {"secret_fields": {"password": "p-admin"}}, r


def test_viewer_reads_but_does_not_write(account):
    c = new_connection(account, secret_fields={"password": "p-viewer"})
    viewer = add_member(account, "viewer")
    member = add_member(account, "member")
    for who in (viewer, member):
        r = who.get(path(c))
        assert r.status == 200 and r.json()["secret_fields"] == {"password": {"hint": None}}, r
        assert c["id"] in [x["id"] for x in who.get(CONNECTIONS).json()["data"]]
        assert_error(who.post(CONNECTIONS, {"name": "n", "type": "smtp"}), 403, "forbidden")
        assert_error(who.patch(path(c), {"name": "x"}), 403, "forbidden")
        assert_error(who.delete(path(c)), 403, "forbidden")
    admin = add_member(account, "admin")
    assert admin.patch(path(c), {"name": "by the admin"}).status == 200


def test_validation(account):
    t = kind()
    assert_invalid(account.post(CONNECTIONS, {"type": t}), "name")
    assert_invalid(account.post(CONNECTIONS, {"name": "n"}), "type")
    for bad in ("SMTP", "1smtp", "", "a" * 33, "sm tp", "smtp/x"):
        assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": bad}), "type")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "config": [1]}), "config")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "config": "x"}), "config")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t,
                                              "config": {"k": "x" * 16400}}), "config")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "config": {"k": "\u0000"}}),
                   "config")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "is_default": "yes"}),
                   "is_default")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "is_active": 1}), "is_active")
    for fields in ({"password": ""}, {"password": 5}, {"password": None}, {"bad name": "v"},
                   {"": "v"}, {"p": "x" * 16385}, {"p": "a\u0000b"},
                   {f"f{i}": "v" for i in range(33)}, ["password"]):
        assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "secret_fields": fields}),
                       "secret_fields")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "team_id": "nope"}), "team_id")
    assert_invalid(account.post(CONNECTIONS, {"name": "n", "type": t, "team_id": str(uuid.uuid4())}),
                   "team_id")
    # The largest value and the most fields are taken.
    c = new_connection(account, secret_fields={"p": "y" * 16384})
    assert c["secret_fields"] == {"p": {"hint": "yyyy"}}, c
    c = new_connection(account, secret_fields={f"f{i}": "v" for i in range(32)})
    assert len(c["secret_fields"]) == 32
    # A PATCH may not take a connection past 32 fields.
    assert_invalid(account.patch(path(c), {"secret_fields": {"one_more": "v"}}), "secret_fields")
    assert_error(account.get(CONNECTIONS + "?type=BAD"), 422, "validation_failed")
    assert_error(account.get(CONNECTIONS + "?team_id=bad"), 422, "validation_failed")


def test_patch_changes_what_it_carries_and_merges_secret_fields(account):
    c = new_connection(account, config={"a": 1, "b": 2},
                       secret_fields={"password": "p-one", "token": "t-one"})
    r = account.patch(path(c), {"config": {"c": 3}, "is_active": False,
                                "secret_fields": {"password": "p-two", "token": None, "extra": "e"}})
    assert r.status == 200, r
    c2 = r.json()
    assert c2["config"] == {"c": 3} and c2["is_active"] is False and c2["name"] == c["name"], c2
    assert sorted(c2["secret_fields"]) == ["extra", "password"], c2
    assert c2["version"] == 2 and r.header("ETag") == '"2"', c2
    assert account.post(path(c, "reveal")).json() == {
        "secret_fields": {"extra": "e", "password": "p-two"}}
    # A change of a secret field alone raises the version too.
    r = account.patch(path(c), {"secret_fields": {"password": "p-three"}})
    assert r.status == 200 and r.json()["version"] == 3 and r.header("ETag") == '"3"', r
    assert r.json()["config"] == {"c": 3}, r
    assert account.post(path(c, "reveal")).json()["secret_fields"]["password"] == "p-three"
    events = account.get("/api/v1/audit-log?action=connection.updated").json()["data"]
    ev = [e for e in events if e["target_id"] == c["id"]]
    assert len(ev) == 2, events
    assert ev[-1]["changes"]["old"]["config"] == {"a": 1, "b": 2}, ev
    assert ev[-1]["changes"]["new"]["config"] == {"c": 3}, ev
    assert ev[-1]["changes"]["new"]["secret_fields"] == ["extra", "password"], ev


def test_if_match_guards_patch_and_delete(account):
    c = new_connection(account)
    assert_error(account.patch(path(c), {"name": "stale"}, headers={"If-Match": '"7"'}),
                 412, "precondition_failed")
    assert_error(account.patch(path(c), {"name": "weak"}, headers={"If-Match": 'W/"1"'}),
                 412, "precondition_failed")
    r = account.patch(path(c), {"name": "fresh"}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.header("ETag") == '"2"', r
    assert account.patch(path(c), {"name": "any"}, headers={"If-Match": "*"}).status == 200
    assert_error(account.delete(path(c), headers={"If-Match": '"2"'}), 412, "precondition_failed")
    assert account.get(path(c)).json()["name"] == "any"
    assert account.delete(path(c), headers={"If-Match": '"3"'}).status == 204


def test_one_default_per_type_in_the_organization_and_in_each_team(account):
    t = kind()
    first = new_connection(account, type=t, is_default=True)
    assert first["is_default"] is True
    assert_error(account.post(CONNECTIONS, {"name": "second", "type": t, "is_default": True}),
                 409, "default_taken")
    # Not a default, or another type: fine.
    other = new_connection(account, type=t)
    assert new_connection(account, is_default=True)["is_default"] is True
    assert_error(account.patch(path(other), {"is_default": True}), 409, "default_taken")
    # Moving another type's default to this type collides too.
    moved = new_connection(account, is_default=True)
    assert_error(account.patch(path(moved), {"type": t}), 409, "default_taken")
    # A team has a default of its own.
    team = account.post("/api/v1/teams", {"name": "Ops " + t}).json()
    in_team = new_connection(account, type=t, is_default=True, team_id=team["id"])
    assert in_team["team_id"] == team["id"] and in_team["is_default"] is True
    assert_error(account.post(CONNECTIONS, {"name": "x", "type": t, "is_default": True,
                                            "team_id": team["id"]}), 409, "default_taken")
    # Handing the default over: the old one first, then the new one.
    assert account.patch(path(first), {"is_default": False}).status == 200
    r = account.patch(path(other), {"is_default": True})
    assert r.status == 200 and r.json()["is_default"] is True, r
    # A deleted default frees its place.
    assert account.delete(path(other)).status == 204
    assert new_connection(account, type=t, is_default=True)["is_default"] is True


def test_delete_is_soft_and_removes_the_secret_fields(stack, account):
    c = new_connection(account, secret_fields={"password": "p-gone"})
    assert account.delete(path(c)).status == 204
    for resp in (account.get(path(c)), account.post(path(c, "reveal")),
                 account.patch(path(c), {"name": "x"}), account.delete(path(c))):
        assert_error(resp, 404, "not_found")
    assert c["id"] not in [x["id"] for x in account.get(CONNECTIONS).json()["data"]]
    assert stack.psql("SELECT deleted_at IS NOT NULL FROM homebot.connections WHERE id = :'id'",
                      id=c["id"]) == [("t",)]
    assert stack.psql("SELECT count(*) FROM homebot.connection_secrets WHERE connection_id = :'id'",
                      id=c["id"]) == [("0",)]
    actions = [e["action"] for e in account.get("/api/v1/audit-log?limit=200").json()["data"]
               if e["target_id"] == c["id"] and e["action"].startswith("connection.")]
    assert sorted(actions) == ["connection.created", "connection.deleted"], actions


def test_another_organization_sees_nothing(stack, account):
    c = new_connection(account, secret_fields={"password": "p-mine"})
    other = register(stack)
    for resp in (other.get(path(c)), other.post(path(c, "reveal")), other.delete(path(c)),
                 other.patch(path(c), {"name": "x"})):
        assert_error(resp, 404, "not_found")
    assert c["id"] not in [x["id"] for x in other.get(CONNECTIONS).json()["data"]]
    assert account.get(path(c)).json()["name"] == c["name"]
    assert_error(account.get(CONNECTIONS + "/not-a-uuid"), 404, "not_found")
    assert_error(account.get(CONNECTIONS + "/" + str(uuid.uuid4())), 404, "not_found")


def test_a_team_connection_is_its_members_alone(stack, account):
    red = account.post("/api/v1/teams", {"name": "Red"}).json()
    blue = account.post("/api/v1/teams", {"name": "Blue"}).json()
    admin = add_member(account, "admin")
    stack.psql("DELETE FROM homebot.role_permissions WHERE role = 'admin' AND permission = 'teams:write'")
    try:
        r = account.put(f"/api/v1/teams/{red['id']}/members/{admin.user_id}", {"team_role": "member"})
        assert r.status == 200, r
        admin.login()
        mine = new_connection(account, team_id=red["id"])
        theirs = new_connection(account, team_id=blue["id"])
        assert admin.get(path(mine)).status == 200
        assert admin.patch(path(mine), {"name": "ours"}).status == 200
        for resp in (admin.get(path(theirs)), admin.patch(path(theirs), {"name": "x"}),
                     admin.delete(path(theirs))):
            assert_error(resp, 404, "not_found")
        ids = [x["id"] for x in admin.get(CONNECTIONS).json()["data"]]
        assert mine["id"] in ids and theirs["id"] not in ids, ids
        assert_invalid(admin.post(CONNECTIONS, {"name": "n", "type": "smtp", "team_id": blue["id"]}),
                       "team_id")
        only = account.get(CONNECTIONS + "?team_id=" + red["id"]).json()["data"]
        assert [x["id"] for x in only] == [mine["id"]], only
    finally:
        stack.psql("INSERT INTO homebot.role_permissions VALUES ('admin', 'teams:write') ON CONFLICT DO NOTHING")


def test_list_pages_and_filters_by_type(account):
    t = kind()
    made = [new_connection(account, type=t) for _ in range(3)]
    new_connection(account)
    r = account.get(CONNECTIONS + f"?type={t}&limit=2")
    page = r.json()
    assert [x["id"] for x in page["data"]] == [made[2]["id"], made[1]["id"]], page
    assert page["next_cursor"], page
    rest = account.get(CONNECTIONS + f"?type={t}&limit=2&cursor={page['next_cursor']}").json()
    assert [x["id"] for x in rest["data"]] == [made[0]["id"]] and rest["next_cursor"] is None, rest
    # A cursor holds for the filter it was made with.
    assert_error(account.get(CONNECTIONS + f"?limit=2&cursor={page['next_cursor']}"),
                 400, "invalid_cursor")


def test_the_database_holds_no_value_and_a_moved_blob_does_not_decrypt(stack, account):
    a_value, b_value = value_of("a"), value_of("b")
    c = new_connection(account, secret_fields={"a": a_value, "b": b_value})
    dump = stack.psql("SELECT c::text FROM homebot.connections c WHERE id = :'id'"
                      " UNION ALL SELECT s::text FROM homebot.connection_secrets s"
                      "  WHERE connection_id = :'id'"
                      " UNION ALL SELECT encode(ciphertext, 'escape') FROM homebot.connection_secrets"
                      "  WHERE connection_id = :'id'",
                      id=c["id"])
    text = repr(dump)
    assert a_value not in text and b_value not in text and a_value[-4:] in text, text
    assert a_value not in stack.web_log()
    # b's blob in a's row: bound to another field id, it does not decrypt.
    stack.psql("UPDATE homebot.connection_secrets SET ciphertext = (SELECT ciphertext"
               " FROM homebot.connection_secrets WHERE connection_id = :'id' AND name = 'b')"
               " WHERE connection_id = :'id' AND name = 'a'", id=c["id"])
    r = account.post(path(c, "reveal"))
    assert_error(r, 409, "secret_unreadable")
    assert "secret field a " in r.json()["error"]["message"], r
    no_value_in(r.body, a_value, b_value)
    # Writing it again mends it.
    assert account.patch(path(c), {"secret_fields": {"a": "mended"}}).status == 200
    assert account.post(path(c, "reveal")).json() == {"secret_fields": {"a": "mended", "b": b_value}}


def test_a_malformed_master_key_stops_the_connections_program_alone():
    import time
    from conftest import TEST_SETTINGS, assert_server_error, start_stack
    s, stop = start_stack(dict(TEST_SETTINGS, VAULT_MASTER_KEY="not-a-key"))
    try:
        owner = register(s)
        r = owner.get(CONNECTIONS)
        # The web server's envelope for a program it cannot start (see
        # test_secrets.py for why lighttpd answers 503 or 500).
        lighttpd = s.env.get("HOMEBOT_WEB", "lighttpd") == "lighttpd"
        if lighttpd and r.status == 503:
            assert_server_error(s, r, 503, "service_unavailable")
        else:
            assert_server_error(s, r, 500, "internal_error")
        assert owner.get("/api/v1/teams").status == 200
        for _ in range(50):
            log = s.web_log()
            if "homebot-connections: VAULT_MASTER_KEY" in log:
                break
            time.sleep(0.1)
        assert "homebot-connections: VAULT_MASTER_KEY" in log, log[-2000:]
        assert "not-a-key" not in log
    finally:
        stop()
