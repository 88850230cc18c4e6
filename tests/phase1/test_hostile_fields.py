"""Hostile input, field by field, generated from /openapi.json: every field
of every JSON body given invalid UTF-8, then numbers no field takes (too
large for any type, negative, fractional) and the wrong JSON types; a key
given twice; a query parameter given twice; a numeric query parameter out
of every range; Content-Length against Transfer-Encoding. Each answer is a
4xx in the error envelope, which contract.py checks against the document
as it does every answer, and none of them changes anything."""
import json
import uuid

import pytest

from conftest import (add_member, assert_error, assert_invalid, assert_status, parse_response,
                      verify_email)
from contract import DOC, deref

BODY_METHODS = ("post", "patch", "put")
NUMBERS = ["1e400", "-1e400", "123456789012345678901234567890", "-1", "0.5", "1e-400"]
# null is not among them: an optional field given null is absent (api.md).
WRONG_TYPES = ['"1"', "true", "[]", "{}"]


def fields(schema):
    """The properties of a request schema (allOf followed), name -> schema."""
    schema = deref(schema)
    out = {}
    for sub in schema.get("allOf", []):
        out.update(fields(sub))
    for name, sub in schema.get("properties", {}).items():
        sub = deref(sub)
        if "allOf" in sub:
            sub = {**deref(sub["allOf"][0]), **{k: v for k, v in sub.items() if k != "allOf"}}
        out[name] = sub
    return out


def body_operations():
    for template, item in DOC["paths"].items():
        for method, op in item.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json") \
                if method in BODY_METHODS else None
            if media:
                yield method.upper(), template, fields(media["schema"])


OPERATIONS = list(body_operations())
FIELD_CASES = [(m, t, name, spec) for m, t, props in OPERATIONS for name, spec in props.items()]


def target(template, who):
    """The path of template, for who: their own user id, a random id else,
    and a valid setting key."""
    return template.replace("{user_id}", who.user_id).replace("{id}", str(uuid.uuid4())) \
        .replace("{key}", "hostile.key")


def caller(template, account, superadmin):
    return superadmin if template.startswith("/api/v1/admin/") else account


def send(who, method, path, raw):
    return who.stack.request(method, path, body=raw,
                             headers={**who.auth, "Content-Type": "application/json"})


def test_every_body_field_is_generated():
    # The document lists the bodies this module attacks: a field lost from
    # the generation would silently leave its code untried.
    assert len(OPERATIONS) >= 18 and len(FIELD_CASES) >= 35, FIELD_CASES
    assert ("POST", "/api/v1/api-keys", "expires_in_days") in \
        {(m, t, n) for m, t, n, _ in FIELD_CASES}


@pytest.mark.parametrize("method, template, name, spec", FIELD_CASES,
                         ids=[f"{m} {t} {n}" for m, t, n, _ in FIELD_CASES])
def test_invalid_utf8_in_any_field_is_400_malformed_json(account, superadmin, method, template,
                                                        name, spec):
    who = caller(template, account, superadmin)
    for bad in (b"\xff\xfe", b"\xc3", b"a\xed\xa0\x80b", b"\xf4\x90\x80\x80", b"\xc0\xaf"):
        raw = b'{"' + name.encode() + b'": "' + bad + b'"}'
        assert_error(send(who, method, target(template, who), raw), 400, "malformed_json")
    assert_status(who.get("/api/v1/auth/me"), 200)


# A field whose schema names no type takes any JSON value (a setting's
# value): no number or type is wrong for it (test_settings.py tries the
# numbers JSON cannot hold on it).
TYPED_CASES = [case for case in FIELD_CASES if "type" in case[3] or "oneOf" in case[3]]


@pytest.mark.parametrize("method, template, name, spec", TYPED_CASES,
                         ids=[f"{m} {t} {n}" for m, t, n, _ in TYPED_CASES])
def test_numbers_and_wrong_types_in_any_field_are_refused(account, superadmin, method, template,
                                                         name, spec):
    # The field alone, with values its schema does not take: the answer
    # is a 4xx naming the field (or the request, for a number JSON cannot
    # hold), and the caller's session is untouched.
    who = caller(template, account, superadmin)
    kind = spec.get("type")
    values = NUMBERS + [v for v in WRONG_TYPES
                        if not (kind == "string" and v.startswith('"'))
                        and not (kind == "boolean" and v == "true")
                        and not (kind == "array" and v == "[]")
                        and not (kind == "object" and v == "{}")]
    for value in values:
        raw = f'{{"{name}": {value}}}'
        r = send(who, method, target(template, who), raw)
        assert 400 <= r.status < 500, (raw, r)
        if r.status == 422:
            assert name in {d["field"] for d in r.json()["error"].get("details", [])} or \
                r.json()["error"]["code"] != "validation_failed", (raw, r)
        else:
            assert r.status in (400, 401, 403, 404, 409), (raw, r)
    assert_status(who.get("/api/v1/auth/me"), 200)


def test_expires_in_days_out_of_range_is_422_and_no_key_is_made(stack, account):
    before = account.get("/api/v1/api-keys").json()["data"]
    for value in NUMBERS + ["0", "36501", "9007199254740993", "1.0"]:
        r = send(account, "POST", "/api/v1/api-keys", f'{{"name": "x", "scopes": ["org:read"], '
                                                     f'"expires_in_days": {value}}}')
        assert r.status in (400, 422), (value, r)
        if r.status == 422:
            assert_invalid(r, "expires_in_days")
    assert account.get("/api/v1/api-keys").json()["data"] == before


@pytest.mark.parametrize("method, template, name, spec",
                         [(m, t, n, s) for m, t, n, s in FIELD_CASES if n in ("name", "role", "email",
                                                                              "token")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_a_key_given_twice_is_400_malformed_json(account, superadmin, method, template, name,
                                                 spec):
    # json-c would keep the last; a proxy or a log in front may read the
    # first. Neither is chosen: the body is refused.
    who = caller(template, account, superadmin)
    raw = f'{{"{name}": "first", "{name}": "second"}}'
    assert_error(send(who, method, target(template, who), raw), 400, "malformed_json")
    nested = f'{{"settings": {{"a": 1, "a": 2}}}}'
    assert_error(send(who, method, target(template, who), nested), 400, "malformed_json")


def test_a_duplicated_key_does_not_change_the_organization(account):
    before = account.get("/api/v1/organizations/current").json()
    r = send(account, "PATCH", "/api/v1/organizations/current", '{"name": "A", "name": "B"}')
    assert_error(r, 400, "malformed_json")
    assert account.get("/api/v1/organizations/current").json() == before


def collection_paths():
    for template, item in DOC["paths"].items():
        params = [deref(p) for p in item.get("get", {}).get("parameters", [])]
        if "{" not in template and any(p["name"] == "limit" for p in params):
            yield template


COLLECTIONS = list(collection_paths())


@pytest.mark.parametrize("path", COLLECTIONS)
def test_a_query_parameter_given_twice_is_400(stack, account, superadmin, path):
    verify_email(stack, account.user_id)
    who = superadmin if path.startswith("/api/v1/admin/") else account
    for query in ("limit=1&limit=2", "limit=5&limit=5", "cursor=a&cursor=b&limit=3"):
        assert_error(who.get(f"{path}?{query}"), 400, "malformed_request")


@pytest.mark.parametrize("path", COLLECTIONS)
def test_limit_out_of_every_range_is_422(stack, account, superadmin, path):
    verify_email(stack, account.user_id)
    who = superadmin if path.startswith("/api/v1/admin/") else account
    assert len(COLLECTIONS) >= 8, COLLECTIONS
    for value in ("0", "201", "-1", "1e400", "99999999999999999999999", "1.5", "0x10", "%ff",
                  "%00", "+5", "%205", "5%20", "05%00", "1000"):
        r = who.get(f"{path}?limit={value}")
        assert r.status in (400, 422), (value, r)
        if r.status == 422:
            assert_invalid(r, "limit")


def framing_id(framing):
    return "two-te" if framing.count("Transfer-Encoding: chunked") and \
        any(f == "Transfer-Encoding: identity" for f in framing) else "other"


def exchange(stack, *lines, body=b""):
    raw = "\r\n".join(lines).encode() + b"\r\n\r\n" + body
    return stack.raw(raw)


def responses(raw, request):
    """Every response of a (possibly pipelined) exchange, in order; the
    first is checked against the document as the answer to request."""
    out = []
    while raw:
        r = parse_response(raw, None if out else request)
        length = int(r.header("Content-Length") or 0)
        head = raw.index(b"\r\n\r\n") + 4
        out.append(r)
        raw = raw[head + length:] if r.header("Content-Length") else b""
    return out


@pytest.mark.parametrize("framing", [
    ("Content-Length: 4", "Transfer-Encoding: chunked"),
    ("Transfer-Encoding: chunked", "Content-Length: 4"),
    ("Content-Length: 4", "Content-Length: 40"),
    ("Content-Length: 4, 40",),
    ("Transfer-Encoding: chunked", "Transfer-Encoding: identity"),
], ids=["cl-te", "te-cl", "two-cl", "cl-list", "two-te"])
def test_conflicting_framing_never_smuggles_a_request(stack, account, framing):
    # A body framed two ways is refused, or read one way (chunked wins) as
    # an empty body; the request hidden after it is never answered as a
    # second one, and never runs: no session is revoked.
    smuggled = (f"POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {account.access}\r\nContent-Length: 0\r\n\r\n").encode()
    lines = ("POST /api/v1/organizations HTTP/1.1", "Host: x",
             f"Authorization: Bearer {account.access}", "Content-Type: application/json",
             *framing, "Connection: close")
    body = b"0\r\n\r\n" + smuggled
    answers = responses(exchange(stack, *lines, body=body), "\r\n".join(lines).encode())
    assert answers, raw
    first = answers[0]
    # 501 for a transfer coding the server does not know (RFC 9112 6.1).
    assert 400 <= first.status < 500 or (first.status == 501 and "two-te" in framing_id(framing)), first
    body = json.loads(first.body)
    assert set(body) == {"error"}, first
    assert len(answers) == 1, answers
    assert_status(account.get("/api/v1/auth/me"), 200)


def test_a_key_that_escapes_nul_is_400_malformed_json(account):
    # json-c would cut the key at the NUL and hand the program "role";
    # anything in front would read another name.
    member = add_member(account, "viewer")
    r = send(account, "PATCH", f"/api/v1/members/{member.user_id}", '{"role\\u0000x": "owner"}')
    assert_error(r, 400, "malformed_json")
    [m] = [m for m in account.get("/api/v1/members").json()["data"]
           if m["user_id"] == member.user_id]
    assert m["role"] == "viewer", m
