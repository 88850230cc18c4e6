"""make backup / make restore (scripts/backup.sh, docs/backup.md): a
database of several organizations, backed up, dropped and created again
empty, then restored, holds every row it held (every table, compared whole
as the owner), the same schema (catalog, grants, policies, RLS enabled and
forced), migrate's bookkeeping (`migrate verify` passes), and its users
log in with their old passwords, keys and refresh tokens. A restore over a
database that holds a homebot schema is refused unless FORCE=1.

A stack of its own: the test drops its database, and stops its worker so
the queue holds still while tables are compared."""
import os
import stat
import subprocess
import time

import pytest

from conftest import (ROOT, add_member, assert_error, assert_status, bearer, create_key, invite,
                      login, make_superadmin, new_password, own_stack, register, report)
from test_mfa import enrol, first_step

BACKUP = ROOT / "scripts" / "backup.sh"
CATALOG = ROOT / "tests" / "migrate" / "catalog.sql"


@pytest.fixture(scope="module")
def bstack():
    yield from own_stack()


def run_backup(stack, *args, force=None):
    """scripts/backup.sh against the stack's database, as its owner (the
    way make backup reaches an external database)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MIGRATE_DATABASE_URL", "BACKUP_DATABASE_URL", "FORCE")}
    env["DATABASE_URL"] = stack.env["OWNER_URL"]
    if force is not None:
        env["FORCE"] = force
    start = time.monotonic()
    out = subprocess.run([str(BACKUP), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    out.seconds = time.monotonic() - start
    return out


def server_psql(stack, sql):
    """sql in the cluster's postgres database, as postgres."""
    url = stack.env["OWNER_URL"].replace("dbname=homebot", "dbname=postgres")
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], input=sql,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def tables(stack):
    """Every table of schema homebot, and migrate's bookkeeping."""
    rows = stack.psql("SELECT c.oid::regclass::text FROM pg_class c"
                      " WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind = 'r'"
                      " ORDER BY 1")
    return [r[0] for r in rows] + ["public.schema_migrations", "public.schema_repeatables"]


def snapshot(stack):
    """{table: every row as JSON, sorted} and {sequence: its state}, read
    as the owner (a superuser here: no policy hides a row)."""
    snap = {}
    for t in tables(stack):
        snap[t] = [r[0] for r in stack.psql(f"SELECT to_jsonb(t)::text FROM {t} t ORDER BY 1")]
    for (seq,) in stack.psql("SELECT c.oid::regclass::text FROM pg_class c"
                             " WHERE c.relnamespace = 'homebot'::regnamespace"
                             " AND c.relkind = 'S' ORDER BY 1"):
        snap[seq] = stack.psql(f"SELECT last_value, is_called FROM {seq}")
    return snap


def catalog(stack):
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(CATALOG),
                          stack.env["OWNER_URL"]], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def assert_same(before, after):
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name] == before[name], f"{name} differs after the restore"


def migrate_verify(stack):
    out = subprocess.run([str(ROOT / "migrate"), "verify"], capture_output=True, text=True,
                         env=dict(os.environ, DATABASE_URL=stack.env["OWNER_URL"]))
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def backup(bstack, tmp_path_factory):
    """Three organizations, each with an owner, an admin, a member (with a
    grant beyond his role) and a viewer made a member, each of whom also
    owns the organization he registered with; a pending invitation, an API
    key, extra sessions, a rotated refresh token; a failed login and a
    platform admin, a platform setting, a team with a lead and secrets of the
    organization and of the team, a changed password, a user with two-factor
    authentication and a login waiting for its second step; every change audited and its mails sent. Then the worker is stopped, the tables are read, and the
    backup is taken. Returns what the tests need."""
    s = bstack
    orgs = []
    for i in range(3):
        owner = register(s, organization_name=f"Backup org {i}")
        admin = add_member(owner, "admin")
        member = add_member(owner, "member")
        viewer = add_member(owner, "viewer")
        invite(owner)
        key = create_key(owner, ["org:read", "members:read"], name=f"ci-{i}")
        assert_status(owner.patch("/api/v1/organizations/current",
                                  {"settings": {"plan": f"p{i}"}}), 200)
        assert_status(owner.patch(f"/api/v1/members/{viewer.user_id}", {"role": "member"}), 200)
        # A grant beyond the member's role (no endpoint sets these).
        s.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'org', :'user', 'audit:read')", org=owner.org_id, user=member.user_id)
        # A team with a lead, and a secret of the organization and one of
        # the team (a wrapped data key, value versions), and connections.
        team = owner.post("/api/v1/teams", {"name": f"Backup team {i}"})
        assert_status(team, 201)
        assert_status(owner.put(f"/api/v1/teams/{team.json()['id']}/members/{member.user_id}",
                                {"team_role": "lead"}), 200)
        for body in ({"name": f"db-{i}", "value": f"backup secret {i} of the org"},
                     {"name": f"team-{i}", "value": f"backup secret {i} of the team",
                      "team_id": team.json()["id"]}):
            assert_status(owner.post("/api/v1/secrets", body), 201)
        # A default connection of the organization and one of the team,
        # each with a secret field.
        for body in ({"name": f"relay-{i}", "type": "smtp", "is_default": True,
                      "config": {"host": "smtp.example.com"},
                      "secret_fields": {"password": f"backup password {i} of the org"}},
                     {"name": f"team-relay-{i}", "type": "smtp", "is_default": True,
                      "team_id": team.json()["id"],
                      "secret_fields": {"password": f"backup password {i} of the team"}}):
            assert_status(owner.post("/api/v1/connections", body), 201)
        second = owner.login()
        rotated = s.post("/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
        assert_status(rotated, 200)
        orgs.append({"owner": owner, "admin": admin, "member": member, "viewer": viewer,
                     "key": key["key"], "refresh": rotated.json()["refresh_token"]})
    assert_error(login(s, orgs[0]["member"].email, "not-the-password-1"), 401,
                 "invalid_credentials")
    # A password change (it ends the user's other sessions, so a user of
    # his own): the hash it replaced goes to the history.
    changer = register(s, organization_name="Backup password change")
    assert_status(changer.post("/api/v1/auth/password",
                               {"current_password": changer.password,
                                "new_password": new_password()}), 204)
    # Two-factor: a user enrolled (secret, recovery codes) whose next
    # login waits for its second step.
    two = register(s, organization_name="Backup two-factor")
    enrol(two)
    first_step(s, two)
    admin = make_superadmin(s)
    assert_status(admin.get("/api/v1/admin/organizations"), 200)
    assert_status(admin.put("/api/v1/admin/settings/backup.plan",
                            {"value": {"tier": "gold"}, "is_public": True}), 201)

    s.control("worker-stop")
    # Events written while the worker is stopped wait in the outbox.
    assert_status(orgs[0]["owner"].post("/api/v1/api-keys",
                                        {"name": "backup outbox", "scopes": ["org:read"]}), 201)
    before = snapshot(s)
    schema = catalog(s)
    for t in tables(s):
        assert before[t], f"{t} is empty: the scenario must fill it"

    path = tmp_path_factory.mktemp("backup") / "homebot.dump"
    out = run_backup(s, "backup", str(path))
    assert out.returncode == 0, out.stderr
    assert "backup written to" in out.stdout, out.stdout
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    # Nothing moved while it was taken.
    assert_same(before, snapshot(s))
    return {"path": path, "before": before, "catalog": schema, "orgs": orgs, "admin": admin,
            "backup_seconds": out.seconds}


def tenant_tables(stack):
    """(table, rls enabled, forced) of every table with organization_id,
    and of organizations and users."""
    return stack.psql("""
        SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity
          FROM pg_class c
         WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind = 'r'
           AND (c.relname IN ('organizations', 'users')
                OR EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
                              AND a.attname = 'organization_id' AND NOT a.attisdropped))
         ORDER BY 1""")


def test_a_dropped_database_comes_back_whole_from_its_backup(bstack, backup):
    s = bstack
    server_psql(s, "DROP DATABASE homebot WITH (FORCE); CREATE DATABASE homebot;")
    assert s.psql("SELECT to_regnamespace('homebot') IS NULL") == [("t",)]

    out = run_backup(s, "restore", str(backup["path"]))
    assert out.returncode == 0, out.stderr
    assert "restored" in out.stdout, out.stdout

    after = snapshot(s)
    assert_same(backup["before"], after)
    assert catalog(s) == backup["catalog"]
    migrate_verify(s)

    tenant = tenant_tables(s)
    assert len(tenant) >= 10, tenant
    assert [t for t, rls, force in tenant if (rls, force) != ("t", "t")] == []

    counts = {t.split(".", 1)[1]: len(rows) for t, rows in after.items()
              if not t.endswith("_seq")}
    report(f"backup/restore round trip ({s.env['HOMEBOT_WEB']}): "
           f"{sum(counts.values())} rows in {len(counts)} tables, all equal after the restore; "
           f"backup {backup['backup_seconds']:.2f} s ({os.path.getsize(backup['path'])} bytes), "
           f"restore {out.seconds:.2f} s")
    report("  rows: " + ", ".join(f"{t}={n}" for t, n in sorted(counts.items())))

    # Through HTTP: the web programs reconnect to the new database; old
    # passwords, access tokens (same SECRET_KEY), API keys and refresh
    # tokens work, and each organization still sees only itself.
    for o in backup["orgs"]:
        owner = o["owner"]
        for who in ("owner", "admin", "member", "viewer"):
            a = o[who]
            assert_status(login(s, a.email, a.password), 200)
        me = assert_status(owner.get("/api/v1/auth/me"), 200).json()
        assert me["organization"]["id"] == owner.org_id, me
        me = assert_status(s.get("/api/v1/auth/me", headers={"X-API-Key": o["key"]}), 200)
        assert me.json()["organization"]["id"] == owner.org_id, me
        r = assert_status(s.post("/api/v1/auth/refresh", {"refresh_token": o["refresh"]}), 200)
        assert_status(s.get("/api/v1/auth/me", headers=bearer(r.json()["access_token"])), 200)
        # The members of this organization and of no other (an invited
        # address is listed too).
        members = assert_status(owner.get("/api/v1/members?limit=100"), 200).json()["data"]
        listed = {m["user_id"] for m in members if m["status"] == "active"}
        assert listed == {o[w].user_id for w in ("owner", "admin", "member", "viewer")}, members
        # A member's session in the organization he registered with, and
        # his extra grant in this one.
        assert_status(o["member"].home.get("/api/v1/auth/me"), 200)
        me = assert_status(o["member"].get("/api/v1/auth/me"), 200).json()
        assert "audit:read" in me["permissions"], me
    assert_status(backup["admin"].get("/api/v1/admin/organizations"), 200)


def test_a_restore_refuses_a_database_that_holds_homebot_unless_forced(bstack, backup):
    s = bstack
    marker = register(s)
    out = run_backup(s, "restore", str(backup["path"]))
    assert out.returncode != 0, out.stdout
    assert "already holds a homebot schema" in out.stderr, out.stderr
    assert "FORCE=1" in out.stderr, out.stderr
    # Nothing replaced, nothing half-done: the newer account is still there.
    assert s.psql("SELECT count(*) FROM homebot.users WHERE id = :'id'",
                  id=marker.user_id) == [("1",)]
    assert_status(marker.get("/api/v1/auth/me"), 200)
    migrate_verify(s)

    out = run_backup(s, "restore", str(backup["path"]), force="1")
    assert out.returncode == 0, out.stderr
    assert_same(backup["before"], snapshot(s))
    assert catalog(s) == backup["catalog"]
    migrate_verify(s)
    assert_error(login(s, marker.email, marker.password), 401, "invalid_credentials")
