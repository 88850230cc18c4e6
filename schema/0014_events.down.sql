-- Undoes 0014_events. Pending mqtt.publish jobs stay (no worker of an
-- older release has a handler for them: they die).
ALTER TABLE homebot.jobs DROP CONSTRAINT jobs_mqtt_publish_check;
