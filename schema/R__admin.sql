-- Administration (api.md §5): the functions of the admin program (which
-- connects as homebot_admin) and of make superadmin (which connects as
-- the owner). The admin role's policies and grants are in 0003_orgs.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.

-- admin_create_organization (POST /api/v1/admin/organizations): an
-- organization whose owner is invited (api.md §5): the user with that
-- email (any case), created without a password when there is none, gets
-- an invited owner membership and an invitation (p_token_hash, valid
-- p_invite_ttl seconds), accepted as any other (R__orgs.sql). _mail says
-- whether it may be mailed now (at most p_max_per_hour invitations to the
-- address an hour); _owner_email is the address. status 'ok',
-- 'invalid_slug' or 'slug_taken' as in create_organization (only 'ok'
-- writes anything). Audits admin.organization.created, actor p_actor.
DROP FUNCTION IF EXISTS homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text);
CREATE OR REPLACE FUNCTION homebot.admin_create_organization(p_name text, p_slug text, p_owner_email text,
                                                             p_token_hash bytea, p_invite_ttl integer, p_actor uuid,
                                                             p_ip text, p_user_agent text, p_request_id text,
                                                             p_max_per_hour integer)
RETURNS TABLE (status text, id uuid, name text, slug text, owner_id uuid, owner_status text,
               created_at timestamptz, _mail boolean, _owner_email text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org homebot.organizations%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_user_id uuid;
	v_created boolean;
	v_context text[];
BEGIN
	IF p_slug IS NOT NULL AND p_slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
		RETURN QUERY SELECT 'invalid_slug'::text, NULL::uuid, NULL::text, NULL::text, NULL::uuid,
		                    NULL::text, NULL::timestamptz, false, NULL::text;
		RETURN;
	END IF;

	v_org := homebot.insert_organization(p_name, p_slug);
	IF v_org.id IS NULL THEN
		RETURN QUERY SELECT 'slug_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::uuid,
		                    NULL::text, NULL::timestamptz, false, NULL::text;
		RETURN;
	END IF;

	SELECT f.user_id, f.created INTO v_user_id, v_created FROM homebot.find_or_create_user(p_owner_email) f;
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_user_id;

	INSERT INTO homebot.memberships (organization_id, user_id, role, status, invited_email)
	VALUES (v_org.id, v_user_id, 'owner', 'invited', btrim(p_owner_email, E' \t\r\n\f' || chr(11)));
	INSERT INTO homebot.invitations (organization_id, user_id, token_hash, created_by, expires_at)
	VALUES (v_org.id, v_user_id, p_token_hash, p_actor, now() + make_interval(secs => p_invite_ttl));

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('admin.organization.created', 'organization', v_org.id::text,
	                            jsonb_build_object('name', v_org.name, 'slug', v_org.slug, 'owner_id', v_user_id,
	                                               'owner_email', v_user.email,
	                                               'owner_status', 'invited'),
	                            v_org.id, 'user', p_actor);
	PERFORM homebot.audit_context_reset(v_context);

	RETURN QUERY SELECT 'ok'::text, v_org.id, v_org.name, v_org.slug, v_user_id, 'invited'::text,
	                    v_org.created_at,
	                    homebot.mail_allowed(btrim(p_owner_email, E' \t\r\n\f' || chr(11)), 'invite', p_max_per_hour),
	                    btrim(p_owner_email, E' \t\r\n\f' || chr(11));
END
$$;

-- ensure_superadmin (make superadmin, through the owner's connection): the
-- user with this email, created when missing, with this password hash,
-- superadmin and enabled, its address verified (the operator vouches for
-- it: a server-side command). Unless the user is already an active member of
-- an organization that is not suspended, an organization of its own
-- ('Administration') with the user as active owner, so that it logs in like
-- anyone. Pending invitations of the user are deleted: each could set the
-- password it now has; so are the links mailed before, and the API keys
-- of an account that was not verified. Every session (and so every refresh token) of the
-- user is revoked, so that nobody holding one becomes a platform admin at
-- its next refresh, and the login lockout of the email is cleared, so that
-- failed logins of others cannot keep the superadmin out. Audits
-- admin.superadmin.ensured (a platform event).
CREATE OR REPLACE FUNCTION homebot.ensure_superadmin(p_email text, p_password_hash text)
RETURNS TABLE (user_id uuid, created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user_id uuid;
	v_created boolean;
	v_email text;
	v_was_verified boolean;
	v_org homebot.organizations%ROWTYPE;
BEGIN
	IF p_password_hash IS NULL THEN
		RAISE EXCEPTION 'ensure_superadmin: a password hash is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	SELECT f.user_id, f.created INTO v_user_id, v_created FROM homebot.find_or_create_user(p_email) f;
	SELECT u.email_verified_at IS NOT NULL INTO v_was_verified FROM homebot.users u WHERE u.id = v_user_id;

	UPDATE homebot.users u
	   SET password_hash = p_password_hash, is_superadmin = true, disabled_at = NULL,
	       email_verified_at = coalesce(u.email_verified_at, now()), updated_at = now()
	 WHERE u.id = v_user_id
	RETURNING u.email INTO v_email;

	DELETE FROM homebot.invitations i WHERE i.user_id = v_user_id AND i.used_at IS NULL;
	-- Nor may a link mailed before (an email change above all) or an API
	-- key made before move the account or act for it: whoever had
	-- registered the address may have asked for them.
	UPDATE homebot.email_tokens t SET used_at = now() WHERE t.user_id = v_user_id AND t.used_at IS NULL;
	IF NOT v_was_verified THEN
		PERFORM homebot.revoke_user_api_keys(v_user_id);
	END IF;
	UPDATE homebot.sessions s SET revoked_at = now()
	 WHERE s.user_id = v_user_id AND s.revoked_at IS NULL;
	PERFORM homebot.admin_unlock(v_email);

	IF NOT EXISTS (SELECT FROM homebot.memberships m
	                 JOIN homebot.organizations o ON o.id = m.organization_id
	                WHERE m.user_id = v_user_id AND m.status = 'active' AND o.suspended_at IS NULL) THEN
		v_org := homebot.insert_organization('Administration', NULL);
		INSERT INTO homebot.memberships (organization_id, user_id, role, status)
		VALUES (v_org.id, v_user_id, 'owner', 'active');
	END IF;

	PERFORM homebot.audit_event('admin.superadmin.ensured', 'user', v_user_id::text,
	                            jsonb_build_object('email', v_email, 'created', v_created,
	                                               'organization_id', v_org.id),
	                            NULL, 'system', NULL);

	RETURN QUERY SELECT v_user_id, v_created;
END
$$;

-- admin_unlock (POST /api/v1/admin/users/{id}/unlock): deletes the failed
-- login attempts of the email, which ends its lockout (login_lookup);
-- returns how many. The admin program writes the audit event itself.
-- A function rather than a DELETE grant: the admin role then never reads
-- login_attempts, and cannot delete successful attempts.
CREATE OR REPLACE FUNCTION homebot.admin_unlock(p_email text)
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


-- ensure_superadmin: the owner alone (make superadmin).
REVOKE ALL ON FUNCTION
	homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text, integer),
	homebot.ensure_superadmin(text, text),
	homebot.admin_unlock(text)
FROM PUBLIC, homebot_app, homebot_admin;

GRANT EXECUTE ON FUNCTION
	homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text, integer),
	homebot.admin_unlock(text)
TO homebot_admin;
