-- The transactional outbox: every message for a partner, written in the transaction of the change
-- that caused it, and every attempt to deliver it.

CREATE TABLE outbox (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of writing (per case: send order)
  id              TEXT NOT NULL UNIQUE,
  idempotency_key TEXT NOT NULL UNIQUE,               -- stable across retries and restarts
  partner         TEXT NOT NULL,                      -- partner slug
  connector       TEXT NOT NULL,                      -- the instance in the config
  type            TEXT NOT NULL,                      -- referral.sent, referral.cancelled, ...
  case_id         TEXT NOT NULL,                      -- the ordering key
  subject_id      TEXT NOT NULL,                      -- e.g. the referral id
  payload         TEXT NOT NULL,                      -- exactly the referral's stored payload
  created_at      TEXT NOT NULL,
  created_ms      INTEGER NOT NULL,                   -- unix ms, for the age limit
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'in_flight', 'delivered', 'dead', 'discarded')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,                   -- unix ms
  last_error      TEXT,                               -- for operators; never personal data
  delivered_at    TEXT,
  dead_at         TEXT,
  discarded_at    TEXT,
  discard_reason  TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);
CREATE INDEX outbox_case ON outbox(partner, case_id, seq);
CREATE INDEX outbox_connector ON outbox(connector, state);

CREATE TABLE outbox_attempts (
  message_id TEXT NOT NULL REFERENCES outbox(id),
  attempt    INTEGER NOT NULL,
  at         TEXT NOT NULL,
  result     TEXT NOT NULL CHECK (result IN ('delivered', 'retry', 'failed')),
  error      TEXT,
  PRIMARY KEY (message_id, attempt)
);
