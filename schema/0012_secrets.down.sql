-- Undoes 0012_secrets (migrate down drops the functions and triggers of
-- the repeatable files first); the audit events stay.
DROP TABLE homebot.secret_values;
DROP TABLE homebot.secrets;
DROP TABLE homebot.vault_data_keys;
DELETE FROM homebot.user_permissions WHERE permission IN ('secrets:read', 'secrets:write', 'secrets:reveal');
DELETE FROM homebot.role_permissions WHERE permission IN ('secrets:read', 'secrets:write', 'secrets:reveal');
-- API keys may hold them as scopes.
UPDATE homebot.api_keys
   SET scopes = array_remove(array_remove(array_remove(scopes, 'secrets:read'), 'secrets:write'), 'secrets:reveal')
 WHERE scopes && ARRAY['secrets:read', 'secrets:write', 'secrets:reveal'];
DELETE FROM homebot.permissions WHERE name IN ('secrets:read', 'secrets:write', 'secrets:reveal');
