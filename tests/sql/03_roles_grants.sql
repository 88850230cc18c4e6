-- The runtime roles hold exactly the privileges 0001_init grants, and the
-- database refuses everything else. RLS decides which rows; these grants
-- decide which statements, and some (TRUNCATE) are not subject to RLS at all.
BEGIN;
SELECT plan(23);

SELECT schema_privs_are('homebot', 'homebot_app', ARRAY['USAGE'],
	'homebot_app may use schema homebot but not create in it');
SELECT table_privs_are('homebot', 'organizations', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may only read organizations as a whole');
SELECT column_privs_are('homebot', 'organizations', 'settings', 'homebot_app',
	ARRAY['SELECT', 'UPDATE'], 'homebot_app may update organization settings');
SELECT column_privs_are('homebot', 'organizations', 'suspended_at', 'homebot_app',
	ARRAY['SELECT'], 'homebot_app may not suspend organizations');
SELECT table_privs_are('homebot', 'users', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may only read users as a whole');
SELECT column_privs_are('homebot', 'users', 'password_hash', 'homebot_app',
	ARRAY['SELECT', 'UPDATE'], 'homebot_app may update password hashes');
SELECT column_privs_are('homebot', 'users', 'is_superadmin', 'homebot_app',
	ARRAY['SELECT'], 'homebot_app may not make anyone superadmin');
SELECT table_privs_are('homebot', 'memberships', 'homebot_app',
	ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
	'homebot_app may read and write memberships, but not truncate them');
SELECT table_privs_are('public', 'schema_migrations', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may only read schema_migrations');
SELECT schema_privs_are('homebot', 'homebot_admin', ARRAY['USAGE'],
	'homebot_admin may use schema homebot but not create in it');
SELECT table_privs_are('public', 'schema_migrations', 'homebot_admin', ARRAY['SELECT'],
	'homebot_admin may only read schema_migrations');

SET LOCAL ROLE homebot_app;

SELECT throws_ok('DELETE FROM homebot.organizations',
	'42501', 'permission denied for table organizations',
	'homebot_app cannot delete organizations');
SELECT throws_ok($$INSERT INTO homebot.organizations (name, slug) VALUES ('x', 'pgtap-x')$$,
	'42501', 'permission denied for table organizations',
	'homebot_app cannot insert organizations');
SELECT throws_ok('DELETE FROM homebot.users',
	'42501', 'permission denied for table users',
	'homebot_app cannot delete users');
SELECT throws_ok($$INSERT INTO homebot.users (email) VALUES ('pgtap-x@example.test')$$,
	'42501', 'permission denied for table users',
	'homebot_app cannot insert users');
SELECT throws_ok('TRUNCATE homebot.memberships',
	'42501', 'permission denied for table memberships',
	'homebot_app cannot truncate memberships (TRUNCATE ignores RLS)');
SELECT throws_ok('ALTER TABLE homebot.memberships DISABLE ROW LEVEL SECURITY',
	'42501', 'must be owner of table memberships',
	'homebot_app cannot disable row-level security');
SELECT throws_ok('CREATE TABLE homebot.pgtap_x (id int)',
	'42501', 'permission denied for schema homebot',
	'homebot_app cannot create tables in schema homebot');
SELECT throws_ok($$INSERT INTO public.schema_migrations (version, name, checksum) VALUES ('9999', 'x', 'x')$$,
	'42501', 'permission denied for table schema_migrations',
	'homebot_app cannot write schema_migrations');
SELECT throws_ok('DELETE FROM public.schema_migrations',
	'42501', 'permission denied for table schema_migrations',
	'homebot_app cannot delete from schema_migrations');
SELECT isnt((SELECT max(version) FROM public.schema_migrations), NULL,
	'homebot_app can read the applied schema version (the readiness check)');
SELECT ok(NOT has_table_privilege('homebot.organizations', 'DELETE')
          AND NOT has_table_privilege('homebot.organizations', 'INSERT'),
	'homebot_app has neither DELETE nor INSERT on organizations');
SELECT ok(NOT has_table_privilege('homebot.users', 'DELETE')
          AND NOT has_table_privilege('homebot.users', 'INSERT'),
	'homebot_app has neither DELETE nor INSERT on users');

SELECT * FROM finish();
ROLLBACK;
