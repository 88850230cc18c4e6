-- Homebot's own MQTT events (R__events.sql, 0023_event_outbox.sql): an
-- audit row of an organization puts, in its own transaction, one row in
-- homebot.event_outbox naming that organization and the audit row; the
-- envelope built from it carries no secret; a platform audit row puts
-- nothing there; a change that rolls back leaves no row. homebot-worker
-- takes the events with event_claim (oldest first, under a lease, its
-- published ones deleted) and gives back those it could not publish with
-- event_release; no other runtime role may do either, or read the outbox.
-- An organization's deletion is not held up, and its events are handed
-- out without an envelope, never published.
BEGIN;
SELECT plan(64);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000028a1', 'Events A', 'pgtap-28-events-a'),
       ('00000000-0000-4000-8000-0000000028a2', 'Events B', 'pgtap-28-events-b');
INSERT INTO homebot.users (id, email)
VALUES ('00000000-0000-4000-8000-0000000028b1', 'pgtap-28@example.test');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000028a1', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000028b1', true),
       set_config('app.request_id', 'req-pgtap-28', true),
       set_config('app.ip', '192.0.2.28', true),
       set_config('app.trace_id', '0af7651916cd43dd8448eb211c80319c', true);

-- The events of the outbox with their envelopes, as event_claim builds
-- them (NULL when the outbox has no row for the audit row).
CREATE VIEW pg_temp.events AS
SELECT o.seq, o.organization_id, o.audit_id, o.lease_owner, o.lease_expires_at, o.attempts,
       homebot.event_envelope(a) AS payload
  FROM homebot.event_outbox AS o
  JOIN homebot.audit_log AS a ON a.id = o.audit_id AND a.organization_id = o.organization_id;
CREATE FUNCTION pg_temp.envelope(p_audit_id uuid) RETURNS jsonb LANGUAGE sql AS $$
	SELECT e.payload FROM pg_temp.events AS e WHERE e.audit_id = p_audit_id
$$;

-- A request's audit row, its changes full of what must not be published.
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, actor_id, action, target_type,
                               target_id, changes)
VALUES ('00000000-0000-4000-8000-0000000028c1', '00000000-0000-4000-8000-0000000028a1', 'user',
        '00000000-0000-4000-8000-0000000028b1', 'pgtap.28.event', 'thing', 't-1',
        '{"role": "member", "value": "s3cr3t-value", "key_hash": "\\x00", "prefix": "abcdefgh",
          "email": "who@example.test", "settings": {"webhook_secret": "w"}, "token": "tok",
          "ciphertext": "c", "scopes": ["mqtt:subscribe"], "name": {"nested": "object"},
          "new": {"id": "n-1", "status": "active", "password_hash": "h", "secret": "x"},
          "old": "not an object"}');
RESET ROLE;

SELECT is((SELECT count(*) FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028c1'), 1::bigint,
          'an audit row of an organization puts one row in the outbox');
SELECT is((SELECT organization_id FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028c1'),
          '00000000-0000-4000-8000-0000000028a1'::uuid, '...of that organization');
SELECT ok((SELECT lease_owner IS NULL AND lease_expires_at IS NULL AND attempts = 0
             FROM homebot.event_outbox WHERE audit_id = '00000000-0000-4000-8000-0000000028c1'),
          '...taken by no worker yet');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'id',
          '00000000-0000-4000-8000-0000000028c1', 'id is the audit row''s');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'type', 'pgtap.28.event',
          'type is the action');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') -> 'version', '1'::jsonb,
          'version is 1');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'correlation_id',
          'req-pgtap-28', 'correlation_id is the request ID');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'trace_id',
          '0af7651916cd43dd8448eb211c80319c', 'trace_id is the request''s');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'organization_id',
          '00000000-0000-4000-8000-0000000028a1', 'organization_id');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') ->> 'occurred_at',
          (SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
             FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000028c1'),
          'occurred_at is the audit row''s, in UTC');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1') -> 'data',
          '{"actor_type": "user", "actor_id": "00000000-0000-4000-8000-0000000028b1",
            "target_type": "thing", "target_id": "t-1",
            "changes": {"role": "member", "scopes": ["mqtt:subscribe"],
                        "new": {"id": "n-1", "status": "active"}}}'::jsonb,
          'data: actor, target and the allow-listed changes only');
SELECT ok(pg_temp.envelope('00000000-0000-4000-8000-0000000028c1')::text
          !~ '(s3cr3t|abcdefgh|who@example|webhook|tok"|192\.0\.2\.28|password)',
          'no secret, hash, prefix, address, settings or IP anywhere in the envelope');
SELECT is((SELECT count(*) FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000028c1'
            AND changes ->> 'value' = 's3cr3t-value'), 1::bigint,
          'the audit row itself is unchanged (append-only)');

-- A row change (an API key: its hash and prefix never published).
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by)
VALUES ('00000000-0000-4000-8000-0000000028d1', '00000000-0000-4000-8000-0000000028a1',
        'pgtap28k', decode(repeat('ab', 32), 'hex'), 'pgtap 28 key', '{mqtt:publish}',
        '00000000-0000-4000-8000-0000000028b1');
RESET ROLE;
SELECT is((SELECT payload -> 'data' -> 'changes' -> 'new' FROM pg_temp.events
            WHERE organization_id = '00000000-0000-4000-8000-0000000028a1'
              AND payload ->> 'type' = 'row.api_keys.insert'),
          (SELECT jsonb_build_object('id', k.id, 'organization_id', k.organization_id,
                                     'name', k.name, 'scopes', to_jsonb(k.scopes),
                                     'created_by', k.created_by, 'created_at', k.created_at,
                                     'expires_at', NULL, 'last_used_at', NULL, 'revoked_at', NULL)
                    - 'last_used_at'
             FROM homebot.api_keys AS k WHERE k.id = '00000000-0000-4000-8000-0000000028d1'),
          'a new API key''s event: its fields without key_hash and prefix');
SELECT ok((SELECT bool_and(payload::text !~ '(pgtap28k|abab)') FROM pg_temp.events
            WHERE organization_id = '00000000-0000-4000-8000-0000000028a1'
              AND payload ->> 'type' = 'row.api_keys.insert'),
          '...neither the prefix nor the hash is in it');

-- A platform event (written by a definer function) publishes nothing.
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028c2', NULL, 'system', 'pgtap.28.platform');
SELECT is((SELECT count(*) FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028c2'), 0::bigint,
          'a platform audit row puts no row in the outbox');

-- Every audit row of the organizations has exactly one outbox row, which
-- names its organization and its audit row.
SELECT bag_eq(
	$$SELECT organization_id, audit_id FROM homebot.event_outbox
	   WHERE organization_id IN ('00000000-0000-4000-8000-0000000028a1',
	                             '00000000-0000-4000-8000-0000000028a2')$$,
	$$SELECT organization_id, id FROM homebot.audit_log
	   WHERE organization_id IN ('00000000-0000-4000-8000-0000000028a1',
	                             '00000000-0000-4000-8000-0000000028a2')$$,
	'one outbox row per audit row of an organization, with its organization and audit id');

-- A change that rolls back leaves no outbox row (its audit row neither).
SAVEPOINT change;
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028c3', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.rolled_back');
RESET ROLE;
SELECT is((SELECT count(*) FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028c3'), 1::bigint,
          'inside the transaction the outbox row is there');
ROLLBACK TO SAVEPOINT change;
SELECT is((SELECT count(*) FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028c3'), 0::bigint,
          'a rolled-back change leaves no outbox row');
SELECT is((SELECT count(*) FROM homebot.audit_log
            WHERE id = '00000000-0000-4000-8000-0000000028c3'), 0::bigint,
          '...and no audit row');

-- Without a trace and request in the context: null, still valid.
SELECT set_config('app.trace_id', '', true), set_config('app.request_id', '', true);
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action, changes)
VALUES ('00000000-0000-4000-8000-0000000028c4', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.untraced', '"a string"');
RESET ROLE;
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c4') -> 'trace_id', 'null'::jsonb,
          'no trace in the context: trace_id null');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c4') -> 'correlation_id',
          'null'::jsonb, '...correlation_id null');
SELECT is(pg_temp.envelope('00000000-0000-4000-8000-0000000028c4') -> 'data' -> 'changes',
          '{}'::jsonb, 'changes that are no object: {}');

-- The events are no jobs any more.
SELECT is((SELECT count(*) FROM homebot.jobs WHERE kind = 'mqtt.publish'
            AND organization_id = '00000000-0000-4000-8000-0000000028a1'), 0::bigint,
          'an audited write enqueues no mqtt.publish job');

-- The constraint, still on homebot.jobs: an mqtt.publish job belongs to
-- an organization and carries an envelope.
SELECT throws_ok($$INSERT INTO homebot.jobs (kind, payload) VALUES ('mqtt.publish', '{"id": 1, "type": "x"}')$$,
                 '23514', NULL, 'a platform mqtt.publish job is refused');
SELECT throws_ok($$INSERT INTO homebot.jobs (organization_id, kind, payload)
                   VALUES ('00000000-0000-4000-8000-0000000028a1', 'mqtt.publish', '{}')$$,
                 '23514', NULL, 'one without an envelope too');

-- The wake-up of the workers: one NOTIFY per server connection per
-- 100 ms at most (jobs_wake), the time of the last one a session setting.
SELECT ok(current_setting('homebot.jobs_woken_at', true) ~ '^[0-9]+',
          'the first audited write of a connection notified the workers');
-- The setting and the call in one function: microseconds apart.
CREATE FUNCTION pg_temp.wake_after(p_ago text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('homebot.jobs_woken_at',
	                   CASE WHEN p_ago ~ '^-?[0-9.]+$'
	                        THEN (extract(epoch FROM clock_timestamp()) - p_ago::double precision)::text
	                        ELSE p_ago END, false);
	RETURN homebot.jobs_wake();
END
$$;
SELECT is(pg_temp.wake_after('0'), false, 'one right after it does not notify again');
SELECT is(pg_temp.wake_after('0.2'), true, 'one 200 ms after it does');
SELECT ok(extract(epoch FROM clock_timestamp())
          - current_setting('homebot.jobs_woken_at')::double precision BETWEEN 0 AND 5,
          '...and becomes the last one');
SELECT is(pg_temp.wake_after('-60'), true, 'a last time in the future counts as none');
SELECT is(pg_temp.wake_after('not a time'), true, 'a value that is no time counts as none, without an error');

-- The runtime roles may not call the internal functions, nor any but
-- homebot_worker take or give back events, and none reads the outbox.
SELECT is((SELECT array_agg(r || ' ' || f ORDER BY r, f)
             FROM unnest(ARRAY['homebot_app', 'homebot_admin', 'homebot_worker']) AS r,
                  unnest(ARRAY['homebot.event_data(jsonb)', 'homebot.event_envelope(homebot.audit_log)',
                               'homebot.event_enqueue()', 'homebot.jobs_wake()']) AS f
            WHERE has_function_privilege(r, f, 'EXECUTE')),
          NULL, 'no runtime role may call the internal event functions');
SELECT is((SELECT array_agg(r || ' ' || f ORDER BY r, f)
             FROM unnest(ARRAY['homebot_app', 'homebot_admin']) AS r,
                  unnest(ARRAY['homebot.event_claim(text, integer, bigint[], integer, bigint)',
                               'homebot.event_release(bigint[], text)']) AS f
            WHERE has_function_privilege(r, f, 'EXECUTE')),
          NULL, 'homebot_app and homebot_admin may not call event_claim or event_release');
SELECT ok(has_function_privilege('homebot_worker',
                                 'homebot.event_claim(text, integer, bigint[], integer, bigint)', 'EXECUTE')
          AND has_function_privilege('homebot_worker', 'homebot.event_release(bigint[], text)', 'EXECUTE'),
          'homebot_worker may');
SELECT is((SELECT array_agg(r || ' ' || p ORDER BY r, p)
             FROM unnest(ARRAY['homebot_app', 'homebot_admin', 'homebot_worker']) AS r,
                  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
            WHERE has_table_privilege(r, 'homebot.event_outbox', p)),
          NULL, 'no runtime role may read or write homebot.event_outbox');
SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT * FROM homebot.event_claim('pgtap-28-app', 60, NULL, 10, 0)$$,
                 '42501', NULL, 'homebot_app cannot take events');
SELECT throws_ok('SELECT * FROM homebot.event_outbox', '42501', NULL,
                 '...nor read the outbox');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT throws_ok($$SELECT homebot.event_release(ARRAY[1]::bigint[], 'pgtap-28-admin')$$,
                 '42501', NULL, 'homebot_admin cannot give events back');
SELECT throws_ok('SELECT * FROM homebot.event_outbox', '42501', NULL,
                 '...nor read the outbox');
RESET ROLE;

-- Taking events. The outbox emptied first (and no mqtt.publish job left
-- from before), so that what event_claim hands out and job_counts counts
-- are this file's events only: e1, e2 and e3, in that order.
DELETE FROM homebot.event_outbox;
DELETE FROM homebot.jobs WHERE kind = 'mqtt.publish';
SELECT set_config('app.trace_id', '4bf92f3577b34da6a3ce929d0e0e4736', true),
       set_config('app.request_id', 'req-pgtap-28-claim', true);
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028e1', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.e1');
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028e2', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.e2');
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028e3', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.e3');
RESET ROLE;

-- The seq of each event, and what each call of event_claim handed out,
-- both readable by homebot_worker.
CREATE TABLE pg_temp.ev AS SELECT audit_id, seq FROM homebot.event_outbox;
CREATE FUNCTION pg_temp.seq(p_audit_id uuid) RETURNS bigint LANGUAGE sql AS $$
	SELECT seq FROM pg_temp.ev WHERE audit_id = p_audit_id
$$;
CREATE TABLE pg_temp.claimed (call integer, seq bigint, event_id uuid, organization_id uuid,
                              payload text, attempts integer, trace_id text);
GRANT SELECT ON pg_temp.ev TO homebot_worker;
GRANT SELECT, INSERT ON pg_temp.claimed TO homebot_worker;
CREATE FUNCTION pg_temp.taken(p_call integer) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(right(event_id::text, 2) ORDER BY seq), '{}')
	  FROM pg_temp.claimed WHERE call = p_call
$$;

SELECT is((SELECT (queued, running, dead)::text FROM homebot.job_counts() WHERE kind = 'mqtt.publish'),
          '(3,0,0)', 'job_counts: the events of the outbox are mqtt.publish, all queued');

SET LOCAL ROLE homebot_worker;
INSERT INTO pg_temp.claimed
SELECT 1, c.* FROM homebot.event_claim('pgtap-28-w1', 60, '{}', 1, 0) AS c;
INSERT INTO pg_temp.claimed
SELECT 2, c.* FROM homebot.event_claim('pgtap-28-w1', 60, '{}', 10,
                                       pg_temp.seq('00000000-0000-4000-8000-0000000028e2')) AS c;
INSERT INTO pg_temp.claimed
SELECT 3, c.* FROM homebot.event_claim('pgtap-28-w2', 60, '{}', 10, 0) AS c;
RESET ROLE;

SELECT is(pg_temp.taken(1), '{e1}', 'event_claim hands out the oldest event first, no more than p_max');
SELECT is((SELECT seq FROM pg_temp.claimed WHERE call = 1),
          pg_temp.seq('00000000-0000-4000-8000-0000000028e1'), '...with its seq');
SELECT is((SELECT payload::jsonb FROM pg_temp.claimed WHERE call = 1),
          (SELECT homebot.event_envelope(a) FROM homebot.audit_log AS a
            WHERE a.id = '00000000-0000-4000-8000-0000000028e1'),
          '...its envelope as the payload');
SELECT is((SELECT trace_id FROM pg_temp.claimed WHERE call = 1),
          '4bf92f3577b34da6a3ce929d0e0e4736', '...its trace ID');
SELECT is((SELECT (organization_id, attempts)::text FROM pg_temp.claimed WHERE call = 1),
          '(00000000-0000-4000-8000-0000000028a1,1)', '...its organization, taken once');
SELECT ok((SELECT lease_owner = 'pgtap-28-w1' AND lease_expires_at = now() + interval '60 seconds'
             FROM homebot.event_outbox WHERE audit_id = '00000000-0000-4000-8000-0000000028e1'),
          '...leased to its owner for p_lease seconds');
SELECT is(pg_temp.taken(2), '{e3}', 'with p_after, only events after that seq');
SELECT is(pg_temp.taken(3), '{e2}', 'an event under a lease is not handed out to another owner');
SELECT is((SELECT (queued, running, dead)::text FROM homebot.job_counts() WHERE kind = 'mqtt.publish'),
          '(0,3,0)', 'job_counts: leased events are running');

-- e1's lease runs out (its worker died): e1 is runnable again, and has
-- waited 30 seconds.
UPDATE homebot.event_outbox
   SET lease_expires_at = now() - interval '1 second', created_at = now() - interval '30 seconds'
 WHERE audit_id = '00000000-0000-4000-8000-0000000028e1';
SELECT is((SELECT (queued, running, dead, oldest_queued_seconds)::text FROM homebot.job_counts()
            WHERE kind = 'mqtt.publish'),
          '(1,2,0,30)', 'job_counts: an event whose lease ran out is queued again, with its age');

SET LOCAL ROLE homebot_worker;
INSERT INTO pg_temp.claimed
SELECT 4, c.* FROM homebot.event_claim('pgtap-28-w2', 60, '{}', 10, 0) AS c;
RESET ROLE;
SELECT is(pg_temp.taken(4), '{e1}', 'an event whose lease ran out is handed out again');
SELECT is((SELECT attempts FROM pg_temp.claimed WHERE call = 4), 2, '...its second taking');

-- Now w1 holds e3, w2 e1 and e2. Giving back: w1 cannot give back
-- w2's events; w2 can.
SET LOCAL ROLE homebot_worker;
SELECT homebot.event_release(ARRAY[pg_temp.seq('00000000-0000-4000-8000-0000000028e1'),
                                   pg_temp.seq('00000000-0000-4000-8000-0000000028e2')],
                             'pgtap-28-w1');
RESET ROLE;
SELECT is((SELECT array_agg(lease_owner ORDER BY seq) FROM homebot.event_outbox),
          '{pgtap-28-w2,pgtap-28-w2,pgtap-28-w1}', 'event_release gives back no event of another owner');
SET LOCAL ROLE homebot_worker;
SELECT homebot.event_release(ARRAY[pg_temp.seq('00000000-0000-4000-8000-0000000028e1')],
                             'pgtap-28-w2');
RESET ROLE;
SELECT ok((SELECT lease_owner IS NULL AND lease_expires_at IS NULL FROM homebot.event_outbox
            WHERE audit_id = '00000000-0000-4000-8000-0000000028e1'),
          '...its owner gives it back: no lease holds it');

-- w1 reports e2 (w2's) and e3 published, and takes none, though e1 is
-- free.
SET LOCAL ROLE homebot_worker;
INSERT INTO pg_temp.claimed
SELECT 5, c.* FROM homebot.event_claim('pgtap-28-w1', 60,
                                       ARRAY[pg_temp.seq('00000000-0000-4000-8000-0000000028e2'),
                                             pg_temp.seq('00000000-0000-4000-8000-0000000028e3')],
                                       0, 0) AS c;
RESET ROLE;
SELECT is((SELECT array_agg(right(audit_id::text, 2) ORDER BY seq) FROM homebot.event_outbox),
          '{e1,e2}', 'p_done deletes only the events its owner holds');
SELECT is(pg_temp.taken(5), '{}', '...and p_max 0 hands out none');

SET LOCAL ROLE homebot_worker;
INSERT INTO pg_temp.claimed
SELECT 6, c.* FROM homebot.event_claim('pgtap-28-w3', 60, '{}', 10, 0) AS c;
RESET ROLE;
SELECT is(pg_temp.taken(6), '{e1}',
          'an event its owner gave back is handed out again at once, the others not');

-- Deleting an organization: no error; its events written before are
-- handed out without an envelope (to be recorded done, unpublished), and
-- those of the deletion itself (its rows' audit events) are not kept.
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028e4', '00000000-0000-4000-8000-0000000028a2', 'system',
        'pgtap.28.e4');
SELECT lives_ok($$DELETE FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-0000000028a2'$$,
                'an organization''s deletion is not held up by its events');
SET LOCAL ROLE homebot_worker;
INSERT INTO pg_temp.claimed
SELECT 7, c.* FROM homebot.event_claim('pgtap-28-w3', 60, '{}', 10, 0) AS c;
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM pg_temp.claimed WHERE call = 7
                   AND event_id = '00000000-0000-4000-8000-0000000028e4'
                   AND organization_id = '00000000-0000-4000-8000-0000000028a2'
                   AND payload IS NULL),
          'an event of an organization gone is handed out with a NULL payload');
SELECT is((SELECT count(*) FROM pg_temp.claimed
            WHERE call = 7 AND (payload IS NOT NULL
                                OR organization_id <> '00000000-0000-4000-8000-0000000028a2')),
          0::bigint, '...as is every event of it, and nothing else was free');
SELECT is((SELECT count(*) FROM homebot.jobs
            WHERE organization_id = '00000000-0000-4000-8000-0000000028a2'), 0::bigint,
          '...and it leaves no job of it');
SELECT ok((SELECT count(*) FROM homebot.audit_log
            WHERE organization_id = '00000000-0000-4000-8000-0000000028a2'
              AND action = 'row.organizations.delete') = 1
          AND NOT EXISTS (SELECT FROM homebot.event_outbox o JOIN homebot.audit_log a ON a.id = o.audit_id
                           WHERE a.action = 'row.organizations.delete'
                             AND a.organization_id = '00000000-0000-4000-8000-0000000028a2'),
          'the deletion is audited, but its event is not put in the outbox');

-- The outbox's plans never scan the whole table: it is a queue, whose
-- dead rows pile up between two vacuums, and the planner (with statistics
-- taken while it was empty) would choose a sequential scan and keep it in
-- the plans a server connection caches. Here: statistics of an empty
-- outbox, a server connection's cached plans, and then no sequential scan
-- of the outbox in ten calls.
DELETE FROM homebot.event_outbox;
ANALYZE homebot.event_outbox;
CREATE TEMP TABLE seq_before AS
SELECT coalesce(seq_scan, 0) AS seq_scan, coalesce(idx_scan, 0) AS idx_scan
  FROM pg_stat_xact_user_tables WHERE relid = 'homebot.event_outbox'::regclass;
GRANT SELECT ON seq_before TO homebot_worker;
SET LOCAL ROLE homebot_worker;
SELECT count(*) FROM generate_series(1, 10) AS i,
       LATERAL homebot.event_claim('pgtap-28-w4', 60, ARRAY[i::bigint], 10, i) AS c;
SELECT count(*) FROM generate_series(1, 3) AS i, LATERAL homebot.event_release(ARRAY[i::bigint], 'pgtap-28-w4') AS r;
RESET ROLE;
SELECT is((SELECT coalesce(x.seq_scan, 0) - b.seq_scan FROM pg_stat_xact_user_tables x, seq_before b
            WHERE x.relid = 'homebot.event_outbox'::regclass),
          0::bigint, 'event_claim and event_release never scan the whole outbox, whatever its statistics say');

SELECT * FROM finish();
ROLLBACK;
