-- Multi-factor authentication (api.md §12): the functions over the tables
-- of 0015_mfa.sql. homebot_app has no privilege on those tables; these
-- SECURITY DEFINER functions are its only way in, each given the user id
-- its caller authenticated (an access token's, or a login's whose
-- password was right). The C side (lib/mfa.c) encrypts and decrypts the
-- secret and checks the codes: the database never sees a secret or a code
-- in clear, only the recovery codes' and mfa_tokens' SHA-256.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes.

-- mfa_enabled: whether p_user has TOTP on, for the token responses of
-- the functions that start a session (lib/session.c reads it beside them).
CREATE OR REPLACE FUNCTION homebot.mfa_enabled(p_user uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT coalesce((SELECT u.mfa_enabled_at IS NOT NULL FROM homebot.users u WHERE u.id = p_user), false)
$$;

-- mfa_totp_get: p_user's TOTP state: whether it is on, and the stored
-- (pending or active) secret with its wrapped data key and generation,
-- NULL when there is none. No row: no such user.
CREATE OR REPLACE FUNCTION homebot.mfa_totp_get(p_user uuid)
RETURNS TABLE (enabled boolean, wrapped_key bytea, secret bytea, generation bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT u.mfa_enabled_at IS NOT NULL, t.wrapped_key, t.secret, t.generation
	  FROM homebot.users u
	  LEFT JOIN homebot.user_totp t ON t.user_id = u.id
	 WHERE u.id = p_user
$$;

-- mfa_totp_begin (POST /auth/mfa/totp): stores a new pending secret for
-- p_user, replacing any pending one: 'ok', or 'mfa_enabled' while TOTP
-- is on (the active secret is kept).
CREATE OR REPLACE FUNCTION homebot.mfa_totp_begin(p_user uuid, p_wrapped_key bytea, p_secret bytea,
                                                  p_generation bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_enabled_at timestamptz;
BEGIN
	-- users_pkey; the lock orders this against a confirmation.
	SELECT u.mfa_enabled_at INTO v_enabled_at FROM homebot.users u WHERE u.id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 'not_found';
	END IF;
	IF v_enabled_at IS NOT NULL THEN
		RETURN 'mfa_enabled';
	END IF;
	INSERT INTO homebot.user_totp AS t (user_id, wrapped_key, secret, generation)
	VALUES (p_user, p_wrapped_key, p_secret, p_generation)
	ON CONFLICT (user_id) DO UPDATE
	   SET wrapped_key = EXCLUDED.wrapped_key, secret = EXCLUDED.secret,
	       generation = EXCLUDED.generation, last_step = NULL, created_at = now();
	RETURN 'ok';
END
$$;

-- mfa_totp_confirm (POST /auth/mfa/totp/confirm): a right code of the
-- pending secret of generation p_generation, at time step p_step, turns
-- TOTP on with the recovery codes p_codes (their SHA-256): 'ok',
-- 'mfa_enabled' when it already is on, 'stale' when the pending secret
-- changed since the caller read it (or there is none). Audited in the
-- request's organization as auth.mfa.enabled.
CREATE OR REPLACE FUNCTION homebot.mfa_totp_confirm(p_user uuid, p_generation bigint, p_step bigint,
                                                    p_codes bytea[])
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_enabled_at timestamptz;
BEGIN
	SELECT u.mfa_enabled_at INTO v_enabled_at FROM homebot.users u WHERE u.id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 'stale';
	END IF;
	IF v_enabled_at IS NOT NULL THEN
		RETURN 'mfa_enabled';
	END IF;
	UPDATE homebot.user_totp t SET last_step = p_step
	 WHERE t.user_id = p_user AND t.generation = p_generation;
	IF NOT FOUND THEN
		RETURN 'stale';
	END IF;
	UPDATE homebot.users u SET mfa_enabled_at = now(), updated_at = now() WHERE u.id = p_user;
	DELETE FROM homebot.mfa_recovery_codes c WHERE c.user_id = p_user;
	INSERT INTO homebot.mfa_recovery_codes (user_id, code_hash)
	SELECT p_user, h FROM unnest(p_codes) AS h;
	PERFORM homebot.audit_event('auth.mfa.enabled', 'user', p_user::text, NULL,
	                            NULLIF(current_setting('app.org_id', true), '')::uuid);
	RETURN 'ok';
END
$$;

-- mfa_totp_use: accepts a right code of p_user's active secret (of
-- generation p_generation) at time step p_step, once: only while TOTP is
-- on and p_step is later than the last step accepted. Whether it did.
CREATE OR REPLACE FUNCTION homebot.mfa_totp_use(p_user uuid, p_generation bigint, p_step bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	-- user_totp_pkey; the row lock re-checks last_step against a
	-- concurrent use of the same code.
	UPDATE homebot.user_totp t SET last_step = p_step
	  FROM homebot.users u
	 WHERE t.user_id = p_user AND u.id = p_user AND u.mfa_enabled_at IS NOT NULL
	   AND t.generation = p_generation
	   AND (t.last_step IS NULL OR t.last_step < p_step);
	RETURN FOUND;
END
$$;

-- mfa_recovery_replace (POST /auth/mfa/recovery-codes): p_codes replace
-- every recovery code of p_user, while TOTP is on; audited as
-- auth.mfa.recovery_codes_regenerated. Whether it did.
CREATE OR REPLACE FUNCTION homebot.mfa_recovery_replace(p_user uuid, p_codes bytea[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM FROM homebot.users u WHERE u.id = p_user AND u.mfa_enabled_at IS NOT NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	DELETE FROM homebot.mfa_recovery_codes c WHERE c.user_id = p_user;
	INSERT INTO homebot.mfa_recovery_codes (user_id, code_hash)
	SELECT p_user, h FROM unnest(p_codes) AS h;
	PERFORM homebot.audit_event('auth.mfa.recovery_codes_regenerated', 'user', p_user::text, NULL,
	                            NULLIF(current_setting('app.org_id', true), '')::uuid);
	RETURN true;
END
$$;

-- mfa_disable (DELETE /auth/mfa/totp): turns TOTP off for p_user and
-- forgets the secret, the recovery codes and the pending logins; revokes
-- the user's sessions but p_session. Audited as auth.mfa.disabled.
CREATE OR REPLACE FUNCTION homebot.mfa_disable(p_user uuid, p_session uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	UPDATE homebot.users u SET mfa_enabled_at = NULL, updated_at = now()
	 WHERE u.id = p_user AND u.mfa_enabled_at IS NOT NULL;
	DELETE FROM homebot.user_totp t WHERE t.user_id = p_user;
	DELETE FROM homebot.mfa_recovery_codes c WHERE c.user_id = p_user;
	DELETE FROM homebot.mfa_challenges c WHERE c.user_id = p_user;
	-- sessions_user_id_created_at_idx
	UPDATE homebot.sessions s SET revoked_at = now()
	 WHERE s.user_id = p_user AND s.id <> p_session AND s.revoked_at IS NULL;
	PERFORM homebot.audit_event('auth.mfa.disabled', 'user', p_user::text, NULL,
	                            NULLIF(current_setting('app.org_id', true), '')::uuid);
END
$$;

-- mfa_attempt_clear: a code (or the password beside it) that was right
-- on an authenticated MFA call un-counts the attempt login_lookup
-- recorded as failed for it; earlier failures still count.
CREATE OR REPLACE FUNCTION homebot.mfa_attempt_clear(p_email text, p_attempt_id bigint)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	-- login_attempts_pkey
	DELETE FROM homebot.login_attempts a
	 WHERE a.id = p_attempt_id AND a.email = lower(p_email) AND NOT a.succeeded
$$;

-- mfa_challenge_new (POST /auth/login, TOTP on): the first step of a
-- login, for p_ttl seconds; drops the user's expired ones.
CREATE OR REPLACE FUNCTION homebot.mfa_challenge_new(p_user uuid, p_token_hash bytea, p_org uuid,
                                                     p_verified_hash text, p_rehash text, p_ttl integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	-- mfa_challenges_user_id_idx
	DELETE FROM homebot.mfa_challenges c WHERE c.user_id = p_user AND c.expires_at <= now();
	INSERT INTO homebot.mfa_challenges (token_hash, user_id, requested_org, verified_hash, rehash,
	                                    expires_at)
	VALUES (p_token_hash, p_user, p_org, p_verified_hash, p_rehash,
	        now() + make_interval(secs => p_ttl));
END
$$;

-- mfa_challenge_get (POST /auth/mfa/verify): the live login of this
-- mfa_token (unused, unexpired, TOTP still on) with its user's email and
-- secret; no row when there is none.
CREATE OR REPLACE FUNCTION homebot.mfa_challenge_get(p_token_hash bytea)
RETURNS TABLE (user_id uuid, email text, wrapped_key bytea, secret bytea, generation bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	-- mfa_challenges_pkey, users_pkey, user_totp_pkey
	SELECT c.user_id, u.email::text, t.wrapped_key, t.secret, t.generation
	  FROM homebot.mfa_challenges c
	  JOIN homebot.users u ON u.id = c.user_id AND u.mfa_enabled_at IS NOT NULL
	  JOIN homebot.user_totp t ON t.user_id = c.user_id
	 WHERE c.token_hash = p_token_hash AND c.used_at IS NULL AND c.expires_at > now()
$$;

-- mfa_challenge_finish: the second step of the login of p_token_hash,
-- with a TOTP code of time step p_step (of the secret's generation
-- p_generation) or with the recovery code of SHA-256 p_code_hash: uses
-- the token and the code, once. status 'ok' with what login_start needs,
-- 'invalid_token' when the login is no longer live, 'invalid_code' when
-- the step was already used or the recovery code is not a live one.
CREATE OR REPLACE FUNCTION homebot.mfa_challenge_finish(p_token_hash bytea, p_generation bigint,
                                                        p_step bigint, p_code_hash bytea)
RETURNS TABLE (status text, user_id uuid, requested_org uuid, verified_hash text, rehash text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c homebot.mfa_challenges;
BEGIN
	-- mfa_challenges_pkey; the lock makes the token single use.
	SELECT c.* INTO v_c FROM homebot.mfa_challenges c
	 WHERE c.token_hash = p_token_hash AND c.used_at IS NULL AND c.expires_at > now()
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'invalid_token'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text;
		RETURN;
	END IF;
	IF p_step IS NOT NULL THEN
		IF NOT homebot.mfa_totp_use(v_c.user_id, p_generation, p_step) THEN
			RETURN QUERY SELECT 'invalid_code'::text, v_c.user_id, NULL::uuid, NULL::text, NULL::text;
			RETURN;
		END IF;
	ELSE
		UPDATE homebot.mfa_recovery_codes c SET used_at = now()
		 WHERE c.user_id = v_c.user_id AND c.code_hash = p_code_hash AND c.used_at IS NULL;
		IF NOT FOUND THEN
			RETURN QUERY SELECT 'invalid_code'::text, v_c.user_id, NULL::uuid, NULL::text, NULL::text;
			RETURN;
		END IF;
	END IF;
	UPDATE homebot.mfa_challenges c SET used_at = now() WHERE c.token_hash = p_token_hash;
	RETURN QUERY SELECT 'ok'::text, v_c.user_id, v_c.requested_org, v_c.verified_hash, v_c.rehash;
END
$$;

REVOKE ALL ON FUNCTION
	homebot.mfa_enabled(uuid),
	homebot.mfa_totp_get(uuid),
	homebot.mfa_totp_begin(uuid, bytea, bytea, bigint),
	homebot.mfa_totp_confirm(uuid, bigint, bigint, bytea[]),
	homebot.mfa_totp_use(uuid, bigint, bigint),
	homebot.mfa_recovery_replace(uuid, bytea[]),
	homebot.mfa_disable(uuid, uuid),
	homebot.mfa_attempt_clear(text, bigint),
	homebot.mfa_challenge_new(uuid, bytea, uuid, text, text, integer),
	homebot.mfa_challenge_get(bytea),
	homebot.mfa_challenge_finish(bytea, bigint, bigint, bytea)
FROM PUBLIC, homebot_app, homebot_admin;

GRANT EXECUTE ON FUNCTION
	homebot.mfa_enabled(uuid),
	homebot.mfa_totp_get(uuid),
	homebot.mfa_totp_begin(uuid, bytea, bytea, bigint),
	homebot.mfa_totp_confirm(uuid, bigint, bigint, bytea[]),
	homebot.mfa_totp_use(uuid, bigint, bigint),
	homebot.mfa_recovery_replace(uuid, bytea[]),
	homebot.mfa_disable(uuid, uuid),
	homebot.mfa_attempt_clear(text, bigint),
	homebot.mfa_challenge_new(uuid, bytea, uuid, text, text, integer),
	homebot.mfa_challenge_get(bytea),
	homebot.mfa_challenge_finish(bytea, bigint, bigint, bytea)
TO homebot_app;
