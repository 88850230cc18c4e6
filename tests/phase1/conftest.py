"""End-to-end fixtures: a real PostgreSQL and a real web server.

Unless HOMEBOT_URL is set, the session starts its own stack with
scripts/stack.sh in a throwaway directory on a free port, and stops it again
whatever happens. HOMEBOT_WEB=apache serves it with Apache instead of
lighttpd. A module that needs other settings starts a stack of its own with
start_stack() (see own_stack).

Tests that look into the database (psql as the owner), sign tokens with the
stack's SECRET_KEY or read its log need a stack started here: they skip
when HOMEBOT_URL is set.
"""
import atexit
import base64
import gzip
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import threading
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

import contract
import mailsink

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"

# Settings of the session stack. BCRYPT_COST 4 keeps the many logins of the
# suite fast; the per-IP limits (auth calls, refreshes) are out of the way
# (test_auth_rate_limit.py and test_trusted_proxies.py start stacks of
# their own to test them); the login lockout keeps its defaults (5
# attempts in 900 s), which the tests rely on. Access tokens live an hour:
# the session-wide accounts (the superadmin) outlive a suite that a busy
# machine stretches past the default 15 minutes (access_ttl() reads it).
TEST_SETTINGS = {
    "ACCESS_TOKEN_TTL": "3600",
    "CORS_ORIGINS": "https://app.example.com,https://admin.example.com",
    "BCRYPT_COST": "4",
    "AUTH_RATE_PER_MINUTE": "100000",
    "REFRESH_RATE_PER_MINUTE": "100000",
}

# Every password, refresh token, access token and API key the suite sent or
# received; test_logs.py checks that none of them reached a log.
SECRETS = set()
_SECRET_FIELDS = {"password", "current_password", "new_password", "refresh_token",
                  "access_token", "key", "invite_token", "token", "value",
                  "secret", "otpauth_uri", "mfa_token", "recovery_code"}
# "key" is an API key's secret, but a setting's name too: only the former
# looks like this.
_API_KEY_RE = re.compile(r"hb_[A-Za-z0-9_-]+")

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RFC3339_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def reserve_port():
    """A free port on 127.0.0.1, and the socket that holds it until closed.

    The socket is bound with SO_REUSEADDR and never listens: while it is
    open, neither a bind to port 0 nor an outgoing connection of any process
    on this machine is given the port, yet the web server, which sets
    SO_REUSEADDR too, can bind and listen on it. A port that was free when
    chosen but released before the server bound it (seconds later, after
    initdb and the migrations) could be taken meanwhile by another test run
    on the machine, and the stack would fail to start or, worse, its health
    check would reach the other run's server.
    """
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s


def _remember_secrets(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "key" and isinstance(v, str) and not _API_KEY_RE.fullmatch(v):
                continue
            if k == "recovery_codes" and isinstance(v, list):
                # Two-factor recovery codes: "xxxxx-xxxxx".
                SECRETS.update(c for c in v if isinstance(c, str) and len(c) >= 10)
            elif k in _SECRET_FIELDS and isinstance(v, str):
                # Short or repetitive strings ("x" * 72), emails (a
                # password may be the email in a validation test) and ids
                # (tried as forged tokens) could be in a log for other
                # reasons.
                if len(v) >= 10 and len(set(v)) >= 8 and "@" not in v \
                        and not UUID_RE.fullmatch(v):
                    SECRETS.add(v)
            else:
                _remember_secrets(v)
    elif isinstance(obj, list):
        for v in obj:
            _remember_secrets(v)


class Response:
    """An answer. body is its content (gzip decoded, when the web server
    compressed it); wire is the body as it came over the connection."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.wire = body
        self.body = body
        if (self.header("Content-Encoding") or "").strip().lower() in ("gzip", "x-gzip"):
            self.body = gzip.decompress(body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


# HOMEBOT_CONTRACT=collect: an answer that does not conform is written to
# the file HOMEBOT_CONTRACT_LOG instead of failing the test.
CONTRACT_LOG = os.environ.get("HOMEBOT_CONTRACT_LOG")


def conform(method, path, resp):
    """Every answer is checked against /openapi.json (contract.py)."""
    _conforming(contract.check, method, path, resp)


def _conforming(check, *args):
    """check(*args), a contract.py check: a Drift fails the test, or is
    written to HOMEBOT_CONTRACT_LOG when HOMEBOT_CONTRACT=collect."""
    try:
        check(*args)
    except contract.Drift as e:
        if os.environ.get("HOMEBOT_CONTRACT") != "collect":
            raise
        with open(CONTRACT_LOG or os.devnull, "a") as f:
            f.write(str(e)[:600] + "\n")


class Stack:
    def __init__(self, url, stack_dir=None):
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.dir = stack_dir
        # Without a stack directory, HOMEBOT_WEB says which server it is.
        self.env = {"HOMEBOT_WEB": os.environ.get("HOMEBOT_WEB", "lighttpd")}
        self.settings = {}
        if stack_dir:
            self.env = _read_env(Path(stack_dir) / "stack.env")
            self.settings = _read_env(Path(stack_dir) / "settings.env")

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request on a fresh connection; body may be bytes or JSON;
        no answer within timeout seconds fails."""
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            _remember_secrets(body)
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        for name in ("Authorization", "X-API-Key"):
            if name in hdrs:
                _remember_secrets({"key": hdrs[name].split(" ")[-1]})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        if (resp.header("Content-Type") or "").startswith("application/json"):
            try:
                _remember_secrets(resp.json())
            except ValueError:
                pass
        conform(method, path, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def raw(self, data, read=True):
        """Sends raw bytes, half-closes, returns whatever comes back."""
        with socket.create_connection((self.host, self.port), timeout=30) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while read:
                try:
                    c = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not c:
                    break
                chunks.append(c)
            return b"".join(chunks)

    def need_own(self):
        """Skips the calling test unless this stack was started here."""
        if not self.dir:
            pytest.skip("needs a stack started by these tests (HOMEBOT_URL is set)")

    def control(self, command):
        self.need_own()
        subprocess.run([str(STACK), command, self.dir], check=True)

    def worker_pids(self, program):
        self.need_own()
        out = subprocess.run(["pgrep", "-f", f"{self.dir}/app/cgi-bin/{program}$"],
                             capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())

    def psql(self, sql, **params):
        """Runs sql as the database owner; returns the rows as tuples of str.

        params become psql variables: write :'name' in sql for a literal.
        NULL reads as ''.
        """
        self.need_own()
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f"]
        for k, v in params.items():
            cmd += ["-v", f"{k}={v}"]
        cmd.append(self.env["OWNER_URL"])
        out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return [tuple(line.split("\x1f")) for line in out.stdout.splitlines() if line]

    def psql_error(self, sql, **params):
        """Runs sql as the owner, expecting it to fail; returns psql's stderr."""
        self.need_own()
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for k, v in params.items():
            cmd += ["-v", f"{k}={v}"]
        cmd.append(self.env["OWNER_URL"])
        out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        assert out.returncode != 0, f"succeeded: {sql}\n{out.stdout}"
        return out.stderr

    def secret_key(self):
        self.need_own()
        return self.settings["SECRET_KEY"]

    def web_log(self):
        self.need_own()
        return Path(self.dir, "log", "web.log").read_text(errors="replace")


def _read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        k, _, v = line.partition("=")
        if k:
            env[k] = v
    return env


_built = False


def build_once():
    global _built
    if not _built:
        subprocess.run(["make", "-s", "-C", str(ROOT), "build"], check=True)
        _built = True


def start_stack(settings, environ=None):
    """Starts a throwaway stack with these settings on a free port.

    settings go into the stack's settings file (with a SECRET_KEY of its
    own); with environ, settings is ignored and environ's settings are
    given to scripts/stack.sh in the environment alone, the file left empty.
    Returns (stack, stop); stop() stops it and removes its directory, and
    also runs at exit should the caller never get to it.
    """
    build_once()
    d = tempfile.mkdtemp(prefix="homebot-e2e-")
    with open(os.path.join(d, "settings.env"), "w") as f:
        if environ is None:
            f.write("SECRET_KEY=" + os.urandom(32).hex() + "\n")
            for k, v in settings.items():
                f.write(f"{k}={v}\n")
    port = reserve_port()
    # The broker's two ports are held for the stack's whole life: Mosquitto
    # binds with SO_REUSEADDR too, and a broker restart finds them free.
    mqtt_ports = [reserve_port(), reserve_port()]
    env = dict(os.environ, HOMEBOT_PORT=str(port.getsockname()[1]),
               MQTT_PORT=str(mqtt_ports[0].getsockname()[1]),
               MQTTS_PORT=str(mqtt_ports[1].getsockname()[1]))
    env.update(environ or {})

    def stop():
        subprocess.run([str(STACK), "stop", d], env=env, check=False)
        shutil.rmtree(d, ignore_errors=True)
        for s in mqtt_ports:
            s.close()
        atexit.unregister(stop)

    atexit.register(stop)
    try:
        r = subprocess.run([str(STACK), "start", d], env=env, check=True,
                           stderr=subprocess.PIPE, text=True)
        # A shell error the script lived through (a function it lost, a
        # bad expansion) is a failure too.
        assert not re.search(r"command not found|: line \d+: ", r.stderr), r.stderr
    except subprocess.CalledProcessError as e:
        print(e.stderr)
        log = Path(d, "log", "web.log")
        print(log.read_text() if log.exists() else "(no web log)")
        stop()
        raise
    finally:
        # The web server listens on the port now (or never will).
        port.close()
    return Stack(f"http://127.0.0.1:{env['HOMEBOT_PORT']}", d), stop


def own_stack(**settings):
    """A second stack for one module: TEST_SETTINGS with these changes.

    Use as a generator fixture: yield from own_stack(AUTH_RATE_PER_MINUTE=5).
    """
    if os.environ.get("HOMEBOT_URL"):
        pytest.skip("starts a stack of its own (HOMEBOT_URL is set)")
    s, stop = start_stack(dict(TEST_SETTINGS, **{k: str(v) for k, v in settings.items()}))
    try:
        yield s
    finally:
        stop()


@pytest.fixture(scope="session")
def stack():
    if os.environ.get("HOMEBOT_URL"):
        yield Stack(os.environ["HOMEBOT_URL"], os.environ.get("HOMEBOT_STACK_DIR"))
        return
    s, stop = start_stack(TEST_SETTINGS)
    try:
        yield s
    finally:
        stop()


# Figures a test measured (requests, leaks, ...): printed in a section of
# their own at the end of the run, whatever the capture mode.
FIGURES = []


def report(line):
    """Prints line now (visible with -s) and again in the final summary."""
    FIGURES.append(line)
    print(line)


# Every skip and its reason. With HOMEBOT_SKIP_SUITE=e2e (make check sets
# it) a skip whose reason tests/allowed-skips does not give for that suite
# fails the run; without it skips are only counted.
SKIPS = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        SKIPS.append((report.nodeid, reason.removeprefix("Skipped: ")))


def allowed_skips(suite):
    path = Path(__file__).resolve().parents[1] / "allowed-skips"
    return {line.split("\t", 1)[1] for line in path.read_text().splitlines()
            if line.startswith(suite + "\t")}


def disallowed_skips():
    suite = os.environ.get("HOMEBOT_SKIP_SUITE")
    if not suite:
        return []
    allowed = allowed_skips(suite)
    return [(node, why) for node, why in SKIPS if why not in allowed]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if disallowed_skips() and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("Homebot figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
    terminalreporter.section("Homebot contract")
    terminalreporter.write_line(contract.summary())
    terminalreporter.section("Homebot skips")
    terminalreporter.write_line(f"{len(SKIPS)} skipped")
    for node, why in SKIPS:
        terminalreporter.write_line(f"  {node}: {why}")
    bad = disallowed_skips()
    if bad:
        terminalreporter.write_line(
            f"FAILED: {len(bad)} skipped for a reason tests/allowed-skips does not allow")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "only_behind(server): a test of what only that web server "
        "does; deselected (not skipped) in the other server's run")
    config.addinivalue_line(
        "markers", "with_pgbouncer: a test of the stack behind PgBouncer; "
        "deselected (not skipped) unless HOMEBOT_PGBOUNCER=1")


def pytest_collection_modifyitems(config, items):
    # A test of one web server's own behaviour is not collected in the
    # other's run: it neither passes nor skips there.
    web = os.environ.get("HOMEBOT_WEB", "lighttpd")
    pooled = os.environ.get("HOMEBOT_PGBOUNCER") == "1"
    drop = [i for i in items if (m := i.get_closest_marker("only_behind"))
            and m.args[0] != web]
    drop += [i for i in items if i.get_closest_marker("with_pgbouncer") and not pooled]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in drop]
    # test_logs.py looks for every secret the suite sent: it runs last.
    items.sort(key=lambda item: item.path.name == "test_logs.py")


def assert_error(resp, status, code):
    """The error envelope of api.md §1, and nothing else in the body."""
    assert resp.status == status, resp
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"], body
    assert err["request_id"] == resp.header("X-Request-ID"), body
    allowed = {"code", "message", "request_id"} | ({"details"} if status == 422 else set())
    assert set(err) <= allowed, body
    return err


def assert_server_error(stack, resp, status, code):
    """The envelope of an answer the web server gave itself (a request it
    refused, a program it could not reach), never its HTML page: JSON with
    the security headers. Behind lighttpd a program wrote it and it has a
    request_id; Apache's static documents have none."""
    assert resp is not None, "no answer at all"
    assert resp.status == status, resp
    assert resp.header("Content-Type") == "application/json", resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"], body
    assert set(err) <= {"code", "message", "request_id"}, body
    if stack.env.get("HOMEBOT_WEB", "lighttpd") == "lighttpd":
        assert "request_id" in err, body
    if "request_id" in err:
        assert err["request_id"] == resp.header("X-Request-ID"), (body, resp.headers)
    else:
        assert resp.header("X-Request-ID") is None, resp.headers
    for name, value in SERVER_ERROR_HEADERS.items():
        assert resp.header(name) == value, (name, resp.headers)
    return err


# What every answer carries, the web server's own errors included.
SERVER_ERROR_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def parse_response(raw, request=None):
    """Raw HTTP/1.x response bytes as a Response, or None when empty.

    With the raw request it answers, the answer is checked against
    /openapi.json like every other (conform): as the answer to the request
    line's method and target, or, when the request line is none a program
    could be given, as the web server's own answer."""
    if not raw:
        return None
    resp = _parse_response(raw)
    if request is not None:
        line = re.match(rb"([A-Z]+) (/[!-~]*) HTTP/[0-9.]+\r\n", request)
        if line is not None:
            conform(line[1].decode(), line[2].decode(), resp)
        else:
            _conforming(contract.check_server_answer, resp)
    return resp


def _parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert re.match(r"HTTP/1\.[01] \d{3} ", lines[0]), raw[:300]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    chunked = any(k.lower() == "transfer-encoding" and v.lower() == "chunked"
                  for k, v in headers)
    if chunked:
        rest, body = body, b""
        while True:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            body += rest[:n]
            rest = rest[n + 2:]
    return Response(int(lines[0].split(" ")[1]), headers, body)


def assert_invalid(resp, *fields):
    """422 validation_failed whose details name each of these fields."""
    err = assert_error(resp, 422, "validation_failed")
    named = {d["field"] for d in err.get("details", [])}
    for f in fields:
        assert f in named, err
    return err


def assert_unauthenticated(resp, code):
    """401 with this code and the WWW-Authenticate challenge."""
    assert_error(resp, 401, code)
    assert resp.header("WWW-Authenticate") == "Bearer", resp.headers


# ---- accounts and credentials ----------------------------------------------

def new_email():
    return f"user-{uuid.uuid4().hex}@example.com"


_PASSWORD_CHARS = string.ascii_letters + string.digits + "-_"


def new_password(length=27):
    """"pw-" and random characters, length in all, no two neighbours one
    apart or equal once lowercased ("ab", "aB", "98", "xX"): cracklib
    lowercases a password, then calls it too systematic when it has more
    than a few such steps, and one random string in some hundreds has
    them."""
    out = ["p", "w", "-"]
    while len(out) < length:
        c = secrets.choice(_PASSWORD_CHARS)
        if abs(ord(c.lower()) - ord(out[-1].lower())) > 1:
            out.append(c)
    return "".join(out)


def bearer(credential):
    return {"Authorization": f"Bearer {credential}"}


class Account:
    """A registered user, with the token response of his newest session."""

    def __init__(self, stack, email, password, tokens):
        self.stack = stack
        self.email = email
        self.password = password
        self.use(tokens)

    def use(self, tokens):
        self.tokens = tokens
        self.access = tokens["access_token"]
        self.refresh = tokens["refresh_token"]
        self.user_id = tokens["user"]["id"]
        self.org_id = tokens["organization"]["id"]
        self.session_id = jwt_parts(self.access)[1]["sid"]
        return self

    @property
    def auth(self):
        return bearer(self.access)

    def login(self, **extra):
        """A new session (a fresh login); returns its token response."""
        r = login(self.stack, self.email, self.password, **extra)
        assert r.status == 200, r
        return r.json()

    def get(self, path, **kw):
        return self.stack.get(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, path, body=None, **kw):
        return self.stack.post(path, body, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def delete(self, path, **kw):
        return self.stack.delete(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def patch(self, path, body=None, **kw):
        return self.stack.patch(path, body, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def put(self, path, body=None, **kw):
        return self.stack.put(path, body, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def switch(self, org_id):
        """A new session of this user in org_id; returns an Account for it."""
        r = self.post("/api/v1/auth/switch", {"organization_id": org_id})
        assert r.status == 200, r
        return Account(self.stack, self.email, self.password, r.json())


def register(stack, email=None, password=None, organization_name=None, **extra):
    """Registers a new user (and organization); returns his Account."""
    email = email or new_email()
    password = password or new_password()
    body = {"email": email, "password": password,
            "organization_name": organization_name or f"Org {uuid.uuid4().hex[:12]}",
            **extra}
    r = stack.post("/api/v1/auth/register", body)
    assert r.status == 201, r
    return Account(stack, email, password, r.json())


def login(stack, email, password, headers=None, **extra):
    return stack.post("/api/v1/auth/login", {"email": email, "password": password, **extra},
                      headers=headers)


def login_form(stack, username, password):
    return stack.post("/api/v1/auth/login", urlencode({"username": username, "password": password}),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})


def create_key(account, scopes, name="service", **extra):
    """Creates an API key as account; returns the 201 body (with key)."""
    r = account.post("/api/v1/api-keys", {"name": name, "scopes": scopes, **extra})
    assert r.status == 201, r
    return r.json()


def key_secret(key):
    """The secret part of an API key, by the key's fixed layout
    hb_<8-character prefix>_<43-character secret>. The secret is base64url
    and may itself hold '_', so splitting at the last '_' would be wrong."""
    assert len(key) == 55 and key.startswith("hb_") and key[11] == "_", key
    return key[12:]


def add_member(owner, role="member"):
    """A newly registered user invited into owner's organization with role,
    who accepted and is logged in there; returns his Account (his session in
    that organization), whose .home is his Account in the organization he
    registered with. His address is marked verified in the database (as if
    he had followed his verification mail), and he accepts through
    GET /api/v1/auth/invitations, as a verified user would."""
    a = register(owner.stack)
    inside = join(owner, a, role)
    inside.home = a
    return inside


def join(owner, user, role="member"):
    """user (an Account) invited into owner's organization with role and
    accepting through GET /api/v1/auth/invitations (his address is marked
    verified first); returns his Account in that organization."""
    r = owner.post("/api/v1/members", {"email": user.email, "role": role})
    assert r.status == 201 and r.json()["status"] == "invited", r
    verify_email(owner.stack, user.user_id)
    r = user.get("/api/v1/auth/invitations")
    assert r.status == 200, r
    [inv] = [i for i in r.json()["data"] if i["organization"]["id"] == owner.org_id]
    r = user.post(f"/api/v1/auth/invitations/{inv['id']}/accept")
    assert r.status == 200, r
    return Account(owner.stack, user.email, user.password, r.json())


def verify_email(stack, user_id):
    """Marks the user's address verified, without the mail round trip."""
    stack.psql("UPDATE homebot.users SET email_verified_at = now() WHERE id = :'id'", id=user_id)


def invite(account, email=None, role="member"):
    """Invites an email (a new one by default) into account's organization;
    returns the 201 body with, added as invite_token, the token of the
    invitation mail (the answer itself carries none)."""
    email = email or new_email()
    before = mailsink.count(account.stack, email, "/account/invite")
    r = account.post("/api/v1/members", {"email": email, "role": role})
    assert r.status == 201, r
    assert "invite_token" not in r.json() and r.json()["status"] == "invited", r
    token = mailsink.wait_token(account.stack, email, "/account/invite", count=before + 1)
    SECRETS.add(token)
    return {**r.json(), "invite_token": token}


def accept_invite(stack, invite_token, password=None, **extra):
    return stack.post("/api/v1/auth/accept-invite",
                      {"invite_token": invite_token, "password": password or new_password(),
                       **extra})


@pytest.fixture
def account(stack):
    """A freshly registered user, owner of a fresh organization."""
    return register(stack)


# ---- JWTs ------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    """(header, payload) of a JWT, unverified."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def jwt_sign(header, payload, secret):
    """A JWT with this header and payload, HMAC-signed by header['alg']."""
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    alg = header.get("alg")
    sig = b""
    if alg in _HMAC:
        sig = hmac.new(secret.encode(), signing_input.encode(), _HMAC[alg]).digest()
    return signing_input + "." + b64url(sig)


# ---- database state (psql as the owner) -------------------------------------

def join_org(stack, org_id, user_id, role="member"):
    """Makes the user an active member of the organization."""
    stack.psql("INSERT INTO homebot.memberships (organization_id, user_id, role)"
               " VALUES (:'org', :'user', :'role')", org=org_id, user=user_id, role=role)


def set_role(stack, org_id, user_id, role):
    stack.psql("UPDATE homebot.memberships SET role = :'role'"
               " WHERE organization_id = :'org' AND user_id = :'user'",
               org=org_id, user=user_id, role=role)


def hash_password(password, cost=4):
    """A bcrypt hash made by homebot-hashpw, as make superadmin makes it."""
    build = Path(os.environ.get("BUILD", "build"))
    hashpw = (build if build.is_absolute() else ROOT / build) / "bin" / "homebot-hashpw"
    out = subprocess.run([str(hashpw), str(cost)], input=password, capture_output=True,
                         text=True, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def access_ttl(stack):
    """The stack's ACCESS_TOKEN_TTL: its settings', else (a stack given by
    HOMEBOT_URL) HOMEBOT_ACCESS_TOKEN_TTL's, else the default."""
    return int(stack.settings.get("ACCESS_TOKEN_TTL")
               or os.environ.get("HOMEBOT_ACCESS_TOKEN_TTL", "900"))


def make_superadmin(stack, email=None, password=None):
    """A platform superadmin, made with the SQL of make superadmin
    (homebot.ensure_superadmin); returns his logged-in Account."""
    email = email or new_email()
    password = password or new_password()
    SECRETS.add(password)
    stack.psql("SELECT * FROM homebot.ensure_superadmin(:'email', :'hash')",
               email=email, hash=hash_password(password))
    r = login(stack, email, password)
    assert r.status == 200, r
    return Account(stack, email, password, r.json())


@pytest.fixture(scope="session")
def superadmin(stack):
    return make_superadmin(stack)


def assert_status(resp, status):
    """The status, with the response body in the failure message."""
    assert resp.status == status, resp
    return resp


# ---- races that show they raced ----------------------------------------------

def at_once(calls):
    """Runs the calls in threads released together by a barrier; their
    answers, in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i):
        barrier.wait()
        out[i] = calls[i]()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def spans(stack, answers):
    """What the workers' own log lines say of these answers (matched by
    X-Request-ID): (pid, started, ended) in seconds, one per answer."""
    ids = {r.header("X-Request-ID") for r in answers}
    found = {}
    for text in stack.web_log().splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        if line.get("request_id") in ids and "duration_ms" in line:
            end = datetime.fromisoformat(line["ts"].replace("Z", "+00:00")).timestamp()
            found[line["request_id"]] = (line["pid"], end - line["duration_ms"] / 1000, end)
    assert len(found) == len(ids), (ids, found)
    return list(found.values())


def overlapping_pairs(spans):
    """How many pairs of requests ran at the same time in different
    worker processes."""
    return sum(1 for a, b in itertools.combinations(spans, 2)
               if a[0] != b[0] and a[1] < b[2] and b[1] < a[2])


def hold_workers(stack, calls, seconds=2):
    """Sends the calls (authenticated requests without side effects, to one
    program) at once while a lock on the sessions table holds every
    authenticated request for `seconds`: a web server that starts another
    process only for a request that has waited (mod_fcgid waits a second
    first) starts one for each, and keeps them for the race that follows."""
    stack.need_own()
    psql = subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", stack.env["OWNER_URL"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    psql.stdin.write("BEGIN;\nLOCK TABLE homebot.sessions IN ACCESS EXCLUSIVE MODE;\n"
                     "SELECT 'locked';\n")
    psql.stdin.flush()
    assert psql.stdout.readline().strip() == "locked"
    timer = threading.Timer(seconds, lambda: psql.communicate("COMMIT;\n"))
    timer.start()
    answers = at_once(calls)
    timer.join()
    assert psql.returncode == 0
    assert all(r.status == 200 for r in answers), answers


def race(stack, setup, check, rounds=5):
    """Each round: setup() -> (calls, state), the calls released at once,
    and check(answers, state); rounds go on until the workers' log shows two
    of the calls overlapping on different processes. Returns how many pairs
    overlapped in that round. A web server that never lets them overlap
    fails the test, which would otherwise prove nothing about the race."""
    for _ in range(rounds):
        calls, state = setup()
        answers = at_once(calls)
        check(answers, state)
        pairs = overlapping_pairs(spans(stack, answers))
        if pairs:
            return pairs
    pytest.fail(f"{rounds} rounds of requests released at once never overlapped "
                "on two worker processes")
