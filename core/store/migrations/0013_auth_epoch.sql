-- auth_epoch: a counter bumped by every change to tokens, users and organisations (token cache)
-- The host caches authenticated tokens in memory and checks this one row per request: a token
-- revoked or a user disabled by any process (the CLI included) changes it, and the next request
-- looks the token up afresh. Inserts need no bump: a token not found is never cached.
CREATE TABLE auth_epoch (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  value INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);
CREATE TRIGGER api_tokens_epoch_update AFTER UPDATE ON api_tokens
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_epoch_delete AFTER DELETE ON api_tokens
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_epoch_update AFTER UPDATE ON users
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_epoch_delete AFTER DELETE ON users
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER organisations_epoch_update AFTER UPDATE ON organisations
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER organisations_epoch_delete AFTER DELETE ON organisations
  BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END;
