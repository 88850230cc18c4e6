-- The audit trail's functions and triggers (api.md §4): the request's
-- context (request_context), the one function that writes audit events
-- (audit_event, which also says who acts), and the triggers that put
-- every row change of the tenant tables (and users) into the log.
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
--   app.trace_id     the request's W3C trace ID (api.md §1)
--   app.team_ids     the user's teams, '{a,b}' (0009_teams.sql)
--   app.team_leads   the teams the user leads, '{a}'
--   app.teams_write  'true' when the role may write every team
-- Each is read as NULLIF(current_setting(..., true), '') (see 0001_init.sql).

-- request_context: sets the ten settings above, transaction-locally, each
-- NULL as '' (none), for the statements that follow in the caller's
-- transaction (lib/db.c sends it before every tenant statement, in the
-- same round trip). A function, not the ten set_config calls as one
-- statement: that statement was parsed and planned afresh on every
-- request, and cost about as much as the statement it served; a
-- function's plan is kept per server connection. The settings outlive
-- the call: a function's SET clause restores only the settings it names
-- (23_authenticate_session.sql asserts it). SECURITY INVOKER: it sets
-- only its caller's own settings and reads no table.
CREATE OR REPLACE FUNCTION homebot.request_context(p_org_id text, p_user_id text, p_request_id text,
                                                  p_api_key_id text, p_ip text, p_user_agent text,
                                                  p_trace_id text, p_team_ids text,
                                                  p_team_leads text, p_teams_write text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM set_config('app.org_id', coalesce(p_org_id, ''), true),
	        set_config('app.user_id', coalesce(p_user_id, ''), true),
	        set_config('app.request_id', coalesce(p_request_id, ''), true),
	        set_config('app.api_key_id', coalesce(p_api_key_id, ''), true),
	        set_config('app.ip', coalesce(p_ip, ''), true),
	        set_config('app.user_agent', coalesce(p_user_agent, ''), true),
	        set_config('app.trace_id', coalesce(p_trace_id, ''), true),
	        set_config('app.team_ids', coalesce(p_team_ids, ''), true),
	        set_config('app.team_leads', coalesce(p_team_leads, ''), true),
	        set_config('app.teams_write', coalesce(p_teams_write, ''), true);
END
$$;

-- context_actor was audit_event's (an SQL function with a SET clause,
-- parsed and planned again at every audit event); audit_event reads the
-- actor itself now.
DROP FUNCTION IF EXISTS homebot.context_actor();

-- audit_redact: p_value without any object key ending in "_hash", at every
-- level (password_hash, token_hash, key_hash, and whatever hash a later
-- column or a settings document carries), nor the vault's blobs
-- (ciphertext, wrapped: encrypted, but a copy of them is no record).
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
			  WHERE e.key !~ '_hash$' AND e.key NOT IN ('ciphertext', 'wrapped')),
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


-- audit_event: writes one audit event and returns its id. Every audit
-- event written in SQL comes from here (the row triggers' and the
-- functions'), so the context is read in one place: the IP, the user
-- agent (at most 512 characters) and the request ID are the transaction's
-- (app.ip, app.user_agent, app.request_id), and the actor is the
-- request's unless p_actor_type names one: the functions
-- that act before anyone is authenticated (a login, a registration) or on
-- behalf of a given user name their actor themselves. p_org_id NULL makes
-- a platform event, which only the definer functions and the admin role
-- read. SECURITY DEFINER: it writes events the caller itself may not
-- (other organizations, platform events), so the runtime roles may not
-- call it.
CREATE OR REPLACE FUNCTION homebot.audit_event(p_action text, p_target_type text, p_target_id text,
                                               p_changes jsonb, p_org_id uuid,
                                               p_actor_type text DEFAULT NULL, p_actor_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_actor_type text := p_actor_type;
	v_actor_id uuid := p_actor_id;
	v_key uuid;
	v_id uuid;
BEGIN
	-- The request's actor: its API key when it came with one (the key's
	-- creator is only on whose behalf it acts), else its user, else the
	-- system (no request context at all).
	IF v_actor_type IS NULL THEN
		v_key := NULLIF(current_setting('app.api_key_id', true), '')::uuid;
		v_actor_id := coalesce(v_key, NULLIF(current_setting('app.user_id', true), '')::uuid);
		v_actor_type := CASE WHEN v_key IS NOT NULL THEN 'api_key'
		                     WHEN v_actor_id IS NOT NULL THEN 'user'
		                     ELSE 'system' END;
	END IF;

	INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
	                               target_id, ip, user_agent, request_id, changes)
	VALUES (p_org_id, v_actor_type, v_actor_id, p_action, p_target_type, p_target_id,
	        NULLIF(current_setting('app.ip', true), ''),
	        left(NULLIF(current_setting('app.user_agent', true), ''), 512),
	        NULLIF(current_setting('app.request_id', true), ''),
	        p_changes)
	RETURNING id INTO v_id;
	RETURN v_id;
END
$$;

-- audit_context_default: for the functions whose callers pass the IP, the
-- user agent and the request ID as arguments rather than setting the
-- context (login, registration, refresh, accepting an invitation, the
-- admin's new organization): makes each argument the transaction's
-- context setting where the context has none, so that audit_event finds
-- it, and returns the names of the settings it set. Those functions call
-- it right before their audit events and audit_context_reset right after,
-- so that the row events before and the statements after see the context
-- as the caller left it. (A function's SET clause restores only the
-- settings it names: set_config(..., true) of any other setting inside a
-- function outlives the call, until the transaction ends.)
CREATE OR REPLACE FUNCTION homebot.audit_context_default(p_ip text, p_user_agent text, p_request_id text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_set text[] := '{}';
	v_name text;
	v_value text;
BEGIN
	FOR v_name, v_value IN
		VALUES ('app.ip', p_ip), ('app.user_agent', p_user_agent), ('app.request_id', p_request_id)
	LOOP
		IF v_value IS NOT NULL AND NULLIF(current_setting(v_name, true), '') IS NULL THEN
			PERFORM set_config(v_name, v_value, true);
			v_set := v_set || v_name;
		END IF;
	END LOOP;
	RETURN v_set;
END
$$;

-- audit_context_reset: empties again the settings audit_context_default
-- set (p_names, as it returned them). Empty reads as unset: every reader
-- takes NULLIF(current_setting(...), '').
CREATE OR REPLACE FUNCTION homebot.audit_context_reset(p_names text[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_name text;
BEGIN
	FOREACH v_name IN ARRAY coalesce(p_names, '{}') LOOP
		IF v_name IN ('app.ip', 'app.user_agent', 'app.request_id') THEN
			PERFORM set_config(v_name, '', true);
		END IF;
	END LOOP;
END
$$;

-- audit_fill_context: every audit row carries the request's IP, user agent
-- and request ID, also the rows the programs insert themselves (lib/audit.c,
-- the API key program): the request sets them transaction-locally
-- (app.ip, app.user_agent, app.request_id) and this fills in whatever the
-- writer left empty. The trace ID is the context's alone (app.trace_id),
-- whatever the writer gave.
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
	NEW.trace_id := NULLIF(current_setting('app.trace_id', true), '');
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
-- "old" (not on INSERT) and "new" (not on DELETE), redacted. The actor is
-- the request's (audit_event).
CREATE OR REPLACE FUNCTION homebot.audit_row()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_old jsonb;
	v_new jsonb;
	v_row jsonb;
	v_audit_id uuid;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		v_old := to_jsonb(OLD);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		v_new := to_jsonb(NEW);
	END IF;
	v_row := coalesce(v_new, v_old);

	-- An assignment, not PERFORM: PL/pgSQL evaluates it without starting
	-- an executor (it runs for every row change of every tenant table).
	v_audit_id := homebot.audit_event(
		'row.' || TG_TABLE_NAME || '.' || lower(TG_OP), TG_TABLE_NAME, v_row ->> TG_ARGV[1],
		CASE WHEN v_old IS NULL THEN '{}'::jsonb
		     ELSE jsonb_build_object('old', homebot.audit_redact(v_old)) END
		|| CASE WHEN v_new IS NULL THEN '{}'::jsonb
		        ELSE jsonb_build_object('new', homebot.audit_redact(v_new)) END,
		CASE WHEN TG_ARGV[0] <> '' THEN (v_row ->> TG_ARGV[0])::uuid END);
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
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.platform_settings
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('', 'key');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.platform_settings
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('', 'key');

CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.teams
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.teams
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.team_members
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'team_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.team_members
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'team_id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.vault_data_keys
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'organization_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.vault_data_keys
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'organization_id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.secrets
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.secrets
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.secret_values
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'secret_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.secret_values
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'secret_id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.connections
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.connections
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'id');
CREATE OR REPLACE TRIGGER audit_row AFTER INSERT OR DELETE ON homebot.connection_secrets
	FOR EACH ROW EXECUTE FUNCTION homebot.audit_row('organization_id', 'connection_id');
CREATE OR REPLACE TRIGGER audit_row_update AFTER UPDATE ON homebot.connection_secrets
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION homebot.audit_row('organization_id', 'connection_id');

-- Only definer functions and triggers call these; no runtime role may.
REVOKE ALL ON FUNCTION
	homebot.audit_redact(jsonb),
	homebot.audit_event(text, text, text, jsonb, uuid, text, uuid),
	homebot.audit_context_default(text, text, text),
	homebot.audit_context_reset(text[]),
	homebot.audit_fill_context(),
	homebot.audit_row()
FROM PUBLIC, homebot_app, homebot_admin;

-- Every runtime role sets its requests' context (the programs, the admin
-- program, the worker's jobs).
REVOKE ALL ON FUNCTION
	homebot.request_context(text, text, text, text, text, text, text, text, text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	homebot.request_context(text, text, text, text, text, text, text, text, text, text)
TO homebot_app, homebot_admin, homebot_worker;
