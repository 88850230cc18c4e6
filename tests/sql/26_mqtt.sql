-- The MQTT broker plugin's side of the database (0011_mqtt.sql,
-- R__mqtt.sql): its audit function writes only the three MQTT events, for
-- the organization it names (none: a platform event), callable by
-- homebot_app alone; the revocation triggers are on every table whose
-- change can take a client's credential or permission away.
BEGIN;
SELECT plan(12);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000025a1', 'MQTT A', 'pgtap-25-mqtt-a');

SELECT ok(has_function_privilege('homebot_app',
	'homebot.mqtt_audit(text, uuid, text, uuid, text, text, text)', 'EXECUTE'),
	'homebot_app may call mqtt_audit');
SELECT ok(NOT has_function_privilege('homebot_admin',
	'homebot.mqtt_audit(text, uuid, text, uuid, text, text, text)', 'EXECUTE'),
	'homebot_admin may not');
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.mqtt_revoked()', 'EXECUTE'),
	'nobody calls the trigger function');

SET LOCAL ROLE homebot_app;
SELECT homebot.mqtt_audit('mqtt.connected', '00000000-0000-4000-8000-0000000025a1', 'user',
	'00000000-0000-4000-8000-0000000025e1', 'sensor-1', '127.0.0.1', NULL);
SELECT homebot.mqtt_audit('mqtt.refused', NULL, NULL, '00000000-0000-4000-8000-0000000025e1',
	'pgtap-25-refused', '127.0.0.1', 'invalid_token');
SELECT throws_ok($$SELECT homebot.mqtt_audit('member.added', NULL, NULL, NULL, 'x', NULL, NULL)$$,
	'22023', NULL, 'no other action');
SELECT throws_ok($$SELECT homebot.mqtt_audit('mqtt.connected', NULL, 'system', NULL, 'x', NULL, NULL)$$,
	'22023', NULL, 'no other actor type');
RESET ROLE;

SELECT results_eq(
	$$SELECT organization_id::text, actor_type, actor_id::text, target_type, ip, changes
	    FROM homebot.audit_log WHERE target_id = 'sensor-1'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000025a1', 'user', '00000000-0000-4000-8000-0000000025e1',
	          'mqtt_client', '127.0.0.1', NULL::jsonb)$$,
	'mqtt.connected: the organization, the user, the client id and address');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, changes->>'reason'
	    FROM homebot.audit_log WHERE target_id = 'pgtap-25-refused'$$,
	$$VALUES (NULL::uuid, 'system', NULL::uuid, 'invalid_token')$$,
	'mqtt.refused: a platform event of the system, with its reason');

SELECT ok(count(*) = 2, format('%s has its two revocation triggers', t))
  FROM unnest(ARRAY['sessions', 'api_keys', 'users', 'organizations', 'memberships']) AS t
  LEFT JOIN pg_trigger g ON g.tgrelid = ('homebot.' || t)::regclass
                        AND g.tgname IN ('mqtt_revoked', 'mqtt_revoked_update')
 GROUP BY t ORDER BY t;

SELECT * FROM finish();
ROLLBACK;
