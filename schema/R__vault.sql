-- Secrets (api.md §11): the row metadata and audit triggers of
-- homebot.secrets and its soft delete. The tables are in 0012_secrets.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. It comes after R__teams.sql, whose
-- row_metadata() it uses.

CREATE OR REPLACE TRIGGER row_metadata BEFORE INSERT OR UPDATE ON homebot.secrets
	FOR EACH ROW EXECUTE FUNCTION homebot.row_metadata();

-- secret_audit: secret.created, secret.updated (a new value or
-- description), secret.deleted (the soft delete), secret.purged. The
-- changes name the value's version, never a value (which the database
-- never sees in clear anyway).
CREATE OR REPLACE FUNCTION homebot.secret_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_action text;
	v_changes jsonb;
	v_row homebot.secrets := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	v_audit_id uuid;
BEGIN
	IF TG_OP = 'INSERT' THEN
		v_action := 'secret.created';
		v_changes := jsonb_build_object('name', NEW.name, 'team_id', NEW.team_id);
	ELSIF TG_OP = 'DELETE' THEN
		v_action := 'secret.purged';
		v_changes := jsonb_build_object('name', OLD.name);
	ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
		v_action := 'secret.deleted';
		v_changes := jsonb_build_object('name', NEW.name);
	ELSE
		v_action := 'secret.updated';
		v_changes := jsonb_build_object('old', jsonb_build_object('description', OLD.description,
		                                                          'value_version', OLD.value_version),
		                                'new', jsonb_build_object('description', NEW.description,
		                                                          'value_version', NEW.value_version));
	END IF;
	v_audit_id := homebot.audit_event(v_action, 'secret', v_row.id::text, v_changes, v_row.organization_id);
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER secret_audit AFTER INSERT OR DELETE ON homebot.secrets
	FOR EACH ROW EXECUTE FUNCTION homebot.secret_audit();
CREATE OR REPLACE TRIGGER secret_audit_update AFTER UPDATE ON homebot.secrets
	FOR EACH ROW WHEN (OLD.description IS DISTINCT FROM NEW.description
	                   OR OLD.value_version IS DISTINCT FROM NEW.value_version
	                   OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
	EXECUTE FUNCTION homebot.secret_audit();

-- secret_delete (DELETE /api/v1/secrets/{id}): the soft delete of a secret
-- the request sees (organization and team scope, as its policy), when
-- p_version is NULL or its version: 'ok', 'not_found' or 'stale'. A
-- function for the reason team_delete is one.
CREATE OR REPLACE FUNCTION homebot.secret_delete(p_id uuid, p_version integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_version integer;
BEGIN
	-- secrets_pkey
	SELECT s.version INTO v_version
	  FROM homebot.secrets s
	 WHERE s.organization_id = v_org_id AND s.id = p_id AND s.deleted_at IS NULL
	   AND (s.team_id IS NULL
	        OR s.team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	        OR (SELECT current_setting('app.teams_write', true)) = 'true')
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 'not_found';
	END IF;
	IF p_version IS NOT NULL AND p_version <> v_version THEN
		RETURN 'stale';
	END IF;
	UPDATE homebot.secrets s SET deleted_at = now() WHERE s.organization_id = v_org_id AND s.id = p_id;
	-- The values go at once: a deleted secret is never revealed again.
	DELETE FROM homebot.secret_values v WHERE v.organization_id = v_org_id AND v.secret_id = p_id;
	RETURN 'ok';
END
$$;

-- secret_reveal (POST /api/v1/secrets/{id}/reveal): the current value's
-- version and ciphertext and the organization's wrapped data key of a
-- secret the request sees (organization, deleted_at and team scope, as
-- the policies of secrets and secret_values), and, in the same call, its
-- secret.revealed audit event by the context's actor: no row read, no
-- event. A function so that each server connection caches its plans (a
-- plain statement spent as long being planned as being run), SECURITY
-- DEFINER for audit_event, the one writer of the audit log. The database
-- sees ciphertext and a wrapped key only: lib/secret.c decrypts.
CREATE OR REPLACE FUNCTION homebot.secret_reveal(p_id uuid)
RETURNS TABLE (value_version bigint, ciphertext bytea, wrapped bytea)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_version bigint;
	v_ciphertext bytea;
	v_wrapped bytea;
	v_audit_id uuid;
BEGIN
	-- secrets_pkey, secret_values_pkey, vault_data_keys_pkey
	SELECT s.value_version, v.ciphertext, k.wrapped INTO v_version, v_ciphertext, v_wrapped
	  FROM homebot.secrets s
	  JOIN homebot.secret_values v
	    ON v.organization_id = s.organization_id AND v.secret_id = s.id AND v.version = s.value_version
	  LEFT JOIN homebot.vault_data_keys k ON k.organization_id = s.organization_id
	 WHERE s.organization_id = v_org_id AND s.id = p_id AND s.deleted_at IS NULL
	   AND (s.team_id IS NULL
	        OR s.team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	        OR (SELECT current_setting('app.teams_write', true)) = 'true');
	IF NOT FOUND THEN
		RETURN;
	END IF;
	-- Assignments and RETURN NEXT, not PERFORM and RETURN QUERY: PL/pgSQL
	-- evaluates them without starting an executor for each.
	v_audit_id := homebot.audit_event('secret.revealed', 'secret', p_id::text,
	                                  jsonb_build_object('value_version', v_version), v_org_id);
	value_version := v_version;
	ciphertext := v_ciphertext;
	wrapped := v_wrapped;
	RETURN NEXT;
END
$$;

-- secret_create (POST /api/v1/secrets): the secret p_id of organization
-- p_org and its first value (p_ciphertext, which lib/secret.c sealed for
-- version 1 of that id), in the open transaction: the new secret as the
-- API shows it, or no row when a live secret of the organization has the
-- name (nothing is written then). SECURITY INVOKER: the caller's policies
-- of secrets and secret_values decide, as they did for the two statements
-- it replaces, and its triggers write the row metadata and the audit
-- events. A function so that each server connection keeps its plans:
-- planned afresh each time, the two inserts cost about as much to plan
-- as to run. With p_wrapped (the wrapped data key a secrets process kept
-- and sealed p_ciphertext under, lib/secret.c): a row of NULLs, nothing
-- written, unless it is exactly the organization's stored one (a restore
-- to before the organization's first secret, or a rotation's re-wrapping,
-- since the process read it); the caller then reads the key again. Its
-- parameter came later: a new signature, the old one dropped.
DROP FUNCTION IF EXISTS homebot.secret_create(uuid, uuid, uuid, text, text, bytea, text);
CREATE OR REPLACE FUNCTION homebot.secret_create(p_org uuid, p_id uuid, p_team uuid, p_name text,
                                                 p_description text, p_ciphertext bytea,
                                                 p_hint text, p_wrapped bytea DEFAULT NULL)
RETURNS TABLE (id uuid, name text, description text, team_id uuid, hint text,
               value_version bigint, created_at text, updated_at text, created_by uuid,
               updated_by uuid, version integer)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_row homebot.secrets;
BEGIN
	-- vault_data_keys_pkey, under the caller's policy
	IF p_wrapped IS NOT NULL AND NOT EXISTS (SELECT FROM homebot.vault_data_keys k
	                                          WHERE k.organization_id = p_org
	                                            AND k.wrapped = p_wrapped) THEN
		RETURN NEXT;
		RETURN;
	END IF;
	INSERT INTO homebot.secrets AS s (organization_id, id, team_id, name, description)
	VALUES (p_org, p_id, p_team, p_name, coalesce(p_description, ''))
	ON CONFLICT (organization_id, name) WHERE deleted_at IS NULL DO NOTHING
	RETURNING s.* INTO v_row;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO homebot.secret_values (organization_id, secret_id, version, ciphertext, hint)
	VALUES (p_org, p_id, 1, p_ciphertext, NULLIF(p_hint, ''));
	RETURN QUERY SELECT v_row.id, v_row.name, v_row.description, v_row.team_id, NULLIF(p_hint, ''),
	                    v_row.value_version,
	                    to_char(v_row.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	                    to_char(v_row.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	                    v_row.created_by, v_row.updated_by, v_row.version;
END
$$;

REVOKE ALL ON FUNCTION homebot.secret_audit(), homebot.secret_delete(uuid, integer),
	homebot.secret_reveal(uuid),
	homebot.secret_create(uuid, uuid, uuid, text, text, bytea, text, bytea)
FROM PUBLIC, homebot_app, homebot_admin, homebot_worker;
GRANT EXECUTE ON FUNCTION homebot.secret_delete(uuid, integer), homebot.secret_reveal(uuid),
	homebot.secret_create(uuid, uuid, uuid, text, text, bytea, text, bytea)
TO homebot_app;

-- Master-key rotation (`make vault-rotate`, the job vault.rotate; lib/
-- vault_rotate.c): the C side holds the master keys and re-wraps each
-- data key; these three functions let homebot_worker, and it alone, walk
-- every organization's data key despite row-level security, never seeing
-- a key in clear (a wrapped key is ciphertext under the master key).
--
-- vault_rotate_take: the next p_limit data keys after the organization
-- p_after (NULL: from the first), in organization order, locked for the
-- caller's transaction; rows another rotation holds are skipped (that one
-- re-wraps them), so two runs at once share the work.
CREATE OR REPLACE FUNCTION homebot.vault_rotate_take(p_after uuid, p_limit integer)
RETURNS TABLE (organization_id uuid, wrapped bytea)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	-- vault_data_keys_pkey, a range from p_after (the nil UUID is the least)
	SELECT k.organization_id, k.wrapped
	  FROM homebot.vault_data_keys k
	 WHERE k.organization_id > coalesce(p_after, '00000000-0000-0000-0000-000000000000')
	 ORDER BY k.organization_id
	 LIMIT least(greatest(p_limit, 1), 1000)
	   FOR UPDATE SKIP LOCKED
$$;

-- vault_rotate_put: the re-wrapped keys (hex) of a batch in one
-- statement, each only where the row still holds the wrapping it was
-- read with (hex): the number of rows written.
CREATE OR REPLACE FUNCTION homebot.vault_rotate_put(p_orgs uuid[], p_old text[], p_new text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_n integer := 0;
	v_one integer;
BEGIN
	IF cardinality(p_orgs) IS DISTINCT FROM cardinality(p_old)
	   OR cardinality(p_orgs) IS DISTINCT FROM cardinality(p_new) THEN
		RAISE EXCEPTION 'vault_rotate_put: the arrays differ in length';
	END IF;
	-- A row at a time through vault_data_keys_pkey, one cached plan: a
	-- join of the arrays planned anew for each batch costs more than
	-- the batch's writes.
	FOR i IN 1 .. coalesce(cardinality(p_orgs), 0) LOOP
		UPDATE homebot.vault_data_keys k SET wrapped = decode(p_new[i], 'hex')
		 WHERE k.organization_id = p_orgs[i] AND k.wrapped = decode(p_old[i], 'hex');
		GET DIAGNOSTICS v_one = ROW_COUNT;
		v_n := v_n + v_one;
	END LOOP;
	RETURN v_n;
END
$$;

-- vault_rotate_pending: how many data keys are not under the master key
-- of key id p_kid (the key id is the wrapped key's header, lib/vault.h).
CREATE OR REPLACE FUNCTION homebot.vault_rotate_pending(p_kid text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT count(*)
	  FROM homebot.vault_data_keys k
	 WHERE substring(k.wrapped FROM 3 FOR get_byte(k.wrapped, 1)) <> convert_to(p_kid, 'UTF8')
$$;

REVOKE ALL ON FUNCTION homebot.vault_rotate_take(uuid, integer),
	homebot.vault_rotate_put(uuid[], text[], text[]), homebot.vault_rotate_pending(text)
FROM PUBLIC, homebot_app, homebot_admin, homebot_worker;
GRANT EXECUTE ON FUNCTION homebot.vault_rotate_take(uuid, integer),
	homebot.vault_rotate_put(uuid[], text[], text[]), homebot.vault_rotate_pending(text)
TO homebot_worker;

-- The same three for the per-user data keys of the two-factor secrets
-- (homebot.user_totp, 0015_mfa.sql; lib/mfa.c binds each to
-- "user:<user id>"): a rotation walks them after the organizations', so
-- no master key is retired while a user's second factor still needs it.
-- Only wrapped_key changes: the secret stays encrypted under the same
-- data key, and a newer enrolment meanwhile (another wrapped_key) is not
-- written over.
CREATE OR REPLACE FUNCTION homebot.vault_rotate_totp_take(p_after uuid, p_limit integer)
RETURNS TABLE (user_id uuid, wrapped_key bytea)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	-- user_totp_pkey, a range from p_after (the nil UUID is the least)
	SELECT t.user_id, t.wrapped_key
	  FROM homebot.user_totp t
	 WHERE t.user_id > coalesce(p_after, '00000000-0000-0000-0000-000000000000')
	 ORDER BY t.user_id
	 LIMIT least(greatest(p_limit, 1), 1000)
	   FOR UPDATE SKIP LOCKED
$$;

CREATE OR REPLACE FUNCTION homebot.vault_rotate_totp_put(p_users uuid[], p_old text[], p_new text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_n integer := 0;
	v_one integer;
BEGIN
	IF cardinality(p_users) IS DISTINCT FROM cardinality(p_old)
	   OR cardinality(p_users) IS DISTINCT FROM cardinality(p_new) THEN
		RAISE EXCEPTION 'vault_rotate_totp_put: the arrays differ in length';
	END IF;
	FOR i IN 1 .. coalesce(cardinality(p_users), 0) LOOP
		UPDATE homebot.user_totp t SET wrapped_key = decode(p_new[i], 'hex')
		 WHERE t.user_id = p_users[i] AND t.wrapped_key = decode(p_old[i], 'hex');
		GET DIAGNOSTICS v_one = ROW_COUNT;
		v_n := v_n + v_one;
	END LOOP;
	RETURN v_n;
END
$$;

CREATE OR REPLACE FUNCTION homebot.vault_rotate_totp_pending(p_kid text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT count(*)
	  FROM homebot.user_totp t
	 WHERE substring(t.wrapped_key FROM 3 FOR get_byte(t.wrapped_key, 1)) <> convert_to(p_kid, 'UTF8')
$$;

REVOKE ALL ON FUNCTION homebot.vault_rotate_totp_take(uuid, integer),
	homebot.vault_rotate_totp_put(uuid[], text[], text[]), homebot.vault_rotate_totp_pending(text)
FROM PUBLIC, homebot_app, homebot_admin, homebot_worker;
GRANT EXECUTE ON FUNCTION homebot.vault_rotate_totp_take(uuid, integer),
	homebot.vault_rotate_totp_put(uuid[], text[], text[]), homebot.vault_rotate_totp_pending(text)
TO homebot_worker;
