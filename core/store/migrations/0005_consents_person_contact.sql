-- consents; contact details of persons

ALTER TABLE persons ADD COLUMN contact TEXT NOT NULL DEFAULT '{}';

CREATE TABLE consents (
  id                        TEXT PRIMARY KEY,
  person_id                 TEXT NOT NULL REFERENCES persons(id),
  recipients                TEXT NOT NULL,
  purposes                  TEXT NOT NULL,
  categories                TEXT NOT NULL,
  form                      TEXT NOT NULL CHECK (form IN ('written', 'electronic')),
  given_on                  TEXT NOT NULL,
  valid_until               TEXT,
  explicit_special_category INTEGER NOT NULL DEFAULT 0,
  document_reference        TEXT,
  recorded_by               INTEGER NOT NULL REFERENCES users(id),
  created_at                TEXT NOT NULL,
  revoked_at                TEXT,
  revoked_by                INTEGER REFERENCES users(id),
  revoke_reason             TEXT
);
CREATE INDEX consents_person ON consents(person_id);
