-- Undoes 0009_teams. The functions and triggers are gone already (migrate
-- down drops those of the repeatable files first); the audit events stay.
DROP TABLE homebot.team_members;
DROP TABLE homebot.teams;
DELETE FROM homebot.user_permissions WHERE permission IN ('teams:read', 'teams:write');
DELETE FROM homebot.role_permissions WHERE permission IN ('teams:read', 'teams:write');
-- API keys may hold them as scopes.
UPDATE homebot.api_keys SET scopes = array_remove(array_remove(scopes, 'teams:read'), 'teams:write')
 WHERE scopes && ARRAY['teams:read', 'teams:write'];
DELETE FROM homebot.permissions WHERE name IN ('teams:read', 'teams:write');
