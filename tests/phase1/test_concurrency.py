"""Tenant isolation under load: many clients of several organizations,
thousands of interleaved requests with tokens and API keys through the
pooled workers, which keep one database connection each and set the
tenant context per request. Not one answer may carry another
organization's id, name, slug, email, session or key.

The figures (requests, leaks, failures, rate) are printed in the
"Homebot figures" section at the end of the pytest run."""
import concurrent.futures
import http.client
import json
import random
import threading
import time
import uuid

import pytest

from conftest import add_member, assert_status, create_key, invite, register, report

ORGANIZATIONS = 4
CLIENTS = 12
REQUESTS = 4000
KEY_SCOPES = ["org:read", "members:read", "api_keys:read", "audit:read"]


class Tenant:
    def __init__(self, stack, n):
        tag = uuid.uuid4().hex[:8]
        self.owner = register(stack, organization_name=f"Concurrency {n} {tag}")
        self.id = self.owner.org_id
        self.admin = add_member(self.owner, "admin")
        self.viewer = add_member(self.owner, "viewer")
        self.invited = invite(self.owner, role="member")
        self.key = create_key(self.owner, KEY_SCOPES, name=f"load {n}")
        self.spare_key = create_key(self.admin, ["org:read"], name=f"spare {n}")
        assert_status(self.owner.patch("/api/v1/organizations/current",
                                       {"settings": {"tenant": n}}), 200)
        self.org = self.owner.get("/api/v1/organizations/current").json()
        self.user_ids = {u.user_id for u in (self.owner, self.admin, self.viewer)} | \
            {self.invited["user_id"]}
        self.key_ids = {self.key["id"], self.spare_key["id"]}

    def markers(self):
        out = {self.id, self.org["name"], self.org["slug"], self.invited["user_id"],
               self.invited["email"]}
        for u in (self.owner, self.admin, self.viewer):
            out |= {u.user_id, u.email, u.session_id}
        for k in (self.key, self.spare_key):
            out |= {k["id"], f'"{k["prefix"]}"'}
        return out

    def jobs(self):
        """(credential headers, path, check) for every kind of request."""
        key = {"X-API-Key": self.key["key"]}
        return [
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
        ]

    def check_me(self, body):
        return body["organization"]["id"] == self.id

    def check_members(self, body):
        return {m["user_id"] for m in body["data"]} == self.user_ids

    def check_keys(self, body):
        return {k["id"] for k in body["data"]} == self.key_ids

    def check_current(self, body):
        return body["id"] == self.id and body["settings"] == self.org["settings"]

    def check_audit(self, body):
        return bool(body["data"]) and {e["organization_id"] for e in body["data"]} == {self.id}


class Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, stack):
        self.stack = stack
        self.conn = None

    def get(self, path, headers):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.stack.host, self.stack.port, timeout=30)
            try:
                self.conn.request("GET", path, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
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


def test_concurrent_clients_never_see_another_organization(stack, tenants):
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

    def one(item):
        tenant, headers, path, check = item
        if not hasattr(local, "client"):
            local.client = Client(stack)
            with lock:
                clients.append(local.client)
        status, body = local.client.get(path, headers)
        text = body.decode(errors="replace")
        found = sorted(m for m in foreign[tenant.id] if m in text)
        with lock:
            if status != 200:
                failures.append((path, status, text[:300]))
            elif found:
                leaks.append((tenant.id, path, found))
            elif not check(json.loads(body)):
                wrong.append((tenant.id, path, text[:300]))

    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(one, plan))
    finally:
        for c in clients:
            c.close()
    elapsed = time.monotonic() - started

    report(f"concurrency: {len(plan)} requests, {CLIENTS} clients, {len(tenants)} organizations,"
           f" {len(leaks)} leaks, {len(wrong)} wrong answers, {len(failures)} non-200,"
           f" {elapsed:.1f} s ({len(plan) / elapsed:.0f} requests/s)"
           f" [{stack.env.get('HOMEBOT_WEB', 'lighttpd')}"
           f"{' + PgBouncer' if 'pgbouncer' in stack.env.get('DATABASE_URL', '') else ''}]")
    assert leaks == [], leaks[:5]
    assert wrong == [], wrong[:5]
    assert failures == [], failures[:5]


def test_tenants_are_unchanged_after_the_load(stack, tenants):
    for t in tenants:
        body = t.owner.get("/api/v1/members").json()
        assert {m["user_id"] for m in body["data"]} == t.user_ids
        assert t.owner.get("/api/v1/organizations/current").json() == t.org
