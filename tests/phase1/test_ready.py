"""GET /ready's warnings (api.md §12): `disk`, the free space of the data
and log directories, `jobs`, the queue's oldest runnable job and its
dead jobs, and `mqtt`, whether the broker answers. They warn and never make /ready answer 503; only `database` and
`migrations` do. Each statement is bounded, so /ready answers within a
second even when the database holds it up.

A stack of its own with the default thresholds (no test here leaves a job
behind for another module's stack to see), and one whose READY_DISK_MIN_FREE
no file system can meet.
"""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import own_stack, register

# Every check's status may only be one of these.
WARN_ONLY = {"ok", "warn"}


@pytest.fixture(scope="module")
def rstack():
    yield from own_stack()


@pytest.fixture(scope="module")
def full_stack():
    yield from own_stack(READY_DISK_MIN_FREE=100)


def ready(stack):
    """GET /ready, timed: (response, seconds)."""
    t0 = time.monotonic()
    r = stack.get("/ready")
    return r, time.monotonic() - t0


def mqtt_timeout_ms(stack):
    """The stack's READY_MQTT_TIMEOUT: 200 ms, more for a broker under valgrind."""
    env = Path(stack.dir, "etc", "homebot.env").read_text()
    found = re.findall(r"^READY_MQTT_TIMEOUT=(\d+)$", env, re.M)
    return int(found[-1]) if found else 200


def no_jobs_left(stack, kind):
    stack.psql("DELETE FROM homebot.jobs WHERE kind = :'kind'", kind=kind)


def test_every_check_ok_by_default(rstack):
    r, took = ready(rstack)
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"database", "migrations", "disk", "jobs", "mqtt"}, checks
    # The stack's broker answered its probe.
    assert checks["mqtt"]["status"] == "ok" and 0 <= checks["mqtt"]["latency_ms"] < mqtt_timeout_ms(rstack), checks
    disk = checks["disk"]
    assert disk["status"] == "ok", disk
    assert disk["min_free_percent"] == 10
    # The stack's data (METRICS_DIR) and log directories, by name.
    assert set(disk["directories"]) == {"data", "log"}, disk
    for d in disk["directories"].values():
        assert d["status"] == "ok" and 10 <= d["free_percent"] <= 100, disk
    jobs = checks["jobs"]
    assert jobs == {"status": "ok", "oldest_queued_seconds": 0, "dead": 0,
                    "max_queued_seconds": 300, "max_dead": 0}, jobs
    assert took < 1, took


def test_the_answer_names_no_path(rstack):
    r, _ = ready(rstack)
    assert rstack.dir.encode() not in r.body, r.body
    assert b"/metrics" not in r.body and b"/log" not in r.body, r.body


def test_disk_warns_below_the_threshold_and_ready_stays_200(full_stack):
    r, took = ready(full_stack)
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ready"
    disk = body["checks"]["disk"]
    assert disk["status"] == "warn", disk
    assert disk["min_free_percent"] == 100
    assert set(disk["directories"]) == {"data", "log"}, disk
    for d in disk["directories"].values():
        assert d["status"] == "warn" and d["free_percent"] < 100, disk
    assert "data" in disk["message"] and "log" in disk["message"], disk
    assert full_stack.dir.encode() not in r.body, r.body
    assert body["checks"]["database"]["status"] == "ok"
    assert took < 1, took


def test_an_old_queued_job_warns_and_ready_stays_200(rstack):
    kind = "ready.late"
    # No worker takes it meanwhile.
    rstack.control("worker-stop")
    try:
        rstack.psql("INSERT INTO homebot.jobs (kind, run_at) VALUES"
                    " (:'kind', now() - interval '10 minutes')", kind=kind)
        r, took = ready(rstack)
        assert r.status == 200, r
        body = r.json()
        assert body["status"] == "ready"
        jobs = body["checks"]["jobs"]
        assert jobs["status"] == "warn", jobs
        assert 600 <= jobs["oldest_queued_seconds"] < 900, jobs
        assert jobs["dead"] == 0, jobs
        assert "wait" in jobs["message"], jobs
        assert took < 1, took
        # A job due later has waited for nothing yet.
        rstack.psql("UPDATE homebot.jobs SET run_at = now() + interval '1 hour'"
                    " WHERE kind = :'kind'", kind=kind)
        jobs = rstack.get("/ready").json()["checks"]["jobs"]
        assert jobs["status"] == "ok" and jobs["oldest_queued_seconds"] == 0, jobs
    finally:
        no_jobs_left(rstack, kind)
        rstack.control("worker-start")


def test_a_dead_job_of_any_organization_warns_and_ready_stays_200(rstack):
    kind = "ready.dead"
    org = register(rstack).org_id
    # homebot_app reads no organization's jobs without its context: the
    # count comes from the definer function, across organizations.
    rstack.psql("INSERT INTO homebot.jobs (organization_id, kind, status, finished_at)"
                " VALUES (:'org', :'kind', 'dead', now())", org=org, kind=kind)
    try:
        r, took = ready(rstack)
        assert r.status == 200, r
        assert r.json()["status"] == "ready"
        jobs = r.json()["checks"]["jobs"]
        assert jobs["status"] == "warn" and jobs["dead"] == 1, jobs
        assert "failed for good" in jobs["message"], jobs
        assert org not in r.body.decode(), r.body
        assert took < 1, took
    finally:
        no_jobs_left(rstack, kind)
    jobs = rstack.get("/ready").json()["checks"]["jobs"]
    assert jobs["status"] == "ok" and jobs["dead"] == 0, jobs


def hold_lock(stack, table):
    """A session that holds table locked for a few seconds: the Popen."""
    sql = (f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;"
           " SELECT pg_sleep(4); COMMIT;")
    p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                          "-c", sql, stack.env["OWNER_URL"]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [(n,)] = stack.psql("SELECT count(*) FROM pg_locks"
                            " WHERE relation = :'t'::regclass AND mode = 'AccessExclusiveLock'"
                            " AND granted", t=table)
        if n != "0":
            return p
        time.sleep(0.05)
    p.kill()
    pytest.fail(f"{table} was never locked: {p.stderr.read()}")


def test_a_queue_that_does_not_answer_warns_within_a_second(rstack):
    p = hold_lock(rstack, "homebot.jobs")
    try:
        r, took = ready(rstack)
    finally:
        p.wait(timeout=30)
    assert took < 1, took
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ready"
    jobs = body["checks"]["jobs"]
    assert jobs["status"] == "warn", jobs
    assert jobs["dead"] is None and jobs["oldest_queued_seconds"] is None, jobs
    assert "cannot be read" in jobs["message"], jobs
    assert body["checks"]["database"]["status"] == "ok"


def test_a_database_that_does_not_answer_is_503_within_a_second(rstack):
    p = hold_lock(rstack, "public.schema_migrations")
    try:
        r, took = ready(rstack)
    finally:
        p.wait(timeout=30)
    assert took < 1, took
    assert r.status == 503, r
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["disk"]["status"] in WARN_ONLY
    assert body["checks"]["jobs"]["status"] == "warn", body
    # And it is ready again once the lock is gone.
    assert rstack.get("/ready").status == 200


def test_a_stopped_broker_warns_and_ready_stays_200(rstack):
    rstack.control("mqtt-stop")
    try:
        r, took = ready(rstack)
        assert r.status == 200 and r.json()["status"] == "ready", r
        mqtt = r.json()["checks"]["mqtt"]
        assert mqtt == {"status": "warn",
                        "message": "The MQTT broker cannot be reached."}, mqtt
        assert took < 1, took
    finally:
        rstack.control("mqtt-start")
    r, _ = ready(rstack)
    assert r.json()["checks"]["mqtt"]["status"] == "ok", r


def test_a_broker_that_does_not_answer_warns_within_a_second(rstack):
    # Stopped with SIGSTOP, the broker's kernel still accepts the
    # connection: only an answer from its loop counts.
    pid = int((Path(rstack.dir) / "state" / "mqtt.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        r, took = ready(rstack)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert r.status == 200 and r.json()["status"] == "ready", r
    mqtt = r.json()["checks"]["mqtt"]
    assert mqtt == {"status": "warn",
                    "message": "The MQTT broker did not answer within "
                               f"{mqtt_timeout_ms(rstack)} ms."}, mqtt
    assert took < 1, took
    r, _ = ready(rstack)
    assert r.json()["checks"]["mqtt"]["status"] == "ok", r
