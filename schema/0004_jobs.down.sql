-- Undoes 0004_jobs. The role homebot_worker stays: roles are global to the
-- cluster and may serve other databases.
REVOKE SELECT ON public.schema_migrations FROM homebot_worker;
DROP TABLE homebot.jobs;
DELETE FROM homebot.user_permissions WHERE permission = 'jobs:read';
DELETE FROM homebot.role_permissions WHERE permission = 'jobs:read';
DELETE FROM homebot.permissions WHERE name = 'jobs:read';
REVOKE USAGE ON SCHEMA homebot FROM homebot_worker;
