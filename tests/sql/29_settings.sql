-- Settings (api.md §10): homebot_app reads the public platform settings
-- through public_settings() alone and cannot read or write the table; the
-- row metadata of platform settings and the version of an organization's
-- settings are set by the database, never by a writer; an organization's
-- settings stay its own.
--
--   A = ...05a, B = ...05b; users u1, u2.
BEGIN;
SELECT plan(27);

INSERT INTO homebot.organizations (id, name, slug, settings) VALUES
	('00000000-0000-4000-8000-00000000005a', 'Org A', 'pgtap-settings-a', '{"tz": "UTC"}'),
	('00000000-0000-4000-8000-00000000005b', 'Org B', 'pgtap-settings-b', '{"tz": "CET"}');
INSERT INTO homebot.users (id, email, full_name) VALUES
	('00000000-0000-4000-8000-0000000005a1', 'pgtap-settings-1@example.test', 'One'),
	('00000000-0000-4000-8000-0000000005a2', 'pgtap-settings-2@example.test', 'Two');

-- ---- the row metadata trigger ----
SET LOCAL app.user_id = '00000000-0000-4000-8000-0000000005a1';
INSERT INTO homebot.platform_settings (key, value, is_public, version, created_by, created_at)
VALUES ('pgtap.public', '"shown"', true, 42, '00000000-0000-4000-8000-0000000005a2', '2000-01-01'),
       ('pgtap.private', '"hidden"', false, DEFAULT, DEFAULT, DEFAULT);
SELECT results_eq(
	$$SELECT version, created_by, updated_by, created_at = now(), updated_at = now()
	    FROM homebot.platform_settings WHERE key = 'pgtap.public'$$,
	$$VALUES (1, '00000000-0000-4000-8000-0000000005a1'::uuid, '00000000-0000-4000-8000-0000000005a1'::uuid,
	          true, true)$$,
	'an insert starts at version 1, stamped now by the context''s user, whatever the writer said');

SET LOCAL app.user_id = '00000000-0000-4000-8000-0000000005a2';
UPDATE homebot.platform_settings SET value = '"shown too"', version = 7,
       created_by = '00000000-0000-4000-8000-0000000005a2', created_at = '2000-01-01'
 WHERE key = 'pgtap.public';
SELECT results_eq(
	$$SELECT version, created_by, updated_by, created_at = now()
	    FROM homebot.platform_settings WHERE key = 'pgtap.public'$$,
	$$VALUES (2, '00000000-0000-4000-8000-0000000005a1'::uuid, '00000000-0000-4000-8000-0000000005a2'::uuid, true)$$,
	'an update raises the version by one, keeps created_*, stamps updated_by from the context');
UPDATE homebot.platform_settings SET description = 'again' WHERE key = 'pgtap.public';
SELECT is((SELECT version FROM homebot.platform_settings WHERE key = 'pgtap.public'), 3,
	'every update raises the version');
SET LOCAL app.user_id = '';
UPDATE homebot.platform_settings SET description = 'no context' WHERE key = 'pgtap.public';
SELECT is((SELECT updated_by FROM homebot.platform_settings WHERE key = 'pgtap.public'), NULL,
	'without a user in the context, updated_by is null');

SELECT throws_ok($$INSERT INTO homebot.platform_settings (key, value) VALUES ('Bad Key', '1')$$,
	'23514', NULL, 'a key outside ^[a-z][a-z0-9_.-]{0,63}$ is refused');
SELECT throws_ok($$INSERT INTO homebot.platform_settings (key, value)
                   VALUES ('pgtap.big', to_jsonb(repeat('x', 70000)))$$,
	'23514', NULL, 'a value over 64 KiB of JSON is refused');

SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action IN ('row.platform_settings.insert', 'row.platform_settings.update')
	    AND target_id IN ('pgtap.public', 'pgtap.private') AND organization_id IS NULL),
	5, 'every row change of a platform setting is a platform audit event');
SELECT ok(
	(SELECT changes -> 'old' ->> 'value' = 'shown' AND changes -> 'new' ->> 'value' = 'shown too'
	   FROM homebot.audit_log WHERE action = 'row.platform_settings.update' AND target_id = 'pgtap.public'
	  ORDER BY occurred_at, id LIMIT 1),
	'the audit event of a change holds the old and the new value');

-- ---- the functions ----
SELECT is(
	(SELECT prosecdef FROM pg_proc WHERE oid = 'homebot.public_settings()'::regprocedure), true,
	'public_settings is SECURITY DEFINER');
SELECT ok(has_function_privilege('homebot_app', 'homebot.public_settings()', 'EXECUTE'),
	'homebot_app may execute public_settings');
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.row_metadata()', 'EXECUTE')
          AND NOT has_function_privilege('homebot_app', 'homebot.organization_settings_version()', 'EXECUTE'),
	'homebot_app may not execute the trigger functions');

-- ---- homebot_app and the platform settings ----
SET LOCAL ROLE homebot_app;
SELECT throws_ok('SELECT * FROM homebot.platform_settings', '42501', NULL,
	'homebot_app cannot read the platform settings table');
SELECT throws_ok($$INSERT INTO homebot.platform_settings (key, value) VALUES ('pgtap.mine', '1')$$,
	'42501', NULL, 'homebot_app cannot insert a platform setting');
SELECT throws_ok($$UPDATE homebot.platform_settings SET is_public = true$$,
	'42501', NULL, 'homebot_app cannot update a platform setting');
SELECT throws_ok($$DELETE FROM homebot.platform_settings$$,
	'42501', NULL, 'homebot_app cannot delete a platform setting');
SELECT is((SELECT settings -> 'pgtap.public' FROM homebot.public_settings()), '"shown too"'::jsonb,
	'public_settings shows a public setting');
SELECT ok(NOT ((SELECT settings FROM homebot.public_settings()) ? 'pgtap.private'),
	'public_settings never shows a private setting');
SELECT is((SELECT etag FROM homebot.public_settings()),
          (SELECT md5(settings::text) FROM homebot.public_settings()),
	'the ETag is the hash of the public object');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM jsonb_object_keys((SELECT settings FROM homebot.public_settings())) k
            WHERE k IN (SELECT key FROM homebot.platform_settings WHERE NOT is_public)), 0,
	'no private key is among the public ones, whatever keys exist');

-- ---- homebot_admin ----
SET LOCAL ROLE homebot_admin;
SELECT lives_ok($$UPDATE homebot.platform_settings SET is_public = true WHERE key = 'pgtap.private'$$,
	'homebot_admin may change a platform setting');
RESET ROLE;

-- ---- organization settings: version and isolation ----
SET LOCAL app.user_id = '00000000-0000-4000-8000-0000000005a1';
SET LOCAL app.org_id = '00000000-0000-4000-8000-00000000005a';
SET LOCAL ROLE homebot_app;
UPDATE homebot.organizations SET settings = settings || '{"lang": "en"}' WHERE id = '00000000-0000-4000-8000-00000000005a';
SELECT results_eq(
	$$SELECT settings_version, settings_updated_by, settings_updated_at = now()
	    FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000005a'$$,
	$$VALUES (2, '00000000-0000-4000-8000-0000000005a1'::uuid, true)$$,
	'a change of the settings raises their version, stamped by the context''s user');
UPDATE homebot.organizations SET name = 'Org A renamed', settings = settings
 WHERE id = '00000000-0000-4000-8000-00000000005a';
SELECT is((SELECT settings_version FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000005a'), 2,
	'an update that leaves the settings as they were keeps their version');
SELECT throws_ok($$UPDATE homebot.organizations SET settings_version = 99$$, '42501', NULL,
	'homebot_app cannot set the settings version itself');
UPDATE homebot.organizations SET settings = '{"tz": "hacked"}' WHERE id = '00000000-0000-4000-8000-00000000005b';
SELECT is_empty($$SELECT settings FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000005b'$$,
	'organization A''s context cannot read organization B''s settings');
RESET ROLE;
SELECT results_eq(
	$$SELECT settings, settings_version FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000005b'$$,
	$$VALUES ('{"tz": "CET"}'::jsonb, NULL::integer)$$,
	'organization A''s context cannot change organization B''s settings');
SET LOCAL ROLE homebot_app;
SET LOCAL app.org_id = '';
SELECT is_empty($$SELECT settings FROM homebot.organizations$$,
	'without a context no organization''s settings are visible');
RESET ROLE;
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'row.organizations.update' AND target_id = '00000000-0000-4000-8000-00000000005a'
	    AND changes -> 'new' -> 'settings' ->> 'lang' = 'en'
	    AND NOT (changes -> 'old' -> 'settings' ? 'lang')),
	1, 'the change of an organization''s settings is audited with old and new row');

SELECT * FROM finish();
ROLLBACK;
