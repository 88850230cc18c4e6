-- Undoes 0024_member_access. An older release computes the same answers
-- on every request.
DROP TABLE homebot.member_access;
