-- Undoes 0023_event_outbox. The events still in the outbox are dropped:
-- an older release publishes from the jobs queue, and its trigger enqueues
-- only the events written after the downgrade.
DROP TABLE homebot.event_outbox;
