-- retention and erasure: anonymised marks, legal holds, erasure requests, restriction, audit prunes
-- When the retention job (or an approved erasure) removed an object's personal fields.
ALTER TABLE persons ADD COLUMN anonymised_at TEXT;
ALTER TABLE cases ADD COLUMN anonymised_at TEXT;
ALTER TABLE referrals ADD COLUMN anonymised_at TEXT;
ALTER TABLE consents ADD COLUMN anonymised_at TEXT;
ALTER TABLE outbox ADD COLUMN anonymised_at TEXT;
-- Processing restricted (Art. 18 GDPR, after an erasure request a retention duty outweighs):
-- the person and their cases are hidden from everyone but the auditor.
ALTER TABLE persons ADD COLUMN restricted_at TEXT;
CREATE INDEX cases_closed ON cases(closed_on) WHERE phase = 'closed' AND anonymised_at IS NULL;

-- A legal hold keeps a person or case (and its person) from anonymisation and erasure.
CREATE TABLE legal_holds (
  id             TEXT PRIMARY KEY,
  object_type    TEXT NOT NULL CHECK (object_type IN ('person', 'case')),
  object_id      TEXT NOT NULL,
  person_id      TEXT NOT NULL REFERENCES persons(id),
  reason         TEXT NOT NULL,
  placed_by      INTEGER NOT NULL REFERENCES users(id),
  placed_at      TEXT NOT NULL,
  released_by    INTEGER REFERENCES users(id),
  released_at    TEXT,
  release_reason TEXT
);
CREATE INDEX legal_holds_person ON legal_holds(person_id) WHERE released_at IS NULL;

CREATE TABLE erasure_requests (
  id              TEXT PRIMARY KEY,
  person_id       TEXT NOT NULL REFERENCES persons(id),
  organisation_id INTEGER NOT NULL REFERENCES organisations(id),
  received_on     TEXT NOT NULL,
  requested_by    INTEGER NOT NULL REFERENCES users(id),
  requested_at    TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'erased', 'restricted', 'rejected')),
  decided_by      INTEGER REFERENCES users(id),
  decided_at      TEXT,
  decision_reason TEXT
);
CREATE INDEX erasure_requests_person ON erasure_requests(person_id);
CREATE INDEX erasure_requests_status ON erasure_requests(status, requested_at);

-- The one path that deletes audit rows (retention/retention.cpp, prune_audit): while the row of
-- audit_prune_permit exists - only inside that job's transaction - the no-delete triggers stand
-- aside. Each prune is recorded in audit_prunes, itself append-only.
CREATE TABLE audit_prune_permit (token INTEGER PRIMARY KEY CHECK (token = 1));
CREATE TABLE audit_prunes (
  id         INTEGER PRIMARY KEY,
  pruned_at  TEXT NOT NULL,
  cutoff     TEXT NOT NULL,
  first_item INTEGER,
  last_item  INTEGER,
  items      INTEGER NOT NULL,
  batches    INTEGER NOT NULL,
  objects    INTEGER NOT NULL,
  v1_rows    INTEGER NOT NULL
);
CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'audit_prunes is append-only'); END;
CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'audit_prunes is append-only'); END;
DROP TRIGGER audit_batches_no_delete;
CREATE TRIGGER audit_batches_no_delete BEFORE DELETE ON audit_batches
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permit)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER audit_objects_no_delete;
CREATE TRIGGER audit_objects_no_delete BEFORE DELETE ON audit_objects
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permit)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER audit_items_no_delete;
CREATE TRIGGER audit_items_no_delete BEFORE DELETE ON audit_items
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permit)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log_v1
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permit)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
