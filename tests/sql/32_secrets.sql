-- Secrets (0012_secrets.sql, R__vault.sql) as homebot_app: isolation by
-- organization and team, values and data keys seen only with their
-- secret, row metadata, the soft delete, and a database that holds only
-- ciphertext: the blobs written here are what lib/vault.c writes (random
-- bytes to the database), and no plaintext is readable from any column.
--
--   A = ...26a, B = ...26b; team X = ...6a1, Y = ...6a2 in A
--   U (...6e1) member of A, in X
BEGIN;
SELECT plan(36);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000026a', 'Org 26A', 'pgtap-26-a'),
	('00000000-0000-4000-8000-00000000026b', 'Org 26B', 'pgtap-26-b');
INSERT INTO homebot.users (id, email) VALUES
	('00000000-0000-4000-8000-0000000006e1', 'pgtap-26-u@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-0000000006e1', 'admin');
INSERT INTO homebot.teams (organization_id, id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-0000000006a1', 'X', 'x'),
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-0000000006a2', 'Y', 'y');
INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role) VALUES
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-0000000006a1', '00000000-0000-4000-8000-0000000006e1', 'member');
INSERT INTO homebot.vault_data_keys (organization_id, wrapped) VALUES
	('00000000-0000-4000-8000-00000000026a', decode(repeat('a5', 82), 'hex')),
	('00000000-0000-4000-8000-00000000026b', decode(repeat('a5', 82), 'hex'));
INSERT INTO homebot.secrets (organization_id, id, team_id, name) VALUES
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006001', NULL, 'a-org'),
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006002', '00000000-0000-4000-8000-0000000006a1', 'a-x'),
	('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006003', '00000000-0000-4000-8000-0000000006a2', 'a-y'),
	('00000000-0000-4000-8000-00000000026b', '00000000-0000-4000-8000-000000006004', NULL, 'b-org');
INSERT INTO homebot.secret_values (organization_id, secret_id, version, ciphertext, hint)
SELECT organization_id, id, 1, decode(repeat('a5', 60), 'hex'), 'f00d' FROM homebot.secrets
 WHERE organization_id IN ('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-00000000026b');

SELECT has_table('homebot', 'vault_data_keys', 'vault_data_keys exists');
SELECT col_type_is('homebot', 'secret_values', 'ciphertext', 'bytea', 'a value is a bytea blob');
SELECT hasnt_column('homebot', 'secret_values', 'value', 'no column holds a value in clear');
SELECT throws_ok($$INSERT INTO homebot.vault_data_keys VALUES ('00000000-0000-4000-8000-00000000026a', decode(repeat('a5', 82), 'hex'))$$,
	'23505', NULL, 'one data key per organization: a second is refused');
SELECT throws_ok($$INSERT INTO homebot.secrets (organization_id, name) VALUES ('00000000-0000-4000-8000-00000000026a', 'a-org')$$,
	'23505', NULL, 'a name is unique among the organization''s live secrets');

SET LOCAL ROLE homebot_app;

SELECT is_empty('SELECT * FROM homebot.secrets', 'no context: no secret');
SELECT is_empty('SELECT * FROM homebot.secret_values', 'no context: no value');
SELECT is_empty('SELECT * FROM homebot.vault_data_keys', 'no context: no data key');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000026a', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000006e1', true),
       set_config('app.team_ids', '{00000000-0000-4000-8000-0000000006a1}', true),
       set_config('app.teams_write', '', true);
SELECT results_eq('SELECT name FROM homebot.secrets ORDER BY name', $$VALUES ('a-org'), ('a-x')$$,
	'a member of X sees A''s secrets of no team and of X, not of Y nor B''s');
SELECT results_eq('SELECT secret_id FROM homebot.secret_values ORDER BY secret_id',
	$$VALUES ('00000000-0000-4000-8000-000000006001'::uuid), ('00000000-0000-4000-8000-000000006002'::uuid)$$,
	'and only those secrets'' values');
SELECT results_eq('SELECT organization_id FROM homebot.vault_data_keys',
	$$VALUES ('00000000-0000-4000-8000-00000000026a'::uuid)$$, 'and only A''s data key');
SELECT throws_ok($$INSERT INTO homebot.secrets (organization_id, team_id, name)
                   VALUES ('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-0000000006a2', 'mine')$$,
	'42501', NULL, 'a member of X cannot write a secret of team Y');
SELECT throws_ok($$INSERT INTO homebot.secrets (organization_id, name) VALUES ('00000000-0000-4000-8000-00000000026b', 'b')$$,
	'42501', NULL, 'nor one of organization B');
SELECT throws_ok($$INSERT INTO homebot.secret_values (organization_id, secret_id, version, ciphertext)
                   VALUES ('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006003', 2, decode(repeat('a5', 40), 'hex'))$$,
	'42501', NULL, 'nor a value of a secret of team Y');

-- Row metadata.
INSERT INTO homebot.secrets (organization_id, id, name, version, created_by)
VALUES ('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006005', 'meta', 50,
        '00000000-0000-4000-8000-0000000006a1');
UPDATE homebot.secrets SET value_version = 2 WHERE id = '00000000-0000-4000-8000-000000006005';
SELECT results_eq($$SELECT created_by, version FROM homebot.secrets WHERE id = '00000000-0000-4000-8000-000000006005'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000006e1'::uuid, 2)$$,
	'row metadata from the context; a new value raises version');
SELECT throws_ok($$UPDATE homebot.secrets SET deleted_at = now() WHERE id = '00000000-0000-4000-8000-000000006001'$$,
	'42501', NULL, 'the request path writes no deleted_at itself');

-- The reveal's one call: a secret the request sees answers its ciphertext
-- and wrapped data key with its audit event; another team's or
-- organization's answers nothing and leaves none.
SELECT results_eq($$SELECT value_version, ciphertext = decode(repeat('a5', 60), 'hex'), wrapped = decode(repeat('a5', 82), 'hex')
                    FROM homebot.secret_reveal('00000000-0000-4000-8000-000000006002')$$,
	$$VALUES (1::bigint, true, true)$$, 'secret_reveal: X''s secret, its ciphertext and wrapped key');
SELECT is_empty($$SELECT * FROM homebot.secret_reveal('00000000-0000-4000-8000-000000006003')$$,
	'secret_reveal: nothing of team Y''s');
SELECT is_empty($$SELECT * FROM homebot.secret_reveal('00000000-0000-4000-8000-000000006004')$$,
	'secret_reveal: nothing of organization B''s');
RESET ROLE;
SELECT results_eq($$SELECT organization_id, target_id, actor_type, actor_id, changes FROM homebot.audit_log
                    WHERE action = 'secret.revealed' AND target_id LIKE '00000000-0000-4000-8000-00000000600%'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000026a'::uuid, '00000000-0000-4000-8000-000000006002', 'user',
	          '00000000-0000-4000-8000-0000000006e1'::uuid, '{"value_version": 1}'::jsonb)$$,
	'secret_reveal: one secret.revealed event, of the secret read, by the context''s actor');
SET LOCAL ROLE homebot_app;

-- The create's one call, as the request path makes it: the secret and its
-- first value under the caller's policies, or nothing for a taken name.
SELECT results_eq($$SELECT id, name, team_id, hint, value_version, version, created_at ~ '^\d{4}-\d\d-\d\dT[0-9:.]+Z$'
                    FROM homebot.secret_create('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006006',
                                               '00000000-0000-4000-8000-0000000006a1', 'made', NULL,
                                               decode(repeat('b6', 60), 'hex'), 'beef')$$,
	$$VALUES ('00000000-0000-4000-8000-000000006006'::uuid, 'made', '00000000-0000-4000-8000-0000000006a1'::uuid,
	          'beef', 1::bigint, 1, true)$$,
	'secret_create: a secret of team X with its answer''s fields');
SELECT results_eq($$SELECT s.description, s.created_by, v.version, v.ciphertext = decode(repeat('b6', 60), 'hex'), v.hint
                    FROM homebot.secrets s JOIN homebot.secret_values v ON v.secret_id = s.id
                   WHERE s.id = '00000000-0000-4000-8000-000000006006'$$,
	$$VALUES ('', '00000000-0000-4000-8000-0000000006e1'::uuid, 1::bigint, true, 'beef')$$,
	'...stored with its first value and the row metadata of the context');
SELECT is_empty($$SELECT * FROM homebot.secret_create('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006007',
                                                      NULL, 'made', 'again', decode(repeat('b6', 60), 'hex'), '')$$,
	'secret_create: a taken name answers no row');
SELECT is_empty($$SELECT 1 FROM homebot.secrets WHERE id = '00000000-0000-4000-8000-000000006007'
                  UNION ALL SELECT 1 FROM homebot.secret_values WHERE secret_id = '00000000-0000-4000-8000-000000006007'$$,
	'...and writes nothing');
SELECT throws_ok($$SELECT * FROM homebot.secret_create('00000000-0000-4000-8000-00000000026a', '00000000-0000-4000-8000-000000006008',
                                                       '00000000-0000-4000-8000-0000000006a2', 'y-made', NULL,
                                                       decode(repeat('b6', 60), 'hex'), '')$$,
	'42501', NULL, 'secret_create: the policies still hold, no secret of team Y');
SELECT throws_ok($$SELECT * FROM homebot.secret_create('00000000-0000-4000-8000-00000000026b', '00000000-0000-4000-8000-000000006008',
                                                       NULL, 'b-made', NULL, decode(repeat('b6', 60), 'hex'), '')$$,
	'42501', NULL, '...nor one of organization B');
-- With the wrapped key a secrets process kept: it must still be the
-- organization's stored one, else a row of NULLs and nothing written.
SELECT results_eq($$SELECT id, name FROM homebot.secret_create('00000000-0000-4000-8000-00000000026a',
                    '00000000-0000-4000-8000-000000006009', NULL, 'kept', NULL, decode(repeat('b6', 60), 'hex'), '',
                    decode(repeat('a5', 82), 'hex'))$$,
	$$VALUES ('00000000-0000-4000-8000-000000006009'::uuid, 'kept')$$,
	'secret_create: the key the caller kept is the stored one, the secret is made');
SELECT results_eq($$SELECT id IS NULL AND name IS NULL AND version IS NULL
                    FROM homebot.secret_create('00000000-0000-4000-8000-00000000026a',
                    '00000000-0000-4000-8000-00000000600a', NULL, 'stale', NULL, decode(repeat('b6', 60), 'hex'), '',
                    decode(repeat('a6', 82), 'hex'))$$,
	$$VALUES (true)$$,
	'secret_create: a kept key that is not the stored one (re-wrapped, restored) answers one row of NULLs');
SELECT is_empty($$SELECT 1 FROM homebot.secrets WHERE id = '00000000-0000-4000-8000-00000000600a'
                  UNION ALL SELECT 1 FROM homebot.secret_values WHERE secret_id = '00000000-0000-4000-8000-00000000600a'$$,
	'...and writes nothing');
RESET ROLE;
SELECT results_eq($$SELECT action FROM homebot.audit_log WHERE target_id = '00000000-0000-4000-8000-000000006006'
                       OR changes -> 'new' ->> 'id' = '00000000-0000-4000-8000-000000006006'
                       OR changes -> 'new' ->> 'secret_id' = '00000000-0000-4000-8000-000000006006'
                    ORDER BY action$$,
	$$VALUES ('row.secret_values.insert'), ('row.secrets.insert'), ('secret.created')$$,
	'secret_create: its secret.created event and both rows'' events');
SET LOCAL ROLE homebot_app;

-- The soft delete.
SELECT is(homebot.secret_delete('00000000-0000-4000-8000-000000006003', NULL), 'not_found',
	'secret_delete: another team''s secret is not found');
SELECT is(homebot.secret_delete('00000000-0000-4000-8000-000000006001', 7), 'stale',
	'secret_delete: another version is stale');
SELECT is(homebot.secret_delete('00000000-0000-4000-8000-000000006001', 1), 'ok',
	'secret_delete: the soft delete');

-- The purge job removes it once its retention is over, with its values.
RESET ROLE;
UPDATE homebot.secrets SET deleted_at = now() - interval '2 days'
 WHERE id = '00000000-0000-4000-8000-000000006001';
SELECT is(homebot.purge_soft_deleted(86400, 100) >= 1, true, 'purge_soft_deleted removes a secret deleted long enough ago');
SELECT is_empty($$SELECT 1 FROM homebot.secrets WHERE id = '00000000-0000-4000-8000-000000006001'
                  UNION ALL SELECT 1 FROM homebot.secret_values WHERE secret_id = '00000000-0000-4000-8000-000000006001'$$,
	'the purged secret is gone, and its values');
SELECT isnt_empty($$SELECT 1 FROM homebot.audit_log WHERE action = 'secret.purged'
                    AND target_id = '00000000-0000-4000-8000-000000006001'$$,
	'the purge is audited as secret.purged');

SELECT * FROM finish();
ROLLBACK;
