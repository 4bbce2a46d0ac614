-- compact audit log: who, when and which request once per request, one small row per item
ALTER TABLE audit_log RENAME TO audit_log_v1;
CREATE TABLE audit_batches (
  id              INTEGER PRIMARY KEY,
  last_item       INTEGER NOT NULL,
  at              TEXT NOT NULL,
  user_id         INTEGER NOT NULL,
  user_name       TEXT NOT NULL,
  role            TEXT NOT NULL,
  organisation_id INTEGER,
  request_id      TEXT NOT NULL,
  kind            TEXT NOT NULL DEFAULT 'access' CHECK (kind IN ('access', 'security')),
  route           TEXT
);
CREATE INDEX audit_batches_user ON audit_batches(user_id, last_item);
CREATE INDEX audit_batches_kind ON audit_batches(kind, last_item);
CREATE TABLE audit_objects (
  id          INTEGER PRIMARY KEY,
  object_type TEXT NOT NULL,
  object_id   TEXT NOT NULL,
  case_id     TEXT NOT NULL DEFAULT '',
  UNIQUE (object_id, object_type, case_id)
);
CREATE INDEX audit_objects_case ON audit_objects(case_id);
CREATE TABLE audit_items (
  id         INTEGER PRIMARY KEY,
  batch_id   INTEGER NOT NULL,
  action     TEXT NOT NULL,
  object_ref INTEGER NOT NULL
);
CREATE INDEX audit_items_object ON audit_items(object_ref);
CREATE TRIGGER audit_batches_no_update BEFORE UPDATE ON audit_batches
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_batches_no_delete BEFORE DELETE ON audit_batches
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_objects_no_update BEFORE UPDATE ON audit_objects
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_objects_no_delete BEFORE DELETE ON audit_objects
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_items_no_update BEFORE UPDATE ON audit_items
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_items_no_delete BEFORE DELETE ON audit_items
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE VIEW audit_log AS
  SELECT id, at, user_id, user_name, role, organisation_id, action, object_type, object_id,
         case_id, request_id, 'access' AS kind, NULL AS route
  FROM audit_log_v1
  UNION ALL
  SELECT i.id, b.at, b.user_id, b.user_name, b.role, b.organisation_id, i.action, o.object_type,
         o.object_id, nullif(o.case_id, ''), b.request_id, b.kind, b.route
  FROM audit_items i JOIN audit_batches b ON b.id = i.batch_id
  JOIN audit_objects o ON o.id = i.object_ref;
CREATE TRIGGER audit_view_no_update INSTEAD OF UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_view_no_delete INSTEAD OF DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_view_append INSTEAD OF INSERT ON audit_log
BEGIN
  INSERT OR IGNORE INTO audit_objects(object_type, object_id, case_id)
  VALUES (NEW.object_type, NEW.object_id, coalesce(NEW.case_id, ''));
  INSERT INTO audit_batches(id, last_item, at, user_id, user_name, role, organisation_id,
                            request_id, kind, route)
  SELECT n, n, NEW.at, NEW.user_id, NEW.user_name, NEW.role, NEW.organisation_id, NEW.request_id,
         coalesce(NEW.kind, 'access'), NEW.route
  FROM (SELECT max(coalesce((SELECT max(id) FROM audit_items), 0),
                   coalesce((SELECT max(id) FROM audit_log_v1), 0)) + 1 AS n);
  INSERT INTO audit_items(id, batch_id, action, object_ref)
  SELECT b.id, b.id, NEW.action, o.id FROM audit_batches b, audit_objects o
  WHERE b.id = (SELECT max(id) FROM audit_batches) AND o.object_id = NEW.object_id
    AND o.object_type = NEW.object_type AND o.case_id = coalesce(NEW.case_id, '');
END;
