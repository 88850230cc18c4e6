-- The new sign-in notice (0018_sign_in_devices.sql, R__sign_in.sql,
-- api.md §12): login_start records the device of a sign-in and mails the
-- user when that device was not seen for them in 90 days, but not for an
-- account's first device (register's, or the first one recorded); a
-- switch (no device) records nothing; no runtime role touches the table
-- or the functions itself.
BEGIN;
SELECT plan(27);

CREATE TEMP TABLE r (step text, status text);
GRANT ALL ON r TO homebot_app;

-- The notices queued for email, newest last.
CREATE FUNCTION pg_temp.notices(p_email text) RETURNS SETOF jsonb LANGUAGE sql AS $$
	SELECT j.payload FROM homebot.jobs j
	 WHERE j.kind = 'mail' AND j.payload->>'template' = 'sign_in_notice' AND j.payload->>'to' = p_email
	 ORDER BY j.created_at, j.id
$$;

SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE reg31 AS
SELECT * FROM homebot.register('pgtap-31@example.test', '$2b$04$h31', 'P', 'Org 31', '192.0.2.31', 'ua',
                               'req-31-0', sha256('pgtap-31-0'), 600, 'Firefox on Linux', '192.0.2.0/24');
INSERT INTO r SELECT 'register', status FROM reg31;
-- The user the logins below are of.
CREATE TEMP TABLE u31 AS SELECT user_id AS id FROM reg31;
RESET ROLE;
UPDATE homebot.users SET email_verified_at = now() WHERE id = (SELECT id FROM u31);
SET LOCAL ROLE homebot_app;

-- One login from the device of the registration, one from each of two new ones.
CREATE FUNCTION pg_temp.login(p_step text, p_family text, p_network cidr, p_ip text) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO r SELECT p_step, status
	  FROM homebot.login_start((SELECT id FROM u31), NULL, p_ip, 'ua', 'req-31-' || p_step,
	                           sha256(convert_to('pgtap-31-' || p_step, 'UTF8')), 600, NULL, '$2b$04$h31',
	                           p_family, p_network, 'https://homebot.example/account/security')
$$;
SELECT pg_temp.login('known', 'Firefox on Linux', '192.0.2.0/24', '192.0.2.99');
RESET ROLE;
SELECT is((SELECT array_agg(status ORDER BY step) FROM r), ARRAY['ok', 'ok'], 'precondition: registered, logged in');
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31@example.test')), 0::bigint,
	'neither the registration nor a login from its device mails a notice');
SELECT is((SELECT count(*) FROM homebot.sign_in_devices WHERE user_id = (SELECT id FROM u31)), 1::bigint,
	'...and the account has that one device');

SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('family', 'Chrome on Windows', '192.0.2.0/24', '192.0.2.99');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31@example.test')), 1::bigint,
	'another user-agent family in the same network mails one notice');
SELECT is((SELECT (p->'vars') - 'when'::text FROM pg_temp.notices('pgtap-31@example.test') p),
	'{"device": "Chrome on Windows", "network": "192.0.2.0/24", "ip": "192.0.2.99",
	  "link": "https://homebot.example/account/security"}'::jsonb,
	'...saying from where, with the link to the security page');
SELECT matches((SELECT p->'vars'->>'when' FROM pg_temp.notices('pgtap-31@example.test') p),
	'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$', '...and when, in UTC');
SELECT is((SELECT p ? 'secret' FROM pg_temp.notices('pgtap-31@example.test') p), false,
	'...with no secret part (the link holds no token)');
SELECT is((SELECT organization_id FROM homebot.jobs
            WHERE kind = 'mail' AND payload->>'to' = 'pgtap-31@example.test'), NULL,
	'...as a platform job, in no organization''s list');

SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('family-again', 'Chrome on Windows', '192.0.2.0/24', '192.0.2.98');
SELECT pg_temp.login('network', 'Chrome on Windows', '2001:db8:31::/48', '2001:db8:31::1');
SELECT pg_temp.login('network-again', 'Chrome on Windows', '2001:db8:31::/48', '2001:db8:31:0:ffff::2');
RESET ROLE;
SELECT is((SELECT array_agg(p->'vars'->>'network' ORDER BY p->'vars'->>'network')
            FROM pg_temp.notices('pgtap-31@example.test') p),
	ARRAY['192.0.2.0/24', '2001:db8:31::/48'],
	'a device seen before mails nothing; another network of a known family does, once');

UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '89 days'
 WHERE user_id = (SELECT id FROM u31) AND network = '2001:db8:31::/48';
UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '91 days'
 WHERE user_id = (SELECT id FROM u31) AND family = 'Firefox on Linux';
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('89-days', 'Chrome on Windows', '2001:db8:31::/48', '2001:db8:31::1');
SELECT pg_temp.login('91-days', 'Firefox on Linux', '192.0.2.0/24', '192.0.2.31');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31@example.test')), 3::bigint,
	'a device last seen 91 days ago mails again; one seen 89 days ago does not');
SELECT is((SELECT last_seen_at FROM homebot.sign_in_devices
            WHERE user_id = (SELECT id FROM u31) AND family = 'Firefox on Linux'), now(),
	'...and each sign-in makes its device seen now');

-- A switch of organization is no sign-in with credentials: no device.
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('switch', NULL, NULL, '198.51.100.7');
RESET ROLE;
SELECT is((SELECT count(*) FROM homebot.sign_in_devices WHERE user_id = (SELECT id FROM u31)), 3::bigint,
	'a login_start without a device records none');
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31@example.test')), 3::bigint, '...and mails nothing');

-- An account made otherwise (here: directly) has no device yet: its first
-- recorded sign-in is no news, the next from elsewhere is.
INSERT INTO homebot.users (id, email, password_hash, full_name, email_verified_at) VALUES
	('00000000-0000-4000-8000-0000000031e2', 'pgtap-31-invited@example.test', '$2b$04$h31', 'I', now());
INSERT INTO homebot.organizations (id, name, slug) VALUES ('00000000-0000-4000-8000-00000000031a', 'Org 31B', 'pgtap-31-b');
INSERT INTO homebot.memberships (organization_id, user_id, role, status)
VALUES ('00000000-0000-4000-8000-00000000031a', '00000000-0000-4000-8000-0000000031e2', 'member', 'active');
TRUNCATE u31;
INSERT INTO u31 VALUES ('00000000-0000-4000-8000-0000000031e2');
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('first', 'curl', '203.0.113.0/24', '203.0.113.5');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31-invited@example.test')), 0::bigint,
	'the first device recorded for an account made without registering mails nothing');
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('second', 'Python', '203.0.113.0/24', '203.0.113.5');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31-invited@example.test')), 1::bigint,
	'...the next new one does');

-- An address not verified gets no notice (it may be a stranger's); the
-- device is recorded all the same.
UPDATE homebot.users SET email_verified_at = NULL WHERE id = '00000000-0000-4000-8000-0000000031e2';
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('unverified', 'Go', '198.51.100.0/24', '198.51.100.5');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31-invited@example.test')), 1::bigint,
	'a new device of an account whose address is not verified mails nothing');
SELECT is((SELECT count(*) FROM homebot.sign_in_devices
            WHERE user_id = '00000000-0000-4000-8000-0000000031e2' AND family = 'Go'), 1::bigint,
	'...but is recorded');

-- A refused login records nothing.
UPDATE homebot.users SET disabled_at = now() WHERE id = '00000000-0000-4000-8000-0000000031e2';
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('disabled', 'Safari on iOS', '203.0.113.0/24', '203.0.113.5');
RESET ROLE;
SELECT is((SELECT status FROM r WHERE step = 'disabled'), 'account_disabled', 'precondition: the login is refused');
SELECT is((SELECT count(*) FROM homebot.sign_in_devices WHERE user_id = '00000000-0000-4000-8000-0000000031e2'),
	3::bigint, '...and records no device');

SELECT throws_ok($$INSERT INTO homebot.sign_in_devices (user_id, family, network)
                   VALUES ('00000000-0000-4000-8000-0000000031e2', 'curl', '203.0.113.7/32')$$,
	'23514', NULL, 'a device''s network is a /24 or a /48, never one address');

SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT * FROM homebot.sign_in_devices$$, '42501', NULL,
	'homebot_app cannot read the devices');
SELECT throws_ok($$SELECT homebot.sign_in_device_seen('00000000-0000-4000-8000-0000000031e2', 'curl',
                                                     '203.0.113.0/24')$$,
	'42501', NULL, '...nor mark one as seen but through a login');
RESET ROLE;

-- The retention job: devices not seen in 90 days go, but each user's last
-- one, so the user stays known.
RESET ROLE;
UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '100 days'
 WHERE user_id = '00000000-0000-4000-8000-0000000031e2' AND family IN ('curl', 'Go');
UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '95 days'
 WHERE user_id = '00000000-0000-4000-8000-0000000031e2' AND family = 'Python';
UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '10 days'
 WHERE user_id = (SELECT user_id FROM reg31) AND family = 'Firefox on Linux';
UPDATE homebot.sign_in_devices SET last_seen_at = now() - interval '120 days'
 WHERE user_id = (SELECT user_id FROM reg31) AND family <> 'Firefox on Linux';
SET LOCAL ROLE homebot_app;
SELECT throws_ok('SELECT homebot.sign_in_purge()', '42501', NULL, 'homebot_app cannot purge the devices');
RESET ROLE;
SET LOCAL ROLE homebot_worker;
SELECT cmp_ok(homebot.sign_in_purge(), '>=', 3, 'sign_in_purge: homebot_worker runs it');
RESET ROLE;
SELECT is((SELECT array_agg(family ORDER BY family) FROM homebot.sign_in_devices
            WHERE user_id = '00000000-0000-4000-8000-0000000031e2'),
	ARRAY['Python'], '...every device older than 90 days went but the user''s last one');
SELECT is((SELECT array_agg(family ORDER BY family) FROM homebot.sign_in_devices
            WHERE user_id = (SELECT user_id FROM reg31)),
	ARRAY['Firefox on Linux'], '...and a device seen within 90 days stays');
UPDATE homebot.users SET disabled_at = NULL, email_verified_at = now()
 WHERE id = '00000000-0000-4000-8000-0000000031e2';
SET LOCAL ROLE homebot_app;
SELECT pg_temp.login('after-purge', 'curl', '203.0.113.0/24', '203.0.113.5');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.notices('pgtap-31-invited@example.test')), 2::bigint,
	'...a purged device mails again at its next sign-in');

SELECT * FROM finish();
ROLLBACK;
