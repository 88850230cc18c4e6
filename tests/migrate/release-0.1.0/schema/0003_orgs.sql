-- Organizations and members (api.md §3), the admin role (§5), and the
-- triggers that put every row change of the tenant tables (and users) into
-- the audit log (§4).
--
-- As in 0002, whatever must cross tenants goes through narrow SECURITY
-- DEFINER functions owned by the role running this migration, and every
-- table they touch under FORCE ROW LEVEL SECURITY has a definer_access
-- policy for that role (see the top of 0002_auth.sql). Tenant functions
-- called inside an authenticated request take their organization from
-- app.org_id, never from an argument, so a caller can only act on the
-- organization its credential names.
--
-- Context settings (transaction-local, set by the request path):
--   app.org_id       the organization of the credential
--   app.user_id      the authenticated user
--   app.api_key_id   the API key, when the request came with one
--   app.request_id   the request's X-Request-ID
-- Each is read as NULLIF(current_setting(..., true), '') (see 0001_init.sql).

-- Invitations: a pending member's single-use token (only its SHA-256 is
-- stored), which sets the invited user's password and activates the
-- membership. They go with the membership. homebot_app has no privilege on
-- the table: only the functions below use it.
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

-- context_actor: who the request acts as. An API key is the actor when the
-- request came with one (its creator is only on whose behalf it acts), else
-- the authenticated user, else the system (no request context at all).
CREATE FUNCTION homebot.context_actor(OUT actor_type text, OUT actor_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT CASE WHEN c.api_key_id IS NOT NULL THEN 'api_key'
	            WHEN c.user_id IS NOT NULL THEN 'user'
	            ELSE 'system' END,
	       coalesce(c.api_key_id, c.user_id)
	  FROM (SELECT NULLIF(current_setting('app.api_key_id', true), '')::uuid AS api_key_id,
	               NULLIF(current_setting('app.user_id', true), '')::uuid AS user_id) AS c
$$;

-- audit_redact: p_value without any object key ending in "_hash", at every
-- level (password_hash, token_hash, key_hash, and whatever hash a later
-- column or a settings document carries).
CREATE FUNCTION homebot.audit_redact(p_value jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	CASE jsonb_typeof(p_value)
	WHEN 'object' THEN
		RETURN coalesce(
			(SELECT jsonb_object_agg(e.key,
			                         CASE WHEN jsonb_typeof(e.value) IN ('object', 'array')
			                              THEN homebot.audit_redact(e.value) ELSE e.value END)
			   FROM jsonb_each(p_value) AS e
			  WHERE e.key !~ '_hash$'),
			'{}'::jsonb);
	WHEN 'array' THEN
		RETURN coalesce(
			(SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.value) IN ('object', 'array')
			                       THEN homebot.audit_redact(e.value) ELSE e.value END
			                  ORDER BY e.ordinality)
			   FROM jsonb_array_elements(p_value) WITH ORDINALITY AS e),
			'[]'::jsonb);
	ELSE
		RETURN p_value;
	END CASE;
END
$$;

-- audit_row: the trigger that writes one audit event per row change, so
-- that no path (function, request, admin program, psql as the owner)
-- changes a tenant row unrecorded. Arguments: the column holding the
-- organization ('' for none: users are global) and the column naming the
-- target. action is row.<table>.<insert|update|delete>; changes holds
-- "old" (not on INSERT) and "new" (not on DELETE), redacted. SECURITY
-- DEFINER: it writes events the caller itself may not (other organizations,
-- platform events).
CREATE FUNCTION homebot.audit_row()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_old jsonb;
	v_new jsonb;
	v_row jsonb;
	v_actor record;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		v_old := to_jsonb(OLD);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		v_new := to_jsonb(NEW);
	END IF;
	v_row := coalesce(v_new, v_old);
	SELECT * INTO v_actor FROM homebot.context_actor();

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, request_id, changes)
	VALUES (CASE WHEN TG_ARGV[0] <> '' THEN (v_row ->> TG_ARGV[0])::uuid END,
	        v_actor.actor_type, v_actor.actor_id,
	        'row.' || TG_TABLE_NAME || '.' || lower(TG_OP),
	        TG_TABLE_NAME, v_row ->> TG_ARGV[1],
	        NULLIF(current_setting('app.request_id', true), ''),
	        CASE WHEN v_old IS NULL THEN '{}'::jsonb
	             ELSE jsonb_build_object('old', homebot.audit_redact(v_old)) END
	        || CASE WHEN v_new IS NULL THEN '{}'::jsonb
	                ELSE jsonb_build_object('new', homebot.audit_redact(v_new)) END);
	RETURN NULL;
END
$$;

-- Two triggers a table: INSERT and DELETE always write; an UPDATE writes
-- only when it changed something. On sessions and api_keys a change of
-- last_used_at alone does not count: it is the touch of every request and
-- of every key use, and would bury the log. The WHEN clauses run without
-- calling the function at all.
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.organizations
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('id', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.organizations
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('id', 'id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.users
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.users
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('', 'id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.memberships
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.memberships
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.user_permissions
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.user_permissions
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.sessions
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.sessions
	FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
	EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.refresh_tokens
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.refresh_tokens
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.api_keys
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.api_keys
	FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
	EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.invitations
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.invitations
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');

-- slug_for: the slug of an organization name: lower case, every run of
-- other characters than [a-z0-9] one '-', no '-' at either end, at most 50
-- characters (room for a suffix within the 63 allowed), 'org' when nothing
-- is left.
CREATE FUNCTION homebot.slug_for(p_name text)
RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT coalesce(NULLIF(btrim(left(btrim(regexp_replace(lower(coalesce(p_name, '')), '[^a-z0-9]+', '-', 'g'),
	                                        '-'), 50), '-'), ''),
	                'org')
$$;

-- insert_organization: a new organization. With p_slug, exactly that slug,
-- or NULL when it is taken. Without, slug_for(p_name), and when that is
-- taken '-' and 6 random hex digits, retried until free. Either way the
-- unique constraint, not a prior check, decides, so concurrent callers
-- cannot take the same slug: the second waits for the first to commit and
-- then gets the violation.
CREATE FUNCTION homebot.insert_organization(p_name text, p_slug text)
RETURNS homebot.organizations
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_org homebot.organizations%ROWTYPE;
	v_base text := coalesce(p_slug, homebot.slug_for(p_name));
	v_slug text := v_base;
	v_constraint text;
	v_tries integer := 0;
BEGIN
	LOOP
		BEGIN
			INSERT INTO homebot.organizations (name, slug)
			VALUES (p_name, v_slug)
			RETURNING * INTO v_org;
			RETURN v_org;
		EXCEPTION WHEN unique_violation THEN
			GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
			IF v_constraint IS DISTINCT FROM 'organizations_slug_key' THEN
				RAISE;
			END IF;
			IF p_slug IS NOT NULL THEN
				RETURN NULL;
			END IF;
			IF v_tries >= 100 THEN
				RAISE;
			END IF;
		END;
		v_tries := v_tries + 1;
		v_slug := v_base || '-' || left(md5(gen_random_uuid()::text), 6);
	END LOOP;
END
$$;

-- find_or_create_user: the user with this email (trimmed, any case),
-- created without a password when there is none. The user's row is locked
-- (FOR NO KEY UPDATE: logins and sessions, which only take key-share locks,
-- do not wait), so that two callers deciding about the same user take
-- turns. Of two concurrent creations the second gets the unique violation
-- once the first commits, and then finds the row.
CREATE FUNCTION homebot.find_or_create_user(p_email text, OUT user_id uuid, OUT created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text := btrim(p_email, E' \t\r\n\f\v');
	v_constraint text;
BEGIN
	FOR i IN 1..10 LOOP
		-- users_email_key
		SELECT u.id INTO user_id
		  FROM homebot.users u
		 WHERE lower(u.email) = lower(v_email)
		   FOR NO KEY UPDATE;
		IF FOUND THEN
			created := false;
			RETURN;
		END IF;
		BEGIN
			INSERT INTO homebot.users (email) VALUES (v_email) RETURNING id INTO user_id;
			created := true;
			RETURN;
		EXCEPTION WHEN unique_violation THEN
			GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
			IF v_constraint IS DISTINCT FROM 'users_email_key' THEN
				RAISE;
			END IF;
		END;
	END LOOP;
	RAISE EXCEPTION 'find_or_create_user: the user % keeps being created and deleted', v_email
		USING ERRCODE = 'serialization_failure';
END
$$;

-- register, as in 0002_auth, with the organization made by
-- insert_organization: same slugs, same retries, same result.
CREATE OR REPLACE FUNCTION homebot.register(p_email text, p_password_hash text, p_full_name text, p_org_name text,
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
	v_org homebot.organizations%ROWTYPE;
	v_session_id uuid;
	v_constraint text;
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

	v_org := homebot.insert_organization(p_org_name, NULL);

	INSERT INTO homebot.memberships (organization_id, user_id, role, status)
	VALUES (v_org.id, v_user_id, 'owner', 'active');

	INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
	VALUES (v_org.id, v_user_id, p_ip, v_user_agent)
	RETURNING id INTO v_session_id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_org.id, v_session_id, p_refresh_hash, now() + make_interval(secs => p_refresh_ttl));

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (v_org.id, 'user', v_user_id, 'auth.register', 'user',
	        v_user_id::text, p_ip, v_user_agent, p_request_id,
	        jsonb_build_object('email', v_email, 'full_name', coalesce(p_full_name, ''))),
	       (v_org.id, 'user', v_user_id, 'organization.created', 'organization',
	        v_org.id::text, p_ip, v_user_agent, p_request_id,
	        jsonb_build_object('name', p_org_name, 'slug', v_org.slug));

	RETURN QUERY SELECT 'ok'::text, v_user_id, v_session_id, v_org.id, p_org_name, v_org.slug, v_created_at;
END
$$;

-- create_organization (POST /api/v1/organizations): a new organization with
-- p_user as its active owner. status:
--   'invalid_slug'  p_slug is given and not 1–63 characters of [a-z0-9-]
--                   without a '-' at either end
--   'slug_taken'    p_slug is given and taken (also by a concurrent call)
--   'ok'            created; without p_slug the slug is derived as
--                   register derives it
-- Only 'ok' writes anything and sets the other columns; settings is the
-- jsonb document as text.
CREATE FUNCTION homebot.create_organization(p_user uuid, p_name text, p_slug text)
RETURNS TABLE (status text, id uuid, name text, slug text, settings text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org homebot.organizations%ROWTYPE;
BEGIN
	IF p_slug IS NOT NULL AND p_slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
		RETURN QUERY SELECT 'invalid_slug'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::timestamptz;
		RETURN;
	END IF;

	v_org := homebot.insert_organization(p_name, p_slug);
	IF v_org.id IS NULL THEN
		RETURN QUERY SELECT 'slug_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::timestamptz;
		RETURN;
	END IF;

	INSERT INTO homebot.memberships (organization_id, user_id, role, status)
	VALUES (v_org.id, p_user, 'owner', 'active');

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, request_id, changes)
	VALUES (v_org.id, 'user', p_user, 'organization.created', 'organization', v_org.id::text,
	        NULLIF(current_setting('app.request_id', true), ''),
	        jsonb_build_object('name', v_org.name, 'slug', v_org.slug));

	RETURN QUERY SELECT 'ok'::text, v_org.id, v_org.name, v_org.slug, v_org.settings::text, v_org.created_at;
END
$$;

-- user_organizations (GET /api/v1/organizations): the organizations where
-- p_user is an active member, newest first, after the keyset
-- (p_after_ts, p_after_id) when p_after_ts is given, at most p_limit. The
-- caller passes the user id of a verified token.
CREATE FUNCTION homebot.user_organizations(p_user uuid, p_after_ts timestamptz, p_after_id uuid,
                                           p_limit integer)
RETURNS TABLE (id uuid, name text, slug text, role text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT o.id, o.name, o.slug, m.role, o.created_at
	  -- memberships_user_id_idx
	  FROM homebot.memberships m
	  JOIN homebot.organizations o ON o.id = m.organization_id
	 WHERE m.user_id = p_user
	   AND m.status = 'active'
	   AND (p_after_ts IS NULL OR (o.created_at, o.id) < (p_after_ts, p_after_id))
	 ORDER BY o.created_at DESC, o.id DESC
	 LIMIT p_limit
$$;

-- invite_member (POST /api/v1/members) into the organization app.org_id.
-- status:
--   'already_member'  the user has a membership here, active or invited;
--                     nothing is written, the other columns are NULL
--   'added'           an existing user: an active membership at once
--   'invited'         no such user: the user (no password), an invited
--                     membership and an invitation with p_token_hash,
--                     valid for p_invite_ttl seconds
-- An existing user without a password and without any membership is the
-- leftover of an invitation whose membership was removed: nothing else can
-- ever give it a password, so it is invited like a new user.
-- Audits member.added (actor: the request's API key or user).
CREATE FUNCTION homebot.invite_member(p_email text, p_role text, p_token_hash bytea, p_invite_ttl integer)
RETURNS TABLE (status text, user_id uuid, email text, full_name text, role text, member_status text,
               joined_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_actor record;
	v_user_id uuid;
	v_created boolean;
	v_invite boolean;
	v_user homebot.users%ROWTYPE;
	v_member homebot.memberships%ROWTYPE;
	v_constraint text;
BEGIN
	IF v_org_id IS NULL THEN
		RAISE EXCEPTION 'invite_member: no tenant context (app.org_id is not set)'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member', 'viewer') THEN
		RAISE EXCEPTION 'invite_member: no such role: %', p_role USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT f.user_id, f.created INTO v_user_id, v_created FROM homebot.find_or_create_user(p_email) f;
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_user_id;

	IF EXISTS (SELECT FROM homebot.memberships m WHERE m.organization_id = v_org_id AND m.user_id = v_user_id) THEN
		RETURN QUERY SELECT 'already_member'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	-- A user without a password has never proven who they are: whoever
	-- holds one of their invitations could still choose the password, so
	-- every organization invites them rather than adding them at once.
	v_invite := v_created OR v_user.password_hash IS NULL;

	-- The user's row lock makes callers of this function take turns; the
	-- primary key still decides against any other writer.
	BEGIN
		INSERT INTO homebot.memberships (organization_id, user_id, role, status)
		VALUES (v_org_id, v_user_id, p_role, CASE WHEN v_invite THEN 'invited' ELSE 'active' END)
		RETURNING * INTO v_member;
	EXCEPTION WHEN unique_violation THEN
		GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
		IF v_constraint IS DISTINCT FROM 'memberships_pkey' THEN
			RAISE;
		END IF;
		RETURN QUERY SELECT 'already_member'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END;

	IF v_invite THEN
		INSERT INTO homebot.invitations (organization_id, user_id, token_hash, created_by, expires_at)
		VALUES (v_org_id, v_user_id, p_token_hash, NULLIF(current_setting('app.user_id', true), '')::uuid,
		        now() + make_interval(secs => p_invite_ttl));
	END IF;

	SELECT * INTO v_actor FROM homebot.context_actor();
	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, request_id, changes)
	VALUES (v_org_id, v_actor.actor_type, v_actor.actor_id, 'member.added', 'user', v_user_id::text,
	        NULLIF(current_setting('app.request_id', true), ''),
	        jsonb_build_object('email', v_user.email, 'role', v_member.role, 'status', v_member.status));

	RETURN QUERY SELECT CASE WHEN v_invite THEN 'invited' ELSE 'added' END, v_user.id, v_user.email,
	                    v_user.full_name, v_member.role, v_member.status, v_member.created_at;
END
$$;

-- accept_invite (POST /api/v1/auth/accept-invite): sets the invited user's
-- password (and full name, when one is given), activates the membership,
-- uses up the invitation and opens a session with its first refresh token,
-- as login_start does. status 'ok', or 'invalid' (every other column NULL,
-- nothing written) when the token is unknown, used or expired, the
-- membership is gone or no longer invited, the user is disabled or the
-- organization suspended.
CREATE FUNCTION homebot.accept_invite(p_token_hash bytea, p_password_hash text, p_full_name text,
                                      p_ip text, p_user_agent text, p_request_id text,
                                      p_refresh_hash bytea, p_refresh_ttl integer)
RETURNS TABLE (status text, user_id uuid, session_id uuid, organization_id uuid, org_name text,
               org_slug text, role text, email text, full_name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user_agent text := left(p_user_agent, 512);
	v_invite homebot.invitations%ROWTYPE;
	v_member homebot.memberships%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_org homebot.organizations%ROWTYPE;
	v_session_id uuid;
BEGIN
	IF p_password_hash IS NULL THEN
		RAISE EXCEPTION 'accept_invite: a password hash is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	-- The row lock makes the token single use: a concurrent acceptance
	-- waits for this one to commit, then reads used_at set.
	-- invitations_token_hash_key
	SELECT * INTO v_invite
	  FROM homebot.invitations i
	 WHERE i.token_hash = p_token_hash
	   FOR UPDATE;

	IF FOUND THEN
		SELECT * INTO v_member
		  FROM homebot.memberships m
		 WHERE m.organization_id = v_invite.organization_id AND m.user_id = v_invite.user_id;
		SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_invite.user_id;
		SELECT * INTO v_org FROM homebot.organizations o WHERE o.id = v_invite.organization_id;
	END IF;

	IF v_invite.id IS NULL
	   OR v_invite.used_at IS NOT NULL
	   OR v_invite.expires_at <= now()
	   OR v_member.status IS DISTINCT FROM 'invited'
	   OR v_user.id IS NULL OR v_user.disabled_at IS NOT NULL
	   -- Once a password is set (through another invitation), an
	   -- invitation can no longer choose it: the user logs in instead.
	   OR v_user.password_hash IS NOT NULL
	   OR v_org.id IS NULL OR v_org.suspended_at IS NOT NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
		                    NULL::text, NULL::text, NULL::text;
		RETURN;
	END IF;

	UPDATE homebot.users u
	   SET password_hash = p_password_hash,
	       full_name = CASE WHEN p_full_name IS NULL OR p_full_name = '' THEN u.full_name ELSE p_full_name END,
	       updated_at = now()
	 WHERE u.id = v_user.id
	RETURNING * INTO v_user;

	UPDATE homebot.memberships m
	   SET status = 'active'
	 WHERE m.organization_id = v_member.organization_id AND m.user_id = v_member.user_id;

	UPDATE homebot.invitations i SET used_at = now() WHERE i.id = v_invite.id;

	INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
	VALUES (v_org.id, v_user.id, p_ip, v_user_agent)
	RETURNING id INTO v_session_id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_org.id, v_session_id, p_refresh_hash, now() + make_interval(secs => p_refresh_ttl));

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (v_org.id, 'user', v_user.id, 'member.joined', 'user', v_user.id::text,
	        p_ip, v_user_agent, p_request_id,
	        jsonb_build_object('email', v_user.email, 'role', v_member.role, 'invitation_id', v_invite.id));

	RETURN QUERY SELECT 'ok'::text, v_user.id, v_session_id, v_org.id, v_org.name, v_org.slug,
	                    v_member.role, v_user.email, v_user.full_name;
END
$$;

-- change_member_role (PATCH /api/v1/members/{user_id}) in the organization
-- app.org_id. status:
--   'not_found'   p_user has no membership here
--   'last_owner'  p_user is the only active owner and p_role is not owner
--   'ok'          done (a role equal to the current one changes and
--                 audits nothing); the member is returned
-- The organization's owner memberships are locked first, always in the
-- same order, so that of two concurrent demotions of its last two owners
-- the second waits, then counts again and is refused.
CREATE FUNCTION homebot.change_member_role(p_user uuid, p_role text)
RETURNS TABLE (status text, user_id uuid, email text, full_name text, role text, member_status text,
               joined_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_actor record;
	v_member homebot.memberships%ROWTYPE;
	v_user homebot.users%ROWTYPE;
BEGIN
	IF v_org_id IS NULL THEN
		RAISE EXCEPTION 'change_member_role: no tenant context (app.org_id is not set)'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member', 'viewer') THEN
		RAISE EXCEPTION 'change_member_role: no such role: %', p_role USING ERRCODE = 'invalid_parameter_value';
	END IF;

	PERFORM FROM homebot.memberships m
	  WHERE m.organization_id = v_org_id AND m.role = 'owner'
	  ORDER BY m.user_id
	    FOR UPDATE;

	SELECT * INTO v_member
	  FROM homebot.memberships m
	 WHERE m.organization_id = v_org_id AND m.user_id = p_user
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	IF v_member.role = 'owner' AND v_member.status = 'active' AND p_role <> 'owner'
	   AND NOT EXISTS (SELECT FROM homebot.memberships m
	                    WHERE m.organization_id = v_org_id AND m.role = 'owner' AND m.status = 'active'
	                      AND m.user_id <> p_user) THEN
		RETURN QUERY SELECT 'last_owner'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	IF v_member.role <> p_role THEN
		UPDATE homebot.memberships m
		   SET role = p_role
		 WHERE m.organization_id = v_org_id AND m.user_id = p_user;

		SELECT * INTO v_actor FROM homebot.context_actor();
		INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
		                               target_id, request_id, changes)
		VALUES (v_org_id, v_actor.actor_type, v_actor.actor_id, 'member.role_changed', 'user', p_user::text,
		        NULLIF(current_setting('app.request_id', true), ''),
		        jsonb_build_object('from', v_member.role, 'to', p_role));
	END IF;

	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user;
	RETURN QUERY SELECT 'ok'::text, v_user.id, v_user.email, v_user.full_name, p_role, v_member.status,
	                    v_member.created_at;
END
$$;

-- remove_member (DELETE /api/v1/members/{user_id}) from the organization
-- app.org_id: 'not_found', 'last_owner' (as in change_member_role, same
-- locks) or 'ok'. The membership goes, and with it the member's
-- invitations and extra permissions here (cascade); the member's sessions
-- in this organization are revoked. role is the removed member's role.
CREATE FUNCTION homebot.remove_member(p_user uuid)
RETURNS TABLE (status text, role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_actor record;
	v_member homebot.memberships%ROWTYPE;
	v_email text;
BEGIN
	IF v_org_id IS NULL THEN
		RAISE EXCEPTION 'remove_member: no tenant context (app.org_id is not set)'
			USING ERRCODE = 'insufficient_privilege';
	END IF;

	PERFORM FROM homebot.memberships m
	  WHERE m.organization_id = v_org_id AND m.role = 'owner'
	  ORDER BY m.user_id
	    FOR UPDATE;

	SELECT * INTO v_member
	  FROM homebot.memberships m
	 WHERE m.organization_id = v_org_id AND m.user_id = p_user
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::text;
		RETURN;
	END IF;

	IF v_member.role = 'owner' AND v_member.status = 'active'
	   AND NOT EXISTS (SELECT FROM homebot.memberships m
	                    WHERE m.organization_id = v_org_id AND m.role = 'owner' AND m.status = 'active'
	                      AND m.user_id <> p_user) THEN
		RETURN QUERY SELECT 'last_owner'::text, NULL::text;
		RETURN;
	END IF;

	DELETE FROM homebot.memberships m WHERE m.organization_id = v_org_id AND m.user_id = p_user;

	-- The member's API keys go with the membership: they must not come
	-- back to life if the user is added again.
	UPDATE homebot.api_keys k
	   SET revoked_at = now()
	 WHERE k.organization_id = v_org_id AND k.created_by = p_user AND k.revoked_at IS NULL;

	-- sessions_organization_id_user_id_idx
	UPDATE homebot.sessions s
	   SET revoked_at = now()
	 WHERE s.organization_id = v_org_id AND s.user_id = p_user AND s.revoked_at IS NULL;

	SELECT u.email INTO v_email FROM homebot.users u WHERE u.id = p_user;
	SELECT * INTO v_actor FROM homebot.context_actor();
	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, request_id, changes)
	VALUES (v_org_id, v_actor.actor_type, v_actor.actor_id, 'member.removed', 'user', p_user::text,
	        NULLIF(current_setting('app.request_id', true), ''),
	        jsonb_build_object('email', v_email, 'role', v_member.role, 'status', v_member.status));

	RETURN QUERY SELECT 'ok'::text, v_member.role;
END
$$;

-- admin_create_organization (POST /api/v1/admin/organizations): an
-- organization with an owner. An existing user (by email, any case)
-- becomes its active owner; otherwise (or for a user left without password
-- and memberships, as in invite_member) an invited owner with an
-- invitation (p_token_hash, valid p_invite_ttl seconds). status 'ok',
-- 'invalid_slug' or 'slug_taken' as in create_organization (only 'ok'
-- writes anything). Audits admin.organization.created, actor p_actor.
CREATE FUNCTION homebot.admin_create_organization(p_name text, p_slug text, p_owner_email text,
                                                  p_token_hash bytea, p_invite_ttl integer, p_actor uuid,
                                                  p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (status text, id uuid, name text, slug text, owner_id uuid, owner_status text,
               created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org homebot.organizations%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_user_id uuid;
	v_created boolean;
	v_invite boolean;
BEGIN
	IF p_slug IS NOT NULL AND p_slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
		RETURN QUERY SELECT 'invalid_slug'::text, NULL::uuid, NULL::text, NULL::text, NULL::uuid,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	v_org := homebot.insert_organization(p_name, p_slug);
	IF v_org.id IS NULL THEN
		RETURN QUERY SELECT 'slug_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::uuid,
		                    NULL::text, NULL::timestamptz;
		RETURN;
	END IF;

	SELECT f.user_id, f.created INTO v_user_id, v_created FROM homebot.find_or_create_user(p_owner_email) f;
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_user_id;
	-- A user without a password has never proven who they are: whoever
	-- holds one of their invitations could still choose the password, so
	-- every organization invites them rather than adding them at once.
	v_invite := v_created OR v_user.password_hash IS NULL;

	INSERT INTO homebot.memberships (organization_id, user_id, role, status)
	VALUES (v_org.id, v_user_id, 'owner', CASE WHEN v_invite THEN 'invited' ELSE 'active' END);

	IF v_invite THEN
		INSERT INTO homebot.invitations (organization_id, user_id, token_hash, created_by, expires_at)
		VALUES (v_org.id, v_user_id, p_token_hash, p_actor, now() + make_interval(secs => p_invite_ttl));
	END IF;

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (v_org.id, 'user', p_actor, 'admin.organization.created', 'organization', v_org.id::text,
	        p_ip, left(p_user_agent, 512), p_request_id,
	        jsonb_build_object('name', v_org.name, 'slug', v_org.slug, 'owner_id', v_user_id,
	                           'owner_email', v_user.email,
	                           'owner_status', CASE WHEN v_invite THEN 'invited' ELSE 'active' END));

	RETURN QUERY SELECT 'ok'::text, v_org.id, v_org.name, v_org.slug, v_user_id,
	                    CASE WHEN v_invite THEN 'invited' ELSE 'active' END, v_org.created_at;
END
$$;

-- ensure_superadmin (make superadmin, through the owner's connection): the
-- user with this email, created when missing, with this password hash,
-- superadmin and enabled. Unless the user is already an active member of
-- an organization that is not suspended, an organization of its own
-- ('Administration') with the user as active owner, so that it logs in like
-- anyone. Pending invitations of the user are deleted: each could set the
-- password it now has. Audits admin.superadmin.ensured (a platform event).
CREATE FUNCTION homebot.ensure_superadmin(p_email text, p_password_hash text)
RETURNS TABLE (user_id uuid, created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user_id uuid;
	v_created boolean;
	v_email text;
	v_org homebot.organizations%ROWTYPE;
BEGIN
	IF p_password_hash IS NULL THEN
		RAISE EXCEPTION 'ensure_superadmin: a password hash is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	SELECT f.user_id, f.created INTO v_user_id, v_created FROM homebot.find_or_create_user(p_email) f;

	UPDATE homebot.users u
	   SET password_hash = p_password_hash, is_superadmin = true, disabled_at = NULL, updated_at = now()
	 WHERE u.id = v_user_id
	RETURNING u.email INTO v_email;

	DELETE FROM homebot.invitations i WHERE i.user_id = v_user_id AND i.used_at IS NULL;

	IF NOT EXISTS (SELECT FROM homebot.memberships m
	                 JOIN homebot.organizations o ON o.id = m.organization_id
	                WHERE m.user_id = v_user_id AND m.status = 'active' AND o.suspended_at IS NULL) THEN
		v_org := homebot.insert_organization('Administration', NULL);
		INSERT INTO homebot.memberships (organization_id, user_id, role, status)
		VALUES (v_org.id, v_user_id, 'owner', 'active');
	END IF;

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, request_id, changes)
	VALUES (NULL, 'system', NULL, 'admin.superadmin.ensured', 'user', v_user_id::text,
	        NULLIF(current_setting('app.request_id', true), ''),
	        jsonb_build_object('email', v_email, 'created', v_created, 'organization_id', v_org.id));

	RETURN QUERY SELECT v_user_id, v_created;
END
$$;

-- admin_unlock (POST /api/v1/admin/users/{id}/unlock): deletes the failed
-- login attempts of the email, which ends its lockout (login_lookup);
-- returns how many. The admin program writes the audit event itself.
-- A function rather than a DELETE grant: the admin role then never reads
-- login_attempts, and cannot delete successful attempts.
CREATE FUNCTION homebot.admin_unlock(p_email text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_count integer;
BEGIN
	-- login_attempts_email_attempted_at_idx
	DELETE FROM homebot.login_attempts a WHERE a.email = lower(p_email) AND NOT a.succeeded;
	GET DIAGNOSTICS v_count = ROW_COUNT;
	RETURN v_count;
END
$$;

REVOKE EXECUTE ON FUNCTION
	homebot.context_actor(),
	homebot.audit_redact(jsonb),
	homebot.audit_row(),
	homebot.slug_for(text),
	homebot.insert_organization(text, text),
	homebot.find_or_create_user(text),
	homebot.create_organization(uuid, text, text),
	homebot.user_organizations(uuid, timestamptz, uuid, integer),
	homebot.invite_member(text, text, bytea, integer),
	homebot.accept_invite(bytea, text, text, text, text, text, bytea, integer),
	homebot.change_member_role(uuid, text),
	homebot.remove_member(uuid),
	homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text),
	homebot.ensure_superadmin(text, text),
	homebot.admin_unlock(text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	homebot.create_organization(uuid, text, text),
	homebot.user_organizations(uuid, timestamptz, uuid, integer),
	homebot.invite_member(text, text, bytea, integer),
	homebot.accept_invite(bytea, text, text, text, text, text, bytea, integer),
	homebot.change_member_role(uuid, text),
	homebot.remove_member(uuid)
TO homebot_app;

GRANT EXECUTE ON FUNCTION
	homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text),
	homebot.admin_unlock(text)
TO homebot_admin;

-- Every audit row carries the request's IP, user agent and request ID,
-- also the rows written inside functions and triggers: the request sets
-- them transaction-locally (app.ip, app.user_agent, app.request_id) and
-- this fills in whatever the writer left empty.
CREATE FUNCTION homebot.audit_fill_context()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	NEW.ip := coalesce(NEW.ip, NULLIF(current_setting('app.ip', true), ''));
	NEW.user_agent := coalesce(NEW.user_agent,
	                           left(NULLIF(current_setting('app.user_agent', true), ''), 512));
	NEW.request_id := coalesce(NEW.request_id, NULLIF(current_setting('app.request_id', true), ''));
	RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION homebot.audit_fill_context() FROM PUBLIC;

CREATE TRIGGER audit_fill_context BEFORE INSERT ON homebot.audit_log
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_fill_context();

-- invitation_email (POST /api/v1/auth/accept-invite): the email of a live
-- invitation (unused, unexpired, membership still invited), or NULL, so
-- the new password can be refused when it equals the email before
-- anything is written.
CREATE FUNCTION homebot.invitation_email(p_token_hash bytea)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT u.email
	  FROM homebot.invitations i
	  JOIN homebot.memberships m ON m.organization_id = i.organization_id
	                            AND m.user_id = i.user_id AND m.status = 'invited'
	  JOIN homebot.users u ON u.id = i.user_id
	 WHERE i.token_hash = p_token_hash AND i.used_at IS NULL AND i.expires_at > now()
$$;
REVOKE EXECUTE ON FUNCTION homebot.invitation_email(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION homebot.invitation_email(bytea) TO homebot_app;
