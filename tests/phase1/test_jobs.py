"""Background jobs (api.md §7): the queue in PostgreSQL, homebot-worker,
and the endpoints that show jobs to an organization and to the platform.

These tests run on a stack of their own with short retry delays and
leases, so that retries and lost leases happen within seconds.
"""
import email
import email.policy
import email.utils
import json
import os
import re
import signal
import subprocess
import time
import uuid
from datetime import datetime

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
    return sorted(p for p in pids if parent_pid(p) in pids)


def parent_pid(pid):
    """The parent of pid, or None once pid has exited (as workers do while
    they stop: pgrep may name a process that is gone when it is read)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


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
    # Kind noop: the organization's events (mqtt.publish) are its jobs too.
    r = a.get(JOBS + "?kind=noop&limit=2")
    assert_status(r, 200)
    page = r.json()
    assert [j["id"] for j in page["data"]] == mine[::-1][:2]
    assert set(page["data"][0]) == FIELDS, page
    assert page["next_cursor"]
    rest = a.get(JOBS + "?kind=noop&limit=2&cursor=" + page["next_cursor"]).json()
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


# ---- mail ----------------------------------------------------------------------

def mail_dir(stack):
    return os.path.join(stack.dir, "mail")


def mails(stack):
    """The mails the stack's SMTP sink kept, parsed, oldest first."""
    d = mail_dir(stack)
    names = sorted((n for n in os.listdir(d) if n.endswith(".eml")), key=lambda n: int(n[:-4]))
    return [email.message_from_bytes(open(os.path.join(d, n), "rb").read(),
                                     policy=email.policy.default) for n in names]


def mails_to(stack, address):
    return [m for m in mails(stack) if m["To"] == address]


def enqueue_mail(stack, to, token, org_id=None, max_attempts=5):
    link = f"http://127.0.0.1:3334/account/verify#token={token}"
    return enqueue(stack, "mail", org_id, max_attempts,
                   {"to": to, "template": "verify_email", "secret": {"link": link}})


def sink_control(stack, name, value=None):
    """Writes (or, with None, removes) one of the sink's control files."""
    path = os.path.join(mail_dir(stack), name)
    if value is None:
        if os.path.exists(path):
            os.remove(path)
    else:
        with open(path, "w") as f:
            f.write(str(value))


def test_a_mail_job_delivers_one_well_formed_mail_and_forgets_its_link(jstack):
    to = f"m-{uuid.uuid4().hex[:12]}@example.com"
    token = "tok" + uuid.uuid4().hex
    job = enqueue_mail(jstack, to, token)
    assert wait_status(jstack, job, {"succeeded"})[0] == "succeeded"
    [m] = mails_to(jstack, to)
    assert m["From"] == "Homebot <homebot@localhost>"
    assert m["Subject"] == "Confirm your email address for Homebot"
    assert m["MIME-Version"] == "1.0"
    assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8"
    assert email.utils.parsedate_to_datetime(m["Date"]).tzinfo is not None
    assert re.fullmatch(r"<[0-9a-f]+@localhost>", m["Message-ID"]), m["Message-ID"]
    body = m.get_body().get_content()
    assert f"http://127.0.0.1:3334/account/verify#token={token}" in body
    raw = open(os.path.join(mail_dir(jstack), sorted(
        n for n in os.listdir(mail_dir(jstack)) if n.endswith(".eml"))[-1]), "rb").read()
    assert all(len(l) <= 78 for l in raw.split(b"\r\n")), "a line over 78 characters"
    # The token-bearing link is gone from the queue, and never logged.
    [(payload,)] = jstack.psql("SELECT payload::text FROM homebot.jobs WHERE id = :'id'", id=job)
    assert token not in payload and "secret" not in payload, payload
    assert token not in open(os.path.join(jstack.dir, "log", "worker.log")).read()


def job_log(stack, job_id):
    """The worker's log lines of one job, oldest first."""
    log = open(os.path.join(stack.dir, "log", "worker.log")).read()
    lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
    return [l for l in lines if l.get("msg") == "job" and l["fields"]["job_id"] == job_id]


def test_a_refused_mail_is_retried_with_growing_delays_and_delivered_once_accepted(jstack):
    to = f"r-{uuid.uuid4().hex[:12]}@example.com"
    token = "tok" + uuid.uuid4().hex
    sink_control(jstack, "refuse", 451)
    try:
        job = enqueue_mail(jstack, to, token, max_attempts=10)
        deadline = time.monotonic() + 20
        while len(job_log(jstack, job)) < 3:
            assert time.monotonic() < deadline, job_log(jstack, job)
            time.sleep(0.1)
    finally:
        sink_control(jstack, "refuse")
    tries = job_log(jstack, job)[:3]
    assert [(t["fields"]["attempt"], t["fields"]["outcome"]) for t in tries] == \
        [(1, "failed"), (2, "failed"), (3, "failed")], tries
    assert all("smtp_transient" in t["fields"]["error"] and "451" in t["fields"]["error"]
               for t in tries), tries
    at = [datetime.fromisoformat(t["ts"].replace("Z", "+00:00")).timestamp() for t in tries]
    gaps = [at[1] - at[0], at[2] - at[1]]
    # Equal jitter: after attempt 1 half to all of 1 s, after 2 of 2 s (the cap).
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[1] >= gaps[0] - 0.05, gaps
    [(error,)] = jstack.psql("SELECT coalesce(last_error, '') FROM homebot.jobs WHERE id = :'id'",
                             id=job)
    assert token not in error
    assert wait_status(jstack, job, {"succeeded"})[0] == "succeeded"
    assert len(mails_to(jstack, to)) == 1


def test_a_mail_that_cannot_be_made_is_dead_at_once(jstack):
    job = enqueue(jstack, "mail", payload={"to": "x@example.com", "template": "no_such_template"})
    status, attempts, error = wait_status(jstack, job, {"dead"})
    assert attempts == 1 and error.startswith("mail_invalid"), error


def test_sigterm_lets_the_running_mail_finish_then_the_worker_stops(jstack):
    to = f"t-{uuid.uuid4().hex[:12]}@example.com"
    sink_control(jstack, "delay", 2)
    try:
        job = enqueue_mail(jstack, to, "tok" + uuid.uuid4().hex)
        wait_status(jstack, job, {"running"})
        parent = subprocess.run(["pgrep", "-f", f"^{jstack.dir}/app/bin/homebot-worker"],
                                capture_output=True, text=True).stdout.split()
        # pgrep names the worker's children too, and the worker's own
        # SIGTERM may have stopped one before it is reached here.
        for pid in parent:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while worker_children(jstack) or subprocess.run(
                ["pgrep", "-f", f"^{jstack.dir}/app/bin/homebot-worker"]).returncode == 0:
            assert time.monotonic() < deadline, "the worker did not stop"
            time.sleep(0.1)
    finally:
        sink_control(jstack, "delay")
        jstack.control("worker-start")
    assert job_row(jstack, job)[:2] == ("succeeded", 1)
    assert len(mails_to(jstack, to)) == 1
    deadline = time.monotonic() + 10
    while len(worker_children(jstack)) != 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_worker_killed_mid_delivery_leaves_the_mail_to_another_after_the_lease(jstack):
    to = f"k-{uuid.uuid4().hex[:12]}@example.com"
    sink_control(jstack, "delay", 3)
    try:
        job = enqueue_mail(jstack, to, "tok" + uuid.uuid4().hex)
        wait_status(jstack, job, {"running"})
        [(owner,)] = jstack.psql("SELECT lease_owner FROM homebot.jobs WHERE id = :'id'", id=job)
        pid = int(owner.split(":")[1])
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        sink_control(jstack, "delay")
        status, attempts, _ = wait_status(jstack, job, {"succeeded"}, timeout=30)
    finally:
        sink_control(jstack, "delay")
    assert (status, attempts) == ("succeeded", 2)
    assert len(mails_to(jstack, to)) == 1, "delivered once, by the second attempt"
