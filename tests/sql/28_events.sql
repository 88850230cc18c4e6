-- Homebot's own MQTT events (R__events.sql, 0014_events.sql): an audit
-- row of an organization enqueues, in its own transaction, an mqtt.publish
-- job of that organization whose payload is the event's envelope; the
-- envelope carries no secret; a platform audit row enqueues nothing; a
-- change that rolls back leaves no job; an organization's deletion
-- publishes nothing and is not held up.
BEGIN;
SELECT plan(33);

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

SELECT is(count(*), 1::bigint, 'an audit row of an organization enqueues one mqtt.publish job')
  FROM homebot.jobs WHERE kind = 'mqtt.publish'
   AND payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(organization_id, '00000000-0000-4000-8000-0000000028a1'::uuid, '...of that organization')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(max_attempts, 100, '...retried for long (an outage delays, never loses)')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(trace_id, '0af7651916cd43dd8448eb211c80319c', '...the job carries the trace ID')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload ->> 'type', 'pgtap.28.event', 'type is the action')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload -> 'version', '1'::jsonb, 'version is 1')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload ->> 'correlation_id', 'req-pgtap-28', 'correlation_id is the request ID')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload ->> 'trace_id', '0af7651916cd43dd8448eb211c80319c', 'trace_id is the request''s')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload ->> 'organization_id', '00000000-0000-4000-8000-0000000028a1', 'organization_id')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload ->> 'occurred_at',
          (SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
             FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000028c1'),
          'occurred_at is the audit row''s, in UTC')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT is(payload -> 'data',
          '{"actor_type": "user", "actor_id": "00000000-0000-4000-8000-0000000028b1",
            "target_type": "thing", "target_id": "t-1",
            "changes": {"role": "member", "scopes": ["mqtt:subscribe"],
                        "new": {"id": "n-1", "status": "active"}}}'::jsonb,
          'data: actor, target and the allow-listed changes only')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
SELECT ok(payload::text !~ '(s3cr3t|abcdefgh|who@example|webhook|tok"|192\.0\.2\.28|password)',
          'no secret, hash, prefix, address, settings or IP anywhere in the envelope')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c1';
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
SELECT is(payload -> 'data' -> 'changes' -> 'new',
          (SELECT jsonb_build_object('id', k.id, 'organization_id', k.organization_id,
                                     'name', k.name, 'scopes', to_jsonb(k.scopes),
                                     'created_by', k.created_by, 'created_at', k.created_at,
                                     'expires_at', NULL, 'last_used_at', NULL, 'revoked_at', NULL)
                    - 'last_used_at'
             FROM homebot.api_keys AS k WHERE k.id = '00000000-0000-4000-8000-0000000028d1'),
          'a new API key''s event: its fields without key_hash and prefix')
  FROM homebot.jobs
 WHERE payload ->> 'type' = 'row.api_keys.insert'
   AND payload ->> 'organization_id' = '00000000-0000-4000-8000-0000000028a1';
SELECT ok(payload::text !~ '(pgtap28k|abab)', '...neither the prefix nor the hash is in it')
  FROM homebot.jobs WHERE payload ->> 'type' = 'row.api_keys.insert'
   AND payload ->> 'organization_id' = '00000000-0000-4000-8000-0000000028a1';

-- A platform event (written by a definer function) publishes nothing.
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028c2', NULL, 'system', 'pgtap.28.platform');
SELECT is(count(*), 0::bigint, 'a platform audit row enqueues no job')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c2';

-- A change that rolls back leaves no job (its audit row neither).
SAVEPOINT change;
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000028c3', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.rolled_back');
RESET ROLE;
SELECT is(count(*), 1::bigint, 'inside the transaction the job is there')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c3';
ROLLBACK TO SAVEPOINT change;
SELECT is(count(*), 0::bigint, 'a rolled-back change leaves no job')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c3';
SELECT is(count(*), 0::bigint, '...and no audit row')
  FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000028c3';

-- Without a trace and request in the context: null, still valid.
SELECT set_config('app.trace_id', '', true), set_config('app.request_id', '', true);
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action, changes)
VALUES ('00000000-0000-4000-8000-0000000028c4', '00000000-0000-4000-8000-0000000028a1', 'system',
        'pgtap.28.untraced', '"a string"');
RESET ROLE;
SELECT is(payload -> 'trace_id', 'null'::jsonb, 'no trace in the context: trace_id null')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c4';
SELECT is(payload -> 'correlation_id', 'null'::jsonb, '...correlation_id null')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c4';
SELECT is(payload -> 'data' -> 'changes', '{}'::jsonb, 'changes that are no object: {}')
  FROM homebot.jobs WHERE payload ->> 'id' = '00000000-0000-4000-8000-0000000028c4';

-- The constraint: an mqtt.publish job belongs to an organization and
-- carries an envelope.
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

-- The runtime roles may not call the functions.
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.event_data(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('homebot_app', 'homebot.event_enqueue()', 'EXECUTE')
          AND NOT has_function_privilege('homebot_app', 'homebot.jobs_wake()', 'EXECUTE'),
          'homebot_app may not call the event functions');

-- Deleting an organization: no error, and none of its events stays queued.
SELECT lives_ok($$DELETE FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-0000000028a2'$$,
                'an organization''s deletion is not held up by its events');
SELECT is(count(*), 0::bigint, '...and leaves no job of it')
  FROM homebot.jobs WHERE organization_id = '00000000-0000-4000-8000-0000000028a2';

SELECT * FROM finish();
ROLLBACK;
