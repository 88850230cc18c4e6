-- Email ownership (api.md §2): the SECURITY DEFINER functions behind
-- verification, password reset and email change. Their tables are in
-- 0005_email.sql; invitations are in R__orgs.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.
--
-- The caller makes each token (256 bits from the OS) and its link, and
-- passes only the token's SHA-256 here; it enqueues the mail in the same
-- transaction only when a function answers 'sent', so a token whose mail
-- is not sent never replaces a live one.

-- mail_allowed: whether one more mail of p_kind may go to p_email now (at
-- most p_max in the last hour), and if so counts it. Calls for one address
-- and kind take turns under an advisory lock, so concurrent requests
-- cannot send more than p_max. Not callable by the runtime roles.
CREATE OR REPLACE FUNCTION homebot.mail_allowed(p_email text, p_kind text, p_max integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text := lower(p_email);
	v_count integer;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.mail_allowed ' || p_kind || ' ' || v_email, 0));
	-- mail_sends_email_kind_sent_at_idx
	DELETE FROM homebot.mail_sends s
	 WHERE s.email = v_email AND s.kind = p_kind AND s.sent_at <= now() - interval '1 hour';
	SELECT count(*) INTO v_count FROM homebot.mail_sends s WHERE s.email = v_email AND s.kind = p_kind;
	IF v_count >= p_max THEN
		RETURN false;
	END IF;
	INSERT INTO homebot.mail_sends (email, kind) VALUES (v_email, p_kind);
	RETURN true;
END
$$;

-- email_token_issue: a new token of p_kind for p_user, sent to p_email,
-- valid p_ttl seconds; the user's older live tokens of that kind stop
-- working. Not callable by the runtime roles.
CREATE OR REPLACE FUNCTION homebot.email_token_issue(p_user uuid, p_kind text, p_email text, p_token_hash bytea,
                                                     p_ttl integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	-- email_tokens_user_id_kind_idx
	UPDATE homebot.email_tokens t
	   SET used_at = now()
	 WHERE t.user_id = p_user AND t.kind = p_kind AND t.used_at IS NULL;
	INSERT INTO homebot.email_tokens (user_id, kind, email, token_hash, expires_at)
	VALUES (p_user, p_kind, p_email, p_token_hash, now() + make_interval(secs => p_ttl));
END
$$;

-- email_token_take: the live token of p_kind with this hash, locked, or no
-- row: unused, unexpired, of an enabled user whose address is still the
-- one the link was sent to (for an email change: the user still exists).
-- The row lock makes a token single use: a concurrent use waits, then
-- finds used_at set. Not callable by the runtime roles.
CREATE OR REPLACE FUNCTION homebot.email_token_take(p_kind text, p_token_hash bytea)
RETURNS homebot.email_tokens
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_token homebot.email_tokens%ROWTYPE;
BEGIN
	-- email_tokens_token_hash_key
	SELECT t.* INTO v_token
	  FROM homebot.email_tokens t
	  JOIN homebot.users u ON u.id = t.user_id
	 WHERE t.token_hash = p_token_hash AND t.kind = p_kind
	   AND t.used_at IS NULL AND t.expires_at > now()
	   AND u.disabled_at IS NULL
	   AND (p_kind = 'email_change' OR lower(u.email) = lower(t.email))
	   FOR UPDATE OF t, u;
	RETURN v_token;
END
$$;

-- verify_email_issue (register, POST /api/v1/auth/verify-email/resend): a
-- verification token for p_user's address. status 'already_verified',
-- 'limited' (the hour's mails to the address are spent: nothing changes)
-- or 'sent' (the caller mails the link to email).
CREATE OR REPLACE FUNCTION homebot.verify_email_issue(p_user uuid, p_token_hash bytea, p_ttl integer,
                                                      p_max_per_hour integer)
RETURNS TABLE (status text, email text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_user homebot.users%ROWTYPE;
BEGIN
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user FOR NO KEY UPDATE;
	IF v_user.id IS NULL OR v_user.email_verified_at IS NOT NULL THEN
		RETURN QUERY SELECT 'already_verified'::text, NULL::text;
		RETURN;
	END IF;
	IF NOT homebot.mail_allowed(v_user.email, 'verify', p_max_per_hour) THEN
		RETURN QUERY SELECT 'limited'::text, NULL::text;
		RETURN;
	END IF;
	PERFORM homebot.email_token_issue(v_user.id, 'verify', v_user.email, p_token_hash, p_ttl);
	RETURN QUERY SELECT 'sent'::text, v_user.email;
END
$$;

-- verify_email (POST /api/v1/auth/verify-email): marks the address the
-- token was sent to verified. status 'invalid' (unknown, used, expired,
-- or the address changed since; nothing written) or 'ok'. Audits
-- auth.email.verified.
CREATE OR REPLACE FUNCTION homebot.verify_email(p_token_hash bytea, p_ip text, p_user_agent text,
                                                p_request_id text)
RETURNS TABLE (status text, id uuid, email text, full_name text, email_verified boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_token homebot.email_tokens%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_context text[];
BEGIN
	v_token := homebot.email_token_take('verify', p_token_hash);
	IF v_token.id IS NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::text, NULL::text, NULL::boolean;
		RETURN;
	END IF;
	-- The token, and any email change asked for before the address was
	-- proven: whoever registered it may have asked to move the account
	-- away from the mailbox that now vouches for it.
	UPDATE homebot.email_tokens t
	   SET used_at = now()
	 WHERE t.used_at IS NULL AND (t.id = v_token.id OR (t.user_id = v_token.user_id AND t.kind = 'email_change'));
	UPDATE homebot.users u
	   SET email_verified_at = coalesce(u.email_verified_at, now()), updated_at = now()
	 WHERE u.id = v_token.user_id
	RETURNING * INTO v_user;

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.email.verified', 'user', v_user.id::text,
	                            jsonb_build_object('email', v_user.email), NULL, 'user', v_user.id);
	PERFORM homebot.audit_context_reset(v_context);
	RETURN QUERY SELECT 'ok'::text, v_user.id, v_user.email, v_user.full_name, true;
END
$$;

-- password_forgot (POST /api/v1/auth/password/forgot): a reset token for
-- the account of p_email (trimmed, any case). status 'none' (no such
-- account, or it is disabled), 'limited' (as in verify_email_issue) or
-- 'sent' (the caller mails the link to email, the stored address). The
-- caller answers the same in every case.
CREATE OR REPLACE FUNCTION homebot.password_forgot(p_email text, p_token_hash bytea, p_ttl integer,
                                                   p_max_per_hour integer)
RETURNS TABLE (status text, email text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_email text := btrim(p_email, E' \t\r\n\f' || chr(11));
	v_user homebot.users%ROWTYPE;
BEGIN
	-- users_email_key
	SELECT * INTO v_user FROM homebot.users u WHERE lower(u.email) = lower(v_email) FOR NO KEY UPDATE;
	IF v_user.id IS NULL OR v_user.disabled_at IS NOT NULL THEN
		RETURN QUERY SELECT 'none'::text, NULL::text;
		RETURN;
	END IF;
	IF NOT homebot.mail_allowed(v_user.email, 'reset', p_max_per_hour) THEN
		RETURN QUERY SELECT 'limited'::text, NULL::text;
		RETURN;
	END IF;
	PERFORM homebot.email_token_issue(v_user.id, 'reset', v_user.email, p_token_hash, p_ttl);
	RETURN QUERY SELECT 'sent'::text, v_user.email;
END
$$;

-- email_token_email (password reset, before anything is written): the
-- address of a live token of p_kind, or NULL, so that a new password
-- equal to it can be refused.
CREATE OR REPLACE FUNCTION homebot.email_token_email(p_kind text, p_token_hash bytea)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT u.email
	  FROM homebot.email_tokens t
	  JOIN homebot.users u ON u.id = t.user_id
	 WHERE t.token_hash = p_token_hash AND t.kind = p_kind
	   AND t.used_at IS NULL AND t.expires_at > now() AND u.disabled_at IS NULL
$$;

-- revoke_user_api_keys: revokes every API key p_user created, in every
-- organization (the owner of the mailbox taking over an account that was
-- not verified: password_reset, accept_invite). Rare, so no index by
-- created_by. Not callable by the runtime roles.
CREATE OR REPLACE FUNCTION homebot.revoke_user_api_keys(p_user uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	UPDATE homebot.api_keys k SET revoked_at = now() WHERE k.created_by = p_user AND k.revoked_at IS NULL
$$;

-- password_reset (POST /api/v1/auth/password/reset): sets the password of
-- the token's user, marks the address verified (the link reached it), ends
-- every session (and so every refresh token) of the user, clears the
-- login lockout of the address and uses up every mailed token of the
-- user, of every kind: a pending email change requested by whoever held
-- the password would otherwise move the account away afterwards. Of an
-- account that was not verified, the API keys its user created are
-- revoked too (api.md §2: it holds nothing against the owner of the
-- mailbox). Whoever had registered or used the account before the owner
-- of the mailbox loses it here. status 'invalid' (nothing written) or
-- 'ok'. Audits auth.password.reset.
CREATE OR REPLACE FUNCTION homebot.password_reset(p_token_hash bytea, p_password_hash text, p_ip text,
                                                  p_user_agent text, p_request_id text)
RETURNS TABLE (status text, user_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_token homebot.email_tokens%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_sessions integer;
	v_was_verified boolean;
	v_context text[];
BEGIN
	IF p_password_hash IS NULL THEN
		RAISE EXCEPTION 'password_reset: a password hash is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	v_token := homebot.email_token_take('reset', p_token_hash);
	IF v_token.id IS NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid;
		RETURN;
	END IF;
	-- email_tokens_user_id_kind_idx
	UPDATE homebot.email_tokens t
	   SET used_at = now()
	 WHERE t.user_id = v_token.user_id AND t.used_at IS NULL;
	SELECT u.email_verified_at IS NOT NULL INTO v_was_verified FROM homebot.users u WHERE u.id = v_token.user_id;
	IF NOT v_was_verified THEN
		PERFORM homebot.revoke_user_api_keys(v_token.user_id);
	END IF;
	UPDATE homebot.users u
	   SET password_hash = p_password_hash, email_verified_at = coalesce(u.email_verified_at, now()),
	       updated_at = now()
	 WHERE u.id = v_token.user_id
	RETURNING * INTO v_user;
	-- sessions_user_id_created_at_idx
	UPDATE homebot.sessions s SET revoked_at = now() WHERE s.user_id = v_user.id AND s.revoked_at IS NULL;
	GET DIAGNOSTICS v_sessions = ROW_COUNT;
	PERFORM homebot.admin_unlock(v_user.email);

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.password.reset', 'user', v_user.id::text,
	                            jsonb_build_object('email', v_user.email, 'sessions_revoked', v_sessions),
	                            NULL, 'user', v_user.id);
	PERFORM homebot.audit_context_reset(v_context);
	RETURN QUERY SELECT 'ok'::text, v_user.id;
END
$$;

-- email_change_request (POST /api/v1/auth/email): a confirmation token for
-- p_new_email (trimmed) for p_user, whose password the caller verified
-- (p_verified_hash: the change waits if the password changed meanwhile),
-- which ends the lockout count of the address as a login would.
-- status 'password_changed', 'email_taken' (another account has the
-- address), 'limited' (as in verify_email_issue) or 'sent' (the caller
-- mails the link to new_email and, when notice says so, a notice to
-- old_email: those count against the old address's own hourly limit).
DROP FUNCTION IF EXISTS homebot.email_change_request(uuid, text, text, bytea, integer, integer);
CREATE OR REPLACE FUNCTION homebot.email_change_request(p_user uuid, p_verified_hash text, p_new_email text,
                                                        p_token_hash bytea, p_ttl integer,
                                                        p_max_per_hour integer)
RETURNS TABLE (status text, old_email text, new_email text, notice boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_new text := btrim(p_new_email, E' \t\r\n\f' || chr(11));
	v_user homebot.users%ROWTYPE;
BEGIN
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user FOR NO KEY UPDATE;
	IF v_user.id IS NULL OR v_user.password_hash IS DISTINCT FROM p_verified_hash THEN
		RETURN QUERY SELECT 'password_changed'::text, NULL::text, NULL::text, false;
		RETURN;
	END IF;
	-- The password was right: as after a login, the lockout count of the
	-- address starts again (see login_lookup).
	INSERT INTO homebot.login_attempts (email, ip, succeeded) VALUES (lower(v_user.email), NULL, true);
	-- users_email_key
	IF EXISTS (SELECT FROM homebot.users u WHERE lower(u.email) = lower(v_new) AND u.id <> p_user) THEN
		RETURN QUERY SELECT 'email_taken'::text, NULL::text, NULL::text, false;
		RETURN;
	END IF;
	IF NOT homebot.mail_allowed(v_new, 'email_change', p_max_per_hour) THEN
		RETURN QUERY SELECT 'limited'::text, NULL::text, NULL::text, false;
		RETURN;
	END IF;
	PERFORM homebot.email_token_issue(v_user.id, 'email_change', v_new, p_token_hash, p_ttl);
	RETURN QUERY SELECT 'sent'::text, v_user.email, v_new,
	                    homebot.mail_allowed(v_user.email, 'email_notice', p_max_per_hour);
END
$$;

-- email_change_confirm (POST /api/v1/auth/email/confirm): the token's new
-- address becomes the user's, verified. status 'invalid' (nothing
-- written), 'email_taken' (another account took the address meanwhile;
-- the token stays usable once it is free) or 'ok'. The account's pending
-- invitations were for the old address: they are withdrawn. Audits
-- auth.email.changed.
CREATE OR REPLACE FUNCTION homebot.email_change_confirm(p_token_hash bytea, p_ip text, p_user_agent text,
                                                        p_request_id text)
RETURNS TABLE (status text, id uuid, email text, full_name text, email_verified boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_token homebot.email_tokens%ROWTYPE;
	v_user homebot.users%ROWTYPE;
	v_old text;
	v_constraint text;
	v_context text[];
	v_org uuid;
BEGIN
	v_token := homebot.email_token_take('email_change', p_token_hash);
	IF v_token.id IS NULL THEN
		RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::text, NULL::text, NULL::boolean;
		RETURN;
	END IF;
	SELECT u.email INTO v_old FROM homebot.users u WHERE u.id = v_token.user_id;
	BEGIN
		UPDATE homebot.users u
		   SET email = v_token.email, email_verified_at = now(), updated_at = now()
		 WHERE u.id = v_token.user_id
		RETURNING * INTO v_user;
	EXCEPTION WHEN unique_violation THEN
		GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
		IF v_constraint IS DISTINCT FROM 'users_email_key' THEN
			RAISE;
		END IF;
		RETURN QUERY SELECT 'email_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::boolean;
		RETURN;
	END;
	UPDATE homebot.email_tokens t SET used_at = now() WHERE t.id = v_token.id;
	-- Links sent to the old address no longer name the account's address.
	UPDATE homebot.email_tokens t
	   SET used_at = now()
	 WHERE t.user_id = v_user.id AND t.kind IN ('verify', 'reset') AND t.used_at IS NULL;
	-- Nor do invitations sent to it: whoever moves the account to another
	-- address leaves them behind (the invitations go with the memberships).
	-- An organization that still wants the old address invites it again.
	-- Their organizations' locks come first, in the order of their ids:
	-- the removals' triggers would take them in row order, and two such
	-- changes at once could each hold a lock the other waits for.
	FOR v_org IN SELECT DISTINCT m.organization_id FROM homebot.memberships m
	              WHERE m.user_id = v_user.id AND m.status = 'invited'
	              ORDER BY 1 LOOP
		PERFORM homebot.member_access_lock(v_org);
	END LOOP;
	DELETE FROM homebot.memberships m WHERE m.user_id = v_user.id AND m.status = 'invited';

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.email.changed', 'user', v_user.id::text,
	                            jsonb_build_object('from', v_old, 'to', v_user.email), NULL, 'user', v_user.id);
	PERFORM homebot.audit_context_reset(v_context);
	RETURN QUERY SELECT 'ok'::text, v_user.id, v_user.email, v_user.full_name, true;
END
$$;

-- forgot_enqueue (POST /api/v1/auth/password/forgot): a platform job
-- "auth.password_forgot" for p_email, which homebot-worker runs through
-- password_forgot and the mail it allows. The request does exactly this
-- one insert whether or not an account has the address, so neither its
-- answer nor its timing tells.
CREATE OR REPLACE FUNCTION homebot.forgot_enqueue(p_email text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	INSERT INTO homebot.jobs (organization_id, kind, payload)
	VALUES (NULL, 'auth.password_forgot', jsonb_build_object('email', p_email));
	PERFORM pg_notify('homebot_jobs', '');
END
$$;

-- mail_enqueue: a platform "mail" job (api.md §7) with p_payload
-- ({"to", "template", "vars", "secret"}), of no organization, so that no
-- organization's job list shows it; the workers hear of it at commit. The
-- request path cannot insert platform jobs itself (the jobs table's
-- tenant policy), and no other kind can be queued through here.
CREATE OR REPLACE FUNCTION homebot.mail_enqueue(p_payload jsonb)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_id uuid;
BEGIN
	INSERT INTO homebot.jobs (organization_id, kind, payload) VALUES (NULL, 'mail', p_payload)
	RETURNING id INTO v_id;
	PERFORM pg_notify('homebot_jobs', '');
	RETURN v_id;
END
$$;

-- email_purge (homebot-worker's jobs.retention): deletes the mailed
-- tokens that can no longer be used (used or expired) a day after, and the
-- mail counts older than their hour; returns how many rows went.
CREATE OR REPLACE FUNCTION homebot.email_purge()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_tokens integer;
	v_sends integer;
BEGIN
	DELETE FROM homebot.email_tokens t
	 WHERE t.used_at < now() - interval '1 day' OR t.expires_at < now() - interval '1 day';
	GET DIAGNOSTICS v_tokens = ROW_COUNT;
	DELETE FROM homebot.mail_sends s WHERE s.sent_at <= now() - interval '1 hour';
	GET DIAGNOSTICS v_sends = ROW_COUNT;
	RETURN v_tokens + v_sends;
END
$$;

-- password_changed (POST /api/v1/auth/password, in the transaction that
-- stored p_hash): only while p_user's stored hash is p_hash, which proves
-- the caller just checked the old password and set this one, it ends the
-- lockout count of the user's address (see login_lookup) and voids the
-- reset and email-change links mailed before, so that a link asked for by
-- whoever held the old password cannot undo the change. Returns whether it
-- acted.
DROP FUNCTION IF EXISTS homebot.login_succeeded(text, text);
CREATE OR REPLACE FUNCTION homebot.password_changed(p_user uuid, p_hash text, p_ip text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text;
BEGIN
	SELECT u.email INTO v_email FROM homebot.users u WHERE u.id = p_user AND u.password_hash = p_hash;
	IF v_email IS NULL THEN
		RETURN false;
	END IF;
	INSERT INTO homebot.login_attempts (email, ip, succeeded) VALUES (lower(v_email), p_ip, true);
	-- email_tokens_user_id_kind_idx
	UPDATE homebot.email_tokens t
	   SET used_at = now()
	 WHERE t.user_id = p_user AND t.kind IN ('reset', 'email_change') AND t.used_at IS NULL;
	RETURN true;
END
$$;

REVOKE ALL ON FUNCTION
	homebot.mail_allowed(text, text, integer),
	homebot.revoke_user_api_keys(uuid),
	homebot.email_token_issue(uuid, text, text, bytea, integer),
	homebot.email_token_take(text, bytea),
	homebot.verify_email_issue(uuid, bytea, integer, integer),
	homebot.verify_email(bytea, text, text, text),
	homebot.password_forgot(text, bytea, integer, integer),
	homebot.email_token_email(text, bytea),
	homebot.password_reset(bytea, text, text, text, text),
	homebot.email_change_request(uuid, text, text, bytea, integer, integer),
	homebot.email_change_confirm(bytea, text, text, text),
	homebot.password_changed(uuid, text, text),
	homebot.mail_enqueue(jsonb),
	homebot.forgot_enqueue(text),
	homebot.email_purge()
FROM PUBLIC, homebot_app, homebot_admin;

GRANT EXECUTE ON FUNCTION
	homebot.verify_email_issue(uuid, bytea, integer, integer),
	homebot.verify_email(bytea, text, text, text),
	homebot.email_token_email(text, bytea),
	homebot.password_reset(bytea, text, text, text, text),
	homebot.email_change_request(uuid, text, text, bytea, integer, integer),
	homebot.email_change_confirm(bytea, text, text, text),
	homebot.password_changed(uuid, text, text),
	homebot.mail_enqueue(jsonb),
	homebot.forgot_enqueue(text)
TO homebot_app;

GRANT EXECUTE ON FUNCTION homebot.mail_enqueue(jsonb) TO homebot_admin;
-- homebot-worker runs the forgotten-password jobs (forgot_enqueue) and
-- the retention job.
GRANT EXECUTE ON FUNCTION homebot.password_forgot(text, bytea, integer, integer),
	homebot.mail_enqueue(jsonb),
	homebot.email_purge()
TO homebot_worker;
