-- member_access (0024_member_access.sql): each membership's permissions
-- and teams, recomputed by the triggers here in the same transaction as
-- every change that could alter them, for authenticate_session to read
-- with one primary-key probe.
--
-- A repeatable file (docs/migrations.md): everything here can run twice.
-- Each time it runs it also brings every row up to date (at the end), so
-- the rows are right however the database got here: a new install, an
-- upgrade from a release without the table, a rollback and up again. Its
-- name sorts it before R__auth.sql, whose functions read the rows: on an
-- upgrade they are filled (and kept) before anything reads them.
--
-- Why the rows cannot go stale under concurrent writers. A row is
-- computed from several tables, and two transactions may each change one
-- of them (one renames a team while another adds a member to it); each
-- would compute with the other's change unseen. So every recomputation
-- first takes its organization's advisory lock, held to the end of its
-- transaction, and only then reads, in a statement of its own: in READ
-- COMMITTED (the only isolation level Homebot's writers use) that read
-- sees every change of every transaction that held the lock before. The
-- last transaction to recompute a row therefore sees every change that
-- concerns it, and one that changes a member after another recomputed
-- finds the member itself, since it looks its members up after the lock
-- too. A change of role_permissions (a migration) recomputes every row
-- under an exclusive lock that waits for all of them. A membership's
-- removal takes the lock before its row goes (the cascade deletes the
-- member's row here): a recomputation never waits on a row being deleted
-- under it, and a row here is locked only by a transaction that holds
-- its organization's lock, so no two wait on each other for one. Another
-- isolation level would read with a snapshot older than the lock, so the
-- recomputation refuses it.

-- member_access_lock: the organization's lock, and the shared side of the
-- lock of the whole table (member_access_rebuild takes it exclusively).
CREATE OR REPLACE FUNCTION homebot.member_access_lock(p_org uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(hashtextextended('homebot.member_access', 0));
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.member_access ' || p_org, 0));
END
$$;

-- member_access_refresh: recomputes the rows of these members of the
-- organization (members that have gone have no row: the cascade). The
-- caller holds member_access_lock, or member_access_rebuild's lock. A row
-- that would not change is not written.
-- Uses memberships_pkey, role_permissions_pkey, user_permissions' and
-- team_members' (organization_id, user_id) indexes, teams_pkey.
CREATE OR REPLACE FUNCTION homebot.member_access_refresh(p_org uuid, p_users uuid[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'homebot: member_access is recomputed in READ COMMITTED only, not in %',
			current_setting('transaction_isolation') USING ERRCODE = '0A000',
			HINT = 'Make this change in a READ COMMITTED transaction (the default).';
	END IF;
	INSERT INTO homebot.member_access AS a
	       (organization_id, user_id, permissions, teams, team_ids, team_leads)
	SELECT m.organization_id,
	       m.user_id,
	       array_to_string(ARRAY(SELECT rp.permission FROM homebot.role_permissions rp
	                              WHERE rp.role = m.role
	                             UNION
	                             SELECT up.permission FROM homebot.user_permissions up
	                              WHERE up.organization_id = m.organization_id
	                                AND up.user_id = m.user_id
	                             ORDER BY 1), ','),
	       t.teams,
	       t.team_ids,
	       t.team_leads
	  FROM homebot.memberships m
	 CROSS JOIN LATERAL (
		SELECT coalesce(json_agg(json_build_object('id', ut.id, 'name', ut.name, 'team_role', tm.team_role)
		                         ORDER BY ut.name COLLATE "C", ut.id)::text, '[]') AS teams,
		       coalesce(array_agg(ut.id)::text, '{}') AS team_ids,
		       coalesce((array_agg(ut.id) FILTER (WHERE tm.team_role = 'lead'))::text, '{}') AS team_leads
		  FROM homebot.team_members tm
		  JOIN homebot.teams ut ON ut.organization_id = tm.organization_id AND ut.id = tm.team_id
		                       AND ut.deleted_at IS NULL
		 WHERE tm.organization_id = m.organization_id AND tm.user_id = m.user_id) t
	 WHERE m.organization_id = p_org AND m.user_id = ANY (p_users)
	    ON CONFLICT (organization_id, user_id) DO UPDATE
	   SET permissions = excluded.permissions,
	       teams = excluded.teams,
	       team_ids = excluded.team_ids,
	       team_leads = excluded.team_leads
	 WHERE (a.permissions, a.teams, a.team_ids, a.team_leads)
	       IS DISTINCT FROM (excluded.permissions, excluded.teams, excluded.team_ids, excluded.team_leads);
END
$$;

-- member_access_member: the trigger of memberships, user_permissions and
-- team_members: recomputes the member the row names (once; the member
-- before the change too, should an update move the row to another).
CREATE OR REPLACE FUNCTION homebot.member_access_member()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.organization_id, OLD.user_id)
	                                           IS DISTINCT FROM (NEW.organization_id, NEW.user_id)) THEN
		PERFORM homebot.member_access_lock(OLD.organization_id);
		PERFORM homebot.member_access_refresh(OLD.organization_id, ARRAY[OLD.user_id]);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		PERFORM homebot.member_access_lock(NEW.organization_id);
		PERFORM homebot.member_access_refresh(NEW.organization_id, ARRAY[NEW.user_id]);
	END IF;
	RETURN NULL;
END
$$;

-- member_access_leave: the trigger before a membership's removal (by any
-- path, the cascades too): takes the organization's lock before the
-- cascade deletes the member's row (see the top of this file).
CREATE OR REPLACE FUNCTION homebot.member_access_leave()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM homebot.member_access_lock(OLD.organization_id);
	RETURN OLD;
END
$$;

-- member_access_team: the trigger of teams: a team renamed, deleted or
-- restored changes its members' teams. They are looked up after the lock
-- (see the top of this file). A team's hard delete (the purge) removes
-- its team_members rows, whose own trigger recomputes them.
CREATE OR REPLACE FUNCTION homebot.member_access_team()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_users uuid[];
BEGIN
	PERFORM homebot.member_access_lock(NEW.organization_id);
	v_users := ARRAY(SELECT tm.user_id FROM homebot.team_members tm
	                  WHERE tm.organization_id = NEW.organization_id AND tm.team_id = NEW.id);
	PERFORM homebot.member_access_refresh(NEW.organization_id, v_users);
	RETURN NULL;
END
$$;

-- member_access_rebuild: brings every row up to date, under the
-- exclusive lock, one organization at a time; answers how many
-- organizations it went through. Run when this file is applied, and by
-- any change of role_permissions.
CREATE OR REPLACE FUNCTION homebot.member_access_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_org uuid;
	v_count bigint := 0;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('homebot.member_access', 0));
	FOR v_org IN SELECT o.id FROM homebot.organizations o LOOP
		PERFORM homebot.member_access_refresh(v_org,
			ARRAY(SELECT m.user_id FROM homebot.memberships m WHERE m.organization_id = v_org));
		v_count := v_count + 1;
	END LOOP;
	RETURN v_count;
END
$$;

-- member_access_all: the statement trigger of role_permissions, and of a
-- TRUNCATE of the other source tables (the owner's, never a request's).
CREATE OR REPLACE FUNCTION homebot.member_access_all()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM homebot.member_access_rebuild();
	RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION
	homebot.member_access_lock(uuid),
	homebot.member_access_refresh(uuid, uuid[]),
	homebot.member_access_member(),
	homebot.member_access_leave(),
	homebot.member_access_team(),
	homebot.member_access_rebuild(),
	homebot.member_access_all()
FROM PUBLIC, homebot_app, homebot_admin;

CREATE OR REPLACE TRIGGER member_access AFTER INSERT ON homebot.memberships
	FOR EACH ROW EXECUTE FUNCTION homebot.member_access_member();
CREATE OR REPLACE TRIGGER member_access_leave BEFORE DELETE ON homebot.memberships
	FOR EACH ROW EXECUTE FUNCTION homebot.member_access_leave();
CREATE OR REPLACE TRIGGER member_access_update AFTER UPDATE ON homebot.memberships
	FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role)
	EXECUTE FUNCTION homebot.member_access_member();
CREATE OR REPLACE TRIGGER member_access AFTER INSERT OR UPDATE OR DELETE ON homebot.user_permissions
	FOR EACH ROW EXECUTE FUNCTION homebot.member_access_member();
CREATE OR REPLACE TRIGGER member_access AFTER INSERT OR UPDATE OR DELETE ON homebot.team_members
	FOR EACH ROW EXECUTE FUNCTION homebot.member_access_member();
CREATE OR REPLACE TRIGGER member_access_update AFTER UPDATE ON homebot.teams
	FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
	EXECUTE FUNCTION homebot.member_access_team();
CREATE OR REPLACE TRIGGER member_access AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON homebot.role_permissions
	FOR EACH STATEMENT EXECUTE FUNCTION homebot.member_access_all();
CREATE OR REPLACE TRIGGER member_access_truncate AFTER TRUNCATE ON homebot.user_permissions
	FOR EACH STATEMENT EXECUTE FUNCTION homebot.member_access_all();
CREATE OR REPLACE TRIGGER member_access_truncate AFTER TRUNCATE ON homebot.team_members
	FOR EACH STATEMENT EXECUTE FUNCTION homebot.member_access_all();
CREATE OR REPLACE TRIGGER member_access_truncate AFTER TRUNCATE ON homebot.teams
	FOR EACH STATEMENT EXECUTE FUNCTION homebot.member_access_all();

-- Last: the triggers above hold their tables against writers until this
-- transaction ends, so no change can slip between this and them.
DO $$
BEGIN
	PERFORM homebot.member_access_rebuild();
END
$$;
