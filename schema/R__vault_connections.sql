-- Connections (api.md §11): the row metadata and audit triggers of
-- homebot.connections and its soft delete. The tables are in
-- 0013_connections.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. It comes after R__teams.sql, whose
-- row_metadata() it uses.

CREATE OR REPLACE TRIGGER row_metadata BEFORE INSERT OR UPDATE ON homebot.connections
	FOR EACH ROW EXECUTE FUNCTION homebot.row_metadata();

-- connection_audit: connection.created, connection.updated,
-- connection.deleted (the soft delete), connection.purged. The changes
-- carry the plain columns and the names of the secret fields, never a
-- value (which the database never sees in clear anyway). The request path
-- writes the secret fields before it updates the row, so the names are
-- the new ones.
CREATE OR REPLACE FUNCTION homebot.connection_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_action text;
	v_changes jsonb;
	v_row homebot.connections := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	v_names jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(s.name ORDER BY s.name), '[]') INTO v_names
	  FROM homebot.connection_secrets s
	 WHERE s.organization_id = v_row.organization_id AND s.connection_id = v_row.id;
	IF TG_OP = 'INSERT' THEN
		v_action := 'connection.created';
		v_changes := jsonb_build_object('name', NEW.name, 'type', NEW.type, 'team_id', NEW.team_id,
		                                'config', NEW.config, 'is_active', NEW.is_active,
		                                'is_default', NEW.is_default, 'secret_fields', v_names);
	ELSIF TG_OP = 'DELETE' THEN
		v_action := 'connection.purged';
		v_changes := jsonb_build_object('name', OLD.name, 'type', OLD.type);
	ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
		v_action := 'connection.deleted';
		v_changes := jsonb_build_object('name', NEW.name, 'type', NEW.type);
	ELSE
		v_action := 'connection.updated';
		v_changes := jsonb_build_object(
			'old', jsonb_build_object('name', OLD.name, 'type', OLD.type, 'config', OLD.config,
			                          'is_active', OLD.is_active, 'is_default', OLD.is_default),
			'new', jsonb_build_object('name', NEW.name, 'type', NEW.type, 'config', NEW.config,
			                          'is_active', NEW.is_active, 'is_default', NEW.is_default,
			                          'secret_fields', v_names));
	END IF;
	PERFORM homebot.audit_event(v_action, 'connection', v_row.id::text, v_changes, v_row.organization_id);
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER connection_audit AFTER INSERT OR UPDATE OR DELETE ON homebot.connections
	FOR EACH ROW EXECUTE FUNCTION homebot.connection_audit();

-- connection_delete (DELETE /api/v1/connections/{id}): the soft delete of
-- a connection the request sees (organization and team scope, as its
-- policy), when p_version is NULL or its version: 'ok', 'not_found' or
-- 'stale'. A function for the reason team_delete is one.
CREATE OR REPLACE FUNCTION homebot.connection_delete(p_id uuid, p_version integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_version integer;
BEGIN
	-- connections_pkey
	SELECT c.version INTO v_version
	  FROM homebot.connections c
	 WHERE c.organization_id = v_org_id AND c.id = p_id AND c.deleted_at IS NULL
	   AND (c.team_id IS NULL
	        OR c.team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	        OR (SELECT current_setting('app.teams_write', true)) = 'true')
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 'not_found';
	END IF;
	IF p_version IS NOT NULL AND p_version <> v_version THEN
		RETURN 'stale';
	END IF;
	-- The secret fields go at once: a deleted connection is never
	-- revealed again.
	DELETE FROM homebot.connection_secrets s WHERE s.organization_id = v_org_id AND s.connection_id = p_id;
	UPDATE homebot.connections c SET deleted_at = now() WHERE c.organization_id = v_org_id AND c.id = p_id;
	RETURN 'ok';
END
$$;

REVOKE ALL ON FUNCTION homebot.connection_audit(), homebot.connection_delete(uuid, integer)
FROM PUBLIC, homebot_app, homebot_admin, homebot_worker;
GRANT EXECUTE ON FUNCTION homebot.connection_delete(uuid, integer) TO homebot_app;
