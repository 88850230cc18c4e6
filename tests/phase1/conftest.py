"""End-to-end fixtures: a real PostgreSQL and a real web server.

Unless HOMEBOT_URL is set, the session starts its own stack with
scripts/stack.sh in a throwaway directory on a free port, and stops it again
whatever happens. HOMEBOT_WEB=apache serves it with Apache instead of
lighttpd.
"""
import atexit
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"

# Settings the conventions tests rely on.
TEST_SETTINGS = {
    "CORS_ORIGINS": "https://app.example.com,https://admin.example.com",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Stack:
    def __init__(self, url, stack_dir=None):
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.dir = stack_dir
        self.env = {}
        if stack_dir:
            for line in (Path(stack_dir) / "stack.env").read_text().splitlines():
                k, _, v = line.partition("=")
                self.env[k] = v

    def request(self, method, path, body=None, headers=None):
        """One request on a fresh connection; body may be bytes or JSON."""
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

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

    def control(self, command):
        if not self.dir:
            pytest.skip("needs a stack started by these tests (HOMEBOT_URL is set)")
        subprocess.run([str(STACK), command, self.dir], check=True)

    def worker_pids(self, program):
        if not self.dir:
            pytest.skip("needs a stack started by these tests (HOMEBOT_URL is set)")
        out = subprocess.run(["pgrep", "-f", f"{self.dir}/app/cgi-bin/{program}"],
                             capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())


@pytest.fixture(scope="session")
def stack():
    if os.environ.get("HOMEBOT_URL"):
        yield Stack(os.environ["HOMEBOT_URL"], os.environ.get("HOMEBOT_STACK_DIR"))
        return
    subprocess.run(["make", "-s", "-C", str(ROOT), "build"], check=True)
    d = tempfile.mkdtemp(prefix="homebot-e2e-")
    with open(os.path.join(d, "settings.env"), "w") as f:
        f.write("SECRET_KEY=" + os.urandom(32).hex() + "\n")
        for k, v in TEST_SETTINGS.items():
            f.write(f"{k}={v}\n")
    env = dict(os.environ, HOMEBOT_PORT=str(free_port()))

    def stop():
        subprocess.run([str(STACK), "stop", d], env=env, check=False)
        shutil.rmtree(d, ignore_errors=True)

    atexit.register(stop)
    try:
        subprocess.run([str(STACK), "start", d], env=env, check=True)
    except subprocess.CalledProcessError:
        log = Path(d, "log", "web.log")
        print(log.read_text() if log.exists() else "(no web log)")
        raise
    s = Stack(f"http://127.0.0.1:{env['HOMEBOT_PORT']}", d)
    try:
        yield s
    finally:
        stop()
        atexit.unregister(stop)


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
