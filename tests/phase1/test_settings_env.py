"""Settings given only in the environment reach every program (README,
"Configuration": the environment wins), the admin program included, under
lighttpd and Apache alike: scripts/stack.sh folds them into the programs'
env files, whichever way the web server starts a program.
"""
import base64
import json
import os
import re

import pytest

from conftest import ROOT, bearer, login, make_superadmin, new_email, new_password, \
    start_stack

ORIGIN = "https://env-only.example.org"

# One request per program (lighttpd.conf's fastcgi.server, apache.conf's
# aliases), each answered by that program whatever the credentials.
PROGRAMS = {
    "health": "/health",
    "docs": "/openapi.json",
    "account": "/account/verify-email",
    "wellknown": "/.well-known/jwks.json",
    "me": "/api/v1/auth/me",
    "auth": "/api/v1/auth/sessions",
    "orgs": "/api/v1/organizations",
    "settings": "/api/v1/settings",
    "members": "/api/v1/members",
    "teams": "/api/v1/teams",
    "secrets": "/api/v1/secrets",
    "connections": "/api/v1/connections",
    "audit": "/api/v1/audit-log",
    "jobs": "/api/v1/jobs",
    "api_keys": "/api/v1/api-keys",
    "admin": "/api/v1/admin/organizations",
}


def config_c_settings():
    text = (ROOT / "lib" / "config.c").read_text()
    names = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', text))
    # Where the env file is, and the web port (a stack.sh setting).
    return names - {"HOMEBOT_CONFIG", "HOMEBOT_PORT"}


def stack_sh_settings():
    text = (ROOT / "scripts" / "stack.sh").read_text()
    m = re.search(r'^SETTINGS="([^"]*)"', text, re.M)
    assert m, "scripts/stack.sh has no SETTINGS list"
    return set(m.group(1).split())


def test_stack_sh_knows_every_setting_the_programs_read():
    assert config_c_settings(), "no setting names found in lib/config.c"
    assert stack_sh_settings() == config_c_settings()


@pytest.fixture(scope="module")
def env_stack():
    environ = {
        "SECRET_KEY": "e" * 20 + new_password(),
        # Given here, so that no stack generates one into the file.
        "VAULT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "MQTT_PUBLISHER_SECRET": os.urandom(24).hex(),
        "BCRYPT_COST": "4",
        "AUTH_RATE_PER_MINUTE": "100000",
        "CORS_ORIGINS": ORIGIN,
        "HOMEBOT_ISSUER": "issuer-from-the-environment",
        "ACCESS_TOKEN_TTL": "777",
    }
    s, stop = start_stack({}, environ=environ)
    try:
        yield s
    finally:
        stop()


def test_the_settings_file_is_empty(env_stack):
    assert (env_stack.settings or {}) == {}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_program_sees_the_environments_settings(env_stack, program):
    r = env_stack.get(PROGRAMS[program], headers={"Origin": ORIGIN})
    assert r.status < 500, (program, r)
    assert r.header("Access-Control-Allow-Origin") == ORIGIN, (program, r.headers)


def test_tokens_carry_the_environments_issuer_and_lifetime(env_stack):
    email, password = new_email(), new_password()
    r = env_stack.post("/api/v1/auth/register", {
        "email": email, "password": password, "organization_name": "Env Org"})
    assert r.status == 201, r
    assert r.json()["expires_in"] == 777
    payload = r.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "issuer-from-the-environment"


def test_the_admin_program_works_with_the_secret_from_the_environment(env_stack):
    admin = make_superadmin(env_stack)
    r = env_stack.get("/api/v1/admin/organizations", headers=admin.auth)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    # An access token of the auth program is good at the admin program:
    # both signed and checked with the one SECRET_KEY of the environment.
    again = login(env_stack, admin.email, admin.password)
    assert again.status == 200, again
    r = env_stack.get("/api/v1/admin/users", headers=bearer(again.json()["access_token"]))
    assert r.status == 200, r
