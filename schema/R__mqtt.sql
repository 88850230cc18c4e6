-- The MQTT broker plugin's side of the database (api.md §8,
-- mqtt/homebot_auth.c): the notifications that make it disconnect a client
-- whose credential stopped working, and the audit function it writes its
-- connection events with.
--
-- A repeatable file (docs/migrations.md): everything here can run twice.

-- mqtt_revoked: NOTIFY homebot_mqtt with what a change may have taken
-- away, for the plugin to check its clients against again. The payload
-- names only ids, never a secret:
--   session:<id>            a session revoked (logout, revocation) or gone
--   key:<id>                an API key revoked, expired or gone
--   user:<id>               a user disabled or gone
--   org:<id>                an organization suspended or gone
--   member:<org>:<user>     a membership changed (role, status) or removed,
--                           or a grant of extra permissions taken
--   all                     the role table changed
-- NOTIFY is sent at commit, and not at all when the change rolls back;
-- PostgreSQL folds identical payloads of one transaction into one.
-- Which change counts is in the triggers' WHEN clauses, so the many
-- updates that take nothing away (last_used_at, names) cost no call.
CREATE OR REPLACE FUNCTION homebot.mqtt_revoked()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	r record;
	v_payload text := 'all';
BEGIN
	-- One branch a table: a row's fields are only looked up in its own.
	IF TG_LEVEL = 'ROW' THEN
		r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
		IF TG_TABLE_NAME = 'sessions' THEN
			v_payload := 'session:' || r.id;
		ELSIF TG_TABLE_NAME = 'api_keys' THEN
			v_payload := 'key:' || r.id;
		ELSIF TG_TABLE_NAME = 'users' THEN
			v_payload := 'user:' || r.id;
		ELSIF TG_TABLE_NAME = 'organizations' THEN
			v_payload := 'org:' || r.id;
		ELSIF TG_TABLE_NAME IN ('memberships', 'user_permissions') THEN
			v_payload := 'member:' || r.organization_id || ':' || r.user_id;
		END IF;
	END IF;
	PERFORM pg_notify('homebot_mqtt', v_payload);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION homebot.mqtt_revoked() FROM PUBLIC, homebot_app, homebot_admin;

CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE ON homebot.sessions
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked_update AFTER UPDATE ON homebot.sessions
	FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL)
	EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE ON homebot.api_keys
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked_update AFTER UPDATE ON homebot.api_keys
	FOR EACH ROW WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
	                   OR NEW.expires_at IS DISTINCT FROM OLD.expires_at
	                   OR NEW.scopes IS DISTINCT FROM OLD.scopes)
	EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE ON homebot.users
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked_update AFTER UPDATE ON homebot.users
	FOR EACH ROW WHEN (NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL)
	EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE ON homebot.organizations
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked_update AFTER UPDATE ON homebot.organizations
	FOR EACH ROW WHEN (NEW.suspended_at IS NOT NULL AND OLD.suspended_at IS NULL)
	EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE ON homebot.memberships
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked_update AFTER UPDATE ON homebot.memberships
	FOR EACH ROW WHEN (NEW.role IS DISTINCT FROM OLD.role OR NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE OR UPDATE ON homebot.user_permissions
	FOR EACH ROW EXECUTE FUNCTION homebot.mqtt_revoked();
CREATE OR REPLACE TRIGGER mqtt_revoked AFTER DELETE OR UPDATE ON homebot.role_permissions
	FOR EACH STATEMENT EXECUTE FUNCTION homebot.mqtt_revoked();

-- mqtt_audit: the plugin's audit events (mqtt.connected, mqtt.refused,
-- mqtt.disconnected), written outside any HTTP request. The plugin runs as
-- homebot_app and names the organization of the verified credential (NULL
-- for a refused one: a platform event), the actor (the user, or the API
-- key), the client id as the target and the client's address; changes
-- carries the reason. SECURITY DEFINER because a refused CONNECT has no
-- organization whose tenant context could admit the row; it writes only
-- these three actions.
CREATE OR REPLACE FUNCTION homebot.mqtt_audit(p_action text, p_org_id uuid, p_actor_type text,
                                              p_actor_id uuid, p_client_id text, p_ip text,
                                              p_reason text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	IF p_action NOT IN ('mqtt.connected', 'mqtt.refused', 'mqtt.disconnected') THEN
		RAISE EXCEPTION 'mqtt_audit: % is not an MQTT event', p_action USING ERRCODE = '22023';
	END IF;
	IF p_actor_type IS NOT NULL AND p_actor_type NOT IN ('user', 'api_key') THEN
		RAISE EXCEPTION 'mqtt_audit: actor type %', p_actor_type USING ERRCODE = '22023';
	END IF;
	PERFORM set_config('app.ip', coalesce(left(p_ip, 64), ''), true);
	RETURN homebot.audit_event(p_action, 'mqtt_client', left(p_client_id, 128),
	                           CASE WHEN p_reason IS NULL THEN NULL
	                                ELSE jsonb_build_object('reason', left(p_reason, 200)) END,
	                           p_org_id, coalesce(p_actor_type, 'system'),
	                           CASE WHEN p_actor_type IS NULL THEN NULL ELSE p_actor_id END);
END
$$;
REVOKE ALL ON FUNCTION homebot.mqtt_audit(text, uuid, text, uuid, text, text, text)
FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.mqtt_audit(text, uuid, text, uuid, text, text, text) TO homebot_app;
