-- Which claim leased a task: a number its worker gives each claim, so that the statements
-- that start the claimed runs find them by (owner, claim) in the claim's own transaction and
-- round trip, without the client first reading which tasks the claim took.
ALTER TABLE tasks ADD COLUMN claim BIGINT;
