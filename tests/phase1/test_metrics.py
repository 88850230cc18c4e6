"""GET /metrics (api.md §6): the Prometheus text format, summed over every
process of every program, for the clients in METRICS_ALLOW only.

Each process counts into a slot file of its own under METRICS_DIR; the
metrics program sums them. These tests check the sums against the
requests they sent, across concurrent workers and a killed one, and let
promtool and a real Prometheus server read the result, the server also
evaluating the alert and recording rules of docs/prometheus/.
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
import yaml

from conftest import ROOT, assert_error, new_email, own_stack, register, reserve_port

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
                         ("homebot_db_statement_prepares_total", "counter"),
                         ("homebot_db_statement_name_misses_total", "counter"),
                         ("homebot_jobs", "gauge"),
                         ("homebot_jobs_processed_total", "counter"),
                         ("homebot_jobs_duration_seconds", "histogram")]:
        assert f"# TYPE {family} {kind}\n" in text, family
    assert total(text, "homebot_db_connections", program="homebot-me") >= 1, \
        "a me worker that answered with the database holds a connection"
    assert total(text, "homebot_db_statement_prepares_total", program="homebot-me") >= 1, \
        "a me worker that authenticated a token prepared its statement"
    assert total(text, "homebot_db_statement_name_misses_total") == 0, \
        "straight to PostgreSQL, no prepared statement goes missing"
    assert series(text, "process_resident_memory_bytes", program="homebot-health"), \
        "live processes have their gauges"


def several_processes(stack, paths, timeout=30):
    """Fires requests at each program's path until it serves with two
    processes or more. Apache's mod_fcgid starts them on demand, and on a
    busy machine one process may answer a hundred requests alone."""
    deadline = time.monotonic() + timeout
    for program, path in paths.items():
        while len(series(scrape(stack), "process_start_time_seconds", program=program)) < 2:
            assert time.monotonic() < deadline, f"{program} still serves with one process"
            fire(stack, [path] * 64)


def test_requests_spread_over_workers_of_several_programs_add_up_exactly(stack):
    targets = [("/health", "homebot-health", "/health"),
               ("/api/v1/auth/me", "homebot-me", "/api/v1/auth/me"),
               ("/api/v1/organizations", "homebot-orgs", "/api/v1/organizations"),
               ("/no/such/thing", "homebot-health", "other")]
    per_target = 100
    several_processes(stack, {"homebot-health": "/health", "homebot-me": "/api/v1/auth/me"})
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


RULES = ROOT / "docs" / "prometheus" / "homebot.rules.yml"


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def _query(api, promql):
    q = urllib.request.quote(promql)
    return _get_json(f"{api}/query?query={q}")["data"]["result"]


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    """A Prometheus server that scrapes the stack and evaluates Homebot's
    rules (docs/prometheus/) every second: its process, the base URL of
    its HTTP API and its log file."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (scripts/deps.sh installs it)")
    d = tmp_path_factory.mktemp("prometheus")
    config = d / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: homebot
    metrics_path: /metrics
    static_configs:
      - targets: ["{stack.host}:{stack.port}"]
""")
    held = reserve_port()
    port = held.getsockname()[1]
    held.close()
    log_path = d / "prometheus.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([binary, f"--config.file={config}",
                             f"--storage.tsdb.path={d / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc, f"http://127.0.0.1:{port}/api/v1", log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _until(prometheus, probe, timeout=60):
    """probe(api) every half second until it returns something true (a
    connection error counts as None), for timeout seconds at most: its
    last result."""
    proc, api, log = prometheus
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            result = probe(api)
        except OSError:
            result = None
        if result:
            break
        time.sleep(0.5)
    return result


def test_a_prometheus_server_scrapes_it(prometheus):
    def scraped(api):
        targets = _get_json(f"{api}/targets")["data"]["activeTargets"]
        if not targets or targets[0]["health"] != "up":
            return None
        result = _query(api, 'http_requests_total{program="homebot-health"}')
        return (targets[0], result) if result else None

    got = _until(prometheus, scraped)
    assert got, "Prometheus did not scrape the stack, or found no homebot series"
    target, result = got
    assert target["lastError"] == "", target
    assert any(float(r["value"][1]) > 0 for r in result), result


def _rules(api):
    """Every rule Prometheus loaded: (group, rule as /api/v1/rules gives it)."""
    groups = _get_json(f"{api}/rules")["data"]["groups"]
    return [(g["name"], r) for g in groups for r in g["rules"]]


def test_prometheus_evaluates_the_shipped_rules_on_homebot_series(prometheus):
    want = {(g["name"], r.get("alert") or r.get("record"))
            for g in _shipped_groups() for r in g["rules"]}
    # The scrapes are requests to the metrics program: its rate is above 0
    # once two of them are in the window, and none of them failed.
    rate = _until(prometheus, lambda api: _query(
        api, 'instance_program:http_requests:rate5m{program="homebot-metrics"}'))
    assert rate, "no sample of instance_program:http_requests:rate5m"
    assert len(rate) == 1 and float(rate[0]["value"][1]) > 0, rate
    assert rate[0]["metric"]["job"] == "homebot", rate
    ratio = _until(prometheus, lambda api: _query(
        api, 'instance_program:http_requests_5xx:ratio_rate5m{program="homebot-metrics"}'))
    assert ratio and [float(r["value"][1]) for r in ratio] == [0.0], ratio

    # Every rule once more, now that Homebot's series are there: a rule
    # evaluated before the first scrape had nothing to fail on.
    loaded = _until(prometheus, _rules)
    assert loaded, "Prometheus loaded no rules"
    assert {(g, r["name"]) for g, r in loaded} == want
    before = {(g, r["name"]): r["lastEvaluation"] for g, r in loaded}

    def evaluated_again(api):
        now = _rules(api)
        again = all(r["lastEvaluation"] != before.get((g, r["name"])) for g, r in now)
        return now if again else None

    rules = _until(prometheus, evaluated_again)
    assert rules, "Prometheus did not evaluate every rule again"
    for group, r in rules:
        assert r["health"] == "ok", (group, r)
        assert r.get("lastError", "") == "", (group, r)
    state = {r["name"]: r["state"] for _, r in rules if r["type"] == "alerting"}
    assert state["HomebotDown"] == "inactive", state
    assert state["HomebotDatabaseUnreachable"] == "inactive", state


def _shipped_groups():
    return yaml.safe_load(RULES.read_text())["groups"]


def _github_anchor(heading):
    """The fragment GitHub gives a Markdown heading's text."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_severity_and_a_runbook_section_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    alerts = [r for g in _shipped_groups() for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 8, alerts
    for r in alerts:
        assert r["labels"]["severity"] in ("critical", "warning"), r
        assert r["annotations"]["summary"], r
        page, _, anchor = r["annotations"]["runbook"].partition("#")
        assert page == "README.md", r
        assert anchor == _github_anchor(f"Alert: {r['alert']}"), r
        assert anchor in anchors, f"README.md has no heading for #{anchor}"
        assert f"[{r['alert']}](#{anchor})" in readme, \
            f"the README's alert table does not link {r['alert']}"
