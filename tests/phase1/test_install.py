"""make install into a fresh prefix, as production runs it: the installed
systemd units pass `systemd-analyze verify` (and `security`), the installed
migrate builds a new database, and the programs are started from the
installed tree exactly as the units' ExecStart lines would run them — as
the units' users, with their Environment=, RuntimeDirectory= and UMask= —
and the service group of the end-to-end suite passes against them.

systemd itself is not running here, so this module plays its part for
those settings; the sandboxing settings (ProtectSystem=, ...) are checked
by systemd-analyze only.
"""
import configparser
import os
import pwd
import grp
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import (ROOT, STACK, TEST_SETTINGS, Stack, bearer, build_once, login,
                      make_superadmin, new_email, new_password, report, reserve_port)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs system units' users")

UNITS = ("homebot-admin", "homebot", "homebot-apache", "homebot-worker")
# The web server unit this run tests: the suite runs once per server.
WEB_UNIT = "homebot-apache" if os.environ.get("HOMEBOT_WEB") == "apache" else "homebot"
# The end-to-end modules run against the installed service: the service
# endpoints and the everyday API. (Tests that need the stack's database or
# files skip there; they run against the test stack.)
SERVICE_GROUP = ("test_service.py", "test_conventions.py", "test_auth_login.py",
                 "test_auth_me.py", "test_auth_refresh.py", "test_api_keys.py",
                 "test_organizations.py")


def read_unit(path):
    """The [Service] section of a unit: name -> list of values."""
    out = {}
    section = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service":
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def one(unit, key, default=None):
    return unit.get(key, [default])[-1]


class Installed:
    def __init__(self, tmp):
        self.tmp = tmp
        self.prefix = tmp / "opt" / "homebot"
        self.sysconf = tmp / "etc-homebot"
        self.runtime = "homebot-t" + uuid.uuid4().hex[:8]
        self.procs = []
        self.run_dirs = []
        self.db = tmp / "db"
        self.port = None

    def owner_url(self, dbname):
        return f"host={self.db}/pg user=postgres dbname={dbname}"

    def url(self, role):
        return f"host={self.db}/pg user={role} dbname=homebot_installed"

    def unit(self, name):
        return read_unit(self.prefix / "etc" / f"{name}.service")

    def start_unit(self, name, env_override=None):
        """Runs a unit's ExecStart as systemd would (the parts that matter
        here): User=/Group= with the user's groups, Environment=,
        RuntimeDirectory= (owned by the unit's user, RuntimeDirectoryMode=),
        UMask=, no new privileges."""
        u = self.unit(name)
        user, group = one(u, "User"), one(u, "Group")
        for rd in " ".join(u.get("RuntimeDirectory", [])).split():
            path = Path("/run") / rd
            path.mkdir(mode=0o700)
            os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
            os.chmod(path, int(one(u, "RuntimeDirectoryMode", "0755"), 8))
            self.run_dirs.insert(0, path)
        for sd in " ".join(u.get("StateDirectory", [])).split():
            path = Path("/var/lib") / sd
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.mkdir(mode=0o700, exist_ok=True)
            os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
            os.chmod(path, int(one(u, "StateDirectoryMode", "0755"), 8))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for e in u.get("Environment", []):
            k, _, v = e.partition("=")
            env[k] = v
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(env_override or {})
        argv = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups",
                "--no-new-privs", "--", *shlex.split(one(u, "ExecStart"))]
        umask = int(one(u, "UMask", "0022"), 8)
        log = open(self.tmp / f"{name}.log", "ab")
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             preexec_fn=lambda: os.umask(umask), cwd="/")
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for d in self.run_dirs:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(Path("/var/lib") / self.runtime, ignore_errors=True)
        subprocess.run([str(STACK), "stop", str(self.db)], capture_output=True)

    def log(self, name):
        p = self.tmp / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""


def write_env(path, owner, lines):
    old = os.umask(0o077)
    try:
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    finally:
        os.umask(old)
    os.chown(path, pwd.getpwnam(owner).pw_uid, 0)
    os.chmod(path, 0o400)


@pytest.fixture(scope="module")
def installed():
    build_once()
    tmp = Path(tempfile.mkdtemp(prefix="homebot-install-"))
    os.chmod(tmp, 0o755)
    inst = Installed(tmp)
    try:
        env = dict(os.environ)
        r = subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"PREFIX={inst.prefix}",
                            f"SYSCONFDIR={inst.sysconf}", f"RUNTIME={inst.runtime}"],
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        # A database: a cluster of the test stack's kind, and in it a new,
        # empty database that the installed migrate builds.
        inst.db.mkdir()
        r = subprocess.run([str(STACK), "db", str(inst.db)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        subprocess.run(["psql", "-X", "-q", inst.owner_url("postgres"), "-c",
                        "CREATE DATABASE homebot_installed"], check=True)
        yield inst
    finally:
        inst.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_install_lays_out_the_tree(installed):
    p = installed.prefix
    for f in ("cgi-bin/me", "cgi-bin/admin", "cgi-bin/health", "bin/homebot-worker",
              "migrate", "etc/lighttpd.conf", "etc/apache.conf", "share/openapi.json",
              "share/account/verify.html", "README.md", "lib/homebot_mqtt.so",
              "etc/mosquitto-homebot.conf"):
        assert (p / f).exists(), f
    for name in UNITS:
        assert (p / "etc" / f"{name}.service").exists(), name
    assert os.access(p / "cgi-bin" / "me", os.X_OK)
    assert not any(p.rglob("*.d")), "dependency files installed"
    conf = (p / "etc" / "mosquitto-homebot.conf").read_text()
    assert f"plugin {p}/lib/homebot_mqtt.so\n" in conf and "allow_anonymous false" in conf


@pytest.mark.parametrize("name", UNITS)
def test_units_pass_systemd_analyze_verify(installed, name):
    unit = installed.prefix / "etc" / f"{name}.service"
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr


@pytest.mark.parametrize("name", UNITS)
def test_units_are_sandboxed(installed, name):
    u = installed.unit(name)
    for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("PrivateTmp", "yes"), ("ProtectHome", "yes"),
                      ("CapabilityBoundingSet", "")):
        assert one(u, key) == want, (key, u.get(key))
    assert one(u, "User") not in (None, "root")
    unit = installed.prefix / "etc" / f"{name}.service"
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                       capture_output=True, text=True, timeout=120)
    level = [ln for ln in r.stdout.splitlines() if "Overall exposure level" in ln]
    assert level, r.stdout[-2000:] + r.stderr
    exposure = float(level[-1].split(":")[-1].split()[0])
    report(f"systemd-analyze security {name}: exposure {exposure} (0 safe .. 10 exposed)")
    assert exposure <= 2.5, r.stdout[-3000:]


def test_the_installed_migrate_builds_a_new_database(installed):
    env = dict(os.environ, DATABASE_URL=installed.owner_url("homebot_installed"))
    env.pop("HOMEBOT_SCHEMA_DIR", None)
    r = subprocess.run([str(installed.prefix / "migrate"), "up"], env=env,
                       capture_output=True, text=True, timeout=300, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(installed.prefix / "migrate"), "verify"], env=env,
                       capture_output=True, text=True, timeout=300, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def served(installed):
    """The three units started from the installed tree."""
    inst = installed
    inst.sysconf.mkdir(mode=0o755)
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    state = Path("/var/lib") / inst.runtime
    common = dict(TEST_SETTINGS, SECRET_KEY=secret, DATABASE_URL=inst.url("homebot_app"),
                  METRICS_DIR=state / "metrics", METRICS_READ_DIRS=state / "admin-metrics")
    write_env(inst.sysconf / "homebot.env", "www-data", common)
    write_env(inst.sysconf / "admin.env", "homebot-admin",
              dict(common, ADMIN_DATABASE_URL=inst.url("homebot_admin"),
                   METRICS_DIR=state / "admin-metrics"))
    write_env(inst.sysconf / "worker.env", "www-data",
              dict(common, DATABASE_URL=inst.url("homebot_worker")))
    # The database as the test before this one left it (migrated).
    env = dict(os.environ, DATABASE_URL=inst.owner_url("homebot_installed"))
    subprocess.run([str(inst.prefix / "migrate"), "up"], env=env, check=True,
                   capture_output=True, cwd="/")
    held = reserve_port()
    inst.port = held.getsockname()[1]
    inst.start_unit("homebot-admin")
    sock = Path("/run") / f"{inst.runtime}-admin" / "admin.sock"
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.1)
    assert sock.exists(), inst.log("homebot-admin")
    held.close()
    web = inst.start_unit(WEB_UNIT, {"HOMEBOT_PORT": str(inst.port)})
    inst.start_unit("homebot-worker")
    stack = Stack(f"http://127.0.0.1:{inst.port}")
    for _ in range(300):
        try:
            if stack.get("/health").status == 200:
                break
        except OSError:
            pass
        assert web.poll() is None, inst.log(WEB_UNIT)
        time.sleep(0.1)
    stack.dir = str(inst.tmp)
    stack.env = {"HOMEBOT_WEB": os.environ.get("HOMEBOT_WEB", "lighttpd"),
                 "OWNER_URL": inst.owner_url("homebot_installed")}
    return stack


def test_programs_run_as_the_units_users(installed, served):
    assert served.get("/api/v1/auth/me").status == 401
    assert served.get("/api/v1/admin/users").status == 401
    def uids(program):
        out = subprocess.run(["pgrep", "-f", f"{installed.prefix}/cgi-bin/{program}$"],
                             capture_output=True, text=True).stdout.split()
        return {Path(f"/proc/{p}").stat().st_uid for p in out}
    assert uids("me") == {pwd.getpwnam("www-data").pw_uid}
    assert uids("admin") == {pwd.getpwnam("homebot-admin").pw_uid}
    sock = Path("/run") / f"{installed.runtime}-admin" / "admin.sock"
    assert sock.stat().st_mode & 0o777 == 0o660
    assert sock.stat().st_gid == grp.getgrnam("www-data").gr_gid


def test_the_programs_log_lines_reach_the_units_output_however_many(installed, served):
    # Under systemd the unit's output is the journal. The programs inherit
    # the web server's error log as their stderr: lines nobody drains
    # would stop a program once a pipe's 64 KiB are full, so 1.5 MB of
    # them go through here, and every request is answered and logged.
    rid = "flood-" + uuid.uuid4().hex
    path = "/no/such/" + "p" * 2000
    for i in range(1000):
        r = served.get(path, headers={"X-Request-ID": f"{rid}-{i:04d}"})
        assert r.status == 404, (i, r)
    logged = set()
    for _ in range(50):
        logged = {ln for ln in installed.log(WEB_UNIT).splitlines() if rid in ln}
        if len(logged) == 1000:
            break
        time.sleep(0.1)
    assert len(logged) == 1000, len(logged)


def test_metrics_count_every_unit_of_the_installed_service(served):
    # The admin program writes its counters as its own user into its own
    # state directory; /metrics (www-data) sums them with the rest.
    def count(text, program):
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                   if ln.startswith(f'http_requests_total{{program="{program}"'))
    before = served.get("/metrics")
    assert before.status == 200, before
    for _ in range(3):
        assert served.get("/api/v1/admin/users").status == 401
        assert served.get("/api/v1/auth/me").status == 401
    after = served.get("/metrics").body.decode()
    assert count(after, "homebot-admin") - count(before.body.decode(), "homebot-admin") == 3
    assert count(after, "homebot-me") - count(before.body.decode(), "homebot-me") == 3


def test_accounts_work_on_the_installed_service(served):
    email, password = new_email(), new_password()
    r = served.post("/api/v1/auth/register", {"email": email, "password": password,
                                              "organization_name": "Installed"})
    assert r.status == 201, r
    r = login(served, email, password)
    assert r.status == 200, r
    r = served.get("/api/v1/auth/me", headers=bearer(r.json()["access_token"]))
    assert r.status == 200 and r.json()["email"] == email, r
    admin = make_superadmin(served)
    r = served.get("/api/v1/admin/organizations", headers=admin.auth)
    assert r.status == 200, r
    assert any(o["name"] == "Installed" for o in r.json()["data"]), r


def slow_line(line):
    try:
        return json.loads(line).get("duration_ms", 0) >= 2000
    except (ValueError, AttributeError):
        return False


def watch_stalls(url, stalls, done):
    """Until done: every half second, the sessions of the database that
    have waited on something or idled inside a transaction for 2 s or
    more, into stalls: what a hung request was waiting for."""
    query = ("SELECT pid, usename, application_name, state, wait_event_type, wait_event, "
             "round(extract(epoch FROM now() - state_change)::numeric, 1), left(query, 120) "
             "FROM pg_stat_activity WHERE datname = current_database() "
             "AND pid <> pg_backend_pid() AND now() - state_change > interval '2 s' "
             "AND (state LIKE 'idle in transaction%' OR (state = 'active' "
             "AND wait_event_type IN ('Lock', 'LWLock', 'IO', 'Client')))")
    while not done.wait(0.5):
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", " | ", url, "-c", query],
                             capture_output=True, text=True)
        stalls.extend(f"{time.strftime('%H:%M:%S')} {ln}" for ln in out.stdout.splitlines())


def test_the_service_group_passes_against_the_installed_tree(installed, served):
    # Against a running service, the tests that need a stack of their own
    # skip: the suite e2e-url of tests/allowed-skips.
    env = dict(os.environ, HOMEBOT_URL=served.url, HOMEBOT_SKIP_SUITE="e2e-url",
               HOMEBOT_ACCESS_TOKEN_TTL=TEST_SETTINGS["ACCESS_TOKEN_TTL"])
    stalls, done = [], threading.Event()
    watcher = threading.Thread(target=watch_stalls,
                               args=(installed.owner_url("homebot_installed"), stalls, done))
    watcher.start()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest",
                            *(str(ROOT / "tests/phase1" / f) for f in SERVICE_GROUP),
                            "-q", "-p", "no:cacheprovider"],
                           env=env, capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        watcher.join()
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
    report(f"service group against the installed tree ({WEB_UNIT}.service): {summary}")
    # On a failure, what the web server and its programs said beyond their
    # request lines too: a request that hung or failed leaves its trace
    # there, not in pytest's output.
    said = [ln for ln in installed.log(WEB_UNIT).splitlines()
            if '"level":"info"' not in ln.replace(" ", "")]
    slow = [ln for ln in installed.log(WEB_UNIT).splitlines() if slow_line(ln)]
    assert r.returncode == 0, (r.stdout[-4000:] + f"\n--- {WEB_UNIT} log, but info lines:\n"
                               + "\n".join(said[-40:]) + "\n--- requests of 2 s or more:\n"
                               + "\n".join(slow[-20:]) + "\n--- database sessions that "
                               "waited or idled in a transaction for 2 s or more:\n"
                               + "\n".join(stalls[-40:]))
    assert " passed" in summary and "failed" not in summary, summary
