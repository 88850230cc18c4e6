-- Teams (0009_teams.sql, R__teams.sql) as homebot_app: isolation by
-- organization, the team scope of team-scoped rows, the row metadata set
-- by the database, soft-deleted teams hidden by the policies, the purge,
-- and team memberships that leave with the organization's membership.
--
--   A = ...25a, B = ...25b; teams X = ...5a1, Y = ...5a2 in A, Z = ...5b1 in B
--   U (...5e1) member of A, in X as lead; V (...5e2) member of A, in Y;
--   W (...5e3) owner of B, in Z
BEGIN;
SELECT plan(37);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000025a', 'Org 25A', 'pgtap-25-a'),
	('00000000-0000-4000-8000-00000000025b', 'Org 25B', 'pgtap-25-b');
INSERT INTO homebot.users (id, email) VALUES
	('00000000-0000-4000-8000-0000000005e1', 'pgtap-25-u@example.test'),
	('00000000-0000-4000-8000-0000000005e2', 'pgtap-25-v@example.test'),
	('00000000-0000-4000-8000-0000000005e3', 'pgtap-25-w@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005e1', 'member'),
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005e2', 'member'),
	('00000000-0000-4000-8000-00000000025b', '00000000-0000-4000-8000-0000000005e3', 'owner');
INSERT INTO homebot.teams (organization_id, id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a1', 'X', 'x'),
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a2', 'Y', 'y'),
	('00000000-0000-4000-8000-00000000025b', '00000000-0000-4000-8000-0000000005b1', 'Z', 'z');
INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role) VALUES
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a1', '00000000-0000-4000-8000-0000000005e1', 'lead'),
	('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a2', '00000000-0000-4000-8000-0000000005e2', 'member'),
	('00000000-0000-4000-8000-00000000025b', '00000000-0000-4000-8000-0000000005b1', '00000000-0000-4000-8000-0000000005e3', 'member');

-- The proof table of the team scope: team-scoped as every such table must
-- be (02_rls_structure.sql), created only inside this transaction.
CREATE TABLE homebot.pgtap_scoped (organization_id uuid NOT NULL, id integer, team_id uuid, label text);
CREATE INDEX ON homebot.pgtap_scoped (organization_id);
ALTER TABLE homebot.pgtap_scoped ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.pgtap_scoped FORCE ROW LEVEL SECURITY;
CREATE POLICY pgtap_scoped_tenant ON homebot.pgtap_scoped
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND (team_id IS NULL
	            OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	            OR (SELECT current_setting('app.teams_write', true)) = 'true'))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND (team_id IS NULL
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	                 OR (SELECT current_setting('app.teams_write', true)) = 'true'));
GRANT SELECT, INSERT, UPDATE, DELETE ON homebot.pgtap_scoped TO homebot_app;
INSERT INTO homebot.pgtap_scoped VALUES
	('00000000-0000-4000-8000-00000000025a', 1, NULL, 'A, no team'),
	('00000000-0000-4000-8000-00000000025a', 2, '00000000-0000-4000-8000-0000000005a1', 'A, team X'),
	('00000000-0000-4000-8000-00000000025a', 3, '00000000-0000-4000-8000-0000000005a2', 'A, team Y'),
	('00000000-0000-4000-8000-00000000025b', 4, '00000000-0000-4000-8000-0000000005b1', 'B, team Z');

SET LOCAL ROLE homebot_app;

-- No context: nothing at all.
SELECT is_empty('SELECT * FROM homebot.teams', 'no context: no team');
SELECT is_empty('SELECT * FROM homebot.team_members', 'no context: no team membership');
SELECT is_empty('SELECT * FROM homebot.pgtap_scoped', 'no context: no team-scoped row');
SELECT throws_ok($$INSERT INTO homebot.pgtap_scoped VALUES ('00000000-0000-4000-8000-00000000025a', 9, NULL, 'x')$$,
	'42501', NULL, 'no context: no team-scoped row can be written');

-- U's context in A: the organization's teams, the rows of no team and of X.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000025a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000005e1', true);
-- As authenticate_session: the teams are read once the context is set.
SELECT set_config('app.team_ids', team_ids, true),
       set_config('app.team_leads', team_leads, true),
       set_config('app.teams_write', '', true)
  FROM homebot.member_access
 WHERE organization_id = '00000000-0000-4000-8000-00000000025a'
   AND user_id = '00000000-0000-4000-8000-0000000005e1';

SELECT results_eq('SELECT name FROM homebot.teams ORDER BY name', $$VALUES ('X'), ('Y')$$,
	'A''s context: A''s teams, not B''s');
SELECT is((SELECT teams FROM homebot.member_access
            WHERE organization_id = '00000000-0000-4000-8000-00000000025a'
              AND user_id = '00000000-0000-4000-8000-0000000005e1')::jsonb,
	'[{"id": "00000000-0000-4000-8000-0000000005a1", "name": "X", "team_role": "lead"}]'::jsonb,
	'member_access: U''s teams in A with his role (the me object''s teams)');
SELECT results_eq('SELECT id FROM homebot.pgtap_scoped ORDER BY id', $$VALUES (1), (2)$$,
	'a member of team X sees the rows of no team and of X, not of Y (nor of B)');
SELECT throws_ok($$INSERT INTO homebot.pgtap_scoped
                   VALUES ('00000000-0000-4000-8000-00000000025a', 9, '00000000-0000-4000-8000-0000000005a2', 'x')$$,
	'42501', NULL, 'a member of X cannot write a row of team Y');
SELECT lives_ok($$INSERT INTO homebot.pgtap_scoped
                  VALUES ('00000000-0000-4000-8000-00000000025a', 8, '00000000-0000-4000-8000-0000000005a1', 'x')$$,
	'a member of X writes a row of team X');
SELECT is_empty($$UPDATE homebot.pgtap_scoped SET label = 'taken' WHERE id = 3 RETURNING id$$,
	'a member of X cannot update a row of team Y');
SELECT throws_ok($$UPDATE homebot.pgtap_scoped SET team_id = '00000000-0000-4000-8000-0000000005a2' WHERE id = 2$$,
	'42501', NULL, 'nor move a row of X into Y');
SELECT is_empty($$DELETE FROM homebot.pgtap_scoped WHERE id = 3 RETURNING id$$,
	'nor delete a row of team Y');

-- Leads write their own team's members, and no other team's.
SELECT lives_ok($$INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
                  VALUES ('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a1',
                          '00000000-0000-4000-8000-0000000005e2', 'member')$$,
	'the lead of X adds a member to X');
SELECT throws_ok($$INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
                   VALUES ('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a2',
                           '00000000-0000-4000-8000-0000000005e1', 'lead')$$,
	'42501', NULL, 'the lead of X cannot add to Y');
SELECT is_empty($$DELETE FROM homebot.team_members
                   WHERE team_id = '00000000-0000-4000-8000-0000000005a2' RETURNING user_id$$,
	'the lead of X cannot remove Y''s members');

-- Row metadata: from the context, never from the writer.
SELECT set_config('app.teams_write', 'true', true);
INSERT INTO homebot.teams (organization_id, id, name, slug, created_by, updated_by, version, created_at)
VALUES ('00000000-0000-4000-8000-00000000025a', '00000000-0000-4000-8000-0000000005a3', 'Meta', 'meta',
        '00000000-0000-4000-8000-0000000005e3', '00000000-0000-4000-8000-0000000005e3', 77, '2000-01-01');
SELECT results_eq($$SELECT created_by, updated_by, version, created_at = now() FROM homebot.teams
                     WHERE id = '00000000-0000-4000-8000-0000000005a3'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005e1'::uuid, '00000000-0000-4000-8000-0000000005e1'::uuid, 1, true)$$,
	'insert: created_by/updated_by are the context''s user, version 1, created_at now, whatever was written');
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000005e2', true);
UPDATE homebot.teams SET name = 'Meta 2' WHERE id = '00000000-0000-4000-8000-0000000005a3';
SELECT results_eq($$SELECT created_by, updated_by, version FROM homebot.teams
                     WHERE id = '00000000-0000-4000-8000-0000000005a3'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005e1'::uuid, '00000000-0000-4000-8000-0000000005e2'::uuid, 2)$$,
	'update: updated_by is the new context''s user, created_by stays, version rises');
SELECT throws_ok($$UPDATE homebot.teams SET version = 1 WHERE id = '00000000-0000-4000-8000-0000000005a3'$$,
	'42501', NULL, 'homebot_app may not write version itself');
SELECT throws_ok($$UPDATE homebot.teams SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-0000000005a3'$$,
	'42501', NULL, 'nor deleted_at: the soft delete is team_delete''s');
SELECT results_eq('SELECT id FROM homebot.pgtap_scoped ORDER BY id', $$VALUES (1), (2), (3), (8)$$,
	'with teams:write: every team''s rows of the organization (still not B''s)');
SELECT throws_ok($$INSERT INTO homebot.teams (organization_id, name, slug)
                   VALUES ('00000000-0000-4000-8000-00000000025b', 'Evil', 'evil')$$,
	'42501', NULL, 'no team is written into another organization');
SELECT is_empty($$UPDATE homebot.teams SET name = 'taken' WHERE id = '00000000-0000-4000-8000-0000000005b1' RETURNING id$$,
	'nor another organization''s team changed');

-- Soft delete: gone for every statement of the request path at once.
SELECT is(homebot.team_delete('00000000-0000-4000-8000-0000000005a3', 1), 'stale',
	'team_delete with an old version: stale, nothing changes');
SELECT is(homebot.team_delete('00000000-0000-4000-8000-0000000005a3', 2), 'ok', 'team_delete with the version');
SELECT is_empty($$SELECT FROM homebot.teams WHERE id = '00000000-0000-4000-8000-0000000005a3'$$,
	'a soft-deleted team is invisible');
SELECT is_empty($$UPDATE homebot.teams SET name = 'back' WHERE id = '00000000-0000-4000-8000-0000000005a3' RETURNING id$$,
	'and cannot be changed');
SELECT is(homebot.team_delete('00000000-0000-4000-8000-0000000005a3', NULL), 'not_found',
	'nor deleted again');
SELECT is(homebot.team_delete('00000000-0000-4000-8000-0000000005b1', NULL), 'not_found',
	'team_delete does not reach another organization''s team');

-- B's context: none of A's.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000025b', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000005e3', true),
       set_config('app.team_ids', '{00000000-0000-4000-8000-0000000005a1}', true),
       set_config('app.teams_write', 'true', true);
SELECT results_eq('SELECT id FROM homebot.pgtap_scoped', $$VALUES (4)$$,
	'B''s context, even naming A''s team and with teams:write: only B''s rows');
SELECT results_eq('SELECT name FROM homebot.teams', $$VALUES ('Z')$$, 'B''s context: B''s team only');

RESET ROLE;
SELECT is((SELECT version FROM homebot.teams WHERE id = '00000000-0000-4000-8000-0000000005a3'), 3,
	'the soft delete is a change: version 3');
SELECT ok((SELECT deleted_at IS NOT NULL FROM homebot.teams WHERE id = '00000000-0000-4000-8000-0000000005a3'),
	'the deleted team''s row is still there until the purge');
SELECT results_eq($$SELECT action FROM homebot.audit_log
                     WHERE target_id = '00000000-0000-4000-8000-0000000005a3' AND action LIKE 'team.%' ORDER BY occurred_at, action$$,
	$$VALUES ('team.created'), ('team.updated'), ('team.deleted')$$,
	'team.created, team.updated and team.deleted are audited');

-- The purge: only what was deleted longer ago than the retention.
SELECT is(homebot.purge_soft_deleted(3600, 100), 0, 'purge: a team deleted just now stays');
UPDATE homebot.teams SET deleted_at = now() - interval '2 hours' WHERE id = '00000000-0000-4000-8000-0000000005a3';
SELECT is(homebot.purge_soft_deleted(3600, 100), 1, 'purge: a team deleted longer ago goes');

-- Leaving the organization leaves its teams, in the same transaction.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000025a', true),
       set_config('app.user_id', '', true);
SELECT is((SELECT status FROM homebot.remove_member('00000000-0000-4000-8000-0000000005e2')), 'ok',
	'V is removed from A');
SELECT is_empty($$SELECT FROM homebot.team_members WHERE user_id = '00000000-0000-4000-8000-0000000005e2'$$,
	'and is in none of A''s teams any more');

SELECT * FROM finish();
ROLLBACK;
