-- Undoes 0024_member_access. An older release computes the same answers
-- on every request.
DROP TABLE homebot.member_access;
ALTER TABLE homebot.permissions DROP CONSTRAINT permissions_name_no_comma;
