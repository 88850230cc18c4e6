-- Authentication: permissions, sessions, refresh tokens, API keys, login
-- attempts, rate limits and the audit log (api.md §2–§4). The SECURITY
-- DEFINER functions that the request path calls before any tenant is
-- known are in R__auth.sql, the audit log's in R__audit.sql.
--
-- migrate: supersedes 3f0b064e4c508baf0f13be09114bdb578422d83f1b1d080c1c89bb3b23cde0d4 (0.1.0)
-- The file as released in 0.1.0 also created the functions; they have
-- moved to R__auth.sql (register as 0003_orgs.sql redefined it). On a
-- database of 0.1.0, up records this file's checksum in place of the
-- released one, and tests/migrate/upgrade.t shows that such a database
-- ends up exactly as a new one (docs/migrations.md, "Superseded
-- checksums").
--
-- Why every table these functions touch has a definer_access policy
-- ------------------------------------------------------------------
-- Login, registration, refresh and API-key checks must find rows before a
-- tenant context exists (a user by email, a token by hash, a key by prefix)
-- and write rows of an organization chosen only then. homebot_app gets no
-- broad grants for that; it calls the narrow functions of R__auth.sql,
-- which are SECURITY DEFINER and so run as their owner, the role that runs
-- the migrations.
--
-- The tenant tables (and organizations, users) are FORCE ROW LEVEL SECURITY:
-- their policies bind their owner too, and only a superuser or a BYPASSRLS
-- role skips them. Migrations run as a superuser in development, but the
-- owner in production should be an ordinary role, and without more policies
-- every function would see no row and be refused every insert outside the
-- caller's app.org_id. So each table the functions touch gets one more
-- permissive policy, definer_access, for CURRENT_USER: the role running this
-- migration, which owns the tables and the functions. Permissive policies
-- are OR-ed, so that role sees and writes every row, while homebot_app
-- stays bound by the tenant policies alone: definer_access never names
-- homebot_app or PUBLIC. A policy also applies to the members of the role it
-- names, so the owner role must never be granted to a runtime role
-- (tests/sql/04_auth_tables.sql checks both).
--
-- login_attempts and auth_rate_limits are global, have no row-level
-- security and no grants to the runtime roles: only the functions use them.

-- Permissions and roles (api.md §3). Global reference data, read by all.
CREATE TABLE homebot.permissions (
	name text PRIMARY KEY,
	description text NOT NULL
);

INSERT INTO homebot.permissions (name, description) VALUES
	('org:read', 'Read the organization'),
	('members:read', 'List the members'),
	('audit:read', 'Read the organization''s audit log'),
	('api_keys:read', 'List the API keys'),
	('api_keys:write', 'Create and revoke API keys'),
	('members:write', 'Add members, change their roles and remove them'),
	('org:update', 'Change the organization''s name and settings'),
	('org:delete', 'Delete the organization'),
	('members:owners', 'Grant or take the owner role');

CREATE TABLE homebot.role_permissions (
	role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
	permission text NOT NULL REFERENCES homebot.permissions (name),
	PRIMARY KEY (role, permission)
);

INSERT INTO homebot.role_permissions (role, permission)
SELECT r.role, p.permission
  FROM (VALUES ('viewer'), ('member'), ('admin'), ('owner')) AS r (role)
  JOIN (VALUES ('org:read', 0), ('members:read', 0),
               ('audit:read', 1), ('api_keys:read', 1), ('api_keys:write', 1),
               ('members:write', 1), ('org:update', 1),
               ('org:delete', 2), ('members:owners', 2)) AS p (permission, tier)
    ON p.tier <= CASE r.role WHEN 'owner' THEN 2 WHEN 'admin' THEN 1 ELSE 0 END;

-- Grants beyond a user's role, per organization. They go with the
-- membership.
CREATE TABLE homebot.user_permissions (
	organization_id uuid NOT NULL,
	user_id uuid NOT NULL,
	permission text NOT NULL REFERENCES homebot.permissions (name),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, user_id, permission),
	FOREIGN KEY (organization_id, user_id)
		REFERENCES homebot.memberships (organization_id, user_id) ON DELETE CASCADE
);

-- One row per login (or switch): what an access token's sid names, and
-- what refresh tokens hang off.
CREATE TABLE homebot.sessions (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	user_id uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz NOT NULL DEFAULT now(),
	ip text,
	user_agent text CHECK (char_length(user_agent) <= 512),
	revoked_at timestamptz
);

-- The tenant index; also "this member's sessions in this organization"
-- (revoked when the member is removed).
CREATE INDEX sessions_organization_id_user_id_idx ON homebot.sessions (organization_id, user_id);
-- GET /api/v1/auth/sessions (newest first, keyset), logout of all sessions,
-- "the organization the user used last" at login, and the cascade from users.
CREATE INDEX sessions_user_id_created_at_idx ON homebot.sessions (user_id, created_at DESC, id DESC);

-- Refresh tokens are stored only as their SHA-256. A used one stays, with
-- used_at set, so that presenting it again is recognized as a reuse.
CREATE TABLE homebot.refresh_tokens (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	organization_id uuid NOT NULL,
	session_id uuid NOT NULL REFERENCES homebot.sessions (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX refresh_tokens_organization_id_session_id_idx ON homebot.refresh_tokens (organization_id, session_id);
-- Deleting a user or an organization cascades to sessions and, one session
-- at a time, to their tokens: without this index each would scan the table.
CREATE INDEX refresh_tokens_session_id_idx ON homebot.refresh_tokens (session_id);

-- API keys: hb_<prefix>_<secret>; the prefix finds the row, the SHA-256 of
-- the whole key is compared (in constant time, by the caller).
CREATE TABLE homebot.api_keys (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	prefix text NOT NULL CHECK (prefix ~ '^[a-z0-9]{8}$'),
	key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
	scopes text[] NOT NULL,
	created_by uuid NOT NULL REFERENCES homebot.users (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz,
	last_used_at timestamptz,
	revoked_at timestamptz,
	CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);

-- The tenant index, and GET /api/v1/api-keys (newest first, keyset).
CREATE INDEX api_keys_organization_id_created_at_idx ON homebot.api_keys (organization_id, created_at DESC, id DESC);

-- Global: the login lockout counts attempts per email, whatever the
-- organization, and whether or not the email exists.
CREATE TABLE homebot.login_attempts (
	id bigserial PRIMARY KEY,
	email text NOT NULL CHECK (email = lower(email)),
	ip text,
	attempted_at timestamptz NOT NULL DEFAULT now(),
	succeeded boolean NOT NULL
);

CREATE INDEX login_attempts_email_attempted_at_idx ON homebot.login_attempts (email, attempted_at DESC);

-- Per-IP hit counters of fixed one-minute windows, shared by every worker
-- process and host. UNLOGGED: losing them in a crash only resets a minute's
-- counts, and skipping the WAL keeps a write per auth call cheap.
CREATE UNLOGGED TABLE homebot.auth_rate_limits (
	ip text NOT NULL,
	window_start timestamptz NOT NULL,
	hits integer NOT NULL,
	PRIMARY KEY (ip, window_start)
);

-- Append-only (api.md §4): the runtime role may insert and read, never
-- update or delete. Platform events (failed logins, lockouts) have no
-- organization: the tenant policy hides them from the request path, and
-- only the definer functions (and later the admin role) write and read them.
-- No foreign key to organizations: the trail outlives what it describes.
CREATE TABLE homebot.audit_log (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	organization_id uuid,
	actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
	actor_id uuid,
	action text NOT NULL,
	target_type text,
	target_id text,
	ip text,
	user_agent text,
	request_id text,
	changes jsonb
);

-- The tenant index, and GET /api/v1/audit-log (newest first, keyset).
CREATE INDEX audit_log_organization_id_occurred_at_idx ON homebot.audit_log (organization_id, occurred_at DESC, id DESC);

-- Row-level security, as in 0001: enabled, forced, one tenant policy each.
ALTER TABLE homebot.user_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.user_permissions FORCE ROW LEVEL SECURITY;
CREATE POLICY user_permissions_tenant ON homebot.user_permissions
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

ALTER TABLE homebot.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_tenant ON homebot.sessions
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
-- A user lists and revokes his own sessions of every organization
-- (GET /api/v1/auth/sessions, logout with all_sessions, password change).
-- Only reading and updating: a session is never inserted into another
-- organization. The tenant-context condition keeps app.user_id alone from
-- opening anything: it counts only inside an authenticated request, which
-- always sets both.
CREATE POLICY sessions_own_select ON homebot.sessions FOR SELECT
	USING (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid)
	       AND (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid) IS NOT NULL);
CREATE POLICY sessions_own_update ON homebot.sessions FOR UPDATE
	USING (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid)
	       AND (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid) IS NOT NULL);

ALTER TABLE homebot.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_tenant ON homebot.refresh_tokens
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

ALTER TABLE homebot.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON homebot.api_keys
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

-- organization_id = NULL is never true: rows without an organization are
-- neither visible nor insertable under this policy.
ALTER TABLE homebot.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_tenant ON homebot.audit_log
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

-- See the top of this file.
CREATE POLICY definer_access ON homebot.organizations TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.users TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.memberships TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.user_permissions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.sessions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.refresh_tokens TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.api_keys TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.audit_log TO CURRENT_USER USING (true) WITH CHECK (true);

-- Grants to the request path. Updates are column-level: a session or key
-- can be touched and revoked, never moved, re-keyed or widened. Refresh
-- tokens, login attempts and rate limits are reached only through the
-- functions of R__auth.sql.
GRANT SELECT ON homebot.permissions, homebot.role_permissions TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.user_permissions TO homebot_app;
GRANT SELECT ON homebot.sessions TO homebot_app;
GRANT UPDATE (last_used_at, revoked_at) ON homebot.sessions TO homebot_app;
GRANT SELECT, INSERT ON homebot.api_keys TO homebot_app;
GRANT UPDATE (revoked_at, last_used_at) ON homebot.api_keys TO homebot_app;
GRANT SELECT, INSERT ON homebot.audit_log TO homebot_app;
