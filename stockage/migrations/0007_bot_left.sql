-- When the bot was removed from a group's room (kicked or banned); NULL while it is there.
-- The group and everything it holds stay (members, schedule, parked items): only what the bot
-- would do in the room stops, until an invite brings it back.
ALTER TABLE groups ADD COLUMN bot_left_at TEXT;
