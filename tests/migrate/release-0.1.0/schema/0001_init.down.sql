-- Undoes 0001_init. The roles homebot_app and homebot_admin stay: roles are
-- global to the cluster and may serve other databases.
REVOKE SELECT ON public.schema_migrations FROM homebot_app, homebot_admin;
DROP SCHEMA homebot CASCADE;
