-- Authentication's SECURITY DEFINER functions (api.md §2): what the
-- request path calls before any tenant is known. Their tables, and why
-- each table they touch has a definer_access policy, are in 0002_auth.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.
--
-- The functions' SQL is static: arguments are only ever bound as values.
-- Their callers pass the client's IP, user agent and request ID as
-- arguments, without a request context: each makes them the context for
-- its audit events (audit_context_default in R__audit.sql).

-- auth_rate_hit: one hit of p_scope for p_ip in the current one-minute
-- window. Returns 0 while the window's hits are at most p_limit, else the
-- seconds until the window ends (the Retry-After of a 429).
--
-- Each scope counts on its own, so that one cannot starve the other:
-- 'auth' (register, login and the other calls that guard a secret) and
-- 'refresh' (keeping a session). The counter's key, in the ip column, is
-- the scope, a space and the IP ("refresh 192.0.2.1"); no address has a
-- space, so keys of different scopes never meet.
DROP FUNCTION IF EXISTS homebot.auth_rate_hit(text, integer);
CREATE OR REPLACE FUNCTION homebot.auth_rate_hit(p_scope text, p_ip text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_window timestamptz := date_trunc('minute', now());
	v_hits integer;
BEGIN
	IF p_scope IS NULL OR p_scope NOT IN ('auth', 'refresh') THEN
		RAISE EXCEPTION 'auth_rate_hit: unknown scope %', p_scope
		      USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- About one call in a hundred sweeps old windows: no scheduler is
	-- needed, and no sweep has more than a few minutes of rows to delete.
	IF random() < 0.01 THEN
		DELETE FROM homebot.auth_rate_limits
		 WHERE window_start < v_window - interval '5 minutes';
	END IF;

	-- One statement, so concurrent hits from any process all count.
	-- Clients without a known address share their scope's '' counter.
	INSERT INTO homebot.auth_rate_limits AS r (ip, window_start, hits)
	VALUES (p_scope || ' ' || coalesce(p_ip, ''), v_window, 1)
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
CREATE OR REPLACE FUNCTION homebot.login_lookup(p_email text, p_max_attempts integer, p_window integer, p_ip text)
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
CREATE OR REPLACE FUNCTION homebot.login_failed(p_email text, p_user_id uuid, p_ip text, p_user_agent text,
                                                p_request_id text, p_max_attempts integer, p_window integer,
                                                p_attempt_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text := lower(p_email);
	v_actor_type text := CASE WHEN p_user_id IS NULL THEN 'system' ELSE 'user' END;
	v_changes jsonb := jsonb_build_object('email', lower(p_email));
	v_attempted_at timestamptz;
	v_failures bigint;
	v_context text[];
BEGIN
	-- Failures of one email take turns with each other and with
	-- login_lookup.
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.login_failed ' || v_email, 0));

	-- login_attempts_pkey
	SELECT a.attempted_at INTO v_attempted_at
	  FROM homebot.login_attempts a
	 WHERE a.id = p_attempt_id
	   AND a.email = v_email
	   AND NOT a.succeeded;

	-- login_lookup's count (without its LIMIT) as of this attempt: the
	-- failures up to it, after the last success before it. Attempts of one
	-- email are recorded in turn, so their ids give their order, and
	-- exactly one attempt of several concurrent ones is the one at which
	-- the count reaches the limit.
	IF FOUND THEN
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
	END IF;

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.login.failed', 'user', p_user_id::text, v_changes, NULL,
	                            v_actor_type, p_user_id);
	IF v_failures = p_max_attempts THEN
		PERFORM homebot.audit_event('auth.locked', 'user', p_user_id::text, v_changes, NULL,
		                            v_actor_type, p_user_id);
	END IF;
	PERFORM homebot.audit_context_reset(v_context);
END
$$;

-- login_start: after the password was verified, picks the organization and
-- opens a session. status: 'ok', 'account_disabled', 'not_a_member' (also
-- for a user that no longer exists), 'organization_suspended' or
-- 'password_changed'. Only 'ok' creates anything; the others write nothing
-- but an auth.login.failed audit event with the reason, and return NULL in
-- every other column.
--
-- p_verified_hash is the stored hash the password was checked against
-- (NULL: no password was checked, as for a switch of organization). The
-- user's row is locked and the session opens, and p_new_password_hash
-- (a re-hash at a higher cost) is written, only while that is still the
-- user's hash: a login that straddles a password change neither survives
-- it nor writes the old password back.
--
-- p_device_family and p_device_network are the device of a sign-in with
-- the user's credentials (NULL for a switch of organization: no device is
-- recorded); one that is news (sign_in_device_seen) mails the user a
-- notice with p_notice_link, the account's security page (api.md §12),
-- when the user's address is verified.
DROP FUNCTION IF EXISTS homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text);
-- Its answer gained email_verified: a new return type needs a new
-- function; then it gained the device of the sign-in and the link of its
-- notice (three arguments more: the old one goes).
DROP FUNCTION IF EXISTS homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text, text);
CREATE OR REPLACE FUNCTION homebot.login_start(p_user_id uuid, p_org_id uuid, p_ip text, p_user_agent text,
                                               p_request_id text, p_refresh_hash bytea, p_refresh_ttl integer,
                                               p_new_password_hash text, p_verified_hash text DEFAULT NULL,
                                               p_device_family text DEFAULT NULL, p_device_network cidr DEFAULT NULL,
                                               p_notice_link text DEFAULT NULL)
RETURNS TABLE (status text, session_id uuid, organization_id uuid, org_name text, org_slug text,
               role text, email text, full_name text, created_at timestamptz, email_verified boolean)
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
	v_context text[];
BEGIN
	SELECT * INTO v_user FROM homebot.users u WHERE u.id = p_user_id FOR UPDATE;

	IF v_user.id IS NULL THEN
		v_status := 'not_a_member';
	ELSIF p_verified_hash IS NOT NULL AND v_user.password_hash IS DISTINCT FROM p_verified_hash THEN
		v_status := 'password_changed';
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
		v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
		PERFORM homebot.audit_event('auth.login.failed', 'user', p_user_id::text,
		                            jsonb_build_object('email', lower(v_user.email), 'reason', v_status),
		                            NULL, 'user', p_user_id);
		PERFORM homebot.audit_context_reset(v_context);
		RETURN QUERY SELECT v_status, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
		                    NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean;
		RETURN;
	END IF;

	-- The stored hash had a lower bcrypt cost than configured (and is the
	-- one verified: the row is locked and was checked above).
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

	IF p_device_family IS NOT NULL AND p_device_network IS NOT NULL THEN
		-- Only to a verified address: an unproved one may be a stranger's,
		-- who would learn where the account's holder signs in from.
		IF homebot.sign_in_device_seen(p_user_id, p_device_family, p_device_network)
		   AND p_notice_link IS NOT NULL AND v_user.email_verified_at IS NOT NULL THEN
			PERFORM homebot.sign_in_notice(p_user_id, p_device_family, p_device_network, p_ip,
			                               p_notice_link);
		END IF;
	END IF;

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.login.succeeded', 'session', v_session_id::text, NULL, v_org_id,
	                            'user', p_user_id);
	PERFORM homebot.audit_context_reset(v_context);

	RETURN QUERY SELECT 'ok'::text, v_session_id, v_org_id, v_org.name, v_org.slug,
	                    v_role, v_user.email, v_user.full_name, v_user.created_at,
	                    v_user.email_verified_at IS NOT NULL;
END
$$;

-- register: a user, an organization, the owner membership, a session and
-- its first refresh token, in the caller's transaction. status 'ok' or
-- 'email_taken' (then every other column is NULL and nothing is written).
-- The device registered from (as login_start's) becomes the account's first
-- known device, so the first login from it mails nothing.
DROP FUNCTION IF EXISTS homebot.register(text, text, text, text, text, text, text, bytea, integer);
CREATE OR REPLACE FUNCTION homebot.register(p_email text, p_password_hash text, p_full_name text, p_org_name text,
                                            p_ip text, p_user_agent text, p_request_id text,
                                            p_refresh_hash bytea, p_refresh_ttl integer,
                                            p_device_family text DEFAULT NULL,
                                            p_device_network cidr DEFAULT NULL)
RETURNS TABLE (status text, user_id uuid, session_id uuid, organization_id uuid, org_name text,
               org_slug text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	-- chr(11) is the vertical tab: PostgreSQL's E'' strings have no \v
	-- (E'\v' is the letter v, which trimmed "victor@example.dev").
	v_email text := btrim(p_email, E' \t\r\n\f' || chr(11));
	v_user_agent text := left(p_user_agent, 512);
	v_user_id uuid;
	v_created_at timestamptz;
	v_org homebot.organizations%ROWTYPE;
	v_session_id uuid;
	v_constraint text;
	v_context text[];
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

	IF p_device_family IS NOT NULL AND p_device_network IS NOT NULL THEN
		PERFORM homebot.sign_in_device_seen(v_user_id, p_device_family, p_device_network);
	END IF;

	v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
	PERFORM homebot.audit_event('auth.register', 'user', v_user_id::text,
	                            jsonb_build_object('email', v_email, 'full_name', coalesce(p_full_name, '')),
	                            v_org.id, 'user', v_user_id);
	PERFORM homebot.audit_event('organization.created', 'organization', v_org.id::text,
	                            jsonb_build_object('name', p_org_name, 'slug', v_org.slug),
	                            v_org.id, 'user', v_user_id);
	PERFORM homebot.audit_context_reset(v_context);

	RETURN QUERY SELECT 'ok'::text, v_user_id, v_session_id, v_org.id, p_org_name, v_org.slug, v_created_at;
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
--   'expired'  the session began more than p_session_max_age seconds ago
--              (SESSION_MAX_AGE; NULL: no limit): however often it was
--              refreshed, it ends. The session is revoked; session_id,
--              user_id and organization_id are returned. COMMIT as above.
--   'ok'       rotated; every column is set.
DROP FUNCTION IF EXISTS homebot.refresh_rotate(bytea, bytea, integer, text, text, text);
-- Its answer gained email_verified: a new return type needs a new function.
DROP FUNCTION IF EXISTS homebot.refresh_rotate(bytea, bytea, integer, text, text, text, integer);
CREATE OR REPLACE FUNCTION homebot.refresh_rotate(p_old_hash bytea, p_new_hash bytea, p_refresh_ttl integer,
                                                  p_ip text, p_user_agent text, p_request_id text,
                                                  p_session_max_age integer DEFAULT NULL)
RETURNS TABLE (status text, session_id uuid, user_id uuid, organization_id uuid, org_name text,
               org_slug text, role text, email text, full_name text, created_at timestamptz,
               email_verified boolean)
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
	v_context text[];
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
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean;
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
		v_context := homebot.audit_context_default(p_ip, p_user_agent, p_request_id);
		PERFORM homebot.audit_event('auth.refresh.reused', 'session', v_session.id::text,
		                            jsonb_build_object('refresh_token_id', v_token.id),
		                            v_session.organization_id, 'user', v_session.user_id);
		PERFORM homebot.audit_context_reset(v_context);
		RETURN QUERY SELECT 'reused'::text, v_session.id, v_session.user_id, v_session.organization_id,
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean;
		RETURN;
	END IF;

	IF p_session_max_age IS NOT NULL AND v_session.revoked_at IS NULL
	   AND v_session.created_at <= now() - make_interval(secs => p_session_max_age) THEN
		UPDATE homebot.sessions s SET revoked_at = now() WHERE s.id = v_session.id;
		RETURN QUERY SELECT 'expired'::text, v_session.id, v_session.user_id, v_session.organization_id,
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean;
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
		                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean;
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
	                    v_role, v_user.email, v_user.full_name, v_user.created_at,
	                    v_user.email_verified_at IS NOT NULL;
END
$$;

-- user_teams computed a user's teams for the two authenticate functions;
-- member_access (R__access.sql) holds them now.
DROP FUNCTION IF EXISTS homebot.user_teams(uuid, uuid);

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
-- Its answer gained email_verified, then the teams (user_teams), then
-- mfa_enabled (the creator's, for the me object; require_mfa never holds
-- a key): a new return type needs a new function.
DROP FUNCTION IF EXISTS homebot.authenticate_api_key(text, bytea);
CREATE OR REPLACE FUNCTION homebot.authenticate_api_key(p_prefix text, p_key_hash bytea)
RETURNS TABLE (key_hash bytea, key_id uuid, key_name text, scopes text[], permissions text[],
               expired boolean, revoked boolean, organization_id uuid, org_name text, org_slug text,
               org_suspended boolean, user_id uuid, email text, full_name text,
               user_created_at timestamptz, user_disabled boolean, role text, email_verified boolean,
               teams text, team_ids text, team_leads text, mfa_enabled boolean)
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
	                      WHERE sc.permission = ANY (string_to_array(a.permissions, ','))) AS d
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
	       m.role,
	       u.email_verified_at IS NOT NULL,
	       a.teams,
	       a.team_ids,
	       a.team_leads,
	       u.mfa_enabled_at IS NOT NULL
	  FROM homebot.api_keys k
	  JOIN homebot.memberships m
	    ON m.organization_id = k.organization_id AND m.user_id = k.created_by AND m.status = 'active'
	  JOIN homebot.organizations o ON o.id = k.organization_id
	  JOIN homebot.users u ON u.id = k.created_by
	  JOIN homebot.member_access a ON a.organization_id = k.organization_id AND a.user_id = k.created_by
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

-- authenticate_session: the hot path of every token-authenticated request
-- (api.md §2) in one statement. It sets the tenant context of the token's
-- organization and user, transaction-locally (the context a policy reads;
-- audit context is set by the statements that write), then reads the
-- session, the active membership, the user, the organization and the
-- permissions. SECURITY INVOKER, the one exception to this schema's rule:
-- it runs as homebot_app under row-level security, so the policies decide
-- what it sees exactly as for any other statement of the request, and a
-- session of another organization is simply not there.
--
-- Call it as a statement of its own (autocommit), never inside a longer
-- transaction: the context it sets lasts until its transaction ends, and
-- lib/auth.c relies on that end to leave the next statement without it.
--
-- A plpgsql function because each server connection caches the plan of its
-- query, whoever calls it: the joins are not planned again. lib/auth.c
-- prepares "SELECT * FROM" it once per server connection (db_exec_named),
-- behind a transaction-mode pooler (PgBouncer) too. It answers in the caller's formats
-- (created_at in RFC 3339 UTC, permissions comma-separated and sorted), so
-- that the statement sent stays short. No row, or revoked/disabled/
-- suspended: the caller's to refuse. The role comes from the membership, not the token, so
-- a role change or removal applies to the very next request.
-- The permissions and the user's teams (the me object's teams and the
-- request's team context, app.team_ids and app.team_leads, set with the
-- rest of the context by lib/db.c) are read ready-made from member_access
-- (R__access.sql), whose triggers recompute them in the same
-- transaction as any change to them.
-- Uses sessions_pkey, memberships_pkey, users_pkey, organizations_pkey
-- and member_access_pkey.
-- Its answer gained the teams, then mfa_enabled and mfa_blocked (TOTP is
-- off and the organization's settings say require_mfa: true, read from
-- the organization row it joins anyway): a new return type needs a new
-- function.
DROP FUNCTION IF EXISTS homebot.authenticate_session(uuid, uuid, uuid);
CREATE OR REPLACE FUNCTION homebot.authenticate_session(p_session uuid, p_user uuid, p_org uuid)
RETURNS TABLE (user_id uuid, organization_id uuid, email text, full_name text,
               created_at text, disabled boolean, email_verified boolean,
               org_name text, org_slug text, suspended boolean, role text,
               permissions text, revoked boolean, is_superadmin boolean,
               teams text, team_ids text, team_leads text,
               mfa_enabled boolean, mfa_blocked boolean)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM set_config('app.org_id', coalesce(p_org::text, ''), true),
	        set_config('app.user_id', coalesce(p_user::text, ''), true);
	RETURN QUERY
	SELECT s.user_id,
	       s.organization_id,
	       u.email::text,
	       u.full_name,
	       to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	       u.disabled_at IS NOT NULL,
	       u.email_verified_at IS NOT NULL,
	       o.name,
	       o.slug::text,
	       o.suspended_at IS NOT NULL,
	       m.role::text,
	       a.permissions,
	       s.revoked_at IS NOT NULL,
	       u.is_superadmin,
	       a.teams,
	       a.team_ids,
	       a.team_leads,
	       u.mfa_enabled_at IS NOT NULL,
	       -- require_mfa (api.md §12): a member without TOTP in an
	       -- organization whose settings say true is held at enrolment.
	       u.mfa_enabled_at IS NULL AND coalesce(o.settings -> 'require_mfa' = 'true'::jsonb, false)
	  FROM homebot.sessions s
	  JOIN homebot.memberships m
	    ON m.organization_id = s.organization_id AND m.user_id = s.user_id AND m.status = 'active'
	  JOIN homebot.users u ON u.id = s.user_id
	  JOIN homebot.organizations o ON o.id = s.organization_id
	  JOIN homebot.member_access a ON a.organization_id = s.organization_id AND a.user_id = s.user_id
	 WHERE s.id = p_session AND s.user_id = p_user AND s.organization_id = p_org;
END
$$;

REVOKE ALL ON FUNCTION homebot.authenticate_session(uuid, uuid, uuid)
FROM PUBLIC, homebot_app, homebot_admin;
-- The admin program authenticates its callers' tokens with it too.
GRANT EXECUTE ON FUNCTION homebot.authenticate_session(uuid, uuid, uuid) TO homebot_app, homebot_admin;

REVOKE ALL ON FUNCTION
	homebot.auth_rate_hit(text, text, integer),
	homebot.login_lookup(text, integer, integer, text),
	homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint),
	homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text, text, text, cidr, text),
	homebot.register(text, text, text, text, text, text, text, bytea, integer, text, cidr),
	homebot.refresh_rotate(bytea, bytea, integer, text, text, text, integer),
	homebot.authenticate_api_key(text, bytea)
FROM PUBLIC, homebot_app, homebot_admin;

GRANT EXECUTE ON FUNCTION
	homebot.auth_rate_hit(text, text, integer),
	homebot.login_lookup(text, integer, integer, text),
	homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint),
	homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text, text, text, cidr, text),
	homebot.register(text, text, text, text, text, text, text, bytea, integer, text, cidr),
	homebot.refresh_rotate(bytea, bytea, integer, text, text, text, integer),
	homebot.authenticate_api_key(text, bytea)
TO homebot_app;
