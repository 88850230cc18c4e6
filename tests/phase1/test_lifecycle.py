"""A program stopped with SIGTERM (the web server stopping it) finishes
the request in hand, leaves the accept loop and returns from main(): that
exit is where the sanitizer run's LeakSanitizer reports anything a program
never freed (scripts/check.sh, SANITIZE=1). Behind both web servers.
"""
import json
import os
import signal
import time


def stopping_lines(stack):
    out = []
    for line in stack.web_log().splitlines():
        if '"msg":"stopping"' in line:
            out.append(json.loads(line))
    return out


def alive(pid):
    """Whether pid runs (a zombie the web server has yet to reap does not)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigterm_ends_a_program_through_main(stack):
    assert stack.get("/api/v1/auth/me").status == 401
    pids = stack.worker_pids("me")
    assert pids
    victim = pids[0]
    os.kill(victim, signal.SIGTERM)
    deadline = time.monotonic() + 10
    line = None
    while time.monotonic() < deadline:
        line = next((e for e in stopping_lines(stack) if e["fields"]["pid"] == victim), None)
        if line is not None and not alive(victim):
            break
        time.sleep(0.1)
    assert line is not None, "no stopping line for the program"
    assert line["level"] == "info"
    assert line["fields"]["program"].endswith("me")
    assert line["fields"]["requests"] >= 0
    assert not alive(victim)
    # The web server starts another; the service goes on.
    for _ in range(50):
        r = stack.get("/api/v1/auth/me")
        if r.status == 401:
            break
        time.sleep(0.1)
    assert r.status == 401, r
