-- Undoes 0011_mqtt. API keys keep their scope lists: a scope that names no
-- permission grants nothing (authenticate_api_key intersects them).
DELETE FROM homebot.user_permissions WHERE permission IN ('mqtt:subscribe', 'mqtt:publish');
DELETE FROM homebot.role_permissions WHERE permission IN ('mqtt:subscribe', 'mqtt:publish');
DELETE FROM homebot.permissions WHERE name IN ('mqtt:subscribe', 'mqtt:publish');
