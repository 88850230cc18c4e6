"""The log never holds a secret (design: secrets are never logged).

This module runs last (see conftest.py): it checks the web server's log,
where the programs write their lines, for every password, refresh token,
access token and API key the whole suite sent or received.
"""
from conftest import SECRETS, assert_status, create_key, login, new_password, register


def test_log_holds_no_password_token_or_api_key(stack):
    stack.need_own()
    # Its own flows, so the check means something when run alone.
    a = register(stack)
    a.login()
    login(stack, a.email, "wrong-" + new_password())
    stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh})
    stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh})
    a2 = register(stack)
    a2.post("/api/v1/auth/password", {"current_password": a2.password, "new_password": "short"})
    a2.post("/api/v1/auth/password",
            {"current_password": a2.password, "new_password": new_password()})
    key = create_key(a2, ["org:read"])["key"]
    stack.get("/api/v1/auth/me", headers={"X-API-Key": key})
    marker = "log-check-" + new_password()
    assert_status(stack.get("/api/v1/auth/me", headers={"X-Request-ID": marker[:128]}), 401)

    log = stack.web_log()
    assert marker[:128] in log, "the programs' lines are not in this log"
    assert len(SECRETS) >= 8, SECRETS
    leaked = [s for s in SECRETS if s in log]
    assert not leaked, f"{len(leaked)} secrets in the log, e.g. {leaked[0][:12]}…"
