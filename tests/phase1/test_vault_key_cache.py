"""A create reads its organization's wrapped data key from the database
once a secrets process, then keeps it (lib/secret.c): with every
statement logged, creates of one organization read the key no more often
than there are processes to serve them, and every value still reveals as
written."""
import base64
import os
import time
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
        s.psql("ALTER SYSTEM SET log_statement = 'all'")
        s.psql("SELECT pg_reload_conf()")
        yield s
    finally:
        stop()


def key_reads(s, org_id):
    """How many times a create's first statement read org_id's key."""
    time.sleep(0.3)
    lines = Path(s.dir, "pg", "postgres.log").read_text(errors="replace").splitlines()
    return sum(1 for line, nxt in zip(lines, lines[1:])
               if "execute <unnamed>: SELECT encode(k.wrapped" in line
               and "vault_data_keys k ON k.organization_id = $1" in line
               and f"$1 = '{org_id}'" in nxt)


def test_creates_read_the_data_key_once_a_process(kstack):
    owner = register(kstack)
    other = register(kstack)
    written = {}
    for i in range(12):
        value = f"sk-cache-{i}-{uuid.uuid4().hex}"
        r = owner.post(SECRETS, {"name": f"k{i}", "value": value})
        assert r.status == 201, r
        written[r.json()["id"]] = value
    reads = key_reads(kstack, owner.org_id)
    assert 1 <= reads <= PROCESSES, reads
    # Another organization's create never takes the first one's key.
    r = other.post(SECRETS, {"name": "k0", "value": "sk-other-0123456789abcdef"})
    assert r.status == 201, r
    assert key_reads(kstack, other.org_id) == 1
    assert other.post(f"{SECRETS}/{r.json()['id']}/reveal").json()["value"] == \
        "sk-other-0123456789abcdef"
    # A taken name and a team of another organization: refused as before.
    r = owner.post(SECRETS, {"name": "k0", "value": "sk-taken-0123456789abcdef"})
    assert r.status == 409 and r.json()["error"]["code"] == "name_taken", r
    team = other.post("/api/v1/teams", {"name": "Theirs"}).json()
    r = owner.post(SECRETS, {"name": "t", "value": "sk-team-0123456789abcdef",
                             "team_id": team["id"]})
    assert r.status == 422, r
    for sid, value in written.items():
        r = owner.post(f"{SECRETS}/{sid}/reveal")
        assert r.status == 200 and r.json()["value"] == value, r
