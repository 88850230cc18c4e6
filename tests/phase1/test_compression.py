"""Compression by the web server (lighttpd.conf, apache.conf): large JSON
answers go out gzip-encoded to a client that asks, and decode to the very
answer a client that does not ask gets; small answers and clients that do
not ask get identity encoding; and an answer that can hold a token, a key
or a secret beside something the client sent is never compressed (BREACH),
however large it is and whatever the client asks."""
import json
import re
import uuid

import pytest

from conftest import ROOT, Account, create_key, invite, join, login, register
import contract

GZIP = {"Accept-Encoding": "gzip"}
# The web servers compress answers larger than this many bytes.
THRESHOLD = contract.DOC["x-compression"]["larger-than"]
# Names that make an answer larger than the threshold: a client's own
# text beside its tokens is what BREACH needs.
FULL_NAME = "Compression Tester " + "N" * 181
ORG_NAME = "Compression Org " + "O" * 184


def vary(resp):
    return [v.strip().lower() for v in (resp.header("Vary") or "").split(",")]


def assert_gzip(resp, status=200):
    assert resp.status == status, resp
    assert resp.header("Content-Encoding") == "gzip", resp.headers
    assert "accept-encoding" in vary(resp), resp.headers
    assert len(resp.wire) < len(resp.body), (len(resp.wire), len(resp.body))


def assert_identity(resp, status=200, large=True):
    """resp is in identity encoding; with large, its body is above the
    threshold, so the size alone cannot be why it was not compressed."""
    assert resp.status == status, resp
    assert resp.header("Content-Encoding") in (None, "identity"), resp.headers
    assert resp.wire == resp.body
    if large:
        assert len(resp.body) > THRESHOLD, len(resp.body)


@pytest.fixture(scope="module")
def big_org(stack):
    """An owner whose organization has 30 invited members, and an audit
    log of more than 30 events: pages well above the threshold."""
    owner = register(stack)
    for _ in range(30):
        r = owner.post("/api/v1/members", {"email": f"member-{uuid.uuid4().hex}@example.com",
                                           "role": "member"})
        assert r.status == 201, r
    return owner


@pytest.mark.parametrize("path", ["/api/v1/members?limit=200", "/api/v1/audit-log?limit=200"])
def test_a_large_collection_comes_gzip_encoded_and_decodes_to_the_identity_answer(big_org, path):
    plain = big_org.get(path)
    assert_identity(plain)
    packed = big_org.get(path, headers=GZIP)
    assert_gzip(packed)
    assert json.loads(packed.body) == plain.json()
    assert len(packed.json()["data"]) >= 30


@pytest.mark.parametrize("accept", [None, "identity", "br", "compress", "gzip;q=0",
                                    "br, gzip; q=0.0"])
def test_a_client_that_does_not_ask_for_gzip_gets_identity(big_org, accept):
    headers = {} if accept is None else {"Accept-Encoding": accept}
    assert_identity(big_org.get("/api/v1/members?limit=200", headers=headers))


def test_gzip_among_other_encodings_is_chosen(big_org):
    r = big_org.get("/api/v1/members?limit=200", headers={"Accept-Encoding": "deflate, gzip"})
    assert_gzip(r)


def test_a_small_answer_is_not_compressed(stack, big_org):
    r = stack.get("/health", headers=GZIP)
    assert_identity(r, large=False)
    assert len(r.body) <= THRESHOLD
    r = big_org.get("/api/v1/members?limit=1", headers=GZIP)
    assert_identity(r, large=False)
    assert len(r.body) <= THRESHOLD


def test_the_api_document_and_the_docs_assets_are_compressed(stack):
    for path in ("/openapi.json", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"):
        plain = stack.get(path)
        packed = stack.get(path, headers=GZIP)
        assert_gzip(packed)
        assert packed.body == plain.body, path


def test_the_compressed_answer_keeps_the_security_headers(big_org):
    r = big_org.get("/api/v1/members?limit=200", headers=GZIP)
    assert_gzip(r)
    assert r.header("Cache-Control") == "no-store"
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-Request-ID")


# ---- BREACH: never compressed, however large ---------------------------------


@pytest.fixture
def named(stack):
    """A user with long names, registered with gzip asked: its token
    response is above the threshold."""
    email = f"user-{uuid.uuid4().hex}@compression-{'d' * 50}.example.com"
    password = "pw-" + uuid.uuid4().hex
    r = stack.post("/api/v1/auth/register",
                   {"email": email, "password": password, "full_name": FULL_NAME,
                    "organization_name": ORG_NAME}, headers=GZIP)
    assert_identity(r, 201)
    assert r.json()["refresh_token"]
    return Account(stack, email, password, r.json())


def test_register_answers_its_tokens_in_identity(named):
    assert named.tokens["user"]["full_name"] == FULL_NAME


def test_login_answers_its_tokens_in_identity(stack, named):
    r = login(stack, named.email, named.password, headers=GZIP)
    assert_identity(r)
    assert r.json()["access_token"]


def test_refresh_answers_its_tokens_in_identity(stack, named):
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": named.refresh}, headers=GZIP)
    assert_identity(r)
    assert r.json()["refresh_token"] != named.refresh


def test_switch_answers_its_tokens_in_identity(stack, named):
    user = register(stack, full_name=FULL_NAME)
    join(named, user)
    r = user.post("/api/v1/auth/switch", {"organization_id": named.org_id}, headers=GZIP)
    assert_identity(r)
    assert r.json()["organization"]["name"] == ORG_NAME


def test_accepting_an_invitation_answers_its_tokens_in_identity(stack, named):
    inv = invite(named)
    r = stack.post("/api/v1/auth/accept-invite",
                   {"invite_token": inv["invite_token"], "password": "pw-" + uuid.uuid4().hex,
                    "full_name": FULL_NAME}, headers=GZIP)
    assert_identity(r)
    assert r.json()["access_token"]


def test_accepting_a_listed_invitation_answers_its_tokens_in_identity(stack, named):
    user = register(stack, full_name=FULL_NAME)
    r = named.post("/api/v1/members", {"email": user.email, "role": "member"})
    assert r.status == 201, r
    stack.psql("UPDATE homebot.users SET email_verified_at = now() WHERE id = :'id'",
               id=user.user_id)
    [inv] = [i for i in user.get("/api/v1/auth/invitations").json()["data"]
             if i["organization"]["id"] == named.org_id]
    r = user.post(f"/api/v1/auth/invitations/{inv['id']}/accept", headers=GZIP)
    assert_identity(r)
    assert r.json()["access_token"]


def test_me_is_in_identity(named):
    r = named.get("/api/v1/auth/me", headers=GZIP)
    assert_identity(r)
    assert r.json()["full_name"] == FULL_NAME


def test_a_large_collection_of_the_auth_program_is_in_identity(stack, named):
    for _ in range(4):
        named.login(headers={**GZIP, "User-Agent": "agent " + "U" * 200})
    r = named.get("/api/v1/auth/sessions?limit=200", headers=GZIP)
    assert_identity(r)
    assert len(r.json()["data"]) >= 5


@pytest.mark.parametrize("path", ["/api/v1/%61uth/sessions?limit=200",
                                  "/api/v1/%61pi-keys?limit=200",
                                  "/api/v1/auth/%73essions?limit=200"])
def test_an_escaped_path_of_an_excluded_program_is_in_identity(stack, named, path):
    # The web server routes on the decoded path: so must its exclusion.
    for i in range(5):
        named.login(headers={**GZIP, "User-Agent": "agent " + "U" * 200})
        create_key(named, ["org:read"], name=f"escaped {i} " + "K" * 90)
    r = named.get(path, headers=GZIP)
    assert_identity(r)
    assert len(r.json()["data"]) >= 5


def test_revealing_a_secret_answers_its_value_in_identity(named):
    # The value beside a name the client chose: what BREACH needs.
    r = named.post("/api/v1/secrets", {"name": "S" * 200, "value": "v" * 1500})
    assert r.status == 201, r
    r = named.post(f"/api/v1/secrets/{r.json()['id']}/reveal", headers=GZIP)
    assert_identity(r)
    assert r.json() == {"value": "v" * 1500}


def test_revealing_a_connection_answers_its_values_in_identity(named):
    fields = {f"field_{i}": "v" * 40 for i in range(30)}
    r = named.post("/api/v1/connections", {"name": FULL_NAME, "type": "smtp",
                                           "secret_fields": fields})
    assert r.status == 201, r
    conn = r.json()
    r = named.post(f"/api/v1/connections/{conn['id']}/reveal", headers=GZIP)
    assert_identity(r)
    assert r.json() == {"secret_fields": fields}
    # Its other answers, which hold names and hints, are kept in identity
    # with the whole program.
    assert_identity(named.get("/api/v1/connections?limit=200", headers=GZIP))


def test_the_contract_check_decodes_unreserved_escapes():
    # The check that fails a compressed answer of an excluded path sees
    # through the escapes the web servers decode.
    class Gzipped:
        status = 200

        def header(self, name):
            return {"content-encoding": "gzip", "vary": "Accept-Encoding"}.get(name.lower())

    with pytest.raises(contract.Drift, match="identity encoding"):
        contract.check("GET", "/api/v1/%61uth/sessions", Gzipped())
    assert contract._normal_path("/api/v1/%61uth/%2Fx%7E") == "/api/v1/auth/%2Fx~"


def test_creating_an_api_key_answers_the_key_in_identity(named):
    scopes = ["org:read", "members:read", "audit:read", "api_keys:read"]
    r = named.post("/api/v1/api-keys", {"name": "K" * 100, "scopes": scopes}, headers=GZIP)
    # Below the threshold: the next test shows the whole prefix is excluded.
    assert_identity(r, 201, large=False)
    assert r.json()["key"].startswith("hb_")


def test_every_answer_of_the_api_keys_program_is_in_identity(named):
    for i in range(5):
        create_key(named, ["org:read"], name=f"key {i} " + "K" * 90)
    r = named.get("/api/v1/api-keys?limit=200", headers=GZIP)
    assert_identity(r)
    key_id = r.json()["data"][0]["id"]
    assert_identity(named.get(f"/api/v1/api-keys/{key_id}", headers=GZIP), large=False)


# ---- both web servers exclude the same paths ---------------------------------

# Every path of api.md that answers a token, a key or a secret (those not
# built yet included), and paths whose answers may be compressed.
BREACH_PATHS = [
    "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh",
    "/api/v1/auth/switch", "/api/v1/auth/accept-invite",
    "/api/v1/auth/invitations/0b6a/accept", "/api/v1/auth/me",
    "/api/v1/auth/mfa/totp", "/api/v1/auth/mfa/totp/confirm",
    "/api/v1/auth/mfa/recovery-codes", "/api/v1/auth/mfa/verify",
    "/api/v1/api-keys", "/api/v1/api-keys/0b6a",
    "/api/v1/secrets/0b6a/reveal", "/api/v1/connections/0b6a/reveal",
    # lighttpd sees a FastCGI program's prefix alone: the programs whose
    # paths hold /reveal are kept in identity whole.
    "/api/v1/secrets", "/api/v1/secrets/0b6a", "/api/v1/connections", "/api/v1/connections/0b6a",
]
COMPRESSIBLE_PATHS = [
    "/api/v1/members", "/api/v1/audit-log", "/api/v1/organizations", "/api/v1/jobs",
    "/api/v1/admin/audit-log", "/api/v1/admin/users",
    "/api/v1/teams", "/openapi.json", "/docs/swagger-ui.css",
]


def excluded_patterns():
    """The identity-only pattern of lighttpd.conf and of apache.conf."""
    lighttpd = (ROOT / "lighttpd.conf").read_text()
    apache = (ROOT / "apache.conf").read_text()
    lm = re.search(r'\$HTTP\["url"\] =~ "([^"]+)" \{\s*deflate\.mimetypes = \(\)', lighttpd)
    am = re.search(r'^FilterProvider homebot-gzip DEFLATE ".* && %\{REQUEST_URI\} !~ m#([^#]+)#"$',
                   apache, re.M)
    assert lm and am
    return lm[1], am[1]


def test_both_web_servers_keep_the_documented_paths_in_identity():
    lighttpd, apache = excluded_patterns()
    assert lighttpd == apache == contract.DOC["x-compression"]["identity-only"]
    rx = re.compile(lighttpd)
    assert [p for p in BREACH_PATHS if not rx.search(p)] == []
    assert [p for p in COMPRESSIBLE_PATHS if rx.search(p)] == []
