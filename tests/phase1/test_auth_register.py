"""POST /api/v1/auth/register (api.md §2): a user, an organization and the
owner membership, answered with a token response."""
import re
import uuid

import pytest

from conftest import (assert_error, assert_invalid, assert_status, login, new_email, new_password,
                      own_stack, register)

REGISTER = "/api/v1/auth/register"


def body(**changes):
    b = {"email": new_email(), "password": new_password(),
         "organization_name": f"Org {uuid.uuid4().hex[:12]}"}
    b.update(changes)
    return {k: v for k, v in b.items() if v is not None}


@pytest.fixture(scope="module")
def closed_stack():
    yield from own_stack(REGISTRATION_OPEN="false")


def test_register_is_201_with_a_token_response_as_owner(stack):
    b = body(full_name="Ada Lovelace")
    r = stack.post(REGISTER, b)
    assert r.status == 201, r
    t = r.json()
    assert t["role"] == "owner"
    assert t["user"]["email"] == b["email"]
    assert t["user"]["full_name"] == "Ada Lovelace"
    assert t["organization"]["name"] == b["organization_name"]
    assert t["access_token"] and t["refresh_token"]


def test_registered_user_can_use_the_access_token_at_once(stack):
    a = register(stack)
    r = a.get("/api/v1/auth/me")
    assert r.status == 200, r
    assert r.json()["email"] == a.email


def test_registered_user_can_log_in(stack):
    a = register(stack)
    r = login(stack, a.email, a.password)
    assert r.status == 200, r
    assert r.json()["organization"]["id"] == a.org_id


def test_full_name_is_optional(stack):
    r = stack.post(REGISTER, body())
    assert r.status == 201, r
    assert r.json()["user"]["full_name"] == ""


def test_email_is_trimmed(stack):
    email = new_email()
    r = stack.post(REGISTER, body(email=f"  {email}\t"))
    assert r.status == 201, r
    assert r.json()["user"]["email"] == email


def test_same_email_is_409_email_taken(stack):
    a = register(stack)
    assert_error(stack.post(REGISTER, body(email=a.email)), 409, "email_taken")


def test_email_is_unique_regardless_of_case(stack):
    a = register(stack)
    assert_error(stack.post(REGISTER, body(email=a.email.upper())), 409, "email_taken")


def test_email_taken_creates_nothing(stack):
    a = register(stack)
    name = f"Never {uuid.uuid4().hex}"
    stack.post(REGISTER, body(email=a.email, organization_name=name))
    assert stack.psql("SELECT count(*) FROM homebot.organizations WHERE name = :'n'",
                      n=name) == [("0",)]


def test_slug_is_derived_from_the_organization_name(stack):
    tag = uuid.uuid4().hex[:10]
    a = register(stack, organization_name=f"  Acme & Sons {tag} Ltd.  ")
    assert a.tokens["organization"]["slug"] == f"acme-sons-{tag}-ltd"


def test_same_organization_name_gets_a_distinct_slug(stack):
    name = f"Twin {uuid.uuid4().hex[:10]}"
    first = register(stack, organization_name=name).tokens["organization"]["slug"]
    second = register(stack, organization_name=name).tokens["organization"]["slug"]
    assert first != second
    for slug in (first, second):
        assert re.fullmatch(r"[a-z0-9-]+", slug), slug
        assert slug.startswith(first), slug


def test_slug_of_a_name_without_letters_or_digits_is_still_valid(stack):
    slug = register(stack, organization_name="!!! ???").tokens["organization"]["slug"]
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", slug), slug


# Varied enough for cracklib (test_password_policy.py): "x" * 10 is too easy.
VARIED = "kUkq6-xzGfVmb!Pj.YvA7go77pAsolrVRRU8rEKD0QV4GwSfQYI3K-loWXFcynqve5Upp8gz1S"


@pytest.mark.parametrize("password", [VARIED[:10], VARIED[:72], "ÌïÊûôößÐÀÓÙËÈÞÿøÕéÖñÒàÝìðýëçÑÁèâüóÎÇ",
                                      "pass word with spaces"],
                         ids=["10_bytes", "72_bytes", "72_bytes_in_36_chars", "spaces"])
def test_password_of_10_to_72_bytes_is_accepted(stack, password):
    assert_status(stack.post(REGISTER, body(password=password)), 201)


@pytest.mark.parametrize("password", ["x" * 9, "x" * 73, "é" * 37, ""],
                         ids=["9_bytes", "73_bytes", "74_bytes_in_37_chars", "empty"])
def test_password_outside_10_to_72_bytes_is_422(stack, password):
    assert_invalid(stack.post(REGISTER, body(password=password)), "password")


def test_password_equal_to_the_email_is_422(stack):
    email = new_email()
    assert_invalid(stack.post(REGISTER, body(email=email, password=email)), "password")


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "@example.com",
                                   "user@", "us er@example.com", "   ", ""])
def test_bad_email_is_422(stack, email):
    assert_invalid(stack.post(REGISTER, body(email=email)), "email")


@pytest.mark.parametrize("field", ["email", "password", "organization_name"])
def test_missing_required_field_is_422(stack, field):
    assert_invalid(stack.post(REGISTER, body(**{field: None})), field)


def test_empty_organization_name_is_422(stack):
    assert_invalid(stack.post(REGISTER, body(organization_name="")), "organization_name")


@pytest.mark.parametrize("field,value", [("email", 5), ("password", None), ("password", 1234567890),
                                         ("organization_name", ["x"]), ("full_name", {"a": 1})])
def test_wrong_json_types_are_422(stack, field, value):
    b = body()
    b[field] = value
    assert_invalid(stack.post(REGISTER, b), field)


def test_every_problem_is_reported_at_once(stack):
    err = assert_invalid(stack.post(REGISTER, {"email": "nope", "password": "short"}),
                         "email", "password", "organization_name")
    assert all(isinstance(d["message"], str) and d["message"] for d in err["details"]), err


def test_registration_closed_is_403(closed_stack):
    assert_error(closed_stack.post(REGISTER, body()), 403, "registration_closed")
