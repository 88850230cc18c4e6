"""Master-key rotation (api.md §11): make vault-rotate, homebot-vault-rotate
and the job vault.rotate wrap every organization's data key, and every
user's two-factor data key, again with the current VAULT_MASTER_KEY while
the service serves (requests reading and writing secrets all along), leave
no data key under the old master key, are no-ops the second time, go on
where a killed run stopped, and fail loudly for a data key no loaded
master key unwraps."""
import base64
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, STACK, TEST_SETTINGS, Stack, register, start_stack
from test_mfa import enrol, first_step, verify

SECRETS = "/api/v1/secrets"
BUILD = os.environ.get("BUILD", "build")
TOOL = ROOT / BUILD / "bin" / "homebot-vault-rotate"
COUNTS_RE = re.compile(r"master key (\S+): (\d+) re-wrapped, (\d+) already current, (\d+) failed")


def master_key(kid):
    return f"{kid}:" + base64.b64encode(os.urandom(32)).decode()


KEYS = {kid: master_key(kid) for kid in ("key-a", "key-b", "key-c", "key-d", "key-e", "key-z")}


def value_of(tag):
    return f"rot-{tag}-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def vstack():
    if os.environ.get("HOMEBOT_URL"):
        pytest.skip("starts a stack of its own (HOMEBOT_URL is set)")
    s, stop = start_stack(dict(TEST_SETTINGS, VAULT_MASTER_KEY=KEYS["key-a"]))
    try:
        yield s
    finally:
        stop()


def reconfigure(s, master, old=""):
    """The stack started again with these master keys (its database kept)."""
    path = Path(s.dir, "settings.env")
    lines = [line for line in path.read_text().splitlines()
             if line.split("=", 1)[0] not in ("VAULT_MASTER_KEY", "VAULT_OLD_KEYS")]
    lines += [f"VAULT_MASTER_KEY={KEYS[master]}",
              f"VAULT_OLD_KEYS={','.join(KEYS[k] for k in old.split(',') if k)}"]
    path.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, HOMEBOT_PORT=str(s.port))
    subprocess.run([str(STACK), "stop", s.dir], env=env, check=True)
    r = subprocess.run([str(STACK), "start", s.dir], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return Stack(s.url, s.dir)


def tool_env(s, master, old=""):
    """homebot-vault-rotate's settings: a file of its own, as the worker role."""
    conf = Path(s.dir, "rotate.env")
    conf.write_text(f"SECRET_KEY={s.settings['SECRET_KEY']}\n"
                    f"VAULT_MASTER_KEY={KEYS[master]}\n"
                    f"VAULT_OLD_KEYS={','.join(KEYS[k] for k in old.split(',') if k)}\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VAULT_MASTER_KEY", "VAULT_OLD_KEYS", "SECRET_KEY")}
    return dict(env, HOMEBOT_CONFIG=str(conf), DATABASE_URL=s.env["WORKER_URL"])


def make_rotate(s, master, old="", batch=""):
    """make vault-rotate's script against the stack as an external database."""
    env = tool_env(s, master, old)
    env["WORKER_DATABASE_URL"] = env["DATABASE_URL"]
    env["DATABASE_URL"] = s.env["APP_URL"]
    return subprocess.run([str(STACK), "vault-rotate", "", str(batch)], env=env,
                          capture_output=True, text=True, timeout=300)


def counts(out):
    m = COUNTS_RE.search(out)
    assert m, out
    return m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))


def by_kid(s):
    """{key id: number of data keys} from the wrapped keys' headers."""
    rows = s.psql("SELECT convert_from(substring(wrapped FROM 3 FOR get_byte(wrapped, 1)), 'UTF8'),"
                  " count(*) FROM homebot.vault_data_keys GROUP BY 1")
    return {kid: int(n) for kid, n in rows}


def seed(s, orgs, per_org=2):
    """orgs new organizations with secrets: [(owner, secret id, value)]."""
    out = []
    for i in range(orgs):
        owner = register(s)
        for j in range(per_org):
            value = value_of(f"{i}-{j}")
            r = owner.post(SECRETS, {"name": f"s-{j}", "value": value})
            assert r.status == 201, r
            out.append([owner, r.json()["id"], value])
        # A second version of the last one: history is under the data key too.
        value = value_of(f"{i}-v2")
        assert owner.put(f"{SECRETS}/{out[-1][1]}", {"value": value}).status == 200
        out[-1][2] = value
    return out


def all_reveal(s, secrets):
    bad = []
    for owner, sid, value in secrets:
        r = owner.post(f"{SECRETS}/{sid}/reveal")
        if r.status != 200 or r.json() != {"value": value}:
            bad.append((sid, r.status))
    return bad


class Load:
    """Threads that reveal and write secrets until stopped, counting answers."""

    def __init__(self, s, secrets):
        self.s = s
        self.secrets = secrets
        self.stop = threading.Event()
        # Set once the writer's organization has its data key.
        self.ready = threading.Event()
        self.errors = []
        self.done = 0
        self.written = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.reader, args=(i,)) for i in range(2)]
        self.threads.append(threading.Thread(target=self.writer))

    def reader(self, i):
        n = i
        while not self.stop.is_set():
            owner, sid, value = self.secrets[n % len(self.secrets)]
            n += 1
            r = owner.post(f"{SECRETS}/{sid}/reveal")
            with self.lock:
                self.done += 1
                if r.status != 200 or r.json() != {"value": value}:
                    self.errors.append(("reveal", r.status, r.body[:200]))

    def writer(self):
        # A new organization's first secret makes a new data key meanwhile.
        owner = register(self.s)
        n = 0
        while not self.stop.is_set():
            value = value_of(f"w{n}")
            r = owner.post(SECRETS, {"name": f"w-{n}", "value": value})
            with self.lock:
                self.done += 1
                if r.status != 201:
                    self.errors.append(("create", r.status, r.body[:200]))
                else:
                    self.written.append([owner, r.json()["id"], value])
            self.ready.set()
            n += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def test_rotation_under_load_leaves_no_key_under_the_old_master_key(vstack):
    s = vstack
    secrets = seed(s, 6)
    assert by_kid(s) == {"key-a": 6}
    s = reconfigure(s, "key-b", "key-a")
    # Under the new master key, the old data keys still unwrap.
    assert all_reveal(s, secrets) == []
    with Load(s, secrets) as load:
        assert load.ready.wait(60), "the writer made its first secret"
        time.sleep(0.3)
        r = make_rotate(s, "key-b", "key-a", batch=2)
        time.sleep(0.5)
    assert r.returncode == 0, r.stdout + r.stderr
    kid, rewrapped, current, failed = counts(r.stdout)
    assert (kid, rewrapped, failed) == ("key-b", 6, 0), r.stdout
    # The writer's organization, made after the restart, was current.
    assert current == 1, r.stdout
    assert load.errors == [], load.errors[:5]
    assert load.done > 20, "the load ran along"
    assert by_kid(s) == {"key-b": 7}
    assert all_reveal(s, secrets + load.written) == []
    # Each organization's audit log records its key's re-wrap, never the key.
    r = secrets[0][0].get("/api/v1/audit-log?action=row.vault_data_keys.update")
    assert r.status == 200 and len(r.json()["data"]) == 1, r
    assert "wrapped" not in r.json()["data"][0]["changes"]["new"], r.json()
    # A second run has nothing to do.
    r = make_rotate(s, "key-b", "key-a")
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ("key-b", 0, 7, 0)
    # The old master key retired: every value still reveals.
    s = reconfigure(s, "key-b")
    assert all_reveal(s, secrets + load.written) == []
    vstack.__dict__.update(s.__dict__)


def test_a_run_without_the_old_key_fails_and_a_killed_run_resumes(vstack):
    s = reconfigure(vstack, "key-c", "key-b")
    before = by_kid(s)
    n = sum(before.values())
    assert n >= 7 and set(before) == {"key-b"}, before
    # key-b is not loaded: no data key unwraps, nothing changes, exit 1.
    r = subprocess.run([str(TOOL)], env=tool_env(s, "key-c", "key-a"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert counts(r.stdout) == ("key-c", 0, 0, n)
    assert "could not be unwrapped" in r.stderr and "VAULT_OLD_KEYS" in r.stderr, r.stderr
    assert KEYS["key-b"].split(":")[1] not in r.stdout + r.stderr
    assert by_kid(s) == before
    # One key per transaction, 300 ms between two: killed after a few.
    p = subprocess.Popen([str(TOOL), "--batch", "1", "--pause", "300"],
                         env=tool_env(s, "key-c", "key-b"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while by_kid(s).get("key-c", 0) < 2 and time.time() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait()
    midway = by_kid(s)
    assert 2 <= midway.get("key-c", 0) < n and sum(midway.values()) == n, midway
    # Wrapped by either master key, every data key unwraps meanwhile.
    owner = register(s)
    value = value_of("midway")
    sid = owner.post(SECRETS, {"name": "midway", "value": value}).json()["id"]
    assert owner.post(f"{SECRETS}/{sid}/reveal").json() == {"value": value}
    r = subprocess.run([str(TOOL), "--batch", "3"], env=tool_env(s, "key-c", "key-b"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert counts(r.stdout) == ("key-c", n - midway["key-c"], midway["key-c"] + 1, 0)
    assert by_kid(s) == {"key-c": n + 1}
    vstack.__dict__.update(s.__dict__)


def wait_job(s, kind, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = s.psql("SELECT status, coalesce(last_error, '') FROM homebot.jobs WHERE kind = :'k'"
                      " ORDER BY created_at DESC LIMIT 1", k=kind)
        if rows and rows[0][0] in ("succeeded", "dead"):
            return rows[0]
        time.sleep(0.2)
    raise AssertionError(f"the {kind} job did not finish: {rows}")


def test_the_job_rotates_and_a_key_it_cannot_unwrap_makes_it_dead(vstack):
    s = reconfigure(vstack, "key-d", "key-c")
    n = sum(by_kid(s).values())
    secrets = seed(s, 2, per_org=1)
    env = tool_env(s, "key-d")
    r = subprocess.run([str(STACK), "vault-rotate", "1"],
                       env=dict(env, WORKER_DATABASE_URL=env["DATABASE_URL"],
                                DATABASE_URL=s.env["APP_URL"]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "queued the job vault.rotate" in r.stdout, r.stdout + r.stderr
    assert wait_job(s, "vault.rotate") == ("succeeded", "")
    assert by_kid(s) == {"key-d": n + 2}
    assert all_reveal(s, secrets) == []
    log = Path(s.dir, "log", "worker.log").read_text(errors="replace")
    line = [x for x in log.splitlines() if "vault rotation" in x][-1]
    assert '"rewrapped":%d' % n in line.replace(" ", "") and '"failed":0' in line.replace(" ", ""), line
    # A worker without key-d: every data key fails, the job is dead at once.
    s = reconfigure(s, "key-z", "key-c")
    subprocess.run([str(TOOL), "--job"], env=tool_env(s, "key-z"), check=True,
                   capture_output=True)
    status, error = wait_job(s, "vault.rotate")
    assert status == "dead" and f"{n + 2} data keys could not be unwrapped" in error, error
    assert by_kid(s) == {"key-d": n + 2}
    text = repr(s.psql("SELECT j::text FROM homebot.jobs j")) + Path(s.dir, "log", "worker.log").read_text()
    for key in KEYS.values():
        assert key.split(":")[1] not in text
    s = reconfigure(s, "key-d")
    assert all_reveal(s, secrets) == []


def totp_by_kid(s):
    """{key id: number of two-factor data keys} from the wrapped keys' headers."""
    rows = s.psql("SELECT convert_from(substring(wrapped_key FROM 3 FOR get_byte(wrapped_key, 1)),"
                  " 'UTF8'), count(*) FROM homebot.user_totp GROUP BY 1")
    return {kid: int(n) for kid, n in rows}


def code_login(s, a, codes):
    """A whole two-step login of a with its next code: the token response."""
    token = first_step(s, a)
    r = verify(s, token, code=codes.next())
    assert r.status == 200, r
    assert r.json()["user"]["id"] == a.user_id, r.json()
    return r.json()


def test_two_factor_keys_are_rotated_and_the_old_key_retired(vstack):
    s = vstack
    orgs = sum(by_kid(s).values())
    assert set(by_kid(s)) == {"key-d"}
    a = register(s)
    codes_a, _ = enrol(a)
    assert totp_by_kid(s) == {"key-d": 1}
    s = reconfigure(s, "key-e", "key-d")
    # Under the new master key, the old two-factor key still unwraps.
    code_login(s, a, codes_a)
    r = make_rotate(s, "key-e", "key-d", batch=2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert counts(r.stdout) == ("key-e", orgs + 1, 0, 0)
    assert totp_by_kid(s) == {"key-e": 1} and by_kid(s) == {"key-e": orgs}
    r = make_rotate(s, "key-e", "key-d")
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ("key-e", 0, orgs + 1, 0)
    # key-d retired: the user still finishes a login with a code.
    s = reconfigure(s, "key-e")
    code_login(s, a, codes_a)

    # A user enrolled under a master key the run does not load: only that
    # key fails, named by its user, and stays as it was; exit 1.
    s = reconfigure(s, "key-z", "key-e")
    b = register(s)
    codes_b, _ = enrol(b)
    assert totp_by_kid(s) == {"key-e": 1, "key-z": 1}
    r = subprocess.run([str(TOOL)], env=tool_env(s, "key-e"), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert counts(r.stdout) == ("key-e", 0, orgs + 1, 1)
    assert f"the first that of user {b.user_id}" in r.stderr, r.stderr
    assert KEYS["key-z"].split(":")[1] not in r.stdout + r.stderr
    assert totp_by_kid(s) == {"key-e": 1, "key-z": 1}
    # With key-z loaded as an old key it is re-wrapped, by the job too.
    s = reconfigure(s, "key-e", "key-z")
    env = tool_env(s, "key-e", "key-z")
    r = subprocess.run([str(STACK), "vault-rotate", "1"],
                       env=dict(env, WORKER_DATABASE_URL=env["DATABASE_URL"],
                                DATABASE_URL=s.env["APP_URL"]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "queued the job vault.rotate" in r.stdout, r.stdout + r.stderr
    assert wait_job(s, "vault.rotate") == ("succeeded", "")
    assert totp_by_kid(s) == {"key-e": 2}
    s = reconfigure(s, "key-e")
    code_login(s, b, codes_b)
    code_login(s, a, codes_a)
    vstack.__dict__.update(s.__dict__)
