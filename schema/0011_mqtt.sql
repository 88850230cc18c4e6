-- Real-time messages (api.md §8): the two permissions of the MQTT broker's
-- plugin (mqtt/homebot_auth.c). mqtt:subscribe lets a credential read its
-- organization's topics (every role), mqtt:publish write them (member and
-- up). Like every permission, both are API-key scopes. The plugin's
-- revocation triggers and its audit function are in R__mqtt.sql.
INSERT INTO homebot.permissions (name, description) VALUES
	('mqtt:subscribe', 'Subscribe to the organization''s MQTT topics'),
	('mqtt:publish', 'Publish to the organization''s MQTT topics');
INSERT INTO homebot.role_permissions (role, permission) VALUES
	('viewer', 'mqtt:subscribe'), ('member', 'mqtt:subscribe'),
	('admin', 'mqtt:subscribe'), ('owner', 'mqtt:subscribe'),
	('member', 'mqtt:publish'), ('admin', 'mqtt:publish'), ('owner', 'mqtt:publish');
