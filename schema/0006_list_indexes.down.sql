-- Undoes 0006_list_indexes.
DROP INDEX homebot.memberships_organization_id_created_at_idx;
