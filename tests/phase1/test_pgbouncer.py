"""Behind PgBouncer in transaction mode (make check runs the isolation,
concurrency and authentication groups a second time that way, with
HOMEBOT_PGBOUNCER=1): the web programs share a pool of fewer server
connections than there are programs, so consecutive transactions of one
program land on different server connections and one server connection
serves many programs. Nothing a request leaves on its connection (a
prepared statement, a setting) may be seen by the next.

Deselected, not skipped, in the runs without PgBouncer."""
import concurrent.futures
import subprocess
import uuid

import pytest

from conftest import assert_status, create_key, register, report

pytestmark = pytest.mark.with_pgbouncer

POOL = 4   # scripts/stack.sh's default HOMEBOT_PGBOUNCER_POOL


def app_connections(stack):
    """homebot_app's server connections but the MQTT broker's plugin's,
    which LISTENs and so connects straight to PostgreSQL."""
    return int(stack.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'homebot_app'"
                          " AND application_name NOT LIKE 'homebot-mqtt%'")[0][0])


def test_the_web_programs_reach_postgresql_only_through_pgbouncer(stack):
    env = (stack.dir and open(f"{stack.dir}/etc/homebot.env").read()) or ""
    assert f"DATABASE_URL=host={stack.dir}/pgbouncer port=6432 " in env, env
    # The worker LISTENs and the admin program is not a web program: both
    # connect straight to PostgreSQL.
    worker = open(f"{stack.dir}/etc/worker.env").read()
    assert f"DATABASE_URL=host={stack.dir}/pg user=homebot_worker" in worker
    # Nor does the broker's plugin: its connections are the only
    # homebot_app ones that do not come through PgBouncer's socket.
    rows = stack.psql("SELECT application_name FROM pg_stat_activity"
                      " WHERE usename = 'homebot_app' AND application_name LIKE 'homebot-mqtt%'")
    assert {r[0] for r in rows} <= {"homebot-mqtt", "homebot-mqtt-listen"}, rows


def test_many_programs_and_statements_share_a_smaller_pool(stack):
    """Every kind of request, from every program that uses the database,
    from 16 clients at once: all answer as they should, and PostgreSQL never
    sees more homebot_app connections than the pool holds, although the web
    server runs many more programs."""
    owners = [register(stack, organization_name=f"Pool {uuid.uuid4().hex[:8]}") for _ in range(4)]
    keys = [create_key(o, ["org:read", "members:read", "audit:read"]) for o in owners]
    jobs = []
    for o, k in zip(owners, keys):
        jobs += [(o.get, "/api/v1/auth/me"), (o.get, "/api/v1/members"),
                 (o.get, "/api/v1/organizations/current"), (o.get, "/api/v1/audit-log?limit=5"),
                 (o.get, "/api/v1/api-keys"), (o.get, "/api/v1/auth/sessions"),
                 (lambda p, k=k: stack.get(p, headers={"X-API-Key": k["key"]}), "/api/v1/auth/me"),
                 (lambda p, k=k: stack.get(p, headers={"X-API-Key": k["key"]}), "/api/v1/members")]
    seen = []

    def one(i):
        call, path = jobs[i % len(jobs)]
        r = call(path)
        if i % 25 == 0:
            seen.append(app_connections(stack))
        return path, r.status

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(1600)))
    wrong = [a for a in answers if a[1] != 200]
    assert not wrong, wrong[:10]
    assert max(seen) <= POOL, seen
    report(f"pgbouncer: {len(answers)} requests of {len(jobs)} kinds from 16 clients, "
           f"at most {max(seen)} homebot_app server connections (pool {POOL})")
    log = open(f"{stack.dir}/log/web.log").read()
    assert "prepared statement" not in log


def prepared_runs(stack):
    """How many times the pool's server connections have run statements
    that lib/db.c prepared (named hb_…): POOL clients each hold a
    transaction through PgBouncer at once, so each is handed a server
    connection of its own, and reads that connection's statements."""
    sql = ("BEGIN; SELECT coalesce(sum(generic_plans + custom_plans), 0)"
           " FROM pg_prepared_statements WHERE name LIKE 'hb\\_%';"
           " SELECT pg_sleep(1); COMMIT;")
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
           f"host={stack.dir}/pgbouncer port=6432 user=homebot_app dbname=homebot"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(POOL)]
    runs = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        runs.append(int(out.split()[0]))
    return runs


def test_the_hot_path_runs_prepared_through_the_pool(stack):
    """The authentication statement is prepared on the server connections
    it meets (its name is its text's hash, the same in every process), and
    runs from there: every /me request through the pool is one run of a
    prepared statement, none is sent unnamed instead."""
    a = register(stack)
    assert_status(a.get("/api/v1/auth/me"), 200)
    before = prepared_runs(stack)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: a.get("/api/v1/auth/me").status, range(300)))
    assert codes == [200] * 300, codes
    after = prepared_runs(stack)
    ran = sum(after) - sum(before)
    # Once each: none unnamed instead, none run twice.
    assert ran == 300, (before, after)
    metrics = stack.get("/metrics").body.decode()
    misses = sum(float(line.split()[-1]) for line in metrics.splitlines()
                 if line.startswith("homebot_db_statement_name_misses_total{"))
    prepared = sum(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("homebot_db_statement_prepares_total{"))
    # Each process meets each server connection without the name at most
    # once per statement: a few misses, not one per request.
    assert prepared >= 1 and misses < 100, (prepared, misses)
    report(f"pgbouncer: 300 /me requests ran the prepared statement {ran} times "
           f"on {sum(1 for x in after if x)} of {POOL} server connections; "
           f"all programs: {prepared:.0f} prepared, {misses:.0f} names found missing")


def test_a_write_and_its_audit_row_through_the_pool(stack):
    """A write's transaction (BEGIN, the context, statements, COMMIT) stays
    on one server connection: the audit row carries the request's actor and
    request id, which only that transaction's context holds."""
    a = register(stack)
    rid = "pool-" + uuid.uuid4().hex
    assert_status(a.patch("/api/v1/organizations/current", {"name": "Pooled name"},
                          headers={"X-Request-ID": rid}), 200)
    rows = stack.psql("SELECT actor_id, organization_id FROM homebot.audit_log"
                      " WHERE request_id = :'rid' AND action = 'organization.updated'", rid=rid)
    assert rows == [(a.user_id, a.org_id)], rows
