-- Settings (api.md §10).
--
-- Platform settings (GET /api/v1/settings, /api/v1/admin/settings): one
-- row a key, a JSON value, a description and whether anyone may read it
-- without a credential (is_public), with the row metadata of api.md §1.
-- No organization owns them, so they are not a tenant table: the admin
-- role reads and writes them; homebot_app has no privilege on the table at
-- all and reads the public rows only through public_settings()
-- (R__settings.sql). The row metadata (created_at/by, updated_at/by,
-- version) is set by the row_metadata trigger of R__teams.sql,
-- never by a writer.
CREATE TABLE homebot.platform_settings (
	key         text PRIMARY KEY
	            CONSTRAINT platform_settings_key_check CHECK (key ~ '^[a-z][a-z0-9_.-]{0,63}$'),
	value       jsonb NOT NULL
	            CONSTRAINT platform_settings_value_check CHECK (octet_length(value::text) <= 65536),
	description text NOT NULL DEFAULT ''
	            CONSTRAINT platform_settings_description_check CHECK (char_length(description) <= 1000),
	is_public   boolean NOT NULL DEFAULT false,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	created_by  uuid REFERENCES homebot.users (id) ON DELETE SET NULL,
	updated_by  uuid REFERENCES homebot.users (id) ON DELETE SET NULL,
	version     integer NOT NULL DEFAULT 1
);

GRANT SELECT, INSERT, UPDATE, DELETE ON homebot.platform_settings TO homebot_admin;

-- Organization settings: the settings document of the organization (one
-- key of it is read and written by GET/PUT
-- /api/v1/organizations/current/settings/{key}) gets the metadata of the
-- document as a whole: settings_version, raised by every change of the
-- document (whatever path wrote it) by the organization_settings_version
-- trigger of R__settings.sql, is the ETag of every key; settings_updated_at
-- and settings_updated_by say when and by whom it last changed. All three
-- are NULL until the document first changes (settings_version NULL is
-- version 1), so that the rows that exist are left as they are.
ALTER TABLE homebot.organizations
	ADD COLUMN settings_version integer
		CONSTRAINT organizations_settings_version_check CHECK (settings_version >= 2),
	ADD COLUMN settings_updated_at timestamptz,
	ADD COLUMN settings_updated_by uuid REFERENCES homebot.users (id) ON DELETE SET NULL;
