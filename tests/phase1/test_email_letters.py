"""An email keeps every letter: emails that begin or end with "v" were cut
("victor@example.dev" became "ictor@example.de"), so two people could end
up on one account. Only white space is trimmed."""
import uuid

from conftest import assert_status, login, register


def test_an_email_beginning_and_ending_with_v_is_kept_whole(stack):
    tag = uuid.uuid4().hex[:8]
    a = register(stack, email=f"v{tag}v@example.dev")
    me = a.get("/api/v1/auth/me").json()
    assert me["email"] == f"v{tag}v@example.dev", me
    assert_status(login(stack, f"v{tag}v@example.dev", a.password), 200)


def test_the_address_without_its_vs_is_another_account(stack):
    tag = uuid.uuid4().hex[:8]
    a = register(stack, email=f"v{tag}@example.dev")
    b = register(stack, email=f"{tag}@example.de")
    assert a.user_id != b.user_id
    assert_status(login(stack, f"{tag}@example.de", b.password), 200)
    assert_status(login(stack, f"v{tag}@example.dev", a.password), 200)


def test_an_invited_address_with_vs_keeps_them(stack):
    owner = register(stack)
    email = f"v{uuid.uuid4().hex[:8]}v@example.dev"
    r = owner.post("/api/v1/members", {"email": email, "role": "member"})
    assert_status(r, 201)
    assert r.json()["email"] == email, r.json()
