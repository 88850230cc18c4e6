-- Organizations and members (api.md §3) and the admin role (§5): the
-- invitations table, the admin role's policies and grants, and the audit
-- log's indexes for filtering. The functions are in R__orgs.sql and
-- R__admin.sql; the triggers that put every row change of the tenant
-- tables (and users) into the audit log (§4) are in R__audit.sql.
--
-- migrate: supersedes db793175fb67891cdf82ad01230b72417593476a92e77af88a37240371855a8b (0.1.0)
-- The file as released in 0.1.0 also created the functions and triggers
-- (and redefined 0002's register); they have moved to the repeatable
-- files. On a database of 0.1.0, up records this file's checksum in place
-- of the released one, and tests/migrate/upgrade.t shows that such a
-- database ends up exactly as a new one (docs/migrations.md, "Superseded
-- checksums").
--
-- As in 0002, whatever must cross tenants goes through narrow SECURITY
-- DEFINER functions owned by the role running the migrations, and every
-- table they touch under FORCE ROW LEVEL SECURITY has a definer_access
-- policy for that role (see the top of 0002_auth.sql).

-- Invitations: a pending member's single-use token (only its SHA-256 is
-- stored), which sets the invited user's password and activates the
-- membership. They go with the membership. homebot_app has no privilege on
-- the table: only the functions of R__orgs.sql use it.
CREATE TABLE homebot.invitations (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	organization_id uuid NOT NULL,
	user_id uuid NOT NULL,
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	created_by uuid REFERENCES homebot.users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	CONSTRAINT invitations_token_hash_key UNIQUE (token_hash),
	FOREIGN KEY (organization_id, user_id)
		REFERENCES homebot.memberships (organization_id, user_id) ON DELETE CASCADE
);

-- The tenant index; also what the cascade from memberships looks up.
CREATE INDEX invitations_organization_id_user_id_idx ON homebot.invitations (organization_id, user_id);

ALTER TABLE homebot.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON homebot.invitations
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY definer_access ON homebot.invitations TO CURRENT_USER USING (true) WITH CHECK (true);

-- GET /api/v1/audit-log?action= and ?actor_id= (newest first, keyset), and
-- GET /api/v1/admin/audit-log, which reads every organization and the
-- platform events.
CREATE INDEX audit_log_organization_id_action_occurred_at_idx
	ON homebot.audit_log (organization_id, action, occurred_at DESC, id DESC);
CREATE INDEX audit_log_organization_id_actor_id_occurred_at_idx
	ON homebot.audit_log (organization_id, actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_log_occurred_at_idx ON homebot.audit_log (occurred_at DESC, id DESC);

-- The admin role: only the admin program connects as homebot_admin, and
-- only superadmins reach it. It sees every organization; what it may change
-- is fixed by the column grants below: suspend organizations, disable
-- users, revoke sessions, append to the audit log. It never reads password
-- hashes (users is granted column by column), refresh tokens, invitations
-- or login attempts, and never updates or deletes an audit event. These
-- policies name homebot_admin alone: homebot_app stays bound by the tenant
-- policies (tests/sql/02_rls_structure.sql).
CREATE POLICY admin_access ON homebot.organizations TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.users TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.memberships TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.user_permissions TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.sessions TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.api_keys TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.audit_log TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.invitations TO homebot_admin USING (true) WITH CHECK (true);

GRANT SELECT ON homebot.organizations, homebot.memberships, homebot.sessions, homebot.api_keys,
	homebot.audit_log, homebot.role_permissions, homebot.user_permissions, homebot.permissions
	TO homebot_admin;
GRANT SELECT (id, email, full_name, is_superadmin, disabled_at, created_at, updated_at)
	ON homebot.users TO homebot_admin;
GRANT UPDATE (suspended_at, updated_at) ON homebot.organizations TO homebot_admin;
GRANT UPDATE (disabled_at, updated_at) ON homebot.users TO homebot_admin;
GRANT UPDATE (revoked_at) ON homebot.sessions TO homebot_admin;
GRANT INSERT ON homebot.audit_log TO homebot_admin;
