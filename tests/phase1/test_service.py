"""Service endpoints of api.md §6: health, readiness, OpenAPI, docs."""
import re
import time
from pathlib import Path

from conftest import assert_error, assert_status, register


def test_health_answers_ok_with_version(stack):
    r = stack.get("/health")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    body = r.json()
    assert body["status"] == "ok"
    assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"]), body


def test_ready_reports_database_and_migrations(stack):
    r = stack.get("/ready")
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ready"
    db = body["checks"]["database"]
    assert db["status"] == "ok"
    assert isinstance(db["latency_ms"], (int, float)) and db["latency_ms"] >= 0
    mig = body["checks"]["migrations"]
    assert mig["status"] == "ok"
    assert re.fullmatch(r"\d{4}", mig["expected"]), mig
    assert mig["current"] == mig["expected"]
    # The warning-only checks (api.md §12) are always there, and say ok or
    # warn whatever the host's disk and queue look like.
    disk, jobs = body["checks"]["disk"], body["checks"]["jobs"]
    assert disk["status"] in ("ok", "warn") and jobs["status"] in ("ok", "warn"), body
    assert "data" in disk["directories"], disk
    for d in disk["directories"].values():
        assert 0 <= d["free_percent"] <= 100, disk
    assert jobs["dead"] >= 0 and jobs["oldest_queued_seconds"] >= 0, jobs


def test_ready_answers_within_a_second(stack):
    for _ in range(5):
        t0 = time.monotonic()
        assert stack.get("/ready").status == 200
        took = time.monotonic() - t0
        assert took < 1, took


def test_ready_is_503_while_database_down_and_recovers_without_restart(stack):
    web_pids = stack.worker_pids("health")
    stack.control("pg-stop")
    try:
        r = stack.get("/ready")
        assert r.status == 503, r
        assert r.header("Retry-After"), r.headers
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]["status"] == "error"
        assert body["checks"]["migrations"]["status"] == "error"
        # The queue cannot be read either: a warning, not a third error.
        assert body["checks"]["jobs"]["status"] == "warn"
        assert body["checks"]["jobs"]["dead"] is None
        # Liveness does not depend on the database.
        assert stack.get("/health").status == 200
    finally:
        stack.control("pg-start")
    # Every worker notices the restart by itself: no 503 once PostgreSQL
    # is back, and no worker was restarted.
    statuses = [stack.get("/ready").status for _ in range(12)]
    assert statuses == [200] * 12, statuses
    assert stack.worker_pids("health") == web_pids


def test_programs_holding_a_connection_serve_the_first_request_after_a_database_restart(stack):
    # /ready above starts from workers that lost their connection while
    # the database was down; these hold an idle one when it restarts.
    a = register(stack)
    calls = {
        "me": lambda: a.get("/api/v1/auth/me"),
        "api_keys": lambda: a.get("/api/v1/api-keys"),
        "auth": lambda: a.get("/api/v1/auth/sessions"),
    }
    for call in calls.values():
        for _ in range(8):
            assert_status(call(), 200)
    stack.control("pg-stop")
    stack.control("pg-start")
    statuses = {name: [call().status for _ in range(8)] for name, call in calls.items()}
    assert statuses == {name: [200] * 8 for name in calls}, statuses


def test_openapi_document_describes_every_endpoint(stack):
    r = stack.get("/openapi.json")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert {"/health", "/ready", "/openapi.json", "/docs"} <= set(doc["paths"])
    assert {"bearerAuth", "apiKeyAuth"} <= set(doc["components"]["securitySchemes"])


def test_docs_page_is_swagger_ui_from_local_assets(stack):
    r = stack.get("/docs")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/html")
    html = r.body.decode()
    assert "swagger-ui" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "external asset"
    csp = r.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assets = re.findall(r"(?:src|href)=\"(/docs/[^\"]+)\"", html)
    assert len(assets) >= 4, assets
    for path in assets:
        a = stack.get(path)
        assert a.status == 200, (path, a)
        assert len(a.body) > 0


def test_docs_initializer_points_at_openapi_json(stack):
    r = stack.get("/docs/swagger-init.js")
    assert r.status == 200
    assert '"/openapi.json"' in r.body.decode()


def test_docs_unknown_asset_is_404(stack):
    for path in ("/docs/package.json", "/docs/swagger-ui-bundle.js.map",
                 "/docs/openapi.json", "/docs/..."):
        assert_error(stack.get(path), 404, "not_found")


def test_docs_path_traversal_reads_nothing(stack):
    r = stack.get("/docs/..%2f..%2fsettings.env")
    assert r.status == 404, r
    assert b"SECRET_KEY" not in r.body


def test_jwks_is_empty_under_hs256(stack):
    r = stack.get("/.well-known/jwks.json")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    assert r.json() == {"keys": []}


AUTH_OPERATIONS = {
    "/api/v1/auth/register": {"post"},
    "/api/v1/auth/login": {"post"},
    "/api/v1/auth/refresh": {"post"},
    "/api/v1/auth/logout": {"post"},
    "/api/v1/auth/me": {"get"},
    "/api/v1/auth/password": {"post"},
    "/api/v1/auth/sessions": {"get"},
    "/api/v1/auth/sessions/{id}": {"delete"},
    "/api/v1/auth/switch": {"post"},
    "/api/v1/auth/accept-invite": {"post"},
    "/api/v1/auth/invitations": {"get"},
    "/api/v1/auth/invitations/{id}/accept": {"post"},
    "/api/v1/auth/verify-email": {"post"},
    "/api/v1/auth/verify-email/resend": {"post"},
    "/api/v1/auth/password/forgot": {"post"},
    "/api/v1/auth/password/reset": {"post"},
    "/api/v1/auth/email": {"post"},
    "/api/v1/auth/email/confirm": {"post"},
    "/api/v1/members/{user_id}/resend-invite": {"post"},
    "/account/verify": {"get"},
    "/account/reset": {"get"},
    "/account/invite": {"get"},
    "/account/email": {"get"},
    "/account/security": {"get"},
    "/account/mfa": {"get"},
    "/api/v1/api-keys": {"get", "post"},
    "/api/v1/api-keys/{id}": {"get", "delete"},
    "/.well-known/jwks.json": {"get"},
}


def test_openapi_documents_every_auth_and_api_key_operation(stack):
    paths = stack.get("/openapi.json").json()["paths"]
    for path, methods in AUTH_OPERATIONS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, sorted(paths[path]))


def test_openapi_login_accepts_the_password_form(stack):
    login = stack.get("/openapi.json").json()["paths"]["/api/v1/auth/login"]["post"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(
        login["requestBody"]["content"]), login["requestBody"]


def test_only_the_admin_program_can_see_the_admin_role_credentials(stack):
    # design.md: least privilege per program. The admin program alone gets
    # the env file with ADMIN_DATABASE_URL (the homebot_admin role).
    stack.need_own()
    etc = Path(stack.dir) / "etc"
    assert "ADMIN_DATABASE_URL" not in (etc / "homebot.env").read_text()
    assert "ADMIN_DATABASE_URL=" in (etc / "admin.env").read_text()
    assert stack.get("/api/v1/auth/me").status == 401  # start a me worker
    pids = stack.worker_pids("me")
    assert pids
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"ADMIN_DATABASE_URL" not in environ
        assert b"admin.env" not in environ
