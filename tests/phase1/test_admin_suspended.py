"""A superadmin whose own organization is suspended still administers the
platform: the admin endpoints act on the platform, not in that
organization. Everything else stays closed to that organization."""
from conftest import assert_error, assert_status, make_superadmin, register


def test_a_superadmin_of_a_suspended_organization_still_administers(stack):
    admin = make_superadmin(stack)
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=admin.org_id)
    try:
        assert_status(admin.get("/api/v1/admin/organizations"), 200)
        assert_status(admin.post(f"/api/v1/admin/organizations/{admin.org_id}/unsuspend"), 200)
        assert_status(admin.get("/api/v1/auth/me"), 200)
    finally:
        stack.psql("UPDATE homebot.organizations SET suspended_at = NULL WHERE id = :'id'",
                   id=admin.org_id)


def test_the_suspended_organization_stays_closed_outside_administration(stack):
    admin = make_superadmin(stack)
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'",
               id=admin.org_id)
    try:
        assert_error(admin.get("/api/v1/auth/me"), 403, "organization_suspended")
        assert_error(admin.get("/api/v1/members"), 403, "organization_suspended")
    finally:
        stack.psql("UPDATE homebot.organizations SET suspended_at = NULL WHERE id = :'id'",
                   id=admin.org_id)


def test_a_member_of_a_suspended_organization_is_not_let_into_administration(stack):
    a = register(stack)
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'id'", id=a.org_id)
    r = a.get("/api/v1/admin/organizations")
    assert r.status == 403, r
    assert r.json()["error"]["code"] == "organization_suspended", r.json()
