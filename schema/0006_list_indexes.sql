-- The members page (api.md §5) reads an organization's members newest
-- first, a page at a time: by this index it reads one page, where before it
-- sorted every member of the organization (memberships_pkey is ordered by
-- user id). Every other page already has its index. Building it holds
-- writes to memberships for as long as it takes: seconds for a million
-- memberships.
CREATE INDEX memberships_organization_id_created_at_idx
    ON homebot.memberships (organization_id, created_at DESC, user_id DESC);
