-- The devices a user signed in from (api.md §12, the new sign-in notice):
-- a device is a user-agent family and a network (the /24 of an IPv4
-- address, the /48 of an IPv6 one), both derived by the C programs
-- (lib/sign_in.c). A sign-in from a device not seen for that user in 90
-- days mails the user. A person's devices go with the person, into every
-- organization, so the table belongs to no organization, and homebot_app
-- has no privilege on it: login_start and register (R__auth.sql), through
-- sign_in_device_seen (R__sign_in.sql), are the only way in.
CREATE TABLE homebot.sign_in_devices (
	user_id       uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	family        text NOT NULL CHECK (length(family) BETWEEN 1 AND 48),
	network       cidr NOT NULL CHECK (masklen(network) IN (24, 48)),
	first_seen_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, family, network)
);
ALTER TABLE homebot.sign_in_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.sign_in_devices FORCE ROW LEVEL SECURITY;
-- Only the owner's functions (0002_auth.sql, definer_access); no role is
-- granted anything on the table.
CREATE POLICY definer_access ON homebot.sign_in_devices TO CURRENT_USER
	USING (true) WITH CHECK (true);
