"""Background jobs (api.md §7): the queue in PostgreSQL, homebot-worker,
and the endpoints that show jobs to an organization and to the platform.

These tests run on a stack of their own with short retry delays and
leases, so that retries and lost leases happen within seconds.
"""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import (UUID_RE, assert_error, assert_status, make_superadmin, own_stack,
                      register, set_role)

JOBS = "/api/v1/jobs"
FIELDS = {"id", "kind", "status", "attempts", "max_attempts", "run_at", "created_at",
          "started_at", "finished_at", "last_error", "organization_id"}


@pytest.fixture(scope="module")
def jstack():
    yield from own_stack(JOB_BACKOFF_BASE=1, JOB_BACKOFF_CAP=2, JOB_LEASE=5)


def enqueue(stack, kind, org_id=None, max_attempts=5, payload=None):
    """A job put in the queue the way lib/job.c does: a row and a NOTIFY."""
    [(job_id,)] = stack.psql(
        "INSERT INTO homebot.jobs (organization_id, kind, payload, max_attempts)"
        " VALUES (NULLIF(:'org', '')::uuid, :'kind', :'payload'::jsonb, :'max')"
        " RETURNING id; NOTIFY homebot_jobs",
        org=org_id or "", kind=kind, payload=json.dumps(payload or {}), max=max_attempts)
    return job_id


def job_row(stack, job_id):
    [(status, attempts, error)] = stack.psql(
        "SELECT status, attempts, coalesce(last_error, '') FROM homebot.jobs WHERE id = :'id'",
        id=job_id)
    return status, int(attempts), error


def wait_status(stack, job_id, want, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        row = job_row(stack, job_id)
        if row[0] in want:
            return row
        assert time.monotonic() < deadline, f"job {job_id} still {row} after {timeout} s"
        time.sleep(0.05)


def worker_children(stack):
    """The pids of the worker processes that take jobs (not their parent)."""
    out = subprocess.run(["pgrep", "-f", f"^{stack.dir}/app/bin/homebot-worker"],
                         capture_output=True, text=True).stdout.split()
    pids = {int(p) for p in out}
    return sorted(p for p in pids
                  if int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) in pids)


def test_a_job_is_run_by_a_worker_soon_after_it_is_enqueued(jstack):
    t0 = time.monotonic()
    job = enqueue(jstack, "noop")
    assert wait_status(jstack, job, {"succeeded"})[:2] == ("succeeded", 1)
    # Woken by NOTIFY, not by the fallback poll of one second.
    assert time.monotonic() - t0 < 1.0


def test_a_job_of_a_kind_nobody_handles_retries_with_growing_delays_then_is_dead(jstack):
    job = enqueue(jstack, "no.such.kind", max_attempts=3)
    status, attempts, error = wait_status(jstack, job, {"dead"})
    assert attempts == 3
    assert "no handler" in error, error
    [(finished,)] = jstack.psql("SELECT finished_at IS NOT NULL FROM homebot.jobs WHERE id = :'id'",
                                id=job)
    assert finished == "t"


def test_a_failing_job_does_not_block_the_jobs_behind_it(jstack):
    bad = enqueue(jstack, "no.such.kind", max_attempts=5)
    wait_status(jstack, bad, {"failed"})
    good = [enqueue(jstack, "noop") for _ in range(5)]
    for job in good:
        assert wait_status(jstack, job, {"succeeded"}, timeout=5)[0] == "succeeded"
    assert job_row(jstack, bad)[0] in {"failed", "running", "queued"}


def test_a_job_whose_worker_stopped_runs_again_once_its_lease_expires(jstack):
    job = enqueue(jstack, "noop")
    # As if a worker took it and died: running, under a lease nobody renews.
    jstack.psql("UPDATE homebot.jobs SET status = 'running', attempts = 1, lease_owner = 'gone:1:0',"
                " lease_expires_at = now() + interval '2 seconds' WHERE id = :'id'"
                " AND status IN ('queued', 'succeeded')", id=job)
    status, attempts, _ = wait_status(jstack, job, {"succeeded"}, timeout=20)
    assert (status, attempts) == ("succeeded", 2)


def test_a_killed_worker_process_is_replaced_and_jobs_still_run(jstack):
    before = worker_children(jstack)
    assert len(before) == 2, before
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        now = worker_children(jstack)
        if len(now) == 2 and before[0] not in now:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    jobs = [enqueue(jstack, "noop") for _ in range(4)]
    for job in jobs:
        assert wait_status(jstack, job, {"succeeded"})[0] == "succeeded"


def test_workers_resume_after_a_database_restart_without_being_restarted(jstack):
    before = worker_children(jstack)
    jstack.control("pg-stop")
    time.sleep(1.5)
    jstack.control("pg-start")
    job = enqueue(jstack, "noop")
    assert wait_status(jstack, job, {"succeeded"})[0] == "succeeded"
    assert worker_children(jstack) == before


def test_two_workers_never_run_one_job_twice(jstack):
    batch = uuid.uuid4().hex
    jstack.psql("INSERT INTO homebot.jobs (kind, payload) SELECT 'noop', jsonb_build_object("
                "'batch', :'b'::text, 'n', n) FROM generate_series(1, 500) AS n; NOTIFY homebot_jobs",
                b=batch)
    deadline = time.monotonic() + 30
    while True:
        [(done, once)] = jstack.psql(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
            " count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1)"
            " FROM homebot.jobs WHERE payload ->> 'batch' = :'b'", b=batch)
        if int(done) == 500:
            break
        assert time.monotonic() < deadline, done
        time.sleep(0.2)
    assert int(once) == 500
    ids = {i for (i,) in jstack.psql("SELECT id FROM homebot.jobs WHERE payload ->> 'batch' = :'b'",
                                     b=batch)}
    log = open(os.path.join(jstack.dir, "log", "worker.log")).read()
    lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
    runs = [l["fields"]["job_id"] for l in lines if l.get("msg") == "job"]
    mine = [r for r in runs if r in ids]
    assert len(mine) == 500 and set(mine) == ids, "a job ran twice, or not at all"


def test_the_organization_sees_its_jobs_newest_first_without_payloads(jstack):
    a, b = register(jstack), register(jstack)
    mine = [enqueue(jstack, "noop", a.org_id, payload={"secret": "p-" + uuid.uuid4().hex})
            for _ in range(3)]
    theirs = enqueue(jstack, "noop", b.org_id)
    r = a.get(JOBS + "?limit=2")
    assert_status(r, 200)
    page = r.json()
    assert [j["id"] for j in page["data"]] == mine[::-1][:2]
    assert set(page["data"][0]) == FIELDS, page
    assert page["next_cursor"]
    rest = a.get(JOBS + "?limit=2&cursor=" + page["next_cursor"]).json()
    assert [j["id"] for j in rest["data"]] == [mine[0]] and rest["next_cursor"] is None
    assert b"secret" not in r.body and b"payload" not in r.body
    assert_error(a.get(f"{JOBS}/{theirs}"), 404, "not_found")
    got = a.get(f"{JOBS}/{mine[0]}")
    assert_status(got, 200)
    assert got.json()["id"] == mine[0] and UUID_RE.fullmatch(got.json()["id"])


def test_jobs_can_be_filtered_by_status_and_kind(jstack):
    a = register(jstack)
    ok = enqueue(jstack, "noop", a.org_id)
    bad = enqueue(jstack, "no.such.kind", a.org_id, max_attempts=1)
    wait_status(jstack, ok, {"succeeded"})
    wait_status(jstack, bad, {"dead"})
    dead = a.get(JOBS + "?status=dead").json()["data"]
    assert [j["id"] for j in dead] == [bad]
    assert dead[0]["last_error"] and dead[0]["finished_at"]
    assert [j["id"] for j in a.get(JOBS + "?kind=noop").json()["data"]] == [ok]
    assert_error(a.get(JOBS + "?status=nope"), 422, "validation_failed")


def test_reading_jobs_needs_jobs_read(jstack):
    a = register(jstack)
    member = register(jstack)
    jstack.psql("INSERT INTO homebot.memberships (organization_id, user_id, role)"
                " VALUES (:'org', :'user', 'member')", org=a.org_id, user=member.user_id)
    m = member.switch(a.org_id)
    assert_error(m.get(JOBS), 403, "forbidden")
    set_role(jstack, a.org_id, member.user_id, "admin")
    assert_status(m.get(JOBS), 200)


def test_the_platform_admin_sees_every_job_and_retries_a_dead_one(jstack):
    admin = make_superadmin(jstack)
    a = register(jstack)
    dead = enqueue(jstack, "no.such.kind", a.org_id, max_attempts=1)
    wait_status(jstack, dead, {"dead"})
    listed = admin.get("/api/v1/admin/jobs?status=dead&limit=200").json()["data"]
    assert dead in [j["id"] for j in listed]
    # A dead job of a kind that exists now: back to the queue, and it runs.
    jstack.psql("UPDATE homebot.jobs SET kind = 'noop' WHERE id = :'id'", id=dead)
    r = admin.post(f"/api/v1/admin/jobs/{dead}/retry")
    assert_status(r, 200)
    assert r.json()["status"] == "queued" and r.json()["attempts"] == 0
    assert wait_status(jstack, dead, {"succeeded"})[0] == "succeeded"
    assert_error(admin.post(f"/api/v1/admin/jobs/{dead}/retry"), 409, "job_not_dead")
    assert_error(admin.post(f"/api/v1/admin/jobs/{uuid.uuid4()}/retry"), 404, "not_found")
    [(n,)] = jstack.psql("SELECT count(*) FROM homebot.audit_log WHERE action = 'admin.job.retried'"
                         " AND target_id = :'id'", id=dead)
    assert n == "1"
    assert_error(a.post(f"/api/v1/admin/jobs/{dead}/retry"), 403, "forbidden")
