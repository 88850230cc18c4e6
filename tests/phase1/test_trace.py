"""W3C trace context (api.md §1): a valid traceparent is continued, an
invalid or absent one starts a new trace, and the trace ID follows the
request into its log line, its audit rows, the jobs it enqueues and the
worker's log lines of those jobs (each job run with a span of its own).
"""
import json
import os
import re
import secrets
import time

from conftest import assert_status, new_email, new_password, register

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


def trace_id():
    return secrets.token_hex(16)


def span_id():
    return secrets.token_hex(8)


def log_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def request_line(stack, request_id):
    """The request's own log line (the one with its status)."""
    deadline = time.monotonic() + 5
    while True:
        found = [l for l in log_lines(stack.web_log())
                 if l.get("request_id") == request_id and "status" in l]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no log line of {request_id}"
        time.sleep(0.05)


def worker_lines(stack, job_id, timeout=20):
    """The worker's log lines of one job, once it has one."""
    path = os.path.join(stack.dir, "log", "worker.log")
    deadline = time.monotonic() + timeout
    while True:
        found = [l for l in log_lines(open(path).read())
                 if l.get("msg") == "job" and l.get("fields", {}).get("job_id") == job_id]
        if found:
            return found
        assert time.monotonic() < deadline, f"no worker log line of job {job_id}"
        time.sleep(0.1)


def me(stack, **headers):
    rid = "trace-" + secrets.token_hex(8)
    assert_status(stack.get("/api/v1/auth/me", headers={"X-Request-ID": rid, **headers}), 401)
    return request_line(stack, rid)


def test_a_valid_traceparent_is_continued_with_a_new_span(stack):
    stack.need_own()
    tid, parent = trace_id(), span_id()
    line = me(stack, traceparent=f"00-{tid}-{parent}-01", tracestate="rojo=00f067aa0ba902b7")
    assert line["trace_id"] == tid, line
    assert HEX16.fullmatch(line["span_id"]) and line["span_id"] != parent, line
    assert line["span_id"] != "0" * 16
    # A later version is read by its first 55 characters.
    tid2 = trace_id()
    line = me(stack, traceparent=f"cc-{tid2}-{parent}-01-what-the-future-will-be-like")
    assert line["trace_id"] == tid2, line
    # An invalid tracestate is dropped, not the traceparent.
    tid3 = trace_id()
    line = me(stack, traceparent=f"00-{tid3}-{parent}-00", tracestate="Not=Valid,,a=1,a=2")
    assert line["trace_id"] == tid3, line


def test_an_invalid_or_absent_traceparent_starts_a_new_trace(stack):
    stack.need_own()
    tid, parent = trace_id(), span_id()
    for bad in (f"00-{tid.upper()}-{parent}-01",           # uppercase hex
                f"ff-{tid}-{parent}-01",                   # version ff
                f"00-{'0' * 32}-{parent}-01",              # all-zero trace ID
                f"00-{tid}-{'0' * 16}-01",                 # all-zero parent ID
                f"00-{tid}-{parent}-01-extra",             # version 00 is 55 chars
                f"00-{tid}-{parent}"):                     # no flags
        line = me(stack, traceparent=bad)
        assert HEX32.fullmatch(line["trace_id"]), (bad, line)
        assert line["trace_id"] not in (tid, "0" * 32), (bad, line)
        assert HEX16.fullmatch(line["span_id"]) and line["span_id"] != parent, (bad, line)
    a, b = me(stack), me(stack)
    assert HEX32.fullmatch(a["trace_id"]) and HEX32.fullmatch(b["trace_id"]), (a, b)
    assert a["trace_id"] != b["trace_id"], "each request without one starts its own trace"


def test_a_registration_carries_its_trace_into_its_audit_row_mail_job_and_worker_log(stack):
    stack.need_own()
    tid, parent = trace_id(), span_id()
    email, rid = new_email(), "trace-reg-" + secrets.token_hex(8)
    r = stack.post("/api/v1/auth/register",
                   {"email": email, "password": new_password(),
                    "organization_name": "Trace " + secrets.token_hex(4)},
                   headers={"traceparent": f"00-{tid}-{parent}-01", "X-Request-ID": rid})
    assert_status(r, 201)
    line = request_line(stack, rid)
    assert line["trace_id"] == tid, line
    request_span = line["span_id"]

    [(audit_trace,)] = stack.psql(
        "SELECT coalesce(trace_id, '') FROM homebot.audit_log"
        " WHERE action = 'auth.register' AND request_id = :'rid'", rid=rid)
    assert audit_trace == tid
    [(job_id, job_trace)] = stack.psql(
        "SELECT id, coalesce(trace_id, '') FROM homebot.jobs"
        " WHERE kind = 'mail' AND payload ->> 'to' = :'to'", to=email)
    assert job_trace == tid

    lines = worker_lines(stack, job_id)
    assert all(l["trace_id"] == tid for l in lines), lines
    assert all(HEX16.fullmatch(l["span_id"]) and l["span_id"] not in (request_span, parent)
               for l in lines), lines


def test_a_forgotten_password_carries_its_trace_through_both_of_its_jobs(stack):
    stack.need_own()
    user = register(stack)
    tid, parent = trace_id(), span_id()
    r = stack.post("/api/v1/auth/password/forgot", {"email": user.email},
                   headers={"traceparent": f"00-{tid}-{parent}-01"})
    assert_status(r, 202)
    [(forgot_id, forgot_trace)] = stack.psql(
        "SELECT id, coalesce(trace_id, '') FROM homebot.jobs"
        " WHERE kind = 'auth.password_forgot' AND payload ->> 'email' = :'to'",
        to=user.email.lower())
    assert forgot_trace == tid
    forgot_lines = worker_lines(stack, forgot_id)
    assert all(l["trace_id"] == tid for l in forgot_lines), forgot_lines
    # The reset mail the worker enqueued while running it: the same trace.
    deadline = time.monotonic() + 20
    while True:
        rows = stack.psql(
            "SELECT id, coalesce(trace_id, '') FROM homebot.jobs"
            " WHERE kind = 'mail' AND payload ->> 'to' = :'to'"
            " AND payload ->> 'template' = 'password_reset'", to=user.email.lower())
        if rows:
            break
        assert time.monotonic() < deadline, "no reset mail was queued"
        time.sleep(0.1)
    [(mail_id, mail_trace)] = rows
    assert mail_trace == tid
    mail_lines = worker_lines(stack, mail_id)
    assert all(l["trace_id"] == tid for l in mail_lines), mail_lines
    assert {l["span_id"] for l in mail_lines}.isdisjoint(l["span_id"] for l in forgot_lines)
