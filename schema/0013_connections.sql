-- Connections (api.md §11): typed integration settings of an
-- organization, or of one of its teams. config is plain JSON that holds no
-- secret; the secret fields are stored beside it, encrypted by the C
-- programs exactly as secret values are (lib/vault.c, the organization's
-- data key of 0012_secrets.sql), so this schema never holds one in clear.
-- The triggers and functions are in R__vault_connections.sql.

INSERT INTO homebot.permissions (name, description) VALUES
	('connections:read', 'List the connections and read them, their secret fields masked'),
	('connections:write', 'Create, change and delete connections');
INSERT INTO homebot.role_permissions (role, permission) VALUES
	('viewer', 'connections:read'), ('member', 'connections:read'),
	('admin', 'connections:read'), ('owner', 'connections:read'),
	('admin', 'connections:write'), ('owner', 'connections:write');

CREATE TABLE homebot.connections (
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	id uuid NOT NULL DEFAULT gen_random_uuid(),
	team_id uuid,
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	-- smtp, http, s3, postgres, llm, …: a short identifier.
	type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_.-]{0,31}$'),
	config jsonb NOT NULL DEFAULT '{}'
		CHECK (jsonb_typeof(config) = 'object' AND octet_length(config::text) <= 16384),
	is_active boolean NOT NULL DEFAULT true,
	is_default boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid,
	version integer NOT NULL DEFAULT 1,
	deleted_at timestamptz,
	PRIMARY KEY (organization_id, id),
	FOREIGN KEY (organization_id, team_id) REFERENCES homebot.teams (organization_id, id) ON DELETE CASCADE
);

-- At most one live default per type in the organization (team_id NULL)
-- and in each team. Named so that callers can map the violation to 409
-- default_taken.
CREATE UNIQUE INDEX connections_default_key ON homebot.connections (organization_id, team_id, type)
	NULLS NOT DISTINCT WHERE is_default AND deleted_at IS NULL;
-- GET /api/v1/connections, newest first, a page at a time.
CREATE INDEX connections_organization_id_created_at_idx ON homebot.connections (organization_id, created_at DESC, id DESC);
-- The purge job's scan.
CREATE INDEX connections_deleted_at_idx ON homebot.connections (deleted_at) WHERE deleted_at IS NOT NULL;
-- The cascade from a team.
CREATE INDEX connections_organization_id_team_id_idx ON homebot.connections (organization_id, team_id) WHERE team_id IS NOT NULL;

-- The secret fields of a connection: name → a value blob of lib/vault.h
-- bound to (organization, id, value_version), where id is the field's
-- own, so a blob moved to another field, connection or organization
-- fails to decrypt. hint is as a secret's (0012_secrets.sql).
CREATE TABLE homebot.connection_secrets (
	organization_id uuid NOT NULL,
	connection_id uuid NOT NULL,
	id uuid NOT NULL DEFAULT gen_random_uuid(),
	name text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$'),
	value_version bigint NOT NULL DEFAULT 1 CHECK (value_version >= 1),
	ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 30 AND 65565),
	hint text CHECK (char_length(hint) BETWEEN 1 AND 4),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (organization_id, connection_id, name),
	UNIQUE (organization_id, id),
	FOREIGN KEY (organization_id, connection_id) REFERENCES homebot.connections (organization_id, id) ON DELETE CASCADE
);

-- A deleted connection is gone for the request path, as a deleted secret
-- is; a connection of a team is its members' and the holders of
-- teams:write's.
ALTER TABLE homebot.connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.connections FORCE ROW LEVEL SECURITY;
CREATE POLICY connections_tenant ON homebot.connections
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND deleted_at IS NULL
	       AND (team_id IS NULL
	            OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	            OR (SELECT current_setting('app.teams_write', true)) = 'true'))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND (team_id IS NULL
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
	                 OR (SELECT current_setting('app.teams_write', true)) = 'true'));
CREATE POLICY definer_access ON homebot.connections TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.connections TO homebot_admin USING (true) WITH CHECK (true);

-- A secret field is seen only with its connection: the connections policy
-- (organization, team, deleted_at) decides for both.
ALTER TABLE homebot.connection_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.connection_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY connection_secrets_tenant ON homebot.connection_secrets
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND EXISTS (SELECT FROM homebot.connections c
	                    WHERE c.organization_id = connection_secrets.organization_id
	                      AND c.id = connection_secrets.connection_id))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND EXISTS (SELECT FROM homebot.connections c
	                         WHERE c.organization_id = connection_secrets.organization_id
	                           AND c.id = connection_secrets.connection_id));
CREATE POLICY definer_access ON homebot.connection_secrets TO CURRENT_USER USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON homebot.connections TO homebot_app;
-- The soft delete goes through connection_delete (R__vault_connections.sql).
GRANT UPDATE (name, type, config, is_active, is_default) ON homebot.connections TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.connection_secrets TO homebot_app;
GRANT UPDATE (value_version, ciphertext, hint) ON homebot.connection_secrets TO homebot_app;
-- The admin role sees the connections, never a blob.
GRANT SELECT ON homebot.connections TO homebot_admin;
