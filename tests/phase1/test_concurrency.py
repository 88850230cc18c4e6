"""Tenant isolation under load: many clients of several organizations,
ten thousand interleaved requests with tokens and API keys through the
pooled workers, which keep one database connection each and set the
tenant context per request: reads, and writes (settings, invitations, API
keys, teams and their members, with a team's lead among the writers)
among them. Not one answer may carry another organization's id, name,
slug, email, session, key, team or tag, and not one row written may land
in another organization.

Every answer is then checked against /openapi.json, as every other test's
is (outside the timed load). The figures (requests, leaks, failures, rate)
are printed in the "Homebot figures" section at the end of the pytest
run."""
import collections
import concurrent.futures
import http.client
import json
import random
import threading
import time
import uuid

import pytest

from conftest import (Response, add_member, assert_status, conform, create_key, invite,
                      register, report)

ORGANIZATIONS = 4
CLIENTS = 12
REQUESTS = 10000
KEY_SCOPES = ["org:read", "members:read", "api_keys:read", "audit:read", "teams:read"]


class Tenant:
    def __init__(self, stack, n):
        # The tag marks everything the tenant writes: names, addresses,
        # settings. Another organization's tag in an answer is a leak.
        self.n = n
        self.tag = tag = "t" + uuid.uuid4().hex[:8]
        self.owner = register(stack, organization_name=f"Concurrency {n} {tag}")
        self.id = self.owner.org_id
        self.admin = add_member(self.owner, "admin")
        self.viewer = add_member(self.owner, "viewer")
        self.invited = invite(self.owner, email=f"{tag}-first@example.com", role="member")
        self.key = create_key(self.owner, KEY_SCOPES, name=f"{tag} load")
        self.spare_key = create_key(self.admin, ["org:read"], name=f"{tag} spare")
        assert_status(self.owner.patch("/api/v1/organizations/current",
                                       {"settings": {"tenant": n, "tag": tag}}), 200)
        self.org = self.owner.get("/api/v1/organizations/current").json()
        self.user_ids = {u.user_id for u in (self.owner, self.admin, self.viewer)} | \
            {self.invited["user_id"]}
        # Two teams; the viewer leads the first and is in the second.
        self.teams = []
        for i in range(2):
            r = self.owner.post("/api/v1/teams", {"name": f"{tag} team {i}"})
            assert_status(r, 201)
            self.teams.append(r.json())
        for t, role in zip(self.teams, ("lead", "member")):
            assert_status(self.owner.put(f"/api/v1/teams/{t['id']}/members/{self.viewer.user_id}",
                                         {"team_role": role}), 200)
        self.team_ids = {t["id"] for t in self.teams}
        self.key_ids = {self.key["id"], self.spare_key["id"]}

    def markers(self):
        out = {self.id, self.tag, self.org["name"], self.org["slug"], self.invited["user_id"],
               self.invited["email"]}
        for u in (self.owner, self.admin, self.viewer):
            out |= {u.user_id, u.email, u.session_id}
        for k in (self.key, self.spare_key):
            out |= {k["id"], f'"{k["prefix"]}"'}
        return out | self.team_ids

    def jobs(self):
        """(method, credential headers, path, body, status, check) for every
        kind of request: fifteen reads, six writes."""
        lead_team, other_team = (f"/api/v1/teams/{t['id']}" for t in self.teams)
        key = {"X-API-Key": self.key["key"]}
        reads = [
            (self.owner.auth, "/api/v1/auth/me", self.check_me),
            (self.viewer.auth, "/api/v1/auth/me", self.check_me),
            (key, "/api/v1/auth/me", self.check_me),
            (self.viewer.auth, "/api/v1/members", self.check_members),
            (key, "/api/v1/members", self.check_members),
            (self.owner.auth, "/api/v1/api-keys", self.check_keys),
            (key, "/api/v1/api-keys", self.check_keys),
            (self.viewer.auth, "/api/v1/organizations/current", self.check_current),
            (key, "/api/v1/organizations/current", self.check_current),
            (self.admin.auth, "/api/v1/audit-log?limit=20", self.check_audit),
            (key, "/api/v1/audit-log?limit=20", self.check_audit),
            (self.viewer.auth, "/api/v1/teams", self.check_teams),
            (self.viewer.auth, other_team, self.check_team),
            (self.admin.auth, lead_team + "/members", self.check_team_members),
            (key, "/api/v1/teams", self.check_teams),
        ]
        writes = [
            ("PATCH", self.owner.auth, "/api/v1/organizations/current",
             lambda: {"settings": {"tenant": self.n, "tag": self.tag, "at": uuid.uuid4().hex}},
             200, self.check_current),
            ("POST", self.owner.auth, "/api/v1/api-keys",
             lambda: {"name": f"{self.tag} written", "scopes": ["org:read"]},
             201, lambda body: body["name"].startswith(self.tag)),
            ("POST", self.admin.auth, "/api/v1/members",
             lambda: {"email": f"{self.tag}-{uuid.uuid4().hex}@example.com", "role": "viewer"},
             201, lambda body: body["email"].startswith(self.tag)),
            ("POST", self.admin.auth, "/api/v1/teams",
             lambda: {"name": f"{self.tag} written {uuid.uuid4().hex[:8]}"},
             201, lambda body: body["name"].startswith(self.tag)),
            ("PATCH", self.owner.auth, other_team,
             lambda: {"description": f"{self.tag} {uuid.uuid4().hex}"},
             200, self.check_team),
            # The viewer leads the first team: a lead writes its members.
            ("PUT", self.viewer.auth, f"{lead_team}/members/{self.admin.user_id}",
             lambda: {"team_role": random.choice(["lead", "member"])},
             200, lambda body: body["user_id"] == self.admin.user_id),
        ]
        return [("GET", h, p, None, 200, c) for h, p, c in reads] + writes

    def check_me(self, body):
        return body["organization"]["id"] == self.id and \
            {t["id"] for t in body["teams"]} <= self.team_ids

    def check_teams(self, body):
        return bool(body["data"]) and all(t["name"].startswith(self.tag) for t in body["data"])

    def check_team(self, body):
        return body["id"] in self.team_ids and body["name"].startswith(self.tag)

    def check_team_members(self, body):
        return all(m["user_id"] in self.user_ids for m in body["data"])

    def check_members(self, body):
        # The first members, or the ones this tenant invited under load.
        return all(m["user_id"] in self.user_ids or m["email"].startswith(self.tag)
                   for m in body["data"])

    def check_keys(self, body):
        return all(k["name"].startswith(self.tag) for k in body["data"])

    def check_current(self, body):
        return body["id"] == self.id and body["settings"]["tag"] == self.tag

    def check_audit(self, body):
        return bool(body["data"]) and {e["organization_id"] for e in body["data"]} == {self.id}


class Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, stack):
        self.stack = stack
        self.conn = None

    def request(self, method, path, headers, body=None):
        if body is not None:
            body = json.dumps(body)
            headers = {**headers, "Content-Type": "application/json"}
        if method != "GET":
            # A write goes on a connection of its own, never retried: a
            # retry could write twice, and every write is counted.
            conn = http.client.HTTPConnection(self.stack.host, self.stack.port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                return r.status, r.getheaders(), r.read()
            finally:
                conn.close()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.stack.host, self.stack.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.getheaders(), r.read()
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()


@pytest.fixture(scope="module")
def tenants(stack):
    return [Tenant(stack, n) for n in range(ORGANIZATIONS)]


def test_concurrent_clients_never_see_or_write_another_organization(stack, tenants):
    markers = {t.id: t.markers() for t in tenants}
    foreign = {t.id: set().union(*(markers[o.id] for o in tenants if o is not t))
               for t in tenants}
    kinds = [(t, *job) for t in tenants for job in t.jobs()]
    rng = random.Random(1234)
    plan = [rng.choice(kinds) for _ in range(REQUESTS)]
    lock = threading.Lock()
    leaks, failures, wrong = [], [], []
    local = threading.local()
    clients = []

    written = collections.Counter()
    answers = []

    def one(item):
        tenant, method, headers, path, make_body, want, check = item
        if not hasattr(local, "client"):
            local.client = Client(stack)
            with lock:
                clients.append(local.client)
        status, got, body = local.client.request(method, path, headers,
                                                 make_body() if make_body else None)
        text = body.decode(errors="replace")
        found = sorted(m for m in foreign[tenant.id] if m in text)
        with lock:
            answers.append((method, path, Response(status, got, body)))
            if method != "GET" and status == want:
                written[tenant.id, method, path] += 1
            if status != want:
                failures.append((method, path, status, text[:300]))
            elif found:
                leaks.append((tenant.id, path, found))
            elif not check(json.loads(body)):
                wrong.append((tenant.id, path, text[:300]))

    [(since,)] = stack.psql("SELECT clock_timestamp()")
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(one, plan))
    finally:
        for c in clients:
            c.close()
    elapsed = time.monotonic() - started

    crossed, lost = cross_written(stack, tenants, written, since)
    for method, path, answer in answers:
        conform(method, path, answer)
    writes = sum(written.values())
    report(f"concurrency: {len(plan)} requests ({writes} writes), {CLIENTS} clients,"
           f" {len(tenants)} organizations, {len(leaks)} leaks, {crossed} cross-written rows,"
           f" {lost} lost writes, {len(wrong)} wrong answers, {len(failures)} failures,"
           f" {elapsed:.1f} s ({len(plan) / elapsed:.0f} requests/s)"
           f" [{stack.env.get('HOMEBOT_WEB', 'lighttpd')}"
           f"{' + PgBouncer' if 'pgbouncer' in stack.env.get('DATABASE_URL', '') else ''}]")
    assert leaks == [], leaks[:5]
    assert (crossed, lost) == (0, 0)
    assert wrong == [], wrong[:5]
    assert failures == [], failures[:5]
    assert writes > REQUESTS // 10, written


def cross_written(stack, tenants, written, since):
    """Rows a tenant wrote that sit in another organization (settings, API
    keys, memberships, audit rows of its people since the load began), and
    writes answered as done that are not in the database."""
    crossed = lost = 0
    for t in tenants:
        people = ",".join(f"'{u}'" for u in t.user_ids)
        [row] = stack.psql(
            "SELECT (SELECT count(*) FROM homebot.organizations"
            "         WHERE settings->>'tag' = :'tag' AND id <> :'org'),"
            "       (SELECT count(*) FROM homebot.api_keys"
            "         WHERE name LIKE :'tag' || '%' AND organization_id <> :'org'),"
            "       (SELECT count(*) FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id"
            "         WHERE u.email LIKE :'tag' || '%' AND m.organization_id <> :'org'),"
            "       (SELECT count(*) FROM homebot.audit_log"
            f"        WHERE actor_id IN ({people}) AND organization_id <> :'org'"
            "           AND occurred_at >= :'since'),"
            "       (SELECT count(*) FROM homebot.api_keys"
            "         WHERE name = :'tag' || ' written' AND organization_id = :'org'),"
            "       (SELECT count(*) FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id"
            "         WHERE u.email LIKE :'tag' || '-%' AND u.email <> :'tag' || '-first@example.com'"
            "           AND m.organization_id = :'org'),"
            "       (SELECT settings->>'tag' FROM homebot.organizations WHERE id = :'org'),"
            "       (SELECT count(*) FROM homebot.teams"
            "         WHERE (name LIKE :'tag' || '%' OR description LIKE :'tag' || '%')"
            "           AND organization_id <> :'org'),"
            "       (SELECT count(*) FROM homebot.team_members tm JOIN homebot.teams tt"
            "            ON tt.organization_id = tm.organization_id AND tt.id = tm.team_id"
            "         WHERE tt.name LIKE :'tag' || '%' AND tm.organization_id <> :'org'),"
            "       (SELECT count(*) FROM homebot.teams"
            "         WHERE name LIKE :'tag' || ' written %' AND organization_id = :'org'),"
            "       (SELECT version - 1 FROM homebot.teams WHERE id = :'team')",
            tag=t.tag, org=t.id, since=since, team=t.teams[1]["id"])
        crossed += sum(int(v) for v in row[:4]) + (row[6] != t.tag) + int(row[7]) + int(row[8])
        lost += abs(int(row[9]) - written[t.id, "POST", "/api/v1/teams"])
        # Every PATCH of the second team raised its version by one.
        lost += abs(int(row[10]) - written[t.id, "PATCH", f"/api/v1/teams/{t.teams[1]['id']}"])
        lost += abs(int(row[4]) - written[t.id, "POST", "/api/v1/api-keys"])
        lost += abs(int(row[5]) - written[t.id, "POST", "/api/v1/members"])
    return crossed, lost


def test_tenants_hold_only_their_own_after_the_load(stack, tenants):
    for t in tenants:
        members = stack.psql("SELECT u.id, u.email FROM homebot.memberships m"
                             "  JOIN homebot.users u ON u.id = m.user_id"
                             " WHERE m.organization_id = :'org'", org=t.id)
        assert t.user_ids <= {m[0] for m in members}
        assert all(m[0] in t.user_ids or m[1].startswith(t.tag) for m in members), members
        org = t.owner.get("/api/v1/organizations/current").json()
        assert (org["id"], org["name"], org["settings"]["tag"]) == (t.id, t.org["name"], t.tag)
