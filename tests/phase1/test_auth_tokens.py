"""Credentials (api.md §2): the token response, the access token's claims,
and how protected endpoints answer a missing, forged or misplaced one.

Forged tokens that need the right key are signed here with the stack's
SECRET_KEY (read from its settings.env), so each one differs from a good
token in exactly one way.
"""
import re
import time
import uuid

import pytest

from conftest import (UUID_RE, access_ttl, assert_error, assert_status, assert_unauthenticated, bearer,
                      create_key, jwt_parts, jwt_sign)

ZERO = "00000000-0000-4000-8000-000000000000"
PROTECTED = [
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/auth/sessions"),
    ("DELETE", f"/api/v1/auth/sessions/{ZERO}"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("GET", f"/api/v1/api-keys/{ZERO}"),
    ("DELETE", f"/api/v1/api-keys/{ZERO}"),
]
ACCESS_TOKEN_ONLY = [
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/auth/sessions"),
    ("DELETE", f"/api/v1/auth/sessions/{ZERO}"),
]
REFRESH_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def call(stack, method, path, headers=None):
    body = {} if method == "POST" else None
    return stack.request(method, path, body=body, headers=headers)


def test_token_response_has_every_field(account):
    t = account.tokens
    assert set(t) == {"access_token", "token_type", "expires_in", "refresh_token",
                      "refresh_expires_in", "user", "organization", "role"}, t
    assert t["token_type"] == "bearer"
    assert t["expires_in"] == access_ttl(account.stack)
    assert t["refresh_expires_in"] == 604800
    assert REFRESH_RE.fullmatch(t["refresh_token"]), t
    assert set(t["user"]) == {"id", "email", "full_name", "email_verified", "mfa_enabled"}, t
    assert set(t["organization"]) == {"id", "name", "slug"}, t
    assert UUID_RE.fullmatch(t["user"]["id"]) and UUID_RE.fullmatch(t["organization"]["id"]), t


def test_access_token_is_hs256_jwt_with_the_documented_claims(account):
    header, claims = jwt_parts(account.access)
    assert header["alg"] == "HS256", header
    assert {"iss", "sub", "org", "role", "sid", "jti", "iat", "exp", "typ"} <= set(claims), claims
    assert claims["iss"] == "homebot"
    assert claims["sub"] == account.tokens["user"]["id"]
    assert claims["org"] == account.tokens["organization"]["id"]
    assert claims["role"] == "owner"
    assert claims["typ"] == "access"
    assert UUID_RE.fullmatch(claims["sid"]) and UUID_RE.fullmatch(claims["jti"]), claims
    assert claims["exp"] == claims["iat"] + access_ttl(account.stack), claims
    assert abs(claims["iat"] - time.time()) < 60, claims


def test_every_login_gets_its_own_session_and_token_id(account):
    first = jwt_parts(account.login()["access_token"])[1]
    second = jwt_parts(account.login()["access_token"])[1]
    assert first["sid"] != second["sid"]
    assert first["jti"] != second["jti"]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_missing_credential_is_401_not_authenticated(stack, method, path):
    assert_unauthenticated(call(stack, method, path), "not_authenticated")


def test_non_bearer_authorization_is_401_not_authenticated(stack, account):
    r = stack.get("/api/v1/auth/me", headers={"Authorization": "Basic " + account.access})
    assert_unauthenticated(r, "not_authenticated")


def test_bearer_scheme_is_case_insensitive(stack, account):
    r = stack.get("/api/v1/auth/me", headers={"Authorization": "bearer " + account.access})
    assert r.status == 200, r


def _resign(alg):
    def forge(header, claims, token, secret):
        return jwt_sign(dict(header, alg=alg), claims, secret())
    return forge


def _claims(**changes):
    def forge(header, claims, token, secret):
        new = dict(claims)
        for k, v in changes.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v(claims) if callable(v) else v
        return jwt_sign(header, new, secret())
    return forge


def _tampered_payload(header, claims, token, secret):
    h, _, sig = token.split(".")
    other = jwt_sign(header, dict(claims, org=str(uuid.uuid4())), "x").split(".")[1]
    return f"{h}.{other}.{sig}"


def _alg_none(header, claims, token, secret):
    return jwt_sign({"alg": "none", "typ": "JWT"}, claims, "")


def _alg_none_keeping_signature(header, claims, token, secret):
    h, p, sig = token.split(".")
    return jwt_sign({"alg": "none", "typ": "JWT"}, claims, "").rsplit(".", 1)[0] + "." + sig


def _bad_signature(header, claims, token, secret):
    h, p, sig = token.split(".")
    return f"{h}.{p}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"


def _guessed_secret_hs512(header, claims, token, secret):
    return jwt_sign(dict(header, alg="HS512"), claims, "secret")


def _guessed_secret_hs256(header, claims, token, secret):
    return jwt_sign(header, claims, "secret")


def _no_signature(header, claims, token, secret):
    return token.rsplit(".", 1)[0]


FORGERIES = {
    "alg_none": _alg_none,
    "alg_none_keeping_signature": _alg_none_keeping_signature,
    "hs512_with_a_guessed_secret": _guessed_secret_hs512,
    "hs256_with_a_guessed_secret": _guessed_secret_hs256,
    "payload_tampered": _tampered_payload,
    "signature_altered": _bad_signature,
    "signature_missing": _no_signature,
    "not_a_jwt": lambda *a: "not-a-jwt-at-all",
    "hs384_with_the_right_secret": _resign("HS384"),
    "hs512_with_the_right_secret": _resign("HS512"),
    "expired": _claims(iat=lambda c: int(time.time()) - 1000, exp=lambda c: int(time.time()) - 100),
    "expiring_now": _claims(exp=lambda c: int(time.time()) - 1),
    "wrong_issuer": _claims(iss="someone-else"),
    "no_issuer": _claims(iss=None),
    "wrong_typ": _claims(typ="refresh"),
    "no_typ": _claims(typ=None),
    "no_exp": _claims(exp=None),
    "not_yet_valid": _claims(nbf=lambda c: int(time.time()) + 600),
    "unknown_session": _claims(sid=lambda c: str(uuid.uuid4())),
    "other_organization": _claims(org=lambda c: str(uuid.uuid4())),
    "other_user": _claims(sub=lambda c: str(uuid.uuid4())),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_access_token_is_401_invalid_token(stack, account, forgery):
    # Forgeries that need the server's key call stack.secret_key, which
    # skips them against a stack these tests did not start.
    header, claims = jwt_parts(account.access)
    token = FORGERIES[forgery](header, claims, account.access, stack.secret_key)
    assert token != account.access
    r = stack.get("/api/v1/auth/me", headers=bearer(token))
    assert_unauthenticated(r, "invalid_token")


def test_token_signed_with_the_server_secret_is_accepted(stack, account):
    # The control for the forgeries above: the same signer, nothing wrong.
    header, claims = jwt_parts(account.access)
    token = jwt_sign(header, dict(claims, jti=str(uuid.uuid4())), stack.secret_key())
    r = stack.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status == 200, r


def test_nbf_in_the_past_is_accepted(stack, account):
    header, claims = jwt_parts(account.access)
    token = jwt_sign(header, dict(claims, nbf=int(time.time()) - 5), stack.secret_key())
    assert_status(stack.get("/api/v1/auth/me", headers=bearer(token)), 200)


@pytest.mark.parametrize("method,path", ACCESS_TOKEN_ONLY)
def test_api_key_on_access_token_only_endpoint_is_403_forbidden(stack, account, method, path):
    key = create_key(account, ["org:read", "api_keys:read"])["key"]
    for headers in ({"X-API-Key": key}, bearer(key)):
        assert_error(call(stack, method, path, headers=headers), 403, "forbidden")

