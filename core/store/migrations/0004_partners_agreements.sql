-- partner network and cooperation agreements

CREATE TABLE partners (
  slug         TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  kind         TEXT NOT NULL,
  legal_domain TEXT NOT NULL,
  county_wide  INTEGER NOT NULL DEFAULT 0,
  towns        TEXT NOT NULL DEFAULT '[]',
  contact      TEXT NOT NULL DEFAULT '{}',
  services     TEXT NOT NULL DEFAULT '[]',
  connector    TEXT,
  active       INTEGER NOT NULL DEFAULT 1,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE INDEX partners_kind ON partners(kind, name);

CREATE TABLE agreements (
  id            TEXT PRIMARY KEY,
  title         TEXT NOT NULL,
  parties       TEXT NOT NULL,
  handover_rule TEXT NOT NULL,
  services      TEXT NOT NULL,
  data_terms    TEXT NOT NULL DEFAULT '[]',
  valid_from    TEXT NOT NULL,
  valid_to      TEXT,
  status        TEXT NOT NULL CHECK (status IN ('draft', 'signed', 'expired', 'terminated')),
  signed_on     TEXT,
  terminated_on TEXT,
  created_by    INTEGER NOT NULL REFERENCES users(id),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
-- The parties by partner, for "agreements with this partner" without scanning JSON.
CREATE TABLE agreement_parties (
  agreement_id TEXT NOT NULL REFERENCES agreements(id),
  partner      TEXT NOT NULL REFERENCES partners(slug),
  PRIMARY KEY (partner, agreement_id)
);
