-- Undoes 0002_auth: its tables (with their policies and grants), and the
-- definer_access policies it added to 0001's tables. The functions are
-- gone already: migrate down drops every function and trigger of the
-- repeatable files before it runs a down migration.
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
