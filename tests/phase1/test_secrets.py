"""Secrets (api.md §11): values encrypted by the programs (per-organization
data key wrapped by VAULT_MASTER_KEY, organization, secret and version
bound in), metadata-only answers but reveal's, team scope (§9), row
metadata and ETag/If-Match (§1), secret.revealed in the audit log (§4)."""
import time
import uuid

from conftest import (RFC3339_RE, add_member, assert_error, assert_invalid, create_key, register)

SECRETS = "/api/v1/secrets"
FIELDS = {"id", "name", "description", "team_id", "hint", "value_version", "created_at",
          "updated_at", "created_by", "updated_by", "version"}


def value_of(tag=""):
    return f"sk-{tag}-{uuid.uuid4().hex}{uuid.uuid4().hex[:7]}"


def new_secret(account, value=None, **extra):
    body = {"name": f"token-{uuid.uuid4().hex[:8]}", "value": value or value_of(), **extra}
    r = account.post(SECRETS, body)
    assert r.status == 201, r
    return r.json()


def path(secret, *rest):
    return "/".join([SECRETS, secret["id"], *rest])


def no_value_in(obj, value):
    assert value not in repr(obj), obj


def test_create_answers_metadata_with_a_hint_and_never_the_value(account):
    value = value_of("create")
    r = account.post(SECRETS, {"name": "stripe", "value": value, "description": "payments",
                               "version": 9, "created_by": str(uuid.uuid4())})
    assert r.status == 201, r
    s = r.json()
    assert set(s) == FIELDS, s
    assert s["name"] == "stripe" and s["description"] == "payments" and s["team_id"] is None, s
    assert s["hint"] == value[-4:] and s["value_version"] == 1 and s["version"] == 1, s
    assert s["created_by"] == account.user_id and RFC3339_RE.fullmatch(s["created_at"]), s
    assert r.header("ETag") == '"1"', r
    no_value_in(r.body, value)
    r = account.get(path(s))
    assert r.status == 200 and r.json() == s and r.header("ETag") == '"1"', r
    listed = account.get(SECRETS).json()["data"]
    assert s in listed, listed
    no_value_in(listed, value)


def test_a_short_value_has_no_hint_and_the_hint_counts_characters(account):
    assert new_secret(account, value="fifteen-chars!!")["hint"] is None
    assert new_secret(account, value="x" * 12 + "äöü€")["hint"] == "äöü€"


def test_validation_and_a_taken_name(account):
    assert_invalid(account.post(SECRETS, {"name": "n"}), "value")
    assert_invalid(account.post(SECRETS, {"name": "n", "value": ""}), "value")
    assert_invalid(account.post(SECRETS, {"name": "n", "value": "x" * 65537}), "value")
    assert_invalid(account.post(SECRETS, {"value": "v"}), "name")
    assert_invalid(account.post(SECRETS, {"name": "n", "value": "v", "team_id": "nope"}), "team_id")
    assert_invalid(account.post(SECRETS, {"name": "n", "value": "v", "team_id": str(uuid.uuid4())}),
                   "team_id")
    big = new_secret(account, value="y" * 65536)
    assert big["hint"] == "yyyy"
    # Beyond HOMEBOT_MAX_BODY's default: a value of control characters
    # escapes to six bytes each.
    assert new_secret(account, value="\u0001" * 65536)["hint"] == "\u0001" * 4
    s = new_secret(account)
    assert_error(account.post(SECRETS, {"name": s["name"], "value": "other"}), 409, "name_taken")
    # A deleted secret's name is free again.
    assert account.delete(path(s)).status == 204
    assert account.post(SECRETS, {"name": s["name"], "value": "again"}).status == 201


def test_reveal_answers_the_value_and_is_audited_without_it(account):
    value = value_of("reveal")
    s = new_secret(account, value=value)
    r = account.post(path(s, "reveal"))
    assert r.status == 200 and r.json() == {"value": value}, r
    assert r.header("Cache-Control") == "no-store", r
    events = account.get("/api/v1/audit-log?action=secret.revealed").json()["data"]
    ev = [e for e in events if e["target_id"] == s["id"]]
    assert len(ev) == 1 and ev[0]["actor"]["id"] == account.user_id, events
    no_value_in(account.get("/api/v1/audit-log?limit=200").json(), value)


def test_put_writes_a_new_version_keeps_history_and_checks_if_match(stack, account):
    s = new_secret(account)
    for i in range(7):
        r = account.put(path(s), {"value": f"value number {i} of the history"})
        assert r.status == 200, r
    s2 = r.json()
    assert s2["value_version"] == 8 and s2["version"] == 8 and r.header("ETag") == '"8"', s2
    assert s2["hint"] == "tory", s2
    assert account.post(path(s, "reveal")).json() == {"value": "value number 6 of the history"}
    # SECRET_HISTORY (5) versions are kept, the current one among them.
    rows = stack.psql("SELECT version FROM homebot.secret_values WHERE secret_id = :'id' ORDER BY 1",
                      id=s["id"])
    assert [int(v) for (v,) in rows] == [4, 5, 6, 7, 8], rows
    assert_error(account.put(path(s), {"value": "stale"}, headers={"If-Match": '"3"'}),
                 412, "precondition_failed")
    assert account.put(path(s), {"value": "fresh"}, headers={"If-Match": '"8"'}).status == 200
    assert_invalid(account.put(path(s), {"value": ""}), "value")
    assert_error(account.put(SECRETS + "/" + str(uuid.uuid4()), {"value": "v"}), 404, "not_found")


def test_delete_is_soft_and_checks_if_match(stack, account):
    s = new_secret(account)
    assert_error(account.delete(path(s), headers={"If-Match": '"7"'}), 412, "precondition_failed")
    assert account.delete(path(s), headers={"If-Match": '"1"'}).status == 204
    assert_error(account.get(path(s)), 404, "not_found")
    assert_error(account.post(path(s, "reveal")), 404, "not_found")
    assert_error(account.delete(path(s)), 404, "not_found")
    assert stack.psql("SELECT deleted_at IS NOT NULL FROM homebot.secrets WHERE id = :'id'",
                      id=s["id"]) == [("t",)]
    # The values went with it.
    assert stack.psql("SELECT count(*) FROM homebot.secret_values WHERE secret_id = :'id'",
                      id=s["id"]) == [("0",)]


def test_another_organization_sees_nothing(stack, account):
    s = new_secret(account)
    other = register(stack)
    for resp in (other.get(path(s)), other.post(path(s, "reveal")), other.delete(path(s)),
                 other.put(path(s), {"value": "x"})):
        assert_error(resp, 404, "not_found")
    assert s["id"] not in [x["id"] for x in other.get(SECRETS).json()["data"]]
    assert_error(account.get(SECRETS + "/not-a-uuid"), 404, "not_found")


def test_permissions_by_role_and_api_key_scope(account):
    s = new_secret(account)
    member = add_member(account, "member")
    admin = add_member(account, "admin")
    assert_error(member.get(SECRETS), 403, "forbidden")
    assert_error(member.post(SECRETS, {"name": "m", "value": "v"}), 403, "forbidden")
    assert admin.get(path(s)).status == 200
    assert admin.put(path(s), {"value": "by the admin"}).status == 200
    assert_error(admin.post(path(s, "reveal")), 403, "forbidden")
    key = create_key(account, ["secrets:read"])["key"]
    r = account.stack.get(path(s), headers={"Authorization": "Bearer " + key})
    assert r.status == 200, r
    r = account.stack.post(path(s, "reveal"), headers={"Authorization": "Bearer " + key})
    assert_error(r, 403, "forbidden")
    key = create_key(account, ["secrets:reveal"])["key"]
    r = account.stack.post(path(s, "reveal"), headers={"Authorization": "Bearer " + key})
    assert r.status == 200 and r.json() == {"value": "by the admin"}, r


def test_a_team_secret_is_its_members_alone(stack, account):
    red = account.post("/api/v1/teams", {"name": "Red"}).json()
    blue = account.post("/api/v1/teams", {"name": "Blue"}).json()
    admin = add_member(account, "admin")
    # Promote the admin's reading to a team member without teams:write.
    stack.psql("DELETE FROM homebot.role_permissions WHERE role = 'admin' AND permission = 'teams:write'")
    try:
        r = account.put(f"/api/v1/teams/{red['id']}/members/{admin.user_id}", {"team_role": "member"})
        assert r.status == 200, r
        admin.login()
        mine = new_secret(account, team_id=red["id"])
        theirs = new_secret(account, team_id=blue["id"])
        assert admin.get(path(mine)).status == 200
        assert_error(admin.get(path(theirs)), 404, "not_found")
        assert_error(admin.put(path(theirs), {"value": "x"}), 404, "not_found")
        assert_error(admin.delete(path(theirs)), 404, "not_found")
        ids = [x["id"] for x in admin.get(SECRETS).json()["data"]]
        assert mine["id"] in ids and theirs["id"] not in ids, ids
        assert_invalid(admin.post(SECRETS, {"name": "n", "value": "v", "team_id": blue["id"]}),
                       "team_id")
        only = account.get(SECRETS + "?team_id=" + red["id"]).json()["data"]
        assert [x["id"] for x in only] == [mine["id"]], only
        assert_error(account.get(SECRETS + "?team_id=bad"), 422, "validation_failed")
    finally:
        stack.psql("INSERT INTO homebot.role_permissions VALUES ('admin', 'teams:write') ON CONFLICT DO NOTHING")


def test_the_database_and_the_logs_hold_no_value(stack, account):
    value = value_of("plain")
    s = new_secret(account, value=value)
    assert account.post(path(s, "reveal")).json()["value"] == value
    dump = stack.psql("SELECT s::text FROM homebot.secrets s WHERE id = :'id'"
                      " UNION ALL SELECT v::text FROM homebot.secret_values v WHERE secret_id = :'id'"
                      " UNION ALL SELECT encode(ciphertext, 'escape') FROM homebot.secret_values"
                      "  WHERE secret_id = :'id'"
                      " UNION ALL SELECT k::text FROM homebot.vault_data_keys k",
                      id=s["id"])
    text = repr(dump)
    assert value not in text and value[-4:] in text, "the hint alone is stored in clear"
    assert value[:20] not in text
    assert value not in stack.web_log()


def test_a_value_moved_to_another_row_does_not_decrypt(stack, account):
    a = new_secret(account, value=value_of("a"))
    b = new_secret(account, value=value_of("b"))
    other = register(stack)
    c = new_secret(other, value=value_of("c"))
    # b's blob in a's row (the same organization, another secret id).
    stack.psql("UPDATE homebot.secret_values SET ciphertext = (SELECT ciphertext FROM homebot.secret_values"
               " WHERE secret_id = :'b') WHERE secret_id = :'a'", a=a["id"], b=b["id"])
    assert_error(account.post(path(a, "reveal")), 409, "secret_unreadable")
    # a's blob in another organization's row.
    stack.psql("UPDATE homebot.secret_values SET ciphertext = (SELECT ciphertext FROM homebot.secret_values"
               " WHERE secret_id = :'b') WHERE secret_id = :'c'", b=b["id"], c=c["id"])
    assert_error(other.post(path(c, "reveal")), 409, "secret_unreadable")
    # Writing a new value mends it, and the untouched secret still decrypts.
    assert account.put(path(a), {"value": "mended"}).status == 200
    assert account.post(path(a, "reveal")).json() == {"value": "mended"}
    assert account.post(path(b, "reveal")).status == 200


def test_two_first_secrets_at_once_make_one_data_key(stack):
    import threading
    owner = register(stack)
    results = []

    def make(i):
        results.append(owner.post(SECRETS, {"name": f"first-{i}", "value": f"value {i}"}).status)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4, results
    assert stack.psql("SELECT count(*) FROM homebot.vault_data_keys WHERE organization_id = :'o'",
                      o=owner.org_id) == [("1",)]
    for s in owner.get(SECRETS).json()["data"]:
        assert owner.post(path(s, "reveal")).status == 200


def test_a_malformed_master_key_stops_the_secrets_program_alone():
    from conftest import TEST_SETTINGS, assert_server_error, start_stack
    s, stop = start_stack(dict(TEST_SETTINGS, VAULT_MASTER_KEY="not-a-key"))
    try:
        owner = register(s)
        assert owner.get("/api/v1/auth/me").status == 200
        r = owner.get(SECRETS)
        # The web server's envelope for a program it cannot start. Behind
        # lighttpd that is 503 while the program is down, and 500 when the
        # request reached the socket of a respawned copy in the instant
        # before that copy stopped again (lighttpd restarts dead programs
        # every second); behind Apache (mod_fcgid) always 500.
        lighttpd = s.env.get("HOMEBOT_WEB", "lighttpd") == "lighttpd"
        if lighttpd and r.status == 503:
            assert_server_error(s, r, 503, "service_unavailable")
        else:
            assert_server_error(s, r, 500, "internal_error")
        assert owner.get("/api/v1/auth/me").status == 200
        # The web server may write the program's line after its answer.
        for _ in range(50):
            log = s.web_log()
            if "homebot-secrets: VAULT_MASTER_KEY" in log:
                break
            time.sleep(0.1)
        assert "homebot-secrets: VAULT_MASTER_KEY" in log, log[-2000:]
        assert "not-a-key" not in log
    finally:
        stop()
