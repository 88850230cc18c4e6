-- Undoes 0002_auth: its functions, its tables (with their policies and
-- grants), and the definer_access policies it added to 0001's tables.
DROP FUNCTION homebot.authenticate_api_key(text, bytea);
DROP FUNCTION homebot.refresh_rotate(bytea, bytea, integer, text, text, text);
DROP FUNCTION homebot.register(text, text, text, text, text, text, text, bytea, integer);
DROP FUNCTION homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text);
DROP FUNCTION homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint);
DROP FUNCTION homebot.login_lookup(text, integer, integer, text);
DROP FUNCTION homebot.auth_rate_hit(text, integer);

DROP TABLE homebot.audit_log;
DROP TABLE homebot.auth_rate_limits;
DROP TABLE homebot.login_attempts;
DROP TABLE homebot.api_keys;
DROP TABLE homebot.refresh_tokens;
DROP TABLE homebot.sessions;
DROP TABLE homebot.user_permissions;
DROP TABLE homebot.role_permissions;
DROP TABLE homebot.permissions;

DROP POLICY definer_access ON homebot.memberships;
DROP POLICY definer_access ON homebot.users;
DROP POLICY definer_access ON homebot.organizations;
