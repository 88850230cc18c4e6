-- Authentication: permissions, sessions, refresh tokens, API keys, login
-- attempts, rate limits, the audit log, and the SECURITY DEFINER functions
-- that the request path calls before any tenant is known (api.md §2–§4).
--
-- Why every table these functions touch has a definer_access policy
-- ------------------------------------------------------------------
-- Login, registration, refresh and API-key checks must find rows before a
-- tenant context exists (a user by email, a token by hash, a key by prefix)
-- and write rows of an organization chosen only then. homebot_app gets no
-- broad grants for that; it calls the narrow functions below, which are
-- SECURITY DEFINER and so run as their owner, the role that ran this
-- migration.
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
-- security and no grants to the runtime roles: only these functions use them.
--
-- The functions' SQL is static: arguments are only ever bound as values.

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
-- functions below.
GRANT SELECT ON homebot.permissions, homebot.role_permissions TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.user_permissions TO homebot_app;
GRANT SELECT ON homebot.sessions TO homebot_app;
GRANT UPDATE (last_used_at, revoked_at) ON homebot.sessions TO homebot_app;
GRANT SELECT, INSERT ON homebot.api_keys TO homebot_app;
GRANT UPDATE (revoked_at, last_used_at) ON homebot.api_keys TO homebot_app;
GRANT SELECT, INSERT ON homebot.audit_log TO homebot_app;

-- auth_rate_hit: one hit for p_ip in the current one-minute window. Returns
-- 0 while the window's hits are at most p_limit, else the seconds until the
-- window ends (the Retry-After of a 429).
CREATE FUNCTION homebot.auth_rate_hit(p_ip text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_window timestamptz := date_trunc('minute', now());
	v_hits integer;
BEGIN
	-- About one call in a hundred sweeps old windows: no scheduler is
	-- needed, and no sweep has more than a few minutes of rows to delete.
	IF random() < 0.01 THEN
		DELETE FROM homebot.auth_rate_limits
		 WHERE window_start < v_window - interval '5 minutes';
	END IF;

	-- One statement, so concurrent hits from any process all count. A
	-- client without a known address shares the '' counter.
	INSERT INTO homebot.auth_rate_limits AS r (ip, window_start, hits)
	VALUES (coalesce(p_ip, ''), v_window, 1)
	ON CONFLICT (ip, window_start) DO UPDATE SET hits = r.hits + 1
	RETURNING r.hits INTO v_hits;

	IF v_hits <= p_limit THEN
		RETURN 0;
	END IF;
	RETURN greatest(1, ceil(extract(epoch FROM v_window + interval '1 minute' - now())))::integer;
END
$$;

-- login_lookup: the start of every login attempt. Always one row.
-- user_id, password_hash and disabled are NULL for an unknown email, so the
-- caller can run a dummy bcrypt and answer exactly as for a wrong password.
--
-- retry_after > 0 while the email is locked: at least p_max_attempts failed
-- attempts within the last p_window seconds and after the last success.
-- The counted failures are the p_max_attempts newest; the lock ends when
-- the oldest of them leaves the window, which leaves p_max_attempts - 1.
-- "After the last success" goes by id, not by time, so that a success and
-- the failures before it are ordered even within one transaction.
--
-- While the email is not locked, the attempt counts at once, before its
-- password is checked: a failed attempt is recorded and its id returned as
-- attempt_id (NULL while locked, when nothing is recorded). The caller
-- then checks the password outside any transaction and either passes
-- attempt_id to login_failed, or calls login_start, whose successful
-- attempt ends the count (a login_start that refuses leaves the failure
-- counted). Check and record happen under the email's advisory lock, and
-- the lock is held until the recording transaction ends, so concurrent
-- attempts take turns and each sees those before it: however many run at
-- once, at most p_max_attempts passwords of one email are checked within
-- the window (plus those after a correct one).
CREATE FUNCTION homebot.login_lookup(p_email text, p_max_attempts integer, p_window integer, p_ip text)
RETURNS TABLE (user_id uuid, password_hash text, disabled boolean, retry_after integer,
               attempt_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_email text := lower(p_email);
	v_user_id uuid;
	v_password_hash text;
	v_disabled boolean;
	v_failures bigint;
	v_oldest timestamptz;
	v_retry_after integer := 0;
	v_attempt_id bigint;
BEGIN
	-- The same lock as login_failed's. Taken before reading the count: the
	-- next statement's snapshot then sees every attempt recorded by the
	-- holders before this one.
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.login_failed ' || v_email, 0));

	-- users_email_key
	SELECT u.id, u.password_hash, u.disabled_at IS NOT NULL
	  INTO v_user_id, v_password_hash, v_disabled
	  FROM homebot.users u
	 WHERE lower(u.email) = v_email;

	SELECT count(*), min(c.attempted_at) INTO v_failures, v_oldest
	  FROM (SELECT a.attempted_at
	          -- login_attempts_email_attempted_at_idx
	          FROM homebot.login_attempts a
	         WHERE a.email = v_email
	           AND NOT a.succeeded
	           AND a.attempted_at > now() - make_interval(secs => p_window)
	           AND a.id > coalesce(
	                   (SELECT max(s.id)
	                      FROM homebot.login_attempts s
	                     WHERE s.email = v_email
	                       AND s.succeeded
	                       AND s.attempted_at > now() - make_interval(secs => p_window)),
	                   0)
	         ORDER BY a.attempted_at DESC, a.id DESC
	         LIMIT greatest(p_max_attempts, 1)) AS c;

	IF v_failures >= p_max_attempts THEN
		v_retry_after := greatest(1, ceil(extract(epoch FROM
		                     v_oldest + make_interval(secs => p_window) - now())))::integer;
	ELSE
		INSERT INTO homebot.login_attempts (email, ip, succeeded)
		VALUES (v_email, p_ip, false)
		RETURNING id INTO v_attempt_id;
	END IF;

	RETURN QUERY SELECT v_user_id, v_password_hash, v_disabled, v_retry_after, v_attempt_id;
END
$$;

-- login_failed: audits a failed login (wrong password or unknown email)
-- whose attempt login_lookup recorded as p_attempt_id, and audits
-- auth.locked when this attempt is the one that locked the email: the
-- count of login_lookup, when the attempt was recorded, reached
-- p_max_attempts with it. Records nothing in login_attempts. An attempt
-- that is gone (an admin unlocked the email meanwhile), or is not a failed
-- attempt of this email, is audited as a failure but locked nothing.
CREATE FUNCTION homebot.login_failed(p_email text, p_user_id uuid, p_ip text, p_user_agent text,
                                     p_request_id text, p_max_attempts integer, p_window integer,
                                     p_attempt_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text := lower(p_email);
	v_user_agent text := left(p_user_agent, 512);
	v_actor_type text := CASE WHEN p_user_id IS NULL THEN 'system' ELSE 'user' END;
	v_changes jsonb := jsonb_build_object('email', lower(p_email));
	v_attempted_at timestamptz;
	v_failures bigint;
BEGIN
	-- Failures of one email take turns with each other and with
	-- login_lookup.
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.login_failed ' || v_email, 0));

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (NULL, v_actor_type, p_user_id, 'auth.login.failed', 'user',
	        p_user_id::text, p_ip, v_user_agent, p_request_id, v_changes);

	-- login_attempts_pkey
	SELECT a.attempted_at INTO v_attempted_at
	  FROM homebot.login_attempts a
	 WHERE a.id = p_attempt_id
	   AND a.email = v_email
	   AND NOT a.succeeded;
	IF NOT FOUND THEN
		RETURN;
	END IF;

	-- login_lookup's count (without its LIMIT) as of this attempt: the
	-- failures up to it, after the last success before it. Attempts of one
	-- email are recorded in turn, so their ids give their order, and
	-- exactly one attempt of several concurrent ones is the one at which
	-- the count reaches the limit.
	SELECT count(*) INTO v_failures
	  FROM homebot.login_attempts a
	 WHERE a.email = v_email
	   AND NOT a.succeeded
	   AND a.id <= p_attempt_id
	   AND a.attempted_at > v_attempted_at - make_interval(secs => p_window)
	   AND a.id > coalesce(
	           (SELECT max(s.id)
	              FROM homebot.login_attempts s
	             WHERE s.email = v_email
	               AND s.succeeded
	               AND s.id < p_attempt_id
	               AND s.attempted_at > v_attempted_at - make_interval(secs => p_window)),
	           0);

	IF v_failures = p_max_attempts THEN
		INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
		                               target_id, ip, user_agent, request_id, changes)
		VALUES (NULL, v_actor_type, p_user_id, 'auth.locked', 'user',
		        p_user_id::text, p_ip, v_user_agent, p_request_id, v_changes);
	END IF;
END
$$;

-- login_start: after the password was verified, picks the organization and
-- opens a session. status: 'ok', 'account_disabled', 'not_a_member' (also
-- for a user that no longer exists) or 'organization_suspended'. Only 'ok'
-- creates anything; the others write nothing but an auth.login.failed
-- audit event with the reason, and return NULL in every other column.
CREATE FUNCTION homebot.login_start(p_user_id uuid, p_org_id uuid, p_ip text, p_user_agent text,
                                    p_request_id text, p_refresh_hash bytea, p_refresh_ttl integer,
                                    p_new_password_hash text)
RETURNS TABLE (status text, session_id uuid, organization_id uuid, org_name text, org_slug text,
               role text, email text, full_name text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user_agent text := left(p_user_agent, 512);
	v_user homebot.users%ROWTYPE;
	v_org homebot.organizations%ROWTYPE;
	v_org_id uuid;
	v_role text;
	v_status text;
	v_session_id uuid;
BEGIN
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user_id;

	IF v_user.id IS NULL THEN
		v_status := 'not_a_member';
	ELSIF v_user.disabled_at IS NOT NULL THEN
		v_status := 'account_disabled';
	ELSE
		IF p_org_id IS NOT NULL THEN
			v_org_id := p_org_id;
		ELSE
			-- The organization used last: that of the newest session,
			-- revoked or not, where the user is still an active member.
			-- sessions_user_id_created_at_idx
			SELECT s.organization_id INTO v_org_id
			  FROM homebot.sessions s
			  JOIN homebot.memberships m
			    ON m.organization_id = s.organization_id AND m.user_id = s.user_id
			 WHERE s.user_id = p_user_id
			   AND m.status = 'active'
			 ORDER BY s.created_at DESC, s.id DESC
			 LIMIT 1;
			IF v_org_id IS NULL THEN
				-- memberships_user_id_idx
				SELECT m.organization_id INTO v_org_id
				  FROM homebot.memberships m
				 WHERE m.user_id = p_user_id
				   AND m.status = 'active'
				 ORDER BY m.created_at, m.organization_id
				 LIMIT 1;
			END IF;
		END IF;

		SELECT m.role INTO v_role
		  FROM homebot.memberships m
		 WHERE m.organization_id = v_org_id
		   AND m.user_id = p_user_id
		   AND m.status = 'active';
		SELECT * INTO v_org FROM homebot.organizations o WHERE o.id = v_org_id;

		IF v_role IS NULL OR v_org.id IS NULL THEN
			v_status := 'not_a_member';
		ELSIF v_org.suspended_at IS NOT NULL THEN
			v_status := 'organization_suspended';
		ELSE
			v_status := 'ok';
		END IF;
	END IF;

	IF v_status <> 'ok' THEN
		INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
		                               target_id, ip, user_agent, request_id, changes)
		VALUES (NULL, 'user', p_user_id, 'auth.login.failed', 'user',
		        p_user_id::text, p_ip, v_user_agent, p_request_id,
		        jsonb_build_object('email', lower(v_user.email), 'reason', v_status));
		RETURN QUERY SELECT v_status, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
		                    NULL::text, NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	-- The stored hash had a lower bcrypt cost than configured.
	IF p_new_password_hash IS NOT NULL THEN
		UPDATE homebot.users u
		   SET password_hash = p_new_password_hash, updated_at = now()
		 WHERE u.id = p_user_id;
	END IF;

	INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
	VALUES (v_org_id, p_user_id, p_ip, v_user_agent)
	RETURNING id INTO v_session_id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_org_id, v_session_id, p_refresh_hash, now() + make_interval(secs => p_refresh_ttl));

	-- Ends any lockout count of this email (see login_lookup).
	INSERT INTO homebot.login_attempts (email, ip, succeeded)
	VALUES (lower(v_user.email), p_ip, true);

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id)
	VALUES (v_org_id, 'user', p_user_id, 'auth.login.succeeded', 'session',
	        v_session_id::text, p_ip, v_user_agent, p_request_id);

	RETURN QUERY SELECT 'ok'::text, v_session_id, v_org_id, v_org.name, v_org.slug,
	                    v_role, v_user.email, v_user.full_name, v_user.created_at;
END
$$;

-- register: a user, an organization, the owner membership, a session and
-- its first refresh token, in the caller's transaction. status 'ok' or
-- 'email_taken' (then every other column is NULL and nothing is written).
CREATE FUNCTION homebot.register(p_email text, p_password_hash text, p_full_name text, p_org_name text,
                                 p_ip text, p_user_agent text, p_request_id text,
                                 p_refresh_hash bytea, p_refresh_ttl integer)
RETURNS TABLE (status text, user_id uuid, session_id uuid, organization_id uuid, org_name text,
               org_slug text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_email text := btrim(p_email, E' \t\r\n\f\v');
	v_user_agent text := left(p_user_agent, 512);
	v_user_id uuid;
	v_created_at timestamptz;
	v_org_id uuid;
	v_base text;
	v_slug text;
	v_session_id uuid;
	v_constraint text;
	v_tries integer := 0;
BEGIN
	-- users_email_key
	IF EXISTS (SELECT FROM homebot.users u WHERE lower(u.email) = lower(v_email)) THEN
		RETURN QUERY SELECT 'email_taken'::text, NULL::uuid, NULL::uuid, NULL::uuid,
		                    NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	-- A concurrent registration of the same email can still win between the
	-- check above and this insert: the unique index then decides.
	BEGIN
		INSERT INTO homebot.users (email, password_hash, full_name)
		VALUES (v_email, p_password_hash, coalesce(p_full_name, ''))
		RETURNING id, created_at INTO v_user_id, v_created_at;
	EXCEPTION WHEN unique_violation THEN
		GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
		IF v_constraint IS DISTINCT FROM 'users_email_key' THEN
			RAISE;
		END IF;
		RETURN QUERY SELECT 'email_taken'::text, NULL::uuid, NULL::uuid, NULL::uuid,
		                    NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END;

	-- The slug: lower case, every run of other characters than [a-z0-9]
	-- one '-', no '-' at either end, at most 50 characters (room for the
	-- suffix within the 63 allowed).
	v_base := btrim(left(btrim(regexp_replace(lower(coalesce(p_org_name, '')), '[^a-z0-9]+', '-', 'g'),
	                           '-'), 50), '-');
	IF v_base = '' THEN
		v_base := 'org';
	END IF;
	v_slug := v_base;
	-- A taken slug gets '-' and 6 random hex digits, retried until free. The
	-- unique constraint, not a prior check, decides, so concurrent
	-- registrations cannot take the same slug.
	LOOP
		BEGIN
			INSERT INTO homebot.organizations (name, slug)
			VALUES (p_org_name, v_slug)
			RETURNING id INTO v_org_id;
			EXIT;
		EXCEPTION WHEN unique_violation THEN
			GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
			IF v_constraint IS DISTINCT FROM 'organizations_slug_key' OR v_tries >= 100 THEN
				RAISE;
			END IF;
		END;
		v_tries := v_tries + 1;
		v_slug := v_base || '-' || left(md5(gen_random_uuid()::text), 6);
	END LOOP;

	INSERT INTO homebot.memberships (organization_id, user_id, role, status)
	VALUES (v_org_id, v_user_id, 'owner', 'active');

	INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
	VALUES (v_org_id, v_user_id, p_ip, v_user_agent)
	RETURNING id INTO v_session_id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_org_id, v_session_id, p_refresh_hash, now() + make_interval(secs => p_refresh_ttl));

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (v_org_id, 'user', v_user_id, 'auth.register', 'user',
	        v_user_id::text, p_ip, v_user_agent, p_request_id,
	        jsonb_build_object('email', v_email, 'full_name', coalesce(p_full_name, ''))),
	       (v_org_id, 'user', v_user_id, 'organization.created', 'organization',
	        v_org_id::text, p_ip, v_user_agent, p_request_id,
	        jsonb_build_object('name', p_org_name, 'slug', v_slug));

	RETURN QUERY SELECT 'ok'::text, v_user_id, v_session_id, v_org_id, p_org_name, v_slug, v_created_at;
END
$$;

-- refresh_rotate: exchanges a refresh token for a new one of the same
-- session. status:
--   'invalid'  no such token, or it expired, or its session was revoked, or
--              the membership is gone or not active, or the user is
--              disabled, or the organization is suspended; nothing changes.
--   'reused'   the token was used before: the session is revoked and
--              auth.refresh.reused audited. session_id, user_id and
--              organization_id are returned (for the log), the rest NULL.
--              The caller must COMMIT, or the revocation is lost.
--   'ok'       rotated; every column is set.
CREATE FUNCTION homebot.refresh_rotate(p_old_hash bytea, p_new_hash bytea, p_refresh_ttl integer,
                                       p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (status text, session_id uuid, user_id uuid, organization_id uuid, org_name text,
               org_slug text, role text, email text, full_name text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user_agent text := left(p_user_agent, 512);
	v_token homebot.refresh_tokens%ROWTYPE;
	v_session homebot.sessions%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_org homebot.organizations%ROWTYPE;
	v_role text;
BEGIN
	-- The row lock makes concurrent refreshes of one token take turns: the
	-- second waits for the first to commit, then reads the row again, finds
	-- used_at set and is treated as a reuse. Never two successes.
	-- refresh_tokens_token_hash_key
	SELECT * INTO v_token
	  FROM homebot.refresh_tokens t
	 WHERE t.token_hash = p_old_hash
	   FOR UPDATE;

	IF v_token.id IS NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text,
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	SELECT * INTO v_session FROM homebot.sessions s WHERE s.id = v_token.session_id;

	IF v_token.used_at IS NOT NULL THEN
		-- The token leaked, or a client retried a refresh whose answer it
		-- lost: either way one of the two holders is not the user, so the
		-- whole session ends. An already revoked session keeps its time.
		UPDATE homebot.sessions s
		   SET revoked_at = now()
		 WHERE s.id = v_session.id
		   AND s.revoked_at IS NULL;
		INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
		                               target_id, ip, user_agent, request_id, changes)
		VALUES (v_session.organization_id, 'user', v_session.user_id, 'auth.refresh.reused', 'session',
		        v_session.id::text, p_ip, v_user_agent, p_request_id,
		        jsonb_build_object('refresh_token_id', v_token.id));
		RETURN QUERY SELECT 'reused'::text, v_session.id, v_session.user_id, v_session.organization_id,
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	SELECT m.role INTO v_role
	  FROM homebot.memberships m
	 WHERE m.organization_id = v_session.organization_id
	   AND m.user_id = v_session.user_id
	   AND m.status = 'active';
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_session.user_id;
	SELECT * INTO v_org FROM homebot.organizations o WHERE o.id = v_session.organization_id;

	IF v_token.expires_at <= now()
	   OR v_session.revoked_at IS NOT NULL
	   OR v_role IS NULL
	   OR v_user.id IS NULL OR v_user.disabled_at IS NOT NULL
	   OR v_org.id IS NULL OR v_org.suspended_at IS NOT NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text,
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	UPDATE homebot.refresh_tokens t SET used_at = now() WHERE t.id = v_token.id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_token.organization_id, v_token.session_id, p_new_hash,
	        now() + make_interval(secs => p_refresh_ttl));

	UPDATE homebot.sessions s
	   SET last_used_at = now(), ip = p_ip, user_agent = v_user_agent
	 WHERE s.id = v_session.id;

	RETURN QUERY SELECT 'ok'::text, v_session.id, v_user.id, v_org.id, v_org.name, v_org.slug,
	                    v_role, v_user.email, v_user.full_name, v_user.created_at;
END
$$;

-- authenticate_api_key: the key with this prefix, its organization and its
-- creator, who must still be an active member (else no row). key_hash is
-- the stored hash: the caller compares it with the presented key's in
-- constant time. permissions are the key's scopes that the creator still
-- holds through his role or his extra grants, sorted. expired, revoked,
-- org_suspended and user_disabled are the caller's to refuse.
--
-- Side effect: for the right hash on a usable key, last_used_at is set, at
-- most once a minute, so that a busy key does not turn every request into
-- a write on one hot row.
CREATE FUNCTION homebot.authenticate_api_key(p_prefix text, p_key_hash bytea)
RETURNS TABLE (key_hash bytea, key_id uuid, key_name text, scopes text[], permissions text[],
               expired boolean, revoked boolean, organization_id uuid, org_name text, org_slug text,
               org_suspended boolean, user_id uuid, email text, full_name text,
               user_created_at timestamptz, user_disabled boolean, role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- api_keys_prefix_key
	RETURN QUERY
	SELECT k.key_hash,
	       k.id,
	       k.name,
	       k.scopes,
	       ARRAY(SELECT d.permission
	               FROM (SELECT DISTINCT sc.permission
	                       FROM unnest(k.scopes) AS sc (permission)
	                      WHERE sc.permission IN (
	                                SELECT rp.permission
	                                  FROM homebot.role_permissions rp
	                                 WHERE rp.role = m.role
	                                UNION ALL
	                                SELECT up.permission
	                                  FROM homebot.user_permissions up
	                                 WHERE up.organization_id = k.organization_id
	                                   AND up.user_id = k.created_by)) AS d
	              ORDER BY d.permission COLLATE "C"),
	       coalesce(k.expires_at <= now(), false),
	       k.revoked_at IS NOT NULL,
	       o.id,
	       o.name,
	       o.slug,
	       o.suspended_at IS NOT NULL,
	       u.id,
	       u.email,
	       u.full_name,
	       u.created_at,
	       u.disabled_at IS NOT NULL,
	       m.role
	  FROM homebot.api_keys k
	  JOIN homebot.memberships m
	    ON m.organization_id = k.organization_id AND m.user_id = k.created_by AND m.status = 'active'
	  JOIN homebot.organizations o ON o.id = k.organization_id
	  JOIN homebot.users u ON u.id = k.created_by
	 WHERE k.prefix = p_prefix;

	IF NOT FOUND THEN
		RETURN;
	END IF;

	-- SKIP LOCKED: when another request is already writing the row, its
	-- write is enough; this one neither waits for it nor writes again. The
	-- row lock re-checks last_used_at against the newest committed row.
	UPDATE homebot.api_keys k
	   SET last_used_at = now()
	 WHERE k.id = (SELECT l.id
	                 FROM homebot.api_keys l
	                WHERE l.prefix = p_prefix
	                  AND l.key_hash = p_key_hash
	                  AND l.revoked_at IS NULL
	                  AND (l.expires_at IS NULL OR l.expires_at > now())
	                  AND (l.last_used_at IS NULL OR l.last_used_at < now() - interval '1 minute')
	                  FOR UPDATE SKIP LOCKED);
END
$$;

REVOKE EXECUTE ON FUNCTION
	homebot.auth_rate_hit(text, integer),
	homebot.login_lookup(text, integer, integer, text),
	homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint),
	homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text),
	homebot.register(text, text, text, text, text, text, text, bytea, integer),
	homebot.refresh_rotate(bytea, bytea, integer, text, text, text),
	homebot.authenticate_api_key(text, bytea)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	homebot.auth_rate_hit(text, integer),
	homebot.login_lookup(text, integer, integer, text),
	homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint),
	homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text),
	homebot.register(text, text, text, text, text, text, text, bytea, integer),
	homebot.refresh_rotate(bytea, bytea, integer, text, text, text),
	homebot.authenticate_api_key(text, bytea)
TO homebot_app;
