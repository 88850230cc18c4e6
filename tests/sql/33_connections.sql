-- Connections (0013_connections.sql, R__vault_connections.sql) as
-- homebot_app: isolation by organization and team, secret fields seen
-- only with their connection, one default per type in the organization
-- and in each team, row metadata, the audit trail and the soft delete.
--
--   A = ...27a, B = ...27b; team X = ...7a1, Y = ...7a2 in A
--   U (...7e1) member of A, in X
BEGIN;
SELECT plan(32);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000027a', 'Org 27A', 'pgtap-27-a'),
	('00000000-0000-4000-8000-00000000027b', 'Org 27B', 'pgtap-27-b');
INSERT INTO homebot.users (id, email) VALUES
	('00000000-0000-4000-8000-0000000007e1', 'pgtap-27-u@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007e1', 'admin');
INSERT INTO homebot.teams (organization_id, id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007a1', 'X', 'x'),
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007a2', 'Y', 'y');
INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role) VALUES
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007a1', '00000000-0000-4000-8000-0000000007e1', 'member');
INSERT INTO homebot.connections (organization_id, id, team_id, name, type, is_default) VALUES
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-000000007001', NULL, 'a-org', 'smtp', true),
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-000000007002', '00000000-0000-4000-8000-0000000007a1', 'a-x', 'smtp', true),
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-000000007003', '00000000-0000-4000-8000-0000000007a2', 'a-y', 'smtp', true),
	('00000000-0000-4000-8000-00000000027b', '00000000-0000-4000-8000-000000007004', NULL, 'b-org', 'smtp', true);
INSERT INTO homebot.connection_secrets (organization_id, connection_id, name, ciphertext, hint)
SELECT organization_id, id, 'password', decode(repeat('a5', 60), 'hex'), 'f00d' FROM homebot.connections
 WHERE organization_id IN ('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-00000000027b');

SELECT col_type_is('homebot', 'connection_secrets', 'ciphertext', 'bytea', 'a secret field is a bytea blob');
SELECT hasnt_column('homebot', 'connection_secrets', 'value', 'no column holds a value in clear');
SELECT col_type_is('homebot', 'connections', 'config', 'jsonb', 'config is jsonb');
SELECT is((SELECT array_agg(role::text ORDER BY role) FROM homebot.role_permissions WHERE permission = 'connections:write'),
	'{admin,owner}'::text[], 'connections:write: admin and owner');

-- Defaults: one per type in the organization, one per type in each team.
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, name, type, is_default)
                   VALUES ('00000000-0000-4000-8000-00000000027a', 'second', 'smtp', true)$$,
	'23505', NULL, 'a second default smtp of organization A is refused');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, team_id, name, type, is_default)
                   VALUES ('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007a1', 'second', 'smtp', true)$$,
	'23505', NULL, 'a second default smtp of team X is refused');
SELECT lives_ok($$INSERT INTO homebot.connections (organization_id, name, type, is_default)
                  VALUES ('00000000-0000-4000-8000-00000000027a', 'not default', 'smtp', false),
                         ('00000000-0000-4000-8000-00000000027a', 'other type', 's3', true)$$,
	'a connection of the type that is no default, and another type''s default, are fine');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, name, type)
                   VALUES ('00000000-0000-4000-8000-00000000027a', 'bad', 'SMTP')$$,
	'23514', NULL, 'a type is a short lower-case identifier');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, name, type, config)
                   VALUES ('00000000-0000-4000-8000-00000000027a', 'bad', 'http', '[1]')$$,
	'23514', NULL, 'config is a JSON object');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, name, type, config)
                   VALUES ('00000000-0000-4000-8000-00000000027a', 'big', 'http',
                           jsonb_build_object('k', repeat('x', 16400)))$$,
	'23514', NULL, 'config is at most 16 KiB');
-- A deleted default frees its place.
UPDATE homebot.connections SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-000000007004';
SELECT lives_ok($$INSERT INTO homebot.connections (organization_id, id, name, type, is_default)
                  VALUES ('00000000-0000-4000-8000-00000000027b', '00000000-0000-4000-8000-000000007005', 'b-new', 'smtp', true)$$,
	'a deleted default does not count');

SET LOCAL ROLE homebot_app;

SELECT is_empty('SELECT * FROM homebot.connections', 'no context: no connection');
SELECT is_empty('SELECT * FROM homebot.connection_secrets', 'no context: no secret field');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000027a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000007e1', true),
       set_config('app.team_ids', '{00000000-0000-4000-8000-0000000007a1}', true),
       set_config('app.teams_write', '', true);
SELECT results_eq($$SELECT name FROM homebot.connections WHERE type = 'smtp' AND is_default ORDER BY name$$,
	$$VALUES ('a-org'), ('a-x')$$,
	'a member of X sees A''s connections of no team and of X, not of Y nor B''s');
SELECT results_eq('SELECT connection_id FROM homebot.connection_secrets ORDER BY connection_id',
	$$VALUES ('00000000-0000-4000-8000-000000007001'::uuid), ('00000000-0000-4000-8000-000000007002'::uuid)$$,
	'and only those connections'' secret fields');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, team_id, name, type)
                   VALUES ('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000007a2', 'mine', 'http')$$,
	'42501', NULL, 'a member of X cannot write a connection of team Y');
SELECT throws_ok($$INSERT INTO homebot.connections (organization_id, name, type) VALUES ('00000000-0000-4000-8000-00000000027b', 'b', 'http')$$,
	'42501', NULL, 'nor one of organization B');
SELECT throws_ok($$INSERT INTO homebot.connection_secrets (organization_id, connection_id, name, ciphertext)
                   VALUES ('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-000000007003', 'token', decode(repeat('a5', 40), 'hex'))$$,
	'42501', NULL, 'nor a secret field of a connection of team Y');
UPDATE homebot.connections SET name = 'y-renamed' WHERE id = '00000000-0000-4000-8000-000000007003';

-- With teams:write every team's connections are seen.
SELECT set_config('app.teams_write', 'true', true);
SELECT is((SELECT count(*)::int FROM homebot.connections WHERE type = 'smtp' AND is_default), 3,
	'teams:write sees every team''s connection');
SELECT set_config('app.teams_write', '', true);

-- Row metadata.
INSERT INTO homebot.connections (organization_id, id, name, type, version, created_by)
VALUES ('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-000000007006', 'meta', 'http', 50,
        '00000000-0000-4000-8000-0000000007a1');
UPDATE homebot.connections SET config = '{"url": "https://example.com"}' WHERE id = '00000000-0000-4000-8000-000000007006';
SELECT results_eq($$SELECT created_by, updated_by, version FROM homebot.connections WHERE id = '00000000-0000-4000-8000-000000007006'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000007e1'::uuid, '00000000-0000-4000-8000-0000000007e1'::uuid, 2)$$,
	'row metadata from the context; a change raises version');
SELECT throws_ok($$UPDATE homebot.connections SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-000000007001'$$,
	'42501', NULL, 'the request path writes no deleted_at itself');
SELECT throws_ok($$UPDATE homebot.connections SET team_id = NULL WHERE id = '00000000-0000-4000-8000-000000007002'$$,
	'42501', NULL, 'nor moves a connection to another team');

-- The soft delete.
SELECT is(homebot.connection_delete('00000000-0000-4000-8000-000000007003', NULL), 'not_found',
	'connection_delete: another team''s connection is not found');
SELECT is(homebot.connection_delete('00000000-0000-4000-8000-000000007001', 7), 'stale',
	'connection_delete: another version is stale');
SELECT is(homebot.connection_delete('00000000-0000-4000-8000-000000007001', 1), 'ok',
	'connection_delete: the soft delete');
SELECT is_empty($$SELECT 1 FROM homebot.connections WHERE id = '00000000-0000-4000-8000-000000007001'$$,
	'a deleted connection is hidden by the policy');

-- The audit trail.
RESET ROLE;
SELECT is((SELECT name FROM homebot.connections WHERE id = '00000000-0000-4000-8000-000000007003'), 'a-y',
	'the update of team Y''s connection by a member of X changed nothing');
SELECT results_eq($$SELECT action FROM homebot.audit_log
                    WHERE target_id = '00000000-0000-4000-8000-000000007001' AND action LIKE 'connection.%'
                    ORDER BY occurred_at, action$$,
	$$VALUES ('connection.created'), ('connection.deleted')$$,
	'created and deleted are audited');
SELECT is_empty($$SELECT 1 FROM homebot.connection_secrets WHERE connection_id = '00000000-0000-4000-8000-000000007001'$$,
	'the soft delete removes the secret fields at once');
SELECT is((SELECT changes -> 'new' -> 'config' FROM homebot.audit_log
            WHERE target_id = '00000000-0000-4000-8000-000000007006' AND action = 'connection.updated'),
	'{"url": "https://example.com"}'::jsonb, 'an update is audited with the new config');

-- The purge job removes it once its retention is over.
UPDATE homebot.connections SET deleted_at = now() - interval '2 days'
 WHERE id = '00000000-0000-4000-8000-000000007001';
SELECT is(homebot.purge_soft_deleted(86400, 100) >= 1, true, 'purge_soft_deleted removes a connection deleted long enough ago');
SELECT isnt_empty($$SELECT 1 FROM homebot.audit_log WHERE action = 'connection.purged'
                    AND target_id = '00000000-0000-4000-8000-000000007001'$$,
	'the purge is audited as connection.purged');

SELECT * FROM finish();
ROLLBACK;
