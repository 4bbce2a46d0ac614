-- partners' reports applied through connector instances, so a repeat is answered, not reapplied
CREATE TABLE inbound_reports (
  instance    TEXT NOT NULL,
  message_id  TEXT NOT NULL,
  referral_id TEXT NOT NULL REFERENCES referrals(id),
  status      TEXT NOT NULL,
  answer      TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (instance, message_id)
);
CREATE INDEX inbound_reports_referral ON inbound_reports(referral_id);
