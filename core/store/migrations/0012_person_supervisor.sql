-- a person's own supervising office (supervision by residence, decided by plugins' rules)
-- So a person recorded before any case is opened is read by the office that will supervise the
-- case. NULL: the recording organisation's supervisor, as before.
ALTER TABLE persons ADD COLUMN supervisor_id INTEGER REFERENCES organisations(id);
ALTER TABLE persons ADD COLUMN supervisor_shared INTEGER NOT NULL DEFAULT 0
  CHECK (supervisor_shared IN (0, 1));
-- the coordinators' filter looks up cases supervised by an office other than the organisation's
CREATE INDEX cases_supervisor ON cases(supervisor_id) WHERE supervisor_id IS NOT NULL;
CREATE INDEX persons_supervisor ON persons(supervisor_id) WHERE supervisor_id IS NOT NULL;
