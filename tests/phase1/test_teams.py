"""Teams (api.md §9): teams of an organization with leads and members,
row metadata set by the database (§1: created_by/updated_by, version,
ETag/If-Match), soft delete, and the team.* audit events (§4)."""
import time
import uuid

from conftest import (RFC3339_RE, add_member, assert_error, assert_invalid, assert_status,
                      at_once, create_key, register)

TEAMS = "/api/v1/teams"
ME = "/api/v1/auth/me"


def new_team(account, name=None, **extra):
    r = account.post(TEAMS, {"name": name or f"Team {uuid.uuid4().hex[:8]}", **extra})
    assert r.status == 201, r
    return r.json()


def team_path(team, *rest):
    return "/".join([TEAMS, team["id"], *rest])


def test_create_answers_the_team_with_row_metadata_and_etag(account):
    r = account.post(TEAMS, {"name": "Red Team", "description": "offence", "created_by": str(uuid.uuid4()),
                             "version": 41})
    assert r.status == 201, r
    t = r.json()
    assert t["name"] == "Red Team" and t["slug"] == "red-team" and t["description"] == "offence", t
    assert t["member_count"] == 0
    # Set by the database from the request's context, never from the body.
    assert t["created_by"] == account.user_id and t["updated_by"] == account.user_id, t
    assert t["version"] == 1, t
    assert RFC3339_RE.fullmatch(t["created_at"]) and RFC3339_RE.fullmatch(t["updated_at"]), t
    assert r.header("ETag") == '"1"', r


def test_create_validates_and_refuses_a_taken_slug(account):
    assert_invalid(account.post(TEAMS, {"name": ""}), "name")
    assert_invalid(account.post(TEAMS, {"name": "x", "slug": "-bad-"}), "slug")
    new_team(account, slug="ops")
    assert_error(account.post(TEAMS, {"name": "Other", "slug": "ops"}), 409, "slug_taken")
    # A derived slug that is taken gets a suffix.
    a, b = new_team(account, "Blue"), new_team(account, "Blue")
    assert a["slug"] == "blue" and b["slug"].startswith("blue-"), (a, b)


def test_get_list_and_another_organizations_team_is_404(stack, account):
    t = new_team(account)
    r = account.get(team_path(t))
    assert r.status == 200 and r.json() == t and r.header("ETag") == '"1"', r
    r = account.get(TEAMS + "?limit=1")
    assert r.status == 200 and r.json()["data"][0]["id"] == t["id"], r
    other = register(stack)
    assert_error(other.get(team_path(t)), 404, "not_found")
    assert t["id"] not in [x["id"] for x in other.get(TEAMS).json()["data"]]
    assert_error(other.patch(team_path(t), {"name": "x"}), 404, "not_found")
    assert_error(other.delete(team_path(t)), 404, "not_found")
    assert_error(account.get(TEAMS + "/not-a-uuid"), 404, "not_found")
    assert_error(account.get(TEAMS + "?limit=0"), 422, "validation_failed")
    assert_error(account.get(TEAMS + "?cursor=tampered"), 400, "invalid_cursor")


def test_list_pages_with_a_cursor(account):
    made = [new_team(account)["id"] for _ in range(3)]
    r = account.get(TEAMS + "?limit=2")
    assert r.status == 200 and len(r.json()["data"]) == 2 and r.json()["next_cursor"], r
    r2 = account.get(TEAMS + "?limit=2&cursor=" + r.json()["next_cursor"])
    assert r2.status == 200 and r2.json()["next_cursor"] is None, r2
    ids = [x["id"] for x in r.json()["data"] + r2.json()["data"]]
    assert ids == made[::-1], ids


def test_patch_raises_version_and_a_stale_if_match_is_412(stack, account):
    t = new_team(account)
    admin = add_member(account, "admin")
    r = admin.patch(team_path(t), {"name": "Renamed"}, headers={"If-Match": '"1"'})
    assert r.status == 200, r
    assert r.json()["name"] == "Renamed" and r.json()["version"] == 2, r
    assert r.json()["updated_by"] == admin.user_id and r.json()["created_by"] == account.user_id, r
    assert r.header("ETag") == '"2"'
    assert_error(account.patch(team_path(t), {"name": "Late"}, headers={"If-Match": '"1"'}),
                 412, "precondition_failed")
    assert_error(account.patch(team_path(t), {"name": "Late"}, headers={"If-Match": 'W/"2"'}),
                 412, "precondition_failed")
    assert_error(account.delete(team_path(t), headers={"If-Match": '"1"'}), 412, "precondition_failed")
    r = account.patch(team_path(t), {"description": "d"}, headers={"If-Match": "*"})
    assert r.status == 200 and r.json()["version"] == 3 and r.json()["name"] == "Renamed", r
    assert_invalid(account.patch(team_path(t), {"name": ""}), "name")


def test_two_patches_with_the_same_if_match_one_wins(account):
    t = new_team(account)
    answers = at_once([lambda i=i: account.patch(team_path(t), {"name": f"Racer {i}"},
                                                 headers={"If-Match": '"1"'}) for i in range(2)])
    assert sorted(a.status for a in answers) == [200, 412], answers
    assert account.get(team_path(t)).json()["version"] == 2


def test_delete_is_soft_and_hides_the_team_everywhere(stack, account):
    t = new_team(account, slug="gone")
    assert_status(account.delete(team_path(t), headers={"If-Match": '"1"'}), 204)
    assert_error(account.get(team_path(t)), 404, "not_found")
    assert_error(account.get(team_path(t, "members")), 404, "not_found")
    assert_error(account.delete(team_path(t)), 404, "not_found")
    assert t["id"] not in [x["id"] for x in account.get(TEAMS).json()["data"]]
    # The row is still there (until the purge), only hidden, and its slug is free.
    assert stack.psql("SELECT count(*) FROM homebot.teams WHERE id = :'id' AND deleted_at IS NOT NULL",
                      id=t["id"]) == [("1",)]
    assert new_team(account, slug="gone")["slug"] == "gone"


def test_permissions_viewer_reads_member_cannot_write(account):
    t = new_team(account)
    viewer = add_member(account, "viewer")
    assert viewer.get(team_path(t)).status == 200
    assert "teams:read" in viewer.get(ME).json()["permissions"]
    assert_error(viewer.post(TEAMS, {"name": "x"}), 403, "forbidden")
    assert_error(viewer.patch(team_path(t), {"name": "x"}), 403, "forbidden")
    assert_error(viewer.delete(team_path(t)), 403, "forbidden")
    assert_error(viewer.put(team_path(t, "members", viewer.user_id), {"team_role": "member"}),
                 403, "forbidden")


def test_members_put_list_change_and_remove(account):
    t = new_team(account)
    m = add_member(account, "member")
    r = account.put(team_path(t, "members", m.user_id), {"team_role": "member"})
    assert r.status == 200, r
    assert r.json()["user_id"] == m.user_id and r.json()["team_role"] == "member", r
    assert r.json()["email"] == m.email and RFC3339_RE.fullmatch(r.json()["added_at"]), r
    r = account.put(team_path(t, "members", m.user_id), {"team_role": "lead"})
    assert r.status == 200 and r.json()["team_role"] == "lead", r
    r = account.get(team_path(t, "members"))
    assert r.status == 200 and [x["user_id"] for x in r.json()["data"]] == [m.user_id], r
    assert account.get(team_path(t)).json()["member_count"] == 1
    assert m.get(ME).json()["teams"] == [{"id": t["id"], "name": t["name"], "team_role": "lead"}]
    assert_invalid(account.put(team_path(t, "members", m.user_id), {"team_role": "boss"}), "team_role")
    assert_status(account.delete(team_path(t, "members", m.user_id)), 204)
    assert_error(account.delete(team_path(t, "members", m.user_id)), 404, "not_found")
    assert m.get(ME).json()["teams"] == []


def test_put_needs_an_active_member_of_the_organization(stack, account):
    t = new_team(account)
    stranger = register(stack)
    assert_invalid(account.put(team_path(t, "members", stranger.user_id), {"team_role": "member"}),
                   "user_id")
    assert_error(account.put(TEAMS + f"/{uuid.uuid4()}/members/{account.user_id}", {"team_role": "member"}),
                 404, "not_found")


def test_a_lead_manages_their_team_and_no_other(account):
    mine, other = new_team(account), new_team(account)
    lead, m = add_member(account, "member"), add_member(account, "member")
    assert account.put(team_path(mine, "members", lead.user_id), {"team_role": "lead"}).status == 200
    assert account.put(team_path(other, "members", m.user_id), {"team_role": "member"}).status == 200
    r = lead.put(team_path(mine, "members", m.user_id), {"team_role": "member"})
    assert r.status == 200, r
    assert_status(lead.delete(team_path(mine, "members", m.user_id)), 204)
    assert_error(lead.put(team_path(other, "members", lead.user_id), {"team_role": "lead"}), 403, "forbidden")
    assert_error(lead.delete(team_path(other, "members", m.user_id)), 403, "forbidden")
    # Leading is not teams:write: the team itself stays the writers'.
    assert_error(lead.patch(team_path(mine), {"name": "mine now"}), 403, "forbidden")


def test_a_removed_member_vanishes_from_every_team(stack, account):
    a, b = new_team(account), new_team(account)
    m = add_member(account, "member")
    for t in (a, b):
        assert account.put(team_path(t, "members", m.user_id), {"team_role": "lead"}).status == 200
    assert_status(account.delete(f"/api/v1/members/{m.user_id}"), 204)
    for t in (a, b):
        assert account.get(team_path(t, "members")).json()["data"] == []
        assert account.get(team_path(t)).json()["member_count"] == 0
    actions = [a for (a,) in stack.psql("SELECT action FROM homebot.audit_log"
                                        " WHERE organization_id = :'org' AND action LIKE 'team.member%'",
                                        org=account.org_id)]
    assert actions.count("team.member_removed") == 2, actions


def test_api_key_scopes_and_me_teams(account):
    t = new_team(account)
    assert account.put(team_path(t, "members", account.user_id), {"team_role": "member"}).status == 200
    key = create_key(account, ["teams:read"])["key"]
    h = {"X-API-Key": key}
    assert account.stack.get(team_path(t), headers=h).status == 200
    assert_error(account.stack.post(TEAMS, {"name": "k"}, headers=h), 403, "forbidden")
    me = account.stack.get(ME, headers=h).json()
    assert me["teams"] == [{"id": t["id"], "name": t["name"], "team_role": "member"}], me


def test_team_changes_are_audited(stack, account):
    t = new_team(account)
    account.patch(team_path(t), {"name": "Audited"})
    account.put(team_path(t, "members", account.user_id), {"team_role": "lead"})
    account.delete(team_path(t))
    r = account.get("/api/v1/audit-log?limit=200")
    actions = {e["action"] for e in r.json()["data"] if e.get("target_id") == t["id"]}
    assert {"team.created", "team.updated", "team.member_added", "team.deleted"} <= actions, actions


def test_every_teams_endpoint_needs_a_credential(stack, account):
    t = new_team(account)
    for method, path in [("GET", TEAMS), ("POST", TEAMS), ("GET", team_path(t)), ("PATCH", team_path(t)),
                         ("DELETE", team_path(t)), ("GET", team_path(t, "members")),
                         ("PUT", team_path(t, "members", account.user_id)),
                         ("DELETE", team_path(t, "members", account.user_id))]:
        body = {"name": "x", "team_role": "member"} if method in ("POST", "PATCH", "PUT") else None
        r = stack.request(method, path, body)
        assert_error(r, 401, "not_authenticated")
        assert r.header("WWW-Authenticate") is not None, r


def test_the_worker_purges_teams_deleted_past_the_retention(stack, account):
    """The purge.soft_deleted job (queued hourly by the worker itself) removes
    a team deleted longer ago than SOFT_DELETE_RETENTION, and only that."""
    old, recent = new_team(account), new_team(account)
    for t in (old, recent):
        assert_status(account.delete(team_path(t)), 204)
    stack.psql("UPDATE homebot.teams SET deleted_at = now() - interval '31 days' WHERE id = :'id'",
               id=old["id"])
    [(job_id,)] = stack.psql("INSERT INTO homebot.jobs (kind) VALUES ('purge.soft_deleted')"
                             " RETURNING id; NOTIFY homebot_jobs")
    deadline = time.monotonic() + 20
    while stack.psql("SELECT status FROM homebot.jobs WHERE id = :'id'", id=job_id) != [("succeeded",)]:
        assert time.monotonic() < deadline, stack.psql("SELECT status, last_error FROM homebot.jobs"
                                                       " WHERE id = :'id'", id=job_id)
        time.sleep(0.05)
    left = {i for (i,) in stack.psql("SELECT id FROM homebot.teams WHERE id IN (:'a', :'b')",
                                      a=old["id"], b=recent["id"])}
    assert left == {recent["id"]}, left
    # The worker queued the next purge, an hour on.
    assert stack.psql("SELECT count(*) FROM homebot.jobs WHERE kind = 'purge.soft_deleted'"
                      " AND status = 'queued' AND run_at > now()") != [("0",)]
