"""GET /metrics (api.md §6): the Prometheus text format, summed over every
process of every program, for the clients in METRICS_ALLOW only.

Each process counts into a slot file of its own under METRICS_DIR; the
metrics program sums them. These tests check the sums against the
requests they sent, across concurrent workers and a killed one, and let
promtool and a real Prometheus server read the result.
"""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import assert_error, new_email, own_stack, register, reserve_port

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(stack):
    r = stack.get("/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type") == CONTENT_TYPE, r.headers
    return r.body.decode()


def samples(text):
    """Every sample of the text: (name, {label: value}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        out.append((m.group(1), dict(LABEL_RE.findall(m.group(2) or "")),
                    float(m.group(3))))
    return out


def total(text, name, **labels):
    """The sum of name's samples whose labels include these."""
    return sum(v for n, ls, v in samples(text)
               if n == name and all(ls.get(k) == want for k, want in labels.items()))


def series(text, name, **labels):
    return [ls for n, ls, _ in samples(text)
            if n == name and all(ls.get(k) == want for k, want in labels.items())]


def fire(stack, paths, workers=16):
    """Requests to paths, concurrently; how many a Homebot program answered
    (its answers carry X-Request-ID; the web server's own pages do not)."""
    def one(path):
        return stack.get(path).header("X-Request-ID") is not None

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, paths))


def test_metrics_is_text_format_0_0_4_that_promtool_accepts(stack):
    account = register(stack)
    assert account.get("/api/v1/auth/me").status == 200
    stack.get("/no/such/path")
    text = scrape(stack)
    out = subprocess.run(["promtool", "check", "metrics"], input=text,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for family, kind in [("http_requests_total", "counter"),
                         ("http_request_duration_seconds", "histogram"),
                         ("process_resident_memory_bytes", "gauge"),
                         ("process_cpu_seconds_total", "counter"),
                         ("process_open_fds", "gauge"),
                         ("process_start_time_seconds", "gauge"),
                         ("homebot_db_connections", "gauge"),
                         ("homebot_db_reconnects_total", "counter"),
                         ("homebot_db_statement_errors_total", "counter"),
                         ("homebot_jobs", "gauge"),
                         ("homebot_jobs_processed_total", "counter"),
                         ("homebot_jobs_duration_seconds", "histogram")]:
        assert f"# TYPE {family} {kind}\n" in text, family
    assert total(text, "homebot_db_connections", program="homebot-me") >= 1, \
        "a me worker that answered with the database holds a connection"
    assert series(text, "process_resident_memory_bytes", program="homebot-health"), \
        "live processes have their gauges"


def test_requests_spread_over_workers_of_several_programs_add_up_exactly(stack):
    targets = [("/health", "homebot-health", "/health"),
               ("/api/v1/auth/me", "homebot-me", "/api/v1/auth/me"),
               ("/api/v1/organizations", "homebot-orgs", "/api/v1/organizations"),
               ("/no/such/thing", "homebot-health", "other")]
    per_target = 100
    before = scrape(stack)
    answered = {}
    for path, program, route in targets:
        answered[(program, route)] = fire(stack, [path] * per_target)
    after = scrape(stack)
    n = 0
    for (program, route), count in answered.items():
        assert count == per_target, f"{program} {route}: {count} answered by Homebot"
        for name in ("http_requests_total", "http_request_duration_seconds_count"):
            delta = (total(after, name, program=program, route=route)
                     - total(before, name, program=program, route=route))
            assert delta == count, f"{name} {program} {route}: +{delta}, sent {count}"
        n += count
    assert n == len(targets) * per_target
    for program in ("homebot-health", "homebot-me"):
        assert len(series(after, "process_start_time_seconds", program=program)) >= 2, \
            f"{program} serves with several processes"


def test_route_labels_are_patterns_never_paths(stack):
    ident = str(uuid.uuid4())
    r = stack.delete(f"/api/v1/members/{ident}")
    assert r.status == 401, r
    stack.get(f"/nothing/here/{ident}")
    text = scrape(stack)
    assert ident not in text
    assert series(text, "http_requests_total", program="homebot-members",
                  route="/api/v1/members/{user_id}", method="DELETE", status="401")
    routes = {ls["route"] for ls in series(text, "http_requests_total")}
    assert all(r == "other" or r.startswith("/") for r in routes), routes


def test_a_killed_worker_loses_and_doubles_no_count(stack):
    stack.need_own()
    me = "/api/v1/auth/me"
    fire(stack, [me] * 60)
    before = total(scrape(stack), "http_requests_total", program="homebot-me")
    victim = stack.worker_pids("me")[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{victim}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    answered = fire(stack, [me] * 60, workers=4)
    after = scrape(stack)
    assert total(after, "http_requests_total", program="homebot-me") == before + answered, \
        "the killed process's counts stay, the new ones add, nothing twice"
    slots = sorted(p.name for p in Path(stack.dir, "run", "metrics").glob("homebot-me.*"))
    # 4 processes at most (max-procs, FcgidMaxProcessesPerClass): the one
    # that replaced the killed worker took its slot over. One more file
    # only if it looked while a scrape was probing that slot.
    assert len(slots) <= 5, slots


def test_job_figures_come_from_the_queue_and_the_workers(stack):
    stack.need_own()
    kind = "test.metrics"
    stack.psql("INSERT INTO homebot.jobs (kind, status, run_at) VALUES"
               " (:'kind', 'queued', now() + interval '1 hour'),"
               " (:'kind', 'queued', now() + interval '1 hour'),"
               " (:'kind', 'dead', now())", kind=kind)
    try:
        text = scrape(stack)
        assert total(text, "homebot_jobs", kind=kind, state="queued") == 2
        assert total(text, "homebot_jobs", kind=kind, state="dead") == 1
        assert total(text, "homebot_jobs", kind=kind, state="running") == 0
        assert total(text, "homebot_jobs_query_ok") == 1
    finally:
        stack.psql("DELETE FROM homebot.jobs WHERE kind = :'kind'", kind=kind)
    forgot = dict(kind="auth.password_forgot", outcome="succeeded")
    done = total(text, "homebot_jobs_processed_total", **forgot)
    r = stack.post("/api/v1/auth/password/forgot", {"email": new_email()})
    assert r.status == 202, r
    deadline = time.monotonic() + 20
    while total(text, "homebot_jobs_processed_total", **forgot) < done + 1:
        assert time.monotonic() < deadline, "the worker's job was not counted"
        time.sleep(0.2)
        text = scrape(stack)
    assert total(text, "homebot_jobs_processed_total", **forgot) == done + 1
    assert total(text, "homebot_jobs_duration_seconds_count", **forgot) == done + 1


@pytest.fixture(scope="module")
def closed_stack():
    yield from own_stack(METRICS_ALLOW="10.0.0.0/8")


def test_a_client_outside_metrics_allow_gets_404(closed_stack):
    r = closed_stack.get("/metrics")
    assert_error(r, 404, "not_found")
    assert b"http_requests_total" not in r.body
    assert closed_stack.get("/health").status == 200


@pytest.mark.parametrize("method", ["POST", "DELETE", "OPTIONS"])
def test_outside_metrics_allow_no_method_tells_that_metrics_exists(closed_stack, method):
    unknown = closed_stack.request(method, "/no-such-path", body=b"x",
                                   headers={"Content-Type": "text/plain"})
    r = closed_stack.request(method, "/metrics", body=b"x",
                             headers={"Content-Type": "text/plain"})
    assert_error(unknown, 404, "not_found")
    assert_error(r, 404, "not_found")


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_a_prometheus_server_scrapes_it(stack, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (scripts/deps.sh installs it)")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: homebot
    metrics_path: /metrics
    static_configs:
      - targets: ["{stack.host}:{stack.port}"]
""")
    held = reserve_port()
    port = held.getsockname()[1]
    held.close()
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen([prometheus, f"--config.file={config}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        target, result = None, []
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                targets = _get_json(f"{api}/targets")["data"]["activeTargets"]
                target = targets[0] if targets else None
                if target and target["health"] == "up":
                    q = urllib.request.quote('http_requests_total{program="homebot-health"}')
                    result = _get_json(f"{api}/query?query={q}")["data"]["result"]
                    if result:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        assert target and target["health"] == "up", target
        assert target["lastError"] == "", target
        assert result, "no homebot series in Prometheus"
        assert any(float(r["value"][1]) > 0 for r in result), result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
