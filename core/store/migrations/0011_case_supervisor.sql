-- a case's own supervising office (supervision by residence, decided by plugins' rules)
-- NULL: the case's organisation's supervisor supervises it (as before). Otherwise this office
-- does; supervisor_shared = 1 keeps read access for the organisation's supervisor too.
ALTER TABLE cases ADD COLUMN supervisor_id INTEGER REFERENCES organisations(id);
ALTER TABLE cases ADD COLUMN supervisor_shared INTEGER NOT NULL DEFAULT 0
  CHECK (supervisor_shared IN (0, 1));
-- a referral a plugin's router redirected: the partner the case manager asked for
ALTER TABLE referrals ADD COLUMN routed_from TEXT;
