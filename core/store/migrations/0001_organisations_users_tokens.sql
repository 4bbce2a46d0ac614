-- organisations, users and API tokens

CREATE TABLE organisations (
  id            INTEGER PRIMARY KEY,
  slug          TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('coordinating_office','welfare_organisation','municipality','authority','other')),
  town          TEXT NOT NULL DEFAULT '',
  supervisor_id INTEGER REFERENCES organisations(id),
  team_access   INTEGER NOT NULL DEFAULT 0 CHECK (team_access IN (0, 1)),
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE TABLE users (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  role            TEXT NOT NULL CHECK (role IN ('admin','case_manager','coordinator','authority_officer','auditor')),
  organisation_id INTEGER REFERENCES organisations(id),
  created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  disabled_at     TEXT
);
CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id),
  token_hash   TEXT NOT NULL UNIQUE,
  token_prefix TEXT NOT NULL,
  label        TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE INDEX users_organisation ON users(organisation_id);
