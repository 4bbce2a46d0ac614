-- persons.name_key_version (keys recomputed at start when their normalisation changes); person_links
ALTER TABLE persons ADD COLUMN name_key_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX persons_name_key_version ON persons(name_key_version);

-- A coordinator's confirmation that an organisation may open a case for a person another
-- organisation recorded (given after matching names and date of birth); never deleted.
CREATE TABLE person_links (
  id              TEXT PRIMARY KEY,
  person_id       TEXT NOT NULL REFERENCES persons(id),
  organisation_id INTEGER NOT NULL REFERENCES organisations(id),
  justification   TEXT NOT NULL,
  granted_by      INTEGER NOT NULL REFERENCES users(id),
  granted_at      TEXT NOT NULL,
  UNIQUE (person_id, organisation_id)
);
