-- persons, cases, assessments, goals, tasks, notes, programme participations

CREATE TABLE persons (
  id               TEXT PRIMARY KEY,
  given_names      TEXT NOT NULL,
  family_name      TEXT NOT NULL,
  name_key         TEXT NOT NULL,
  date_of_birth    TEXT NOT NULL,
  gender           TEXT,
  nationalities    TEXT NOT NULL DEFAULT '[]',
  languages        TEXT NOT NULL DEFAULT '[]',
  town             TEXT NOT NULL,
  residence_status TEXT NOT NULL,
  arrival_date     TEXT,
  household        TEXT NOT NULL DEFAULT '[]',
  organisation_id  INTEGER NOT NULL REFERENCES organisations(id),
  created_by       INTEGER NOT NULL REFERENCES users(id),
  created_at       TEXT NOT NULL,
  demo             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX persons_duplicate ON persons(name_key, date_of_birth);

CREATE TABLE person_duplicate_decisions (
  person_id       TEXT NOT NULL REFERENCES persons(id),
  other_person_id TEXT NOT NULL REFERENCES persons(id),
  decision        TEXT NOT NULL CHECK (decision IN ('different_person')),
  decided_by      INTEGER NOT NULL REFERENCES users(id),
  decided_at      TEXT NOT NULL,
  PRIMARY KEY (person_id, other_person_id)
);

CREATE TABLE programme_participations (
  id          TEXT PRIMARY KEY,
  person_id   TEXT NOT NULL REFERENCES persons(id),
  programme   TEXT NOT NULL,
  started_on  TEXT NOT NULL,
  ended_on    TEXT,
  recorded_by INTEGER NOT NULL REFERENCES users(id),
  created_at  TEXT NOT NULL
);
CREATE INDEX participations_person ON programme_participations(person_id);

CREATE TABLE funding_overrides (
  id            TEXT PRIMARY KEY,
  person_id     TEXT NOT NULL REFERENCES persons(id),
  justification TEXT NOT NULL,
  granted_by    INTEGER NOT NULL REFERENCES users(id),
  granted_at    TEXT NOT NULL,
  used_by_case  TEXT
);

CREATE TABLE cases (
  id               TEXT PRIMARY KEY,
  person_id        TEXT NOT NULL REFERENCES persons(id),
  town             TEXT NOT NULL,
  organisation_id  INTEGER NOT NULL REFERENCES organisations(id),
  case_manager_id  INTEGER NOT NULL REFERENCES users(id),
  phase            TEXT NOT NULL,
  opened_on        TEXT NOT NULL,
  closed_on        TEXT,
  closure_reason   TEXT,
  closure_note     TEXT,
  funding_override TEXT REFERENCES funding_overrides(id),
  version          INTEGER NOT NULL DEFAULT 1,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX cases_organisation ON cases(organisation_id, phase);
CREATE INDEX cases_manager ON cases(case_manager_id);
CREATE INDEX cases_person ON cases(person_id);

CREATE TABLE case_transitions (
  id         INTEGER PRIMARY KEY,
  case_id    TEXT NOT NULL REFERENCES cases(id),
  from_phase TEXT NOT NULL,
  to_phase   TEXT NOT NULL,
  reason     TEXT,
  note       TEXT,
  at         TEXT NOT NULL,
  by_user    INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX case_transitions_case ON case_transitions(case_id, id);

CREATE TABLE assessments (
  id          TEXT PRIMARY KEY,
  case_id     TEXT NOT NULL REFERENCES cases(id),
  kind        TEXT NOT NULL CHECK (kind IN ('assessment', 'reassessment')),
  recorded_at TEXT NOT NULL,
  recorded_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX assessments_case ON assessments(case_id, recorded_at);
CREATE TABLE assessment_domains (
  assessment_id TEXT NOT NULL REFERENCES assessments(id),
  life_domain   TEXT NOT NULL,
  need_level    TEXT NOT NULL,
  summary       TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (assessment_id, life_domain)
);

CREATE TABLE goals (
  id          TEXT PRIMARY KEY,
  case_id     TEXT NOT NULL REFERENCES cases(id),
  life_domain TEXT NOT NULL,
  description TEXT NOT NULL,
  due_date    TEXT NOT NULL,
  status      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX goals_case ON goals(case_id);

CREATE TABLE tasks (
  id          TEXT PRIMARY KEY,
  case_id     TEXT NOT NULL REFERENCES cases(id),
  goal_id     TEXT REFERENCES goals(id),
  description TEXT NOT NULL,
  due_date    TEXT NOT NULL,
  assignee_id INTEGER NOT NULL REFERENCES users(id),
  done_on     TEXT,
  created_at  TEXT NOT NULL
);
CREATE INDEX tasks_case ON tasks(case_id);
CREATE INDEX tasks_due ON tasks(assignee_id, done_on, due_date);

CREATE TABLE notes (
  id          TEXT PRIMARY KEY,
  case_id     TEXT NOT NULL REFERENCES cases(id),
  occurred_on TEXT NOT NULL,
  kind        TEXT NOT NULL,
  text        TEXT NOT NULL,
  author_id   INTEGER NOT NULL REFERENCES users(id),
  created_at  TEXT NOT NULL
);
CREATE INDEX notes_case ON notes(case_id, occurred_on);
