-- homebot.member_access (0024_member_access.sql, R__access.sql):
-- each membership's permissions and teams, kept by triggers for
-- authenticate_session and authenticate_api_key to read ready-made.
--
-- 1. After every kind of change that could alter a row, every row equals
--    what an independent query computes from the source tables now
--    (pg_temp.stale names the rows that do not), and the changed member's
--    row says what the change means.
-- 2. The request path reads its own organization's rows and writes none.
-- 3. Concurrency: two more sessions (dblink) rename a team and add a
--    member to it at the same time, in both orders; the member's row ends
--    with the new name either way. Without the organization's lock the
--    second writer would compute with the first's change unseen. Rows
--    these sessions commit are named pgtap-36-* and deleted, before and
--    after, with their audit events.
--
--   A = ...36a, B = ...36b; U (...36e1) admin of A and member of B,
--   V (...36e2) member of A; teams X (...36f1), Y (...36f2) of A
BEGIN;
SELECT plan(51);

CREATE EXTENSION IF NOT EXISTS dblink;

-- What each membership's row must hold, computed from the source tables
-- in another form than the triggers' (string_agg, jsonb, sorted arrays).
CREATE TEMP VIEW expected AS
SELECT m.organization_id, m.user_id,
       coalesce((SELECT string_agg(p.permission, ',' ORDER BY p.permission)
                   FROM (SELECT rp.permission FROM homebot.role_permissions rp WHERE rp.role = m.role
                         UNION
                         SELECT up.permission FROM homebot.user_permissions up
                          WHERE up.organization_id = m.organization_id AND up.user_id = m.user_id) p), '') AS permissions,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'team_role', tm.team_role)
                                  ORDER BY t.name COLLATE "C", t.id)
                   FROM homebot.team_members tm
                   JOIN homebot.teams t ON t.organization_id = tm.organization_id AND t.id = tm.team_id
                  WHERE tm.organization_id = m.organization_id AND tm.user_id = m.user_id
                    AND t.deleted_at IS NULL), '[]'::jsonb) AS teams,
       ARRAY(SELECT tm.team_id FROM homebot.team_members tm
               JOIN homebot.teams t ON t.organization_id = tm.organization_id AND t.id = tm.team_id
              WHERE tm.organization_id = m.organization_id AND tm.user_id = m.user_id
                AND t.deleted_at IS NULL ORDER BY 1) AS team_ids,
       ARRAY(SELECT tm.team_id FROM homebot.team_members tm
               JOIN homebot.teams t ON t.organization_id = tm.organization_id AND t.id = tm.team_id
              WHERE tm.organization_id = m.organization_id AND tm.user_id = m.user_id
                AND t.deleted_at IS NULL AND tm.team_role = 'lead' ORDER BY 1) AS team_leads
  FROM homebot.memberships m;

-- The memberships whose row is missing or wrong, and rows without one.
CREATE FUNCTION pg_temp.stale() RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(coalesce(e.organization_id, a.organization_id) || '/' ||
	                          coalesce(e.user_id, a.user_id) ORDER BY 1), '{}')
	  FROM pg_temp.expected e
	  FULL JOIN homebot.member_access a USING (organization_id, user_id)
	 WHERE a.organization_id IS NULL OR e.organization_id IS NULL
	    OR a.permissions IS DISTINCT FROM e.permissions
	    OR a.teams::jsonb IS DISTINCT FROM e.teams
	    OR ARRAY(SELECT unnest(a.team_ids::uuid[]) ORDER BY 1) IS DISTINCT FROM e.team_ids
	    OR ARRAY(SELECT unnest(a.team_leads::uuid[]) ORDER BY 1) IS DISTINCT FROM e.team_leads
$$;

CREATE FUNCTION pg_temp.access(p_org text, p_user text) RETURNS homebot.member_access LANGUAGE sql AS $$
	SELECT * FROM homebot.member_access WHERE organization_id = p_org::uuid AND user_id = p_user::uuid
$$;

SELECT is_empty($$SELECT name FROM homebot.permissions WHERE name LIKE '%,%'$$,
	'no permission name holds a comma (the rows list them comma-separated)');
SELECT is(pg_temp.stale(), '{}'::text[], 'before the test: every membership has its row, and each is right');

-- Concurrency, on committed rows (two dblink sessions as this user),
-- before this transaction takes any lock of its own (the rebuild below
-- holds the whole table's).
CREATE FUNCTION pg_temp.connect(p_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_connect(p_name, format('dbname=%s user=%s host=%s port=%s application_name=%s',
	                                      current_database(), current_user,
	                                      split_part(current_setting('unix_socket_directories'), ',', 1),
	                                      current_setting('port'), p_name));
END
$$;
-- Whether the backend p_pid is (or within 30 seconds comes to be) waiting
-- for a lock.
CREATE FUNCTION pg_temp.waits_for_lock(p_pid integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline constant timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT FROM pg_stat_activity WHERE pid = p_pid AND wait_event_type = 'Lock') THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN false;
END
$$;
CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec('pgtap36a', $sql$
		DELETE FROM homebot.organizations WHERE slug LIKE 'pgtap-36-c%';
		DELETE FROM homebot.users WHERE email LIKE 'pgtap-36-c%';
		DELETE FROM homebot.audit_log
		 WHERE organization_id IN ('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036ca',
		                           '00000000-0000-4000-8000-0000000036cf')
		    OR actor_id IN ('00000000-0000-4000-8000-0000000036e3', '00000000-0000-4000-8000-0000000036e4',
		                    '00000000-0000-4000-8000-0000000036e5', '00000000-0000-4000-8000-0000000036e6')
		    OR target_id IN ('00000000-0000-4000-8000-0000000036e3', '00000000-0000-4000-8000-0000000036e4',
		                     '00000000-0000-4000-8000-0000000036e5', '00000000-0000-4000-8000-0000000036e6');
	$sql$);
END
$$;
-- Waits for the statement sent on p_conn to end (its result, then the
-- empty one that says the connection is free again).
CREATE FUNCTION pg_temp.done(p_conn text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM dblink_get_result(p_conn) AS t (v text);
	PERFORM * FROM dblink_get_result(p_conn) AS t (v text);
END
$$;
-- One text value from a query on pgtap36a.
CREATE FUNCTION pg_temp.remote(p_sql text) RETURNS text LANGUAGE sql AS $$
	SELECT v FROM dblink('pgtap36a', p_sql) AS t (v text)
$$;
-- The name of team ...36f3 in member M's committed row.
CREATE FUNCTION pg_temp.committed_team_name(p_user text) RETURNS text LANGUAGE sql AS $$
	SELECT v FROM dblink('pgtap36a', format(
		$sql$SELECT (SELECT e ->> 'name' FROM jsonb_array_elements(teams::jsonb) e
		              WHERE e ->> 'id' = '00000000-0000-4000-8000-0000000036f3')
		       FROM homebot.member_access
		      WHERE organization_id = '00000000-0000-4000-8000-00000000036c' AND user_id = %L$sql$, p_user))
		AS t (v text)
$$;

SELECT pg_temp.connect('pgtap36a');
SELECT pg_temp.connect('pgtap36b');
CREATE TEMP TABLE pids AS
SELECT (SELECT pid FROM dblink('pgtap36a', 'SELECT pg_backend_pid()') AS t (pid integer)) AS a,
       (SELECT pid FROM dblink('pgtap36b', 'SELECT pg_backend_pid()') AS t (pid integer)) AS b;
SELECT pg_temp.cleanup();
-- C (...36c) with W1 (...36e3), W2 (...36e4) and W3 (...36e5), teams T
-- (...36f3) and D (...36f4), no member yet.
SELECT dblink_exec('pgtap36a', $$
	INSERT INTO homebot.organizations (id, name, slug) VALUES
		('00000000-0000-4000-8000-00000000036c', 'Org 36C', 'pgtap-36-c');
	INSERT INTO homebot.users (id, email) VALUES
		('00000000-0000-4000-8000-0000000036e3', 'pgtap-36-c-w1@example.test'),
		('00000000-0000-4000-8000-0000000036e4', 'pgtap-36-c-w2@example.test'),
		('00000000-0000-4000-8000-0000000036e5', 'pgtap-36-c-w3@example.test');
	INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
		('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036e3', 'member'),
		('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036e4', 'member'),
		('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036e5', 'member');
	INSERT INTO homebot.teams (organization_id, id, name, slug) VALUES
		('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036f3', 'T0', 't'),
		('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036f4', 'D', 'd');
$$);

-- Rename first: the member added meanwhile waits, then sees the new name.
SELECT dblink_exec('pgtap36a', 'BEGIN');
SELECT dblink_exec('pgtap36a', $$UPDATE homebot.teams SET name = 'T1' WHERE id = '00000000-0000-4000-8000-0000000036f3'$$);
SELECT dblink_exec('pgtap36b', 'BEGIN');
SELECT dblink_send_query('pgtap36b', $$INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
	VALUES ('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036f3',
	        '00000000-0000-4000-8000-0000000036e3', 'member')$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)),
	'rename, then a member added: the addition waits for the rename''s transaction');
SELECT dblink_exec('pgtap36a', 'COMMIT');
SELECT pg_temp.done('pgtap36b');
SELECT dblink_exec('pgtap36b', 'COMMIT');
SELECT is(pg_temp.committed_team_name('00000000-0000-4000-8000-0000000036e3'), 'T1',
	'rename, then a member added: the new member''s row has the new name');

-- A member added first: the rename waits, then finds the new member.
SELECT dblink_exec('pgtap36b', 'BEGIN');
SELECT dblink_exec('pgtap36b', $$INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
	VALUES ('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036f3',
	        '00000000-0000-4000-8000-0000000036e4', 'member')$$);
SELECT dblink_exec('pgtap36a', 'BEGIN');
SELECT dblink_send_query('pgtap36a', $$UPDATE homebot.teams SET name = 'T2' WHERE id = '00000000-0000-4000-8000-0000000036f3'$$);
SELECT ok(pg_temp.waits_for_lock((SELECT a FROM pids)),
	'a member added, then a rename: the rename waits for the addition''s transaction');
SELECT dblink_exec('pgtap36b', 'COMMIT');
SELECT pg_temp.done('pgtap36a');
SELECT dblink_exec('pgtap36a', 'COMMIT');
SELECT is(pg_temp.committed_team_name('00000000-0000-4000-8000-0000000036e4'), 'T2',
	'a member added, then a rename: the new member''s row has the new name');

-- A team deleted, then a member added to it: the addition waits, then
-- sees the team gone (no team context of a deleted team).
SELECT dblink_exec('pgtap36a', 'BEGIN');
SELECT dblink_exec('pgtap36a', $$UPDATE homebot.teams SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-0000000036f4'$$);
SELECT dblink_exec('pgtap36b', 'BEGIN');
SELECT dblink_send_query('pgtap36b', $$INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
	VALUES ('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036f4',
	        '00000000-0000-4000-8000-0000000036e3', 'lead')$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)),
	'a team deleted, then a member added: the addition waits for the deletion''s transaction');
SELECT dblink_exec('pgtap36a', 'COMMIT');
SELECT pg_temp.done('pgtap36b');
SELECT dblink_exec('pgtap36b', 'COMMIT');
SELECT is(pg_temp.remote($$SELECT team_ids || ' ' || team_leads FROM homebot.member_access
                           WHERE user_id = '00000000-0000-4000-8000-0000000036e3'$$),
	'{00000000-0000-4000-8000-0000000036f3} {}',
	'a team deleted, then a member added: the deleted team is not in the member''s team context');

-- A member removed while the whole table is rebuilt: the rebuild waits
-- for the removal, then goes on without the member (it would otherwise
-- write the member's row again under a membership that is gone). W3 is
-- in no team and has no extra permission: only the removal's own
-- trigger takes the lock.
SELECT dblink_exec('pgtap36b', 'BEGIN');
SELECT dblink_exec('pgtap36b', $$DELETE FROM homebot.memberships WHERE user_id = '00000000-0000-4000-8000-0000000036e5'$$);
SELECT dblink_exec('pgtap36a', 'BEGIN');
SELECT dblink_send_query('pgtap36a', 'SELECT homebot.member_access_rebuild()');
SELECT ok(pg_temp.waits_for_lock((SELECT a FROM pids)),
	'a member removed, then a rebuild: the rebuild waits for the removal''s transaction');
SELECT dblink_exec('pgtap36b', 'COMMIT');
SELECT pg_temp.done('pgtap36a');
SELECT dblink_exec('pgtap36a', 'COMMIT');
SELECT is(pg_temp.remote($$SELECT count(*) FROM homebot.member_access
                           WHERE user_id = '00000000-0000-4000-8000-0000000036e5'$$), '0',
	'a member removed, then a rebuild: the rebuild succeeded and the member has no row');

-- A user removed from several organizations at once (the invitations an
-- email change leaves behind) takes their locks in the order of their
-- ids, whatever the rows' order: two such removals can then never each
-- hold a lock the other waits for. W4 (...36e6) is invited to H (...36cf)
-- first, then to L (...36ca); the second session holds H's lock, so the
-- change waits for H while holding L's.
SELECT dblink_exec('pgtap36a', $$
	INSERT INTO homebot.organizations (id, name, slug) VALUES
		('00000000-0000-4000-8000-0000000036cf', 'Org 36H', 'pgtap-36-c-h'),
		('00000000-0000-4000-8000-0000000036ca', 'Org 36L', 'pgtap-36-c-l');
	INSERT INTO homebot.users (id, email) VALUES
		('00000000-0000-4000-8000-0000000036e6', 'pgtap-36-c-w4@example.test');
	INSERT INTO homebot.memberships (organization_id, user_id, role, status, invited_email) VALUES
		('00000000-0000-4000-8000-0000000036cf', '00000000-0000-4000-8000-0000000036e6', 'member', 'invited',
		 'pgtap-36-c-w4@example.test');
	INSERT INTO homebot.memberships (organization_id, user_id, role, status, invited_email) VALUES
		('00000000-0000-4000-8000-0000000036ca', '00000000-0000-4000-8000-0000000036e6', 'member', 'invited',
		 'pgtap-36-c-w4@example.test');
	DO $d$ BEGIN
		PERFORM homebot.email_token_issue('00000000-0000-4000-8000-0000000036e6', 'email_change',
		                                  'pgtap-36-c-w4-new@example.test', sha256('pgtap-36-change'), 3600);
	END $d$;
$$);
SELECT dblink_exec('pgtap36b', 'BEGIN');
SELECT dblink_exec('pgtap36b', $q$DO $d$ BEGIN
	PERFORM homebot.member_access_lock('00000000-0000-4000-8000-0000000036cf');
END $d$$q$);
SELECT dblink_exec('pgtap36a', 'BEGIN');
SELECT dblink_send_query('pgtap36a', $$SELECT status FROM homebot.email_change_confirm(sha256('pgtap-36-change'),
                                                                                     NULL, NULL, NULL)$$);
SELECT ok(pg_temp.waits_for_lock((SELECT a FROM pids)),
	'a user removed from two organizations: waits for the one whose lock another session holds');
SELECT ok(EXISTS (SELECT FROM pg_locks l, pids,
                         LATERAL (SELECT hashtextextended('homebot.member_access 00000000-0000-4000-8000-0000000036ca', 0) AS k) h
                   WHERE l.pid = pids.a AND l.locktype = 'advisory' AND l.granted
                     AND l.classid::bigint = (h.k >> 32) & 4294967295 AND l.objid::bigint = h.k & 4294967295),
	'... holding, meanwhile, the lock of the one whose id comes first');
SELECT dblink_exec('pgtap36b', 'COMMIT');
SELECT pg_temp.done('pgtap36a');
SELECT dblink_exec('pgtap36a', 'COMMIT');
SELECT is(pg_temp.remote($$SELECT count(*) FROM homebot.memberships
                           WHERE user_id = '00000000-0000-4000-8000-0000000036e6'$$), '0',
	'a user removed from two organizations: the change went through, and both invitations with it');

-- Another isolation level is refused (its snapshot would be older than
-- the lock).
SELECT dblink_exec('pgtap36a', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT is(dblink_exec('pgtap36a', $$INSERT INTO homebot.user_permissions (organization_id, user_id, permission)
	VALUES ('00000000-0000-4000-8000-00000000036c', '00000000-0000-4000-8000-0000000036e3', 'audit:read')$$, false),
	'ERROR', 'a change in REPEATABLE READ that would recompute a row fails');
SELECT alike(dblink_error_message('pgtap36a'), '%READ COMMITTED only%', '... saying why');
SELECT dblink_exec('pgtap36a', 'ROLLBACK');

SELECT pg_temp.cleanup();
SELECT dblink_disconnect('pgtap36a');
SELECT dblink_disconnect('pgtap36b');

-- One transaction from here on.
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000036a', 'Org 36A', 'pgtap-36-a'),
	('00000000-0000-4000-8000-00000000036b', 'Org 36B', 'pgtap-36-b');
INSERT INTO homebot.users (id, email) VALUES
	('00000000-0000-4000-8000-0000000036e1', 'pgtap-36-u@example.test'),
	('00000000-0000-4000-8000-0000000036e2', 'pgtap-36-v@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e1', 'admin'),
	('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1', 'member'),
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e2', 'member');
SELECT is(pg_temp.stale(), '{}'::text[], 'a new membership gets its row');
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).permissions,
	(SELECT string_agg(permission, ',' ORDER BY permission) FROM homebot.role_permissions WHERE role = 'member'),
	'U in B: the member role''s permissions, sorted');
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).teams,
	'[]', 'U in B: no team');

-- The membership's role.
UPDATE homebot.memberships SET role = 'viewer'
 WHERE organization_id = '00000000-0000-4000-8000-00000000036b' AND user_id = '00000000-0000-4000-8000-0000000036e1';
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).permissions,
	(SELECT string_agg(permission, ',' ORDER BY permission) FROM homebot.role_permissions WHERE role = 'viewer'),
	'a role change: the new role''s permissions');
SELECT is(pg_temp.stale(), '{}'::text[], 'a role change: every row right');

-- Extra permissions.
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1', 'audit:read');
SELECT ok((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).permissions
          LIKE '%audit:read%', 'an extra permission granted is in the row');
SELECT is(pg_temp.stale(), '{}'::text[], 'a grant: every row right');
DELETE FROM homebot.user_permissions
 WHERE organization_id = '00000000-0000-4000-8000-00000000036b' AND user_id = '00000000-0000-4000-8000-0000000036e1';
SELECT ok((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).permissions
          NOT LIKE '%audit:read%', 'an extra permission taken is gone from the row');
SELECT is(pg_temp.stale(), '{}'::text[], 'a grant taken: every row right');

-- Teams and their members.
INSERT INTO homebot.teams (organization_id, id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f1', 'X', 'x'),
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f2', 'Y', 'y');
INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role) VALUES
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f1', '00000000-0000-4000-8000-0000000036e1', 'member'),
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f2', '00000000-0000-4000-8000-0000000036e1', 'lead'),
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f1', '00000000-0000-4000-8000-0000000036e2', 'member');
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e1')).teams::jsonb,
	'[{"id": "00000000-0000-4000-8000-0000000036f1", "name": "X", "team_role": "member"},
	  {"id": "00000000-0000-4000-8000-0000000036f2", "name": "Y", "team_role": "lead"}]'::jsonb,
	'members added: U''s teams by name, with his role in each');
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e1')).team_leads,
	'{00000000-0000-4000-8000-0000000036f2}', 'U leads Y');
SELECT is(pg_temp.stale(), '{}'::text[], 'members added: every row right');

UPDATE homebot.team_members SET team_role = 'lead'
 WHERE team_id = '00000000-0000-4000-8000-0000000036f1' AND user_id = '00000000-0000-4000-8000-0000000036e2';
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e2')).team_leads,
	'{00000000-0000-4000-8000-0000000036f1}', 'a team role change: V now leads X');
SELECT is(pg_temp.stale(), '{}'::text[], 'a team role change: every row right');

UPDATE homebot.teams SET name = 'A renamed X' WHERE id = '00000000-0000-4000-8000-0000000036f1';
SELECT is(ARRAY(SELECT e ->> 'name' FROM jsonb_array_elements(
	(pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e2')).teams::jsonb) e),
	ARRAY['A renamed X'], 'a team renamed: its members'' rows carry the new name');
SELECT is(pg_temp.stale(), '{}'::text[], 'a team renamed: every row right');

UPDATE homebot.teams SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-0000000036f1';
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e2')).team_ids,
	'{}', 'a team deleted: gone from its members'' team context');
SELECT is(pg_temp.stale(), '{}'::text[], 'a team deleted: every row right');
UPDATE homebot.teams SET deleted_at = NULL WHERE id = '00000000-0000-4000-8000-0000000036f1';
SELECT is(pg_temp.stale(), '{}'::text[], 'a team restored: every row right');

DELETE FROM homebot.team_members
 WHERE team_id = '00000000-0000-4000-8000-0000000036f2' AND user_id = '00000000-0000-4000-8000-0000000036e1';
SELECT is((pg_temp.access('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e1')).team_leads,
	'{}', 'a member removed from Y: Y gone from U''s leads');
SELECT is(pg_temp.stale(), '{}'::text[], 'a member removed from a team: every row right');

DELETE FROM homebot.teams WHERE id = '00000000-0000-4000-8000-0000000036f1';
SELECT is(pg_temp.stale(), '{}'::text[], 'a team purged (its members go with it): every row right');

-- The role table (a migration's change): every member of the role.
INSERT INTO homebot.role_permissions (role, permission) VALUES ('viewer', 'audit:read');
SELECT ok((pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1')).permissions
          LIKE '%audit:read%', 'a permission given to a role is in its members'' rows');
SELECT is(pg_temp.stale(), '{}'::text[], 'role_permissions changed: every row right');
DELETE FROM homebot.role_permissions WHERE role = 'viewer' AND permission = 'audit:read';
SELECT is(pg_temp.stale(), '{}'::text[], 'role_permissions changed back: every row right');

-- The owner's TRUNCATE of a source table (never a request's).
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036e2', 'audit:read');
INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role) VALUES
	('00000000-0000-4000-8000-00000000036a', '00000000-0000-4000-8000-0000000036f2', '00000000-0000-4000-8000-0000000036e2', 'lead');
TRUNCATE homebot.user_permissions;
SELECT is(pg_temp.stale(), '{}'::text[], 'user_permissions truncated: every row right');
TRUNCATE homebot.team_members;
SELECT is(pg_temp.stale(), '{}'::text[], 'team_members truncated: every row right');

-- A membership gone: its row goes with it.
DELETE FROM homebot.memberships
 WHERE organization_id = '00000000-0000-4000-8000-00000000036b' AND user_id = '00000000-0000-4000-8000-0000000036e1';
SELECT is(pg_temp.access('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e1'), NULL,
	'a membership removed: its row is gone');

-- member_access_rebuild mends a row however it went wrong.
UPDATE homebot.member_access SET permissions = 'org:delete', teams = '[]'
 WHERE organization_id = '00000000-0000-4000-8000-00000000036a' AND user_id = '00000000-0000-4000-8000-0000000036e2';
SELECT isnt(pg_temp.stale(), '{}'::text[], 'precondition: a row spoilt by hand is found stale');
SELECT cmp_ok(homebot.member_access_rebuild(), '>=', 2::bigint, 'the rebuild goes through every organization');
SELECT is(pg_temp.stale(), '{}'::text[], 'after the rebuild: every row right');

-- The request path: its own organization's rows, read only.
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000036b', '00000000-0000-4000-8000-0000000036e2', 'viewer');
SELECT ok((SELECT count(*) FROM homebot.member_access
            WHERE organization_id = '00000000-0000-4000-8000-00000000036b') > 0,
	'precondition: B has rows too');
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000036a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000036e1', true);
SELECT is((SELECT array_agg(DISTINCT organization_id) FROM homebot.member_access),
	'{00000000-0000-4000-8000-00000000036a}'::uuid[], 'homebot_app sees only its organization''s rows');
SELECT throws_ok($$UPDATE homebot.member_access SET permissions = 'org:delete'$$, '42501', NULL,
	'homebot_app cannot change a row');
SELECT throws_ok($$INSERT INTO homebot.member_access VALUES ('00000000-0000-4000-8000-00000000036a',
                   '00000000-0000-4000-8000-0000000036e1', 'org:delete', '[]', '{}', '{}')$$, '42501', NULL,
	'homebot_app cannot write a row');
SELECT throws_ok($$DELETE FROM homebot.member_access$$, '42501', NULL,
	'homebot_app cannot delete a row');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
