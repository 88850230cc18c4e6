-- Organizations and members (api.md §3): the SECURITY DEFINER functions
-- behind the organization, member and invitation endpoints. Their tables
-- are in 0001_init.sql and 0003_orgs.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.
--
-- As in R__auth.sql, whatever must cross tenants goes through these
-- functions, owned by the role running the migrations, and every table
-- they touch under FORCE ROW LEVEL SECURITY has a definer_access policy
-- for that role (see the top of 0002_auth.sql). Tenant functions called
-- inside an authenticated request take their organization from
-- app.org_id, never from an argument, so a caller can only act on the
-- organization its credential names.

-- slug_for: the slug of an organization name: lower case, every run of
-- other characters than [a-z0-9] one '-', no '-' at either end, at most 50
-- characters (room for a suffix within the 63 allowed), 'org' when nothing
-- is left.
CREATE OR REPLACE FUNCTION homebot.slug_for(p_name text)
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
CREATE OR REPLACE FUNCTION homebot.insert_organization(p_name text, p_slug text)
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
CREATE OR REPLACE FUNCTION homebot.find_or_create_user(p_email text, OUT user_id uuid, OUT created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	-- chr(11) is the vertical tab: PostgreSQL's E'' strings have no \v.
	v_email text := btrim(p_email, E' \t\r\n\f' || chr(11));
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


-- create_organization (POST /api/v1/organizations): a new organization with
-- p_user as its active owner. status:
--   'invalid_slug'  p_slug is given and not 1–63 characters of [a-z0-9-]
--                   without a '-' at either end
--   'slug_taken'    p_slug is given and taken (also by a concurrent call)
--   'ok'            created; without p_slug the slug is derived as
--                   register derives it
-- Only 'ok' writes anything and sets the other columns; settings is the
-- jsonb document as text.
CREATE OR REPLACE FUNCTION homebot.create_organization(p_user uuid, p_name text, p_slug text)
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

	PERFORM homebot.audit_event('organization.created', 'organization', v_org.id::text,
	                            jsonb_build_object('name', v_org.name, 'slug', v_org.slug),
	                            v_org.id, 'user', p_user);

	RETURN QUERY SELECT 'ok'::text, v_org.id, v_org.name, v_org.slug, v_org.settings::text, v_org.created_at;
END
$$;

-- user_organizations (GET /api/v1/organizations): the organizations where
-- p_user is an active member, newest first, after the keyset
-- (p_after_ts, p_after_id) when p_after_ts is given, at most p_limit. The
-- caller passes the user id of a verified token.
CREATE OR REPLACE FUNCTION homebot.user_organizations(p_user uuid, p_after_ts timestamptz, p_after_id uuid,
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
-- Whether or not an account with the address exists, the member is
-- 'invited' until the owner of the mailbox accepts (api.md §2, "Email
-- ownership"): nobody is added without consent, and the answer is the
-- same either way, so it reveals no account. status:
--   'already_member'  the user has a membership here, active or invited;
--                     nothing is written, the other columns are NULL
--   'invited'         the user (created without a password when there is
--                     none), an invited membership and an invitation with
--                     p_token_hash, valid p_invite_ttl seconds
-- _mail says whether the invitation may be mailed now (at most
-- p_max_per_hour invitations to one address an hour); _org_name and
-- _inviter fill the mail. full_name is '' (an invitee's name is theirs to
-- tell). Audits member.invited (actor: the request's API key or user).
DROP FUNCTION IF EXISTS homebot.invite_member(text, text, bytea, integer);
CREATE OR REPLACE FUNCTION homebot.invite_member(p_email text, p_role text, p_token_hash bytea, p_invite_ttl integer,
                                                 p_max_per_hour integer)
RETURNS TABLE (status text, user_id uuid, email text, full_name text, role text, member_status text,
               joined_at timestamptz, _mail boolean, _org_name text, _inviter text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_inviter_id uuid := NULLIF(current_setting('app.user_id', true), '')::uuid;
	v_user_id uuid;
	v_created boolean;
	v_user homebot.users%ROWTYPE;
	v_member homebot.memberships%ROWTYPE;
	v_constraint text;
	v_mail boolean;
	-- The address as the inviter wrote it: it is what the invitation is
	-- for, and answering the stored one's case would tell that an account
	-- exists.
	v_email text := btrim(p_email, E' \t\r\n\f' || chr(11));
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
		                    NULL::text, NULL::timestamptz, false, NULL::text, NULL::text;
		RETURN;
	END IF;

	-- The user's row lock makes callers of this function take turns; the
	-- primary key still decides against any other writer.
	BEGIN
		INSERT INTO homebot.memberships (organization_id, user_id, role, status, invited_email)
		VALUES (v_org_id, v_user_id, p_role, 'invited', v_email)
		RETURNING * INTO v_member;
	EXCEPTION WHEN unique_violation THEN
		GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
		IF v_constraint IS DISTINCT FROM 'memberships_pkey' THEN
			RAISE;
		END IF;
		RETURN QUERY SELECT 'already_member'::text, NULL::uuid, NULL::text, NULL::text, NULL::text,
		                    NULL::text, NULL::timestamptz, false, NULL::text, NULL::text;
		RETURN;
	END;

	INSERT INTO homebot.invitations (organization_id, user_id, token_hash, created_by, expires_at)
	VALUES (v_org_id, v_user_id, p_token_hash, v_inviter_id, now() + make_interval(secs => p_invite_ttl));
	v_mail := homebot.mail_allowed(v_email, 'invite', p_max_per_hour);

	PERFORM homebot.audit_event('member.invited', 'user', v_user_id::text,
	                            jsonb_build_object('email', v_email, 'role', v_member.role), v_org_id);

	RETURN QUERY SELECT 'invited'::text, v_user.id, v_email, ''::text,
	                    v_member.role, v_member.status,
	                    v_member.created_at, v_mail,
	                    (SELECT o.name FROM homebot.organizations o WHERE o.id = v_org_id),
	                    (SELECT coalesce(NULLIF(u.full_name, ''), u.email) FROM homebot.users u
	                      WHERE u.id = v_inviter_id);
END
$$;

-- resend_invite (POST /api/v1/members/{user_id}/resend-invite) in the
-- organization app.org_id: a new invitation (p_token_hash) for a member
-- still invited; the older ones stop working. status 'not_found',
-- 'already_member' (the membership is active), 'limited' (the hour's
-- invitations to the address are spent: nothing changes) or 'sent'; email,
-- org_name and inviter fill the mail. Audits member.invited.
CREATE OR REPLACE FUNCTION homebot.resend_invite(p_user uuid, p_token_hash bytea, p_invite_ttl integer,
                                                 p_max_per_hour integer)
RETURNS TABLE (status text, email text, org_name text, inviter text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_inviter_id uuid := NULLIF(current_setting('app.user_id', true), '')::uuid;
	v_member homebot.memberships%ROWTYPE;
	v_email text;
BEGIN
	IF v_org_id IS NULL THEN
		RAISE EXCEPTION 'resend_invite: no tenant context (app.org_id is not set)'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT * INTO v_member
	  FROM homebot.memberships m
	 WHERE m.organization_id = v_org_id AND m.user_id = p_user
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text, NULL::text;
		RETURN;
	END IF;
	IF v_member.status <> 'invited' THEN
		RETURN QUERY SELECT 'already_member'::text, NULL::text, NULL::text, NULL::text;
		RETURN;
	END IF;
	-- The address invited, never one the account moved to since.
	SELECT coalesce(v_member.invited_email, u.email) INTO v_email FROM homebot.users u WHERE u.id = p_user;
	IF NOT homebot.mail_allowed(v_email, 'invite', p_max_per_hour) THEN
		RETURN QUERY SELECT 'limited'::text, NULL::text, NULL::text, NULL::text;
		RETURN;
	END IF;

	-- invitations_organization_id_user_id_idx
	UPDATE homebot.invitations i
	   SET expires_at = now()
	 WHERE i.organization_id = v_org_id AND i.user_id = p_user AND i.used_at IS NULL AND i.expires_at > now();
	INSERT INTO homebot.invitations (organization_id, user_id, token_hash, created_by, expires_at)
	VALUES (v_org_id, p_user, p_token_hash, v_inviter_id, now() + make_interval(secs => p_invite_ttl));

	PERFORM homebot.audit_event('member.invited', 'user', p_user::text,
	                            jsonb_build_object('email', v_email, 'role', v_member.role, 'resent', true),
	                            v_org_id);

	RETURN QUERY SELECT 'sent'::text, v_email,
	                    (SELECT o.name FROM homebot.organizations o WHERE o.id = v_org_id),
	                    (SELECT coalesce(NULLIF(u.full_name, ''), u.email) FROM homebot.users u
	                      WHERE u.id = v_inviter_id);
END
$$;

-- invitation_lookup (POST /api/v1/auth/accept-invite, before anything is
-- written): the invited account of a live invitation (unused, unexpired,
-- membership still invited, user enabled, organization not suspended), or
-- no row; an invitation is also dead once its account no longer has the
-- address it was sent to. verified says which rule applies: an
-- unverified account gets its password from the acceptance, a verified
-- one must prove itself with its password or its access token.
DROP FUNCTION IF EXISTS homebot.invitation_lookup(bytea);
CREATE OR REPLACE FUNCTION homebot.invitation_lookup(p_token_hash bytea)
RETURNS TABLE (user_id uuid, email text, verified boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT u.id, u.email, u.email_verified_at IS NOT NULL
	  FROM homebot.invitations i
	  JOIN homebot.memberships m ON m.organization_id = i.organization_id
	                            AND m.user_id = i.user_id AND m.status = 'invited'
	  JOIN homebot.users u ON u.id = i.user_id AND u.disabled_at IS NULL
	  JOIN homebot.organizations o ON o.id = i.organization_id AND o.suspended_at IS NULL
	 WHERE i.token_hash = p_token_hash AND i.used_at IS NULL AND i.expires_at > now()
	   AND (m.invited_email IS NULL OR lower(m.invited_email) = lower(u.email))
$$;

-- accept_invite (POST /api/v1/auth/accept-invite, and
-- POST /api/v1/auth/invitations/{id}/accept): activates an invited
-- membership, uses up its invitations and opens a session in that
-- organization with its first refresh token, as login_start does. The
-- invitation is named by p_token_hash (the mailed token) or by
-- p_invitation_id together with p_user, the caller's verified identity.
--
-- An unverified account (api.md §2, "Email ownership") holds nothing
-- against the owner of the mailbox: the token proves the address, so
-- p_password_hash becomes its password, the address counts as verified
-- and every session of the account ends, with every mailed token and
-- API key asked for before (see password_reset). A verified account keeps its
-- password: it must be p_user (its access token), or still have the hash
-- p_verified_hash that the caller checked its password against.
--
-- status 'ok'; 'invalid' when the invitation is unknown, used, expired,
-- of another user than p_user (by id), the membership is gone or no
-- longer invited, the user is disabled or the organization suspended;
-- 'password_required' (an unverified account and no p_password_hash),
-- 'credentials' (a verified account not proven), 'email_not_verified'
-- (by id, for an unverified p_user). Only 'ok' writes. Audits
-- member.invite_accepted and member.added (and auth.email.verified).
DROP FUNCTION IF EXISTS homebot.accept_invite(bytea, text, text, text, text, text, bytea, integer);
CREATE OR REPLACE FUNCTION homebot.accept_invite(p_token_hash bytea, p_invitation_id uuid, p_user uuid,
                                                 p_password_hash text, p_verified_hash text, p_full_name text,
                                                 p_ip text, p_user_agent text, p_request_id text,
                                                 p_refresh_hash bytea, p_refresh_ttl integer)
RETURNS TABLE (status text, user_id uuid, session_id uuid, organization_id uuid, org_name text,
               org_slug text, role text, email text, full_name text, email_verified boolean)
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
	v_status text;
	v_was_verified boolean;
	v_context text[];
BEGIN
	-- The row locks make the invitation single use and the account's
	-- state the one judged: a concurrent acceptance waits for this one to
	-- commit, then reads used_at set. The membership is locked first, as
	-- resend_invite and remove_member lock it, so that they take turns
	-- rather than deadlock.
	-- invitations_token_hash_key, invitations_pkey
	SELECT * INTO v_invite
	  FROM homebot.invitations i
	 WHERE (p_token_hash IS NOT NULL AND i.token_hash = p_token_hash)
	    OR (p_token_hash IS NULL AND i.id = p_invitation_id AND i.user_id = p_user);
	IF FOUND THEN
		SELECT * INTO v_member
		  FROM homebot.memberships m
		 WHERE m.organization_id = v_invite.organization_id AND m.user_id = v_invite.user_id
		   FOR UPDATE;
		SELECT * INTO v_invite FROM homebot.invitations i WHERE i.id = v_invite.id FOR UPDATE;
		SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_invite.user_id FOR UPDATE;
		SELECT * INTO v_org FROM homebot.organizations o WHERE o.id = v_invite.organization_id;
	END IF;
	v_was_verified := v_user.email_verified_at IS NOT NULL;

	IF v_invite.id IS NULL
	   OR v_invite.used_at IS NOT NULL
	   OR v_invite.expires_at <= now()
	   OR v_member.status IS DISTINCT FROM 'invited'
	   OR v_user.id IS NULL OR v_user.disabled_at IS NOT NULL
	   -- Sent to an address the account no longer has.
	   OR (v_member.invited_email IS NOT NULL AND lower(v_member.invited_email) <> lower(v_user.email))
	   OR v_org.id IS NULL OR v_org.suspended_at IS NOT NULL THEN
		v_status := 'invalid';
	ELSIF p_token_hash IS NULL THEN
		v_status := CASE WHEN v_was_verified THEN 'ok' ELSE 'email_not_verified' END;
	ELSIF NOT v_was_verified THEN
		v_status := CASE WHEN p_password_hash IS NULL THEN 'password_required' ELSE 'ok' END;
	ELSIF v_user.id = p_user
	   OR (p_verified_hash IS NOT NULL AND v_user.password_hash = p_verified_hash) THEN
		v_status := 'ok';
	ELSE
		v_status := 'credentials';
	END IF;

	IF v_status <> 'ok' THEN
		RETURN QUERY SELECT v_status, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
		                    NULL::text, NULL::text, NULL::text, NULL::boolean;
		RETURN;
	END IF;

	-- One update of the user's row (and so one audited row change) per
	-- acceptance; the full name only when one is given.
	IF NOT v_was_verified THEN
		-- The mailbox's owner takes the account over from whoever
		-- registered it or chose its password before.
		UPDATE homebot.users u
		   SET password_hash = p_password_hash, email_verified_at = now(),
		       full_name = CASE WHEN p_full_name IS NULL OR p_full_name = '' THEN u.full_name ELSE p_full_name END,
		       updated_at = now()
		 WHERE u.id = v_user.id;
		-- sessions_user_id_created_at_idx
		UPDATE homebot.sessions s SET revoked_at = now() WHERE s.user_id = v_user.id AND s.revoked_at IS NULL;
		-- Nor any link or key they asked for: a pending email change
		-- would move the account away afterwards.
		-- email_tokens_user_id_kind_idx
		UPDATE homebot.email_tokens t SET used_at = now() WHERE t.user_id = v_user.id AND t.used_at IS NULL;
		PERFORM homebot.revoke_user_api_keys(v_user.id);
	ELSE
		IF p_verified_hash IS NOT NULL THEN
			-- Ends the lockout count the password check began.
			INSERT INTO homebot.login_attempts (email, ip, succeeded) VALUES (lower(v_user.email), p_ip, true);
		END IF;
		UPDATE homebot.users u
		   SET full_name = p_full_name, updated_at = now()
		 WHERE u.id = v_user.id AND p_full_name IS NOT NULL AND p_full_name <> '' AND u.full_name <> p_full_name;
	END IF;
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = v_user.id;

	UPDATE homebot.memberships m
	   SET status = 'active'
	 WHERE m.organization_id = v_member.organization_id AND m.user_id = v_member.user_id;

	-- invitations_organization_id_user_id_idx
	UPDATE homebot.invitations i
	   SET used_at = now()
	 WHERE i.organization_id = v_invite.organization_id AND i.user_id = v_invite.user_id AND i.used_at IS NULL;

	INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
	VALUES (v_org.id, v_user.id, p_ip, v_user_agent)
	RETURNING id INTO v_session_id;

	INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	VALUES (v_org.id, v_session_id, p_refresh_hash, now() + make_interval(secs => p_refresh_ttl));

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	IF NOT v_was_verified THEN
		PERFORM homebot.audit_event('auth.email.verified', 'user', v_user.id::text,
		                            jsonb_build_object('email', v_user.email, 'by', 'invitation'),
		                            NULL, 'user', v_user.id);
	END IF;
	PERFORM homebot.audit_event('member.invite_accepted', 'user', v_user.id::text,
	                            jsonb_build_object('email', v_user.email, 'role', v_member.role,
	                                               'invitation_id', v_invite.id),
	                            v_org.id, 'user', v_user.id);
	-- The membership is active from here: the addition itself.
	PERFORM homebot.audit_event('member.added', 'user', v_user.id::text,
	                            jsonb_build_object('email', v_user.email, 'role', v_member.role,
	                                               'status', 'active'),
	                            v_org.id, 'user', v_user.id);
	PERFORM homebot.audit_context_reset(v_context);

	RETURN QUERY SELECT 'ok'::text, v_user.id, v_session_id, v_org.id, v_org.name, v_org.slug,
	                    v_member.role, v_user.email, v_user.full_name, true;
END
$$;

-- user_invitations (GET /api/v1/auth/invitations): the live invitations
-- of p_user, newest first, after the keyset (p_after_ts, p_after_id) when
-- p_after_ts is given, at most p_limit. The caller passes the user id of
-- a verified token whose address is verified.
CREATE OR REPLACE FUNCTION homebot.user_invitations(p_user uuid, p_after_ts timestamptz, p_after_id uuid,
                                                    p_limit integer)
RETURNS TABLE (id uuid, organization jsonb, role text, invited_by uuid, created_at timestamptz,
               expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT i.id, jsonb_build_object('id', o.id, 'name', o.name, 'slug', o.slug), m.role, i.created_by,
	       i.created_at, i.expires_at
	  FROM homebot.invitations i
	  JOIN homebot.memberships m ON m.organization_id = i.organization_id
	                            AND m.user_id = i.user_id AND m.status = 'invited'
	  JOIN homebot.organizations o ON o.id = i.organization_id AND o.suspended_at IS NULL
	  JOIN homebot.users u ON u.id = i.user_id
	 WHERE i.user_id = p_user AND i.used_at IS NULL AND i.expires_at > now()
	   -- Only what was sent to the address the account has now.
	   AND (m.invited_email IS NULL OR lower(m.invited_email) = lower(u.email))
	   AND (p_after_ts IS NULL OR (i.created_at, i.id) < (p_after_ts, p_after_id))
	 ORDER BY i.created_at DESC, i.id DESC
	 LIMIT p_limit
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
CREATE OR REPLACE FUNCTION homebot.change_member_role(p_user uuid, p_role text)
RETURNS TABLE (status text, user_id uuid, email text, full_name text, role text, member_status text,
               joined_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
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

		PERFORM homebot.audit_event('member.role_changed', 'user', p_user::text,
		                            jsonb_build_object('from', v_member.role, 'to', p_role), v_org_id);
	END IF;

	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user;
	-- As in GET /api/v1/members: an invitee's name is theirs to tell.
	RETURN QUERY SELECT 'ok'::text, v_user.id,
	                    CASE WHEN v_member.status = 'invited' THEN coalesce(v_member.invited_email, v_user.email)
	                         ELSE v_user.email END,
	                    CASE WHEN v_member.status = 'invited' THEN '' ELSE v_user.full_name END, p_role,
	                    v_member.status,
	                    v_member.created_at;
END
$$;

-- remove_member (DELETE /api/v1/members/{user_id}) from the organization
-- app.org_id: 'not_found', 'last_owner' (as in change_member_role, same
-- locks) or 'ok'. The membership goes, and with it the member's
-- invitations and extra permissions here (cascade); the member's sessions
-- in this organization are revoked. role is the removed member's role.
CREATE OR REPLACE FUNCTION homebot.remove_member(p_user uuid)
RETURNS TABLE (status text, role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
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
	PERFORM homebot.audit_event('member.removed', 'user', p_user::text,
	                            jsonb_build_object('email', v_email, 'role', v_member.role,
	                                               'status', v_member.status),
	                            v_org_id);

	RETURN QUERY SELECT 'ok'::text, v_member.role;
END
$$;

DROP FUNCTION IF EXISTS homebot.invitation_email(bytea);

REVOKE ALL ON FUNCTION
	homebot.slug_for(text),
	homebot.insert_organization(text, text),
	homebot.find_or_create_user(text),
	homebot.create_organization(uuid, text, text),
	homebot.user_organizations(uuid, timestamptz, uuid, integer),
	homebot.invite_member(text, text, bytea, integer, integer),
	homebot.resend_invite(uuid, bytea, integer, integer),
	homebot.invitation_lookup(bytea),
	homebot.accept_invite(bytea, uuid, uuid, text, text, text, text, text, text, bytea, integer),
	homebot.user_invitations(uuid, timestamptz, uuid, integer),
	homebot.change_member_role(uuid, text),
	homebot.remove_member(uuid)
FROM PUBLIC, homebot_app, homebot_admin;

GRANT EXECUTE ON FUNCTION
	homebot.create_organization(uuid, text, text),
	homebot.user_organizations(uuid, timestamptz, uuid, integer),
	homebot.invite_member(text, text, bytea, integer, integer),
	homebot.resend_invite(uuid, bytea, integer, integer),
	homebot.invitation_lookup(bytea),
	homebot.accept_invite(bytea, uuid, uuid, text, text, text, text, text, text, bytea, integer),
	homebot.user_invitations(uuid, timestamptz, uuid, integer),
	homebot.change_member_role(uuid, text),
	homebot.remove_member(uuid)
TO homebot_app;
