-- audit log (append-only)

CREATE TABLE audit_log (
  id              INTEGER PRIMARY KEY,
  at              TEXT NOT NULL,
  user_id         INTEGER NOT NULL,
  user_name       TEXT NOT NULL,
  role            TEXT NOT NULL,
  organisation_id INTEGER,
  action          TEXT NOT NULL,
  object_type     TEXT NOT NULL,
  object_id       TEXT NOT NULL,
  case_id         TEXT,
  request_id      TEXT NOT NULL
);
CREATE INDEX audit_log_case ON audit_log(case_id, id);
CREATE INDEX audit_log_user ON audit_log(user_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
