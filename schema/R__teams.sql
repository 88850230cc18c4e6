-- Teams (api.md §9) and the row metadata of §1: the trigger that sets a
-- row's metadata from the transaction's context, the triggers that put
-- the team.* events into the audit log (§4), and the purge of
-- soft-deleted rows. The tables are in 0009_teams.sql.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes.

-- row_metadata: the one trigger of every table that carries created_at,
-- updated_at, created_by, updated_by and version (tests/sql/02_rls_structure.sql
-- fails for one without it). Whatever the writer passed is overwritten:
-- the user is the request's (app.user_id: for an API key, its creator),
-- the times are the transaction's, and every update raises version by
-- one, so an ETag of the version changes with every change.
CREATE OR REPLACE FUNCTION homebot.row_metadata()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_user uuid := NULLIF(current_setting('app.user_id', true), '')::uuid;
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.created_at := now();
		NEW.created_by := v_user;
		NEW.version := 1;
	ELSE
		NEW.created_at := OLD.created_at;
		NEW.created_by := OLD.created_by;
		NEW.version := OLD.version + 1;
	END IF;
	NEW.updated_at := now();
	NEW.updated_by := v_user;
	RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER row_metadata BEFORE INSERT OR UPDATE ON homebot.teams
	FOR EACH ROW EXECUTE FUNCTION homebot.row_metadata();
CREATE OR REPLACE TRIGGER row_metadata BEFORE INSERT OR UPDATE ON homebot.team_members
	FOR EACH ROW EXECUTE FUNCTION homebot.row_metadata();
CREATE OR REPLACE TRIGGER row_metadata BEFORE INSERT OR UPDATE ON homebot.platform_settings
	FOR EACH ROW EXECUTE FUNCTION homebot.row_metadata();

-- team_audit: the team.* events (api.md §4), whatever path changed the
-- row: team.created, team.updated, team.deleted (the soft delete),
-- team.purged (the purge job), team.member_added,
-- team.member_role_changed, team.member_removed (also when the user left
-- the organization: the cascade).
CREATE OR REPLACE FUNCTION homebot.team_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_action text;
	v_changes jsonb;
	v_row jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
	IF TG_TABLE_NAME = 'teams' THEN
		IF TG_OP = 'INSERT' THEN
			v_action := 'team.created';
			v_changes := jsonb_build_object('name', NEW.name, 'slug', NEW.slug);
		ELSIF TG_OP = 'DELETE' THEN
			v_action := 'team.purged';
			v_changes := jsonb_build_object('name', OLD.name, 'slug', OLD.slug);
		ELSE
			v_action := CASE WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN 'team.deleted'
			                 ELSE 'team.updated' END;
			v_changes := jsonb_build_object('old', jsonb_build_object('name', OLD.name, 'description', OLD.description),
			                                'new', jsonb_build_object('name', NEW.name, 'description', NEW.description));
		END IF;
		PERFORM homebot.audit_event(v_action, 'team', v_row ->> 'id', v_changes,
		                            (v_row ->> 'organization_id')::uuid);
	ELSE
		IF TG_OP = 'INSERT' THEN
			v_action := 'team.member_added';
			v_changes := jsonb_build_object('user_id', NEW.user_id, 'team_role', NEW.team_role);
		ELSIF TG_OP = 'DELETE' THEN
			v_action := 'team.member_removed';
			v_changes := jsonb_build_object('user_id', OLD.user_id, 'team_role', OLD.team_role);
		ELSE
			v_action := 'team.member_role_changed';
			v_changes := jsonb_build_object('user_id', NEW.user_id, 'from', OLD.team_role, 'to', NEW.team_role);
		END IF;
		PERFORM homebot.audit_event(v_action, 'team', v_row ->> 'team_id', v_changes,
		                            (v_row ->> 'organization_id')::uuid);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER team_audit AFTER INSERT OR DELETE ON homebot.teams
	FOR EACH ROW EXECUTE FUNCTION homebot.team_audit();
CREATE OR REPLACE TRIGGER team_audit_update AFTER UPDATE ON homebot.teams
	FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.description IS DISTINCT FROM NEW.description
	                   OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
	EXECUTE FUNCTION homebot.team_audit();
CREATE OR REPLACE TRIGGER team_audit AFTER INSERT OR DELETE ON homebot.team_members
	FOR EACH ROW EXECUTE FUNCTION homebot.team_audit();
CREATE OR REPLACE TRIGGER team_audit_update AFTER UPDATE ON homebot.team_members
	FOR EACH ROW WHEN (OLD.team_role IS DISTINCT FROM NEW.team_role)
	EXECUTE FUNCTION homebot.team_audit();

-- purge_soft_deleted: the purge job (kind purge.soft_deleted, run by the
-- worker, which enqueues it itself): removes the rows soft-deleted more
-- than p_retention seconds ago, at most p_batch of a table at a time, and
-- answers how many went. A team goes with its members (the cascade);
-- each removal is audited (team.purged). Secrets (0012_secrets.sql) are
-- purged the same way (secret.purged), and so are connections
-- (0013_connections.sql, connection.purged). SECURITY DEFINER: it crosses
-- organizations, as the worker has no tenant of its own for it.
CREATE OR REPLACE FUNCTION homebot.purge_soft_deleted(p_retention integer, p_batch integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_count integer;
	v_purged integer;
BEGIN
	-- teams_deleted_at_idx
	DELETE FROM homebot.teams t
	 WHERE (t.organization_id, t.id) IN (
		SELECT d.organization_id, d.id FROM homebot.teams d
		 WHERE d.deleted_at IS NOT NULL AND d.deleted_at < now() - make_interval(secs => p_retention)
		 ORDER BY d.deleted_at
		 LIMIT p_batch
		   FOR UPDATE SKIP LOCKED);
	GET DIAGNOSTICS v_count = ROW_COUNT;
	-- secrets_deleted_at_idx
	DELETE FROM homebot.secrets s
	 WHERE (s.organization_id, s.id) IN (
		SELECT d.organization_id, d.id FROM homebot.secrets d
		 WHERE d.deleted_at IS NOT NULL AND d.deleted_at < now() - make_interval(secs => p_retention)
		 ORDER BY d.deleted_at
		 LIMIT p_batch
		   FOR UPDATE SKIP LOCKED);
	GET DIAGNOSTICS v_purged = ROW_COUNT;
	v_count := v_count + v_purged;
	-- connections_deleted_at_idx
	DELETE FROM homebot.connections c
	 WHERE (c.organization_id, c.id) IN (
		SELECT d.organization_id, d.id FROM homebot.connections d
		 WHERE d.deleted_at IS NOT NULL AND d.deleted_at < now() - make_interval(secs => p_retention)
		 ORDER BY d.deleted_at
		 LIMIT p_batch
		   FOR UPDATE SKIP LOCKED);
	GET DIAGNOSTICS v_purged = ROW_COUNT;
	RETURN v_count + v_purged;
END
$$;

-- team_delete (DELETE /api/v1/teams/{id}): the soft delete of a team of
-- the organization app.org_id, when p_version is NULL or its version.
-- 'ok', 'not_found' (no such live team) or 'stale' (another version). A
-- function, because the request path cannot write it under the policies:
-- an UPDATE's new row must pass the policy that reads it, and a deleted
-- team is hidden by that very policy. Locks the row as a PATCH does.
CREATE OR REPLACE FUNCTION homebot.team_delete(p_id uuid, p_version integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_org_id uuid := NULLIF(current_setting('app.org_id', true), '')::uuid;
	v_version integer;
BEGIN
	-- teams_pkey
	SELECT t.version INTO v_version
	  FROM homebot.teams t
	 WHERE t.organization_id = v_org_id AND t.id = p_id AND t.deleted_at IS NULL
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 'not_found';
	END IF;
	IF p_version IS NOT NULL AND p_version <> v_version THEN
		RETURN 'stale';
	END IF;
	UPDATE homebot.teams t SET deleted_at = now() WHERE t.organization_id = v_org_id AND t.id = p_id;
	RETURN 'ok';
END
$$;

REVOKE ALL ON FUNCTION homebot.row_metadata(), homebot.team_audit(), homebot.purge_soft_deleted(integer, integer),
	homebot.team_delete(uuid, integer)
FROM PUBLIC, homebot_app, homebot_admin, homebot_worker;
GRANT EXECUTE ON FUNCTION homebot.team_delete(uuid, integer) TO homebot_app;
GRANT EXECUTE ON FUNCTION homebot.purge_soft_deleted(integer, integer) TO homebot_worker;
