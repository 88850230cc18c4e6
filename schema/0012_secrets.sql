-- Secrets (api.md §11): named values an organization, or one of its
-- teams, stores for its integrations. The C programs encrypt every value
-- (lib/vault.c) before it reaches the database: this schema holds only the
-- organizations' wrapped data keys and the value blobs, never a key or a
-- value in clear. The triggers and functions are in R__vault.sql.

INSERT INTO homebot.permissions (name, description) VALUES
	('secrets:read', 'List the secrets and read their metadata, never a value'),
	('secrets:write', 'Create secrets, write new values and delete secrets'),
	('secrets:reveal', 'Read a secret''s value (audited as secret.revealed)');
INSERT INTO homebot.role_permissions (role, permission) VALUES
	('admin', 'secrets:read'), ('owner', 'secrets:read'),
	('admin', 'secrets:write'), ('owner', 'secrets:write'),
	('owner', 'secrets:reveal');

-- One data key per organization, wrapped by the master key with the
-- organization bound in (lib/vault.h). Created on the organization's first
-- secret; the primary key decides between two first secrets at once (the
-- loser's INSERT … ON CONFLICT DO NOTHING inserts nothing and it reads
-- the winner's key).
CREATE TABLE homebot.vault_data_keys (
	organization_id uuid PRIMARY KEY REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	wrapped bytea NOT NULL CHECK (octet_length(wrapped) BETWEEN 67 AND 98),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE homebot.secrets (
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	id uuid NOT NULL DEFAULT gen_random_uuid(),
	team_id uuid,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
	-- The version of the current value (secret_values.version).
	value_version bigint NOT NULL DEFAULT 1 CHECK (value_version >= 1),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid,
	version integer NOT NULL DEFAULT 1,
	deleted_at timestamptz,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, team_id) REFERENCES homebot.teams (organization_id, id) ON DELETE CASCADE
);

-- A name is taken only by a live secret. Named so that callers can map
-- the violation to 409 name_taken.
CREATE UNIQUE INDEX secrets_organization_id_name_key ON homebot.secrets (organization_id, name)
	WHERE deleted_at IS NULL;
-- GET /api/v1/secrets, newest first, a page at a time.
CREATE INDEX secrets_organization_id_created_at_idx ON homebot.secrets (organization_id, created_at DESC, id DESC);
-- The purge job's scan.
CREATE INDEX secrets_deleted_at_idx ON homebot.secrets (deleted_at) WHERE deleted_at IS NOT NULL;
-- The cascade from a team.
CREATE INDEX secrets_organization_id_team_id_idx ON homebot.secrets (organization_id, team_id) WHERE team_id IS NOT NULL;

-- The values: the current one (secrets.value_version) and up to
-- SECRET_HISTORY - 1 before it. ciphertext is a value blob of lib/vault.h
-- bound to (organization, secret, version); hint is the last 4 characters
-- of a value of at least 16, else NULL.
CREATE TABLE homebot.secret_values (
	organization_id uuid NOT NULL,
	secret_id uuid NOT NULL,
	version bigint NOT NULL CHECK (version >= 1),
	ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 30 AND 65565),
	hint text CHECK (char_length(hint) BETWEEN 1 AND 4),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, secret_id, version),
	FOREIGN KEY (organization_id, secret_id) REFERENCES homebot.secrets (organization_id, id) ON DELETE CASCADE
);

ALTER TABLE homebot.vault_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.vault_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY vault_data_keys_tenant ON homebot.vault_data_keys
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY definer_access ON homebot.vault_data_keys TO CURRENT_USER USING (true) WITH CHECK (true);

-- A deleted secret is gone for the request path, as a deleted team is
-- (0009_teams.sql); a secret of a team is its members' and the holders of
-- teams:write's.
ALTER TABLE homebot.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY secrets_tenant ON homebot.secrets
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND deleted_at IS NULL
	       AND (team_id IS NULL
	            OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	            OR (SELECT current_setting('app.teams_write', true)) = 'true'))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND (team_id IS NULL
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	                 OR (SELECT current_setting('app.teams_write', true)) = 'true'));
CREATE POLICY definer_access ON homebot.secrets TO CURRENT_USER USING (true) WITH CHECK (true);

-- A value is seen only with its secret: the secrets policy (organization,
-- team, deleted_at) decides for both.
ALTER TABLE homebot.secret_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.secret_values FORCE ROW LEVEL SECURITY;
CREATE POLICY secret_values_tenant ON homebot.secret_values
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND EXISTS (SELECT FROM homebot.secrets s
	                    WHERE s.organization_id = secret_values.organization_id AND s.id = secret_values.secret_id))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND EXISTS (SELECT FROM homebot.secrets s
	                         WHERE s.organization_id = secret_values.organization_id AND s.id = secret_values.secret_id));
CREATE POLICY definer_access ON homebot.secret_values TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.secrets TO homebot_admin USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON homebot.vault_data_keys TO homebot_app;
GRANT SELECT, INSERT ON homebot.secrets TO homebot_app;
-- The soft delete goes through secret_delete (R__vault.sql).
GRANT UPDATE (description, value_version) ON homebot.secrets TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.secret_values TO homebot_app;
-- The admin role sees the metadata, never a blob or a wrapped key.
GRANT SELECT ON homebot.secrets TO homebot_admin;
