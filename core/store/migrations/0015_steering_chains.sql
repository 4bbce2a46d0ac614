-- working groups, steering group, meetings, challenges (gaps in provision), integration chains

-- A body of the network: the monthly working group, the quarterly steering group, thematic
-- working groups. `organisation` is the convening coordinating office.
CREATE TABLE bodies (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('monthly_working_group', 'steering_group',
                                                'thematic_working_group')),
  topic           TEXT,
  organisation_id INTEGER NOT NULL REFERENCES organisations(id),
  active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_by      INTEGER NOT NULL REFERENCES users(id),
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

-- Members: a partner of the network or a user (exactly one of the two).
CREATE TABLE body_members (
  id         TEXT PRIMARY KEY,
  body_id    TEXT NOT NULL REFERENCES bodies(id),
  partner    TEXT REFERENCES partners(slug),
  user_id    INTEGER REFERENCES users(id),
  added_by   INTEGER NOT NULL REFERENCES users(id),
  added_at   TEXT NOT NULL,
  CHECK ((partner IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX body_members_partner ON body_members(body_id, partner) WHERE partner IS NOT NULL;
CREATE UNIQUE INDEX body_members_user ON body_members(body_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX body_members_user_bodies ON body_members(user_id);
CREATE INDEX body_members_partner_bodies ON body_members(partner);

CREATE TABLE meetings (
  id         TEXT PRIMARY KEY,
  body_id    TEXT NOT NULL REFERENCES bodies(id),
  held_on    TEXT NOT NULL,
  title      TEXT,
  minutes    TEXT,
  created_by INTEGER NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX meetings_body ON meetings(body_id, held_on);

CREATE TABLE meeting_agenda_items (
  id           TEXT PRIMARY KEY,
  meeting_id   TEXT NOT NULL REFERENCES meetings(id),
  position     INTEGER NOT NULL,
  title        TEXT NOT NULL,
  challenge_id TEXT REFERENCES challenges(id)
);
CREATE INDEX meeting_agenda_meeting ON meeting_agenda_items(meeting_id, position);

CREATE TABLE meeting_decisions (
  id           TEXT PRIMARY KEY,
  meeting_id   TEXT NOT NULL REFERENCES meetings(id),
  position     INTEGER NOT NULL,
  text         TEXT NOT NULL,
  challenge_id TEXT REFERENCES challenges(id)
);
CREATE INDEX meeting_decisions_meeting ON meeting_decisions(meeting_id, position);

CREATE TABLE action_items (
  id          TEXT PRIMARY KEY,
  meeting_id  TEXT NOT NULL REFERENCES meetings(id),
  title       TEXT NOT NULL,
  owner_id    INTEGER NOT NULL REFERENCES users(id),
  due_on      TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('open', 'done', 'dropped')),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX action_items_meeting ON action_items(meeting_id);
CREATE INDEX action_items_owner ON action_items(owner_id, status, due_on);

-- A gap in provision raised from a case, without personal data: the case is only a reference
-- (case_id), shown to those who may read the case.
CREATE TABLE challenges (
  id           TEXT PRIMARY KEY,
  topic        TEXT NOT NULL,
  life_domain  TEXT NOT NULL,
  town         TEXT NOT NULL,
  description  TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('open', 'clustered', 'assigned', 'proposal',
                                               'escalated', 'closed')),
  cluster      TEXT,
  body_id      TEXT REFERENCES bodies(id),
  proposal     TEXT,
  outcome      TEXT CHECK (outcome IN ('resolved', 'structural_change_proposed',
                                       'not_solvable_locally')),
  outcome_note TEXT,
  case_id      TEXT REFERENCES cases(id),
  raised_by    INTEGER NOT NULL REFERENCES users(id),
  raised_org   INTEGER REFERENCES organisations(id),
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE INDEX challenges_status ON challenges(status, created_at);
CREATE INDEX challenges_body ON challenges(body_id, status);
CREATE INDEX challenges_raised_by ON challenges(raised_by);

CREATE TABLE challenge_history (
  id           INTEGER PRIMARY KEY,
  challenge_id TEXT NOT NULL REFERENCES challenges(id),
  from_status  TEXT,
  to_status    TEXT NOT NULL,
  note         TEXT,
  at           TEXT NOT NULL,
  by_user      INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX challenge_history_challenge ON challenge_history(challenge_id, id);

-- Integration chains: ordered service steps across legal domains; a case follows one, its
-- referrals' history says which steps it reached (derived at read time, not stored).
CREATE TABLE chain_templates (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT,
  created_by  INTEGER NOT NULL REFERENCES users(id),
  created_at  TEXT NOT NULL
);

CREATE TABLE chain_steps (
  chain_id     TEXT NOT NULL REFERENCES chain_templates(id),
  position     INTEGER NOT NULL,
  title        TEXT NOT NULL,
  service      TEXT NOT NULL,
  partner_kind TEXT,
  PRIMARY KEY (chain_id, position)
);

CREATE TABLE case_chains (
  id         TEXT PRIMARY KEY,
  case_id    TEXT NOT NULL REFERENCES cases(id),
  chain_id   TEXT NOT NULL REFERENCES chain_templates(id),
  started_on TEXT NOT NULL,
  created_by INTEGER NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL,
  UNIQUE (case_id, chain_id)
);
CREATE INDEX case_chains_chain ON case_chains(chain_id);
