"""Nothing leaks (api.md §11): recognisable secret values, written, changed,
revealed, deleted and re-wrapped by a master-key rotation, the master
keys and the organizations' data keys in clear, are found nowhere but in reveal's answers: not in a
pg_dump of the database, the PostgreSQL log with every statement and its
parameters logged, the web server's, the admin program's and the
worker's logs, any other API answer (the secrets' own, the audit logs,
the jobs lists, /metrics), the jobs table, the envelopes of the events
or the rotation's output."""
import base64
import hashlib
import hmac
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, STACK, TEST_SETTINGS, make_superadmin, register, start_stack

SECRETS = "/api/v1/secrets"
BUILD = os.environ.get("BUILD", "build")
KEY_A = base64.b64encode(os.urandom(32)).decode()
KEY_B = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def lstack():
    if os.environ.get("HOMEBOT_URL"):
        pytest.skip("starts a stack of its own (HOMEBOT_URL is set)")
    s, stop = start_stack(dict(TEST_SETTINGS, VAULT_MASTER_KEY=KEY_A))
    try:
        # Every statement from now on, with its parameters, in the log.
        s.psql("ALTER SYSTEM SET log_statement = 'all'")
        s.psql("ALTER SYSTEM SET log_min_duration_statement = 0")
        s.psql("SELECT pg_reload_conf()")
        yield s
    finally:
        stop()


def forms(value):
    """The spellings of a value a leak could take: as is, without the 4
    characters its hint shows, base64, hex."""
    raw = value.encode()
    return {value, value[:-4], base64.b64encode(raw).decode(), raw.hex(),
            base64.b64encode(raw[:-4]).decode()[:-4]}


def key_forms(key):
    raw = base64.b64decode(key)
    return {key, key[:-1].rstrip("="), raw.hex(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def data_keys(s):
    """Every organization's data key in clear, unwrapped here with the
    master keys the test knows (lib/vault.h's format): what must never be
    found either."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    masters = {}
    for key in (KEY_A, KEY_B):
        raw = base64.b64decode(key)
        masters[hmac.new(raw, b"homebot vault key id", hashlib.sha256).hexdigest()[:16]] = raw
    out = []
    for org, hexed in s.psql("SELECT organization_id, encode(wrapped, 'hex') FROM homebot.vault_data_keys"):
        w = bytes.fromhex(hexed)
        kl = w[1]
        kid = w[2:2 + kl].decode()
        nonce, sealed = w[2 + kl:14 + kl], w[14 + kl:]
        aad = b"homebot-vault-dk\0" + w[:2 + kl] + bytes([len(org)]) + org.encode()
        out.append(AESGCM(masters[kid]).decrypt(nonce, sealed, aad))
    return out


def hits(text, needles):
    return sorted(n[:12] + "…" for n in needles if n in text)


def test_no_value_and_no_master_key_anywhere_but_in_reveal(lstack):
    s = lstack
    owner = register(s)
    other = register(s)
    values = []

    def value(tag):
        v = f"LEAK-{tag}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
        values.append(v)
        return v

    answers = []

    def keep(r):
        answers.append(r.body.decode(errors="replace"))
        return r

    team = keep(owner.post("/api/v1/teams", {"name": "Ops"})).json()
    a = keep(owner.post(SECRETS, {"name": "api", "value": value("org")})).json()
    t = keep(owner.post(SECRETS, {"name": "team", "value": value("team"),
                                  "team_id": team["id"]})).json()
    o = keep(other.post(SECRETS, {"name": "other", "value": value("other")})).json()
    gone = keep(owner.post(SECRETS, {"name": "gone", "value": value("gone")})).json()
    keep(owner.put(f"{SECRETS}/{a['id']}", {"value": value("v2")}))
    # A name taken, a bad body, a value too long: error answers echo nothing.
    keep(owner.post(SECRETS, {"name": "api", "value": value("taken")}))
    keep(owner.post(SECRETS, {"name": "", "value": value("invalid")}))
    keep(owner.put(f"{SECRETS}/{a['id']}", {"value": value("stale")},
                   headers={"If-Match": '"99"'}))
    revealed = [owner.post(f"{SECRETS}/{x['id']}/reveal") for x in (a, t, gone)]
    revealed.append(other.post(f"{SECRETS}/{o['id']}/reveal"))
    assert all(r.status == 200 for r in revealed), revealed
    keep(owner.delete(f"{SECRETS}/{gone['id']}"))
    for path in (SECRETS, f"{SECRETS}/{a['id']}", f"{SECRETS}/{t['id']}", "/api/v1/audit-log",
                 "/api/v1/jobs"):
        r = keep(owner.get(path))
        assert r.status == 200, (path, r)
    keep(other.get(SECRETS))

    # The rotation, by the tool and as a job, touches every data key too.
    conf = Path(s.dir, "rotate.env")
    conf.write_text(f"SECRET_KEY={s.settings['SECRET_KEY']}\nVAULT_MASTER_KEY={KEY_B}\n"
                    f"VAULT_OLD_KEYS={KEY_A}\n")
    env = dict({k: v for k, v in os.environ.items()
                if k not in ("VAULT_MASTER_KEY", "VAULT_OLD_KEYS", "SECRET_KEY")},
               HOMEBOT_CONFIG=str(conf), DATABASE_URL=s.env["WORKER_URL"])
    tool = ROOT / BUILD / "bin" / "homebot-vault-rotate"
    run = subprocess.run([str(tool)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and " 2 re-wrapped" in run.stdout, run.stdout + run.stderr
    subprocess.run([str(tool), "--job"], env=env, check=True, capture_output=True)
    for _ in range(300):
        job = s.psql("SELECT status FROM homebot.jobs WHERE kind = 'vault.rotate'")
        if job and job[0][0] in ("succeeded", "dead"):
            break
        time.sleep(0.1)
    # The worker runs with key A alone: the keys under B fail there, so
    # the job's last_error and the worker's log speak of them too.
    assert job == [("dead",)], job

    admin = make_superadmin(s)
    for path in ("/api/v1/admin/audit-log", "/api/v1/admin/jobs"):
        r = keep(admin.get(path))
        assert r.status == 200, (path, r)
    r = keep(s.get("/metrics"))
    assert r.status == 200 and "http_requests_total" in r.body.decode(), r

    # The API answers and reveal's: each value left the service once.
    api = "\n".join(answers)
    assert api.count(a["id"]) > 3 and "secret.revealed" in api, "the answers are the right ones"
    for r in revealed:
        assert r.json()["value"] in values

    dump = subprocess.run(["pg_dump", "-Fp", "--no-owner", "-d", s.env["OWNER_URL"]],
                          capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0, dump.stderr
    assert "vault_data_keys" in dump.stdout and "secret_values" in dump.stdout
    jobs = "\n".join("\x1f".join(row) for row in s.psql("SELECT j::text FROM homebot.jobs j"))
    assert "vault.rotate" in jobs
    # Every event as the worker publishes it, built from the audit log.
    events = "\n".join(e for (e,) in s.psql(
        "SELECT homebot.event_envelope(a)::text FROM homebot.audit_log a"
        " WHERE a.organization_id IS NOT NULL"))
    assert "secret.revealed" in events
    time.sleep(0.5)
    pglog = Path(s.dir, "pg", "postgres.log").read_text(errors="replace")
    assert "secret_values" in pglog and "parameters:" in pglog, "statements were logged"
    places = {
        "pg_dump": dump.stdout,
        "PostgreSQL log": pglog,
        "web server log": Path(s.dir, "log", "web.log").read_text(errors="replace"),
        "admin program log": "\n".join(p.read_text(errors="replace")
                                       for p in Path(s.dir, "log").glob("admin*")),
        "worker log": Path(s.dir, "log", "worker.log").read_text(errors="replace"),
        "API answers but reveal's": api,
        "jobs table": jobs,
        "event envelopes": events,
        "rotation output": run.stdout + run.stderr,
    }
    dks = data_keys(s)
    assert len(dks) == 2 and all(len(k) == 32 for k in dks), "both data keys unwrapped here"
    needles = set().union(*(forms(v) for v in values), key_forms(KEY_A), key_forms(KEY_B),
                          *(key_forms(base64.b64encode(k).decode()) for k in dks))
    found = {place: hits(text, needles) for place, text in places.items()}
    assert found == {place: [] for place in places}, found
    # The hint is all a value shows: its last 4 characters, in its own field.
    assert values[0][-4:] in api
