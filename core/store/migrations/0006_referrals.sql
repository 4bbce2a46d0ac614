-- referrals to partners

CREATE TABLE referrals (
  id                  TEXT PRIMARY KEY,
  case_id             TEXT NOT NULL REFERENCES cases(id),
  partner             TEXT NOT NULL REFERENCES partners(slug),
  service             TEXT NOT NULL,
  purpose             TEXT NOT NULL,
  categories          TEXT NOT NULL,
  agreement_id        TEXT NOT NULL REFERENCES agreements(id),
  message             TEXT,
  status              TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'accepted', 'declined',
                                                      'in_progress', 'completed', 'cancelled')),
  own_case_management INTEGER NOT NULL,
  outcome             TEXT,
  payload             TEXT,  -- what the partner received; NULL until sent
  stopped_reason      TEXT,
  town                TEXT NOT NULL,
  created_by          INTEGER NOT NULL REFERENCES users(id),
  created_at          TEXT NOT NULL,
  sent_at             TEXT,
  status_changed_at   TEXT NOT NULL,
  closed_at           TEXT
);
CREATE INDEX referrals_case ON referrals(case_id, created_at);
CREATE INDEX referrals_status ON referrals(status, status_changed_at);
CREATE INDEX referrals_partner ON referrals(partner);

-- The consents a referral relies on: revoking one stops the referral.
CREATE TABLE referral_consents (
  referral_id TEXT NOT NULL REFERENCES referrals(id),
  consent_id  TEXT NOT NULL REFERENCES consents(id),
  PRIMARY KEY (consent_id, referral_id)
);
CREATE INDEX referral_consents_referral ON referral_consents(referral_id);

CREATE TABLE referral_history (
  id          INTEGER PRIMARY KEY,
  referral_id TEXT NOT NULL REFERENCES referrals(id),
  from_status TEXT,
  to_status   TEXT NOT NULL,
  outcome     TEXT,
  reason      TEXT,
  occurred_on TEXT NOT NULL,
  at          TEXT NOT NULL,
  by_user     INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX referral_history_referral ON referral_history(referral_id, id);
