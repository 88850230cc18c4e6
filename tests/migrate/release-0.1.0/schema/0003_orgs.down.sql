-- Undoes 0003_orgs: the audit triggers and the functions it added, register
-- as 0002_auth defined it, the invitations table, the admin role's policies
-- and grants, and the audit_log indexes. The audit events the triggers and
-- functions wrote stay: the log is append-only.
DROP FUNCTION homebot.invitation_email(bytea);
DROP TRIGGER audit_fill_context ON homebot.audit_log;
DROP FUNCTION homebot.audit_fill_context();
DROP TRIGGER audit_row ON homebot.organizations;
DROP TRIGGER audit_row_update ON homebot.organizations;
DROP TRIGGER audit_row ON homebot.users;
DROP TRIGGER audit_row_update ON homebot.users;
DROP TRIGGER audit_row ON homebot.memberships;
DROP TRIGGER audit_row_update ON homebot.memberships;
DROP TRIGGER audit_row ON homebot.user_permissions;
DROP TRIGGER audit_row_update ON homebot.user_permissions;
DROP TRIGGER audit_row ON homebot.sessions;
DROP TRIGGER audit_row_update ON homebot.sessions;
DROP TRIGGER audit_row ON homebot.refresh_tokens;
DROP TRIGGER audit_row_update ON homebot.refresh_tokens;
DROP TRIGGER audit_row ON homebot.api_keys;
DROP TRIGGER audit_row_update ON homebot.api_keys;

-- register as 0002_auth.sql defines it (copied verbatim, its comment included):
-- register: a user, an organization, the owner membership, a session and
-- its first refresh token, in the caller's transaction. status 'ok' or
-- 'email_taken' (then every other column is NULL and nothing is written).
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

DROP FUNCTION homebot.admin_unlock(text);
DROP FUNCTION homebot.ensure_superadmin(text, text);
DROP FUNCTION homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text);
DROP FUNCTION homebot.remove_member(uuid);
DROP FUNCTION homebot.change_member_role(uuid, text);
DROP FUNCTION homebot.accept_invite(bytea, text, text, text, text, text, bytea, integer);
DROP FUNCTION homebot.invite_member(text, text, bytea, integer);
DROP FUNCTION homebot.user_organizations(uuid, timestamptz, uuid, integer);
DROP FUNCTION homebot.create_organization(uuid, text, text);
DROP FUNCTION homebot.find_or_create_user(text);
DROP FUNCTION homebot.insert_organization(text, text);
DROP FUNCTION homebot.slug_for(text);

-- With its triggers and policies.
DROP TABLE homebot.invitations;

DROP FUNCTION homebot.audit_row();
DROP FUNCTION homebot.audit_redact(jsonb);
DROP FUNCTION homebot.context_actor();

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
