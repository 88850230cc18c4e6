-- Undoes 0003_orgs: the invitations table, the admin role's policies and
-- grants, and the audit_log indexes. The functions and triggers are gone
-- already: migrate down drops every function and trigger of the
-- repeatable files before it runs a down migration. The audit events they
-- wrote stay: the log is append-only.

-- With its policies.
DROP TABLE homebot.invitations;

-- Table-level REVOKE ALL also takes the column privileges.
REVOKE ALL ON homebot.organizations, homebot.users, homebot.memberships, homebot.sessions,
	homebot.api_keys, homebot.audit_log, homebot.role_permissions, homebot.user_permissions,
	homebot.permissions
	FROM homebot_admin;

DROP POLICY admin_access ON homebot.organizations;
DROP POLICY admin_access ON homebot.users;
DROP POLICY admin_access ON homebot.memberships;
DROP POLICY admin_access ON homebot.user_permissions;
DROP POLICY admin_access ON homebot.sessions;
DROP POLICY admin_access ON homebot.api_keys;
DROP POLICY admin_access ON homebot.audit_log;

DROP INDEX homebot.audit_log_occurred_at_idx;
DROP INDEX homebot.audit_log_organization_id_actor_id_occurred_at_idx;
DROP INDEX homebot.audit_log_organization_id_action_occurred_at_idx;
