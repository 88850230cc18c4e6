"""Every failure an operator must look into leaves its cause in the log.

A 5xx or a database fault writes one line, where the request ends: the
request's own log line, with the program, the SQLSTATE and the server's
message, never the statement's parameters. The client gets only the error
envelope.
"""
import json
import uuid

from conftest import assert_error, register


def log_line(stack, request_id):
    """The one log line of the request with this ID, as a dict."""
    lines = [json.loads(l) for l in stack.web_log().splitlines()
             if l.startswith("{") and request_id in l]
    mine = [l for l in lines if l.get("request_id") == request_id]
    assert len(mine) == 1, lines
    return mine[0]


def test_a_statement_that_fails_on_the_server_is_a_500_whose_cause_is_logged(stack):
    a = register(stack)
    rid = "fault-" + uuid.uuid4().hex
    # Permissions are checked when a statement runs, so even a worker whose
    # connection ran this statement a moment ago fails on it now.
    stack.psql("REVOKE SELECT ON homebot.api_keys FROM homebot_app")
    try:
        r = a.get("/api/v1/api-keys", headers={"X-Request-ID": rid})
    finally:
        stack.psql("GRANT SELECT ON homebot.api_keys TO homebot_app")
    assert_error(r, 500, "internal_error")
    assert b"permission" not in r.body and b"42501" not in r.body, r
    line = log_line(stack, rid)
    assert line["status"] == 500, line
    assert line["level"] == "error", line
    assert line["program"] == "homebot-api-keys", line
    assert line["sqlstate"] == "42501", line
    assert "permission denied" in line["cause"] and "api_keys" in line["cause"], line
    assert line["org_id"] == a.org_id, line
    assert a.get("/api/v1/api-keys").status == 200


def test_a_request_that_succeeds_logs_no_cause(stack):
    a = register(stack)
    rid = "fine-" + uuid.uuid4().hex
    assert a.get("/api/v1/api-keys", headers={"X-Request-ID": rid}).status == 200
    line = log_line(stack, rid)
    assert "cause" not in line and "sqlstate" not in line, line
    assert line["program"] == "homebot-api-keys", line


def test_a_failure_does_not_leave_its_cause_on_the_next_request(stack):
    a = register(stack)
    stack.psql("REVOKE SELECT ON homebot.api_keys FROM homebot_app")
    try:
        assert a.get("/api/v1/api-keys").status == 500
    finally:
        stack.psql("GRANT SELECT ON homebot.api_keys TO homebot_app")
    rids = ["after-" + uuid.uuid4().hex for _ in range(8)]
    for rid in rids:
        assert a.get("/api/v1/api-keys", headers={"X-Request-ID": rid}).status == 200
    for rid in rids:
        assert "cause" not in log_line(stack, rid), rid


def test_a_health_probe_that_succeeds_is_counted_but_not_logged(stack):
    """A monitor's GET /health every few seconds would bury the lines that
    matter: its success has no log line (the metrics count it); any other
    answer of the health program, and a failed probe, has one."""
    ok, ready, refused = ("probe-" + uuid.uuid4().hex for _ in range(3))
    assert stack.get("/health", headers={"X-Request-ID": ok}).status == 200
    assert stack.get("/ready", headers={"X-Request-ID": ready}).status == 200
    assert stack.post("/health", {}, headers={"X-Request-ID": refused}).status == 405
    # Each line is written before its answer is sent: no waiting needed.
    assert log_line(stack, ready)["status"] == 200
    assert log_line(stack, refused)["status"] == 405
    assert ok not in stack.web_log()
