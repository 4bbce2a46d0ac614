-- indicator facts per case (kept by triggers), report indexes, funding decisions, posts, forwarding
-- One narrow row per case with every field the indicator report groups by, so a report for a
-- year over a million cases scans this table once instead of joining cases, persons,
-- case_transitions and goals. Triggers keep it right on every write path (services, demo
-- backdating, anonymisation); a person's year of birth is all that is kept of the birth date.
CREATE TABLE report_case_facts (
  case_id          TEXT PRIMARY KEY,
  town             TEXT NOT NULL,
  organisation_id  INTEGER NOT NULL,
  phase            TEXT NOT NULL,
  opened_on        TEXT NOT NULL,
  closed_on        TEXT,
  closure_reason   TEXT,
  birth_year       INTEGER,
  gender           TEXT,
  residence_status TEXT,
  -- 1: opened in phase access (first contact before intake); intake is then the first
  -- transition into intake. A case opened in a later phase had its intake on opened_on.
  started_in_access INTEGER NOT NULL DEFAULT 0,
  intake_on        TEXT,  -- NULL: never reached intake
  first_goal_on    TEXT   -- date the first goal was set
) WITHOUT ROWID;

INSERT INTO report_case_facts
SELECT c.id, c.town, c.organisation_id, c.phase, c.opened_on, c.closed_on, c.closure_reason,
       CAST(substr(p.date_of_birth, 1, 4) AS INTEGER), p.gender, p.residence_status, 0, c.opened_on,
       (SELECT substr(min(g.created_at), 1, 10) FROM goals g WHERE g.case_id = c.id)
  FROM cases c LEFT JOIN persons p ON p.id = c.person_id;
-- Cases whose first phase (the first transition's origin, else the phase now) was access.
UPDATE report_case_facts
   SET started_in_access = 1,
       intake_on = (SELECT substr(min(t.at), 1, 10) FROM case_transitions t
                     WHERE t.case_id = report_case_facts.case_id AND t.to_phase = 'intake')
 WHERE coalesce((SELECT t.from_phase FROM case_transitions t
                  WHERE t.case_id = report_case_facts.case_id ORDER BY t.id LIMIT 1),
                phase) = 'access';

CREATE TRIGGER report_facts_case_insert AFTER INSERT ON cases BEGIN
  INSERT INTO report_case_facts(case_id, town, organisation_id, phase, opened_on, closed_on,
                                closure_reason, birth_year, gender, residence_status,
                                started_in_access, intake_on)
  SELECT NEW.id, NEW.town, NEW.organisation_id, NEW.phase, NEW.opened_on, NEW.closed_on,
         NEW.closure_reason, CAST(substr(p.date_of_birth, 1, 4) AS INTEGER), p.gender,
         p.residence_status, NEW.phase = 'access',
         CASE WHEN NEW.phase = 'access' THEN NULL ELSE NEW.opened_on END
    FROM (SELECT 1) LEFT JOIN persons p ON p.id = NEW.person_id;
END;

CREATE TRIGGER report_facts_case_update
AFTER UPDATE OF town, organisation_id, phase, opened_on, closed_on, closure_reason, person_id
ON cases BEGIN
  UPDATE report_case_facts
     SET town = NEW.town, organisation_id = NEW.organisation_id, phase = NEW.phase,
         opened_on = NEW.opened_on, closed_on = NEW.closed_on,
         closure_reason = NEW.closure_reason,
         intake_on = CASE WHEN started_in_access THEN intake_on ELSE NEW.opened_on END,
         birth_year = (SELECT CAST(substr(date_of_birth, 1, 4) AS INTEGER) FROM persons
                        WHERE id = NEW.person_id),
         gender = (SELECT gender FROM persons WHERE id = NEW.person_id),
         residence_status = (SELECT residence_status FROM persons WHERE id = NEW.person_id)
   WHERE case_id = NEW.id;
END;

CREATE TRIGGER report_facts_case_delete AFTER DELETE ON cases BEGIN
  DELETE FROM report_case_facts WHERE case_id = OLD.id;
END;

CREATE TRIGGER report_facts_person_update
AFTER UPDATE OF date_of_birth, gender, residence_status ON persons BEGIN
  UPDATE report_case_facts
     SET birth_year = CAST(substr(NEW.date_of_birth, 1, 4) AS INTEGER), gender = NEW.gender,
         residence_status = NEW.residence_status
   WHERE case_id IN (SELECT id FROM cases WHERE person_id = NEW.id);
END;

CREATE TRIGGER report_facts_transition_insert AFTER INSERT ON case_transitions
WHEN NEW.to_phase = 'intake' BEGIN
  UPDATE report_case_facts
     SET intake_on = (SELECT substr(min(at), 1, 10) FROM case_transitions
                       WHERE case_id = NEW.case_id AND to_phase = 'intake')
   WHERE case_id = NEW.case_id AND started_in_access = 1;
END;

CREATE TRIGGER report_facts_transition_update AFTER UPDATE OF at, to_phase ON case_transitions
BEGIN
  UPDATE report_case_facts
     SET intake_on = (SELECT substr(min(at), 1, 10) FROM case_transitions
                       WHERE case_id = NEW.case_id AND to_phase = 'intake')
   WHERE case_id = NEW.case_id AND started_in_access = 1;
END;

CREATE TRIGGER report_facts_transition_delete AFTER DELETE ON case_transitions BEGIN
  UPDATE report_case_facts
     SET intake_on = (SELECT substr(min(at), 1, 10) FROM case_transitions
                       WHERE case_id = OLD.case_id AND to_phase = 'intake')
   WHERE case_id = OLD.case_id AND started_in_access = 1;
END;

CREATE TRIGGER report_facts_goal_insert AFTER INSERT ON goals BEGIN
  UPDATE report_case_facts
     SET first_goal_on = (SELECT substr(min(created_at), 1, 10) FROM goals
                           WHERE case_id = NEW.case_id)
   WHERE case_id = NEW.case_id;
END;

CREATE TRIGGER report_facts_goal_update AFTER UPDATE OF created_at ON goals BEGIN
  UPDATE report_case_facts
     SET first_goal_on = (SELECT substr(min(created_at), 1, 10) FROM goals
                           WHERE case_id = NEW.case_id)
   WHERE case_id = NEW.case_id;
END;

CREATE TRIGGER report_facts_goal_delete AFTER DELETE ON goals BEGIN
  UPDATE report_case_facts
     SET first_goal_on = (SELECT substr(min(created_at), 1, 10) FROM goals
                           WHERE case_id = OLD.case_id)
   WHERE case_id = OLD.case_id;
END;

-- Goals and referrals of a period are found by date, never by scanning all of them; the
-- indexes cover every column the report reads (no lookup into the tables).
CREATE INDEX goals_created ON goals(created_at, case_id, life_domain);
CREATE INDEX goals_achieved ON goals(status, updated_at, case_id, life_domain);
CREATE INDEX referrals_created ON referrals(created_at, case_id, partner, service, status);

-- Funding (Verwendungsnachweis). Money in cents, FTE in hundredths (2.25 FTE = 225): exact sums.
CREATE TABLE funding_decisions (
  id             TEXT PRIMARY KEY,
  building_block INTEGER NOT NULL CHECK (building_block IN (1, 2, 3)),
  purpose        TEXT NOT NULL,
  amount_cents   INTEGER NOT NULL CHECK (amount_cents >= 0),
  period_from    TEXT NOT NULL,
  period_to      TEXT NOT NULL CHECK (period_to >= period_from),
  decided_on     TEXT NOT NULL,
  reference      TEXT NOT NULL DEFAULT '',
  created_by     INTEGER NOT NULL REFERENCES users(id),
  created_at     TEXT NOT NULL
);

CREATE TABLE funding_posts (
  id                    TEXT PRIMARY KEY,
  building_block        INTEGER NOT NULL CHECK (building_block IN (1, 2, 3)),
  organisation_id       INTEGER NOT NULL REFERENCES organisations(id),
  function              TEXT NOT NULL,
  fte_planned_centi     INTEGER NOT NULL CHECK (fte_planned_centi BETWEEN 1 AND 10000),
  fte_filled_centi      INTEGER NOT NULL CHECK (fte_filled_centi BETWEEN 0 AND 10000),
  funding_per_fte_cents INTEGER CHECK (funding_per_fte_cents >= 0),
  period_from           TEXT NOT NULL,
  period_to             TEXT NOT NULL CHECK (period_to >= period_from),
  created_by            INTEGER NOT NULL REFERENCES users(id),
  created_at            TEXT NOT NULL
);
CREATE INDEX funding_posts_period ON funding_posts(period_from, period_to);

CREATE TABLE funding_forwardings (
  id              TEXT PRIMARY KEY,
  decision_id     TEXT NOT NULL REFERENCES funding_decisions(id),
  organisation_id INTEGER NOT NULL REFERENCES organisations(id),
  amount_cents    INTEGER NOT NULL CHECK (amount_cents >= 0),
  period_from     TEXT NOT NULL,
  period_to       TEXT NOT NULL CHECK (period_to >= period_from),
  signed_on       TEXT NOT NULL,
  created_by      INTEGER NOT NULL REFERENCES users(id),
  created_at      TEXT NOT NULL
);
CREATE INDEX funding_forwardings_decision ON funding_forwardings(decision_id);
