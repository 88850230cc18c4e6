-- Homebot's own MQTT events (api.md §8): every audit event of an
-- organization is published on org/<org_id>/events through the jobs queue,
-- as a job of kind mqtt.publish whose payload is the event's envelope. The
-- trigger that enqueues it, in the transaction of the audit row, is in
-- R__events.sql. Such a job always belongs to its organization (the
-- worker publishes on that organization's topic, never on one the payload
-- names) and carries an envelope: a platform mqtt.publish job, or one
-- without id and type, cannot exist.
ALTER TABLE homebot.jobs ADD CONSTRAINT jobs_mqtt_publish_check
	CHECK (kind <> 'mqtt.publish'
	       OR (organization_id IS NOT NULL AND payload ? 'id' AND payload ? 'type'));
