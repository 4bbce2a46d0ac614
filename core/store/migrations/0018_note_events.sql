-- notes.event: what a note the host writes itself records, as data (the console words it)
-- A referral's step or a routing is written to the timeline as English text for API clients and
-- as an object ({"type": "referral_status" | "referral_routed", ...}) that a client renders in
-- its own language. NULL for the notes people write.
ALTER TABLE notes ADD COLUMN event TEXT;
