-- The audit trail's functions and triggers (api.md §4): who acts
-- (context_actor), and the triggers that put every row change of the
-- tenant tables (and users) into the log.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes, so everything here can run twice:
-- CREATE OR REPLACE, and grants that say the whole truth. Edit a function
-- here, in place; never copy it into a numbered migration.
--
-- Context settings (transaction-local, set by the request path):
--   app.org_id       the organization of the credential
--   app.user_id      the authenticated user
--   app.api_key_id   the API key, when the request came with one
--   app.ip           the client's address
--   app.user_agent   the client's User-Agent
--   app.request_id   the request's X-Request-ID
-- Each is read as NULLIF(current_setting(..., true), '') (see 0001_init.sql).

-- context_actor: who the request acts as. An API key is the actor when the
-- request came with one (its creator is only on whose behalf it acts), else
-- the authenticated user, else the system (no request context at all).
CREATE OR REPLACE FUNCTION homebot.context_actor(OUT actor_type text, OUT actor_id uuid)
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
CREATE OR REPLACE FUNCTION homebot.audit_redact(p_value jsonb)
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


-- audit_fill_context: every audit row carries the request's IP, user agent
-- and request ID, also the rows the programs insert themselves (lib/audit.c,
-- the API key program): the request sets them transaction-locally
-- (app.ip, app.user_agent, app.request_id) and this fills in whatever the
-- writer left empty.
CREATE OR REPLACE FUNCTION homebot.audit_fill_context()
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

CREATE OR REPLACE TRIGGER audit_fill_context BEFORE INSERT ON homebot.audit_log
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_fill_context();

-- audit_row: the trigger that writes one audit event per row change, so
-- that no path (function, request, admin program, psql as the owner)
-- changes a tenant row unrecorded. Arguments: the column holding the
-- organization ('' for none: users are global) and the column naming the
-- target. action is row.<table>.<insert|update|delete>; changes holds
-- "old" (not on INSERT) and "new" (not on DELETE), redacted. SECURITY
-- DEFINER: it writes events the caller itself may not (other organizations,
-- platform events).
CREATE OR REPLACE FUNCTION homebot.audit_row()
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
-- calling the function at all. A new tenant table gets its two lines here,
-- in the change that adds its numbered migration.
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.organizations
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.organizations
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.users
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.users
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.memberships
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.memberships
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.user_permissions
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.user_permissions
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'user_id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.sessions
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.sessions
	FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
	EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.refresh_tokens
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.refresh_tokens
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.api_keys
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.api_keys
	FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
	EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.invitations
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.invitations
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');

-- Only definer functions and triggers call these; no runtime role may.
REVOKE ALL ON FUNCTION
	homebot.context_actor(),
	homebot.audit_redact(jsonb),
	homebot.audit_fill_context(),
	homebot.audit_row()
FROM PUBLIC, homebot_app, homebot_admin;
