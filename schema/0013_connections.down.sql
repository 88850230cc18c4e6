-- Undoes 0013_connections (migrate down drops the functions and triggers
-- of the repeatable files first); the audit events stay.
DROP TABLE homebot.connection_secrets;
DROP TABLE homebot.connections;
DELETE FROM homebot.user_permissions WHERE permission IN ('connections:read', 'connections:write');
DELETE FROM homebot.role_permissions WHERE permission IN ('connections:read', 'connections:write');
-- API keys may hold them as scopes.
UPDATE homebot.api_keys
   SET scopes = array_remove(array_remove(scopes, 'connections:read'), 'connections:write')
 WHERE scopes && ARRAY['connections:read', 'connections:write'];
DELETE FROM homebot.permissions WHERE name IN ('connections:read', 'connections:write');
