"""A create reads its organization's wrapped data key from the database
only until the secrets process serving it has kept it (lib/secret.c):
with every statement logged, creates of one organization read the key no
more often than there are processes to serve them (plus the first
create's, which made the key), two organizations' creates served by the
same processes each seal under their own key, and a kept key that is no
longer the stored one (a rotation re-wrapped it) is read again, with
nothing written under the old wrapping."""
import base64
import os
import uuid
from pathlib import Path

import pytest

from conftest import TEST_SETTINGS, register, start_stack

SECRETS = "/api/v1/secrets"
KEY_A = base64.b64encode(os.urandom(32)).decode()
# The most processes of the secrets program (lighttpd.conf, apache.conf).
PROCESSES = 4


@pytest.fixture(scope="module")
def kstack():
    if os.environ.get("HOMEBOT_URL"):
        pytest.skip("starts a stack of its own (HOMEBOT_URL is set)")
    s, stop = start_stack(dict(TEST_SETTINGS, VAULT_MASTER_KEY=KEY_A))
    try:
        # Before the secrets programs' first connection (they connect at
        # their first request), so every one of their statements is logged.
        s.psql("ALTER SYSTEM SET log_statement = 'all'")
        s.psql("SELECT pg_reload_conf()")
        yield s
    finally:
        stop()


def key_reads(s, org_id):
    """How many times a create's first statement read org_id's key. A
    backend writes its log line itself (pg_ctl -l, no collector) before it
    runs the statement, so it is there once the request was answered."""
    lines = Path(s.dir, "pg", "postgres.log").read_text(errors="replace").splitlines()
    return sum(1 for line, nxt in zip(lines, lines[1:])
               if "execute <unnamed>: SELECT encode(k.wrapped" in line
               and "vault_data_keys k ON k.organization_id = $1" in line
               and f"$1 = '{org_id}'" in nxt)


def create(account, name, written):
    value = f"sk-cache-{name}-{uuid.uuid4().hex}"
    r = account.post(SECRETS, {"name": name, "value": value})
    assert r.status == 201, r
    written[r.json()["id"]] = (account, value)


def reveal_all(written):
    for sid, (account, value) in written.items():
        r = account.post(f"{SECRETS}/{sid}/reveal")
        assert r.status == 200 and r.json()["value"] == value, r


def test_creates_read_the_data_key_once_a_process(kstack):
    owner = register(kstack)
    other = register(kstack)
    written = {}
    for i in range(12):
        create(owner, f"k{i}", written)
    reads = key_reads(kstack, owner.org_id)
    assert 1 <= reads <= PROCESSES + 1, reads
    # Both organizations' keys kept by the same processes: each create
    # seals under its own organization's key (a value sealed under the
    # other's would not reveal: the key and the organization are bound).
    for i in range(12):
        create(other, f"o{i}", written)
        create(owner, f"m{i}", written)
    assert key_reads(kstack, owner.org_id) == reads
    assert key_reads(kstack, other.org_id) <= PROCESSES + 1
    # A taken name and another organization's team: refused as before.
    r = owner.post(SECRETS, {"name": "k0", "value": "sk-taken-0123456789abcdef"})
    assert r.status == 409 and r.json()["error"]["code"] == "name_taken", r
    team = other.post("/api/v1/teams", {"name": "Theirs"}).json()
    r = owner.post(SECRETS, {"name": "t", "value": "sk-team-0123456789abcdef",
                             "team_id": team["id"]})
    assert r.status == 422, r
    reveal_all(written)


def rewrapped(org_id, hexed):
    """The same data key wrapped again under KEY_A with a new nonce, as a
    rotation writes it (lib/vault.h's format; test_vault_leaks.py reads
    it the same way)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    w = bytes.fromhex(hexed)
    kl = w[1]
    nonce, sealed = w[2 + kl:14 + kl], w[14 + kl:]
    aad = b"homebot-vault-dk\0" + w[:2 + kl] + bytes([len(org_id)]) + org_id.encode()
    master = AESGCM(base64.b64decode(KEY_A))
    key = master.decrypt(nonce, sealed, aad)
    fresh = os.urandom(12)
    return (w[:2 + kl] + fresh + master.encrypt(fresh, key, aad)).hex()


def test_a_kept_key_that_is_no_longer_the_stored_one_is_read_again(kstack):
    owner = register(kstack)
    written = {}
    for i in range(12):
        create(owner, f"k{i}", written)
    before = key_reads(kstack, owner.org_id)
    where = f"organization_id = '{owner.org_id}'"
    (old,), = kstack.psql(f"SELECT encode(wrapped, 'hex') FROM homebot.vault_data_keys WHERE {where}")
    new = rewrapped(owner.org_id, old)
    kstack.psql(f"UPDATE homebot.vault_data_keys SET wrapped = decode('{new}', 'hex') WHERE {where}")
    for i in range(12):
        create(owner, f"n{i}", written)
    # Each process that kept the old wrapping found it stale and read the
    # new one: at least one read more, and never one a create.
    after = key_reads(kstack, owner.org_id)
    assert before < after <= before + PROCESSES, (before, after)
    (stored,), = kstack.psql(f"SELECT encode(wrapped, 'hex') FROM homebot.vault_data_keys WHERE {where}")
    assert stored == new
    reveal_all(written)
