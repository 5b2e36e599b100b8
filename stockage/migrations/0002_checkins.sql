-- Schedules, check-ins, attendance and participation counts, and the outbox that makes every
-- post exactly-once. Participation is counts only: no table holds what anyone wrote.

ALTER TABLE groups ADD COLUMN quorum INTEGER NOT NULL DEFAULT 3;
ALTER TABLE groups ADD COLUMN reminder_minutes INTEGER NOT NULL DEFAULT 60;

CREATE TABLE schedules (
    room_id       TEXT PRIMARY KEY REFERENCES groups (room_id) ON DELETE CASCADE,
    weekday       INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),   -- 0 = Monday
    start_time    TEXT NOT NULL,                                     -- HH:MM, wall clock
    every_weeks   INTEGER NOT NULL DEFAULT 1 CHECK (every_weeks BETWEEN 1 AND 12),
    timezone      TEXT NOT NULL,
    anchor_date   TEXT NOT NULL,   -- a local date of one occurrence: fixes the N-week cadence
    paused        INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);

CREATE TABLE schedule_skips (
    room_id  TEXT NOT NULL REFERENCES groups (room_id) ON DELETE CASCADE,
    day      TEXT NOT NULL,        -- local date AAAA-MM-JJ
    PRIMARY KEY (room_id, day)
);

CREATE TABLE checkins (
    id             INTEGER PRIMARY KEY,
    room_id        TEXT NOT NULL REFERENCES groups (room_id) ON DELETE CASCADE,
    -- The schedule occurrence (UTC) it belongs to; NULL for one started by hand.
    occurrence     TEXT,
    format         TEXT NOT NULL,
    state          TEXT NOT NULL,  -- the machine's frozen state, as JSON
    phase          TEXT NOT NULL,  -- copied out of `state` for queries
    deadline       TEXT,           -- next instant the machine must act (UTC), if any
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    UNIQUE (room_id, occurrence)
);
CREATE INDEX checkins_open ON checkins (phase, deadline);

CREATE TABLE attendance (
    checkin_id  INTEGER NOT NULL REFERENCES checkins (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (checkin_id, user_id)
);

CREATE TABLE participation (
    checkin_id  INTEGER NOT NULL REFERENCES checkins (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    round_key   TEXT NOT NULL,
    messages    INTEGER NOT NULL DEFAULT 0,
    passed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (checkin_id, user_id, round_key)
);

-- Every post the machine decides on is written here in the same transaction as the state
-- that decided it, then sent with a transaction id derived from `key`, then marked sent.
-- `effect` describes the post (catalogue key and parameters), not a member's words.
CREATE TABLE outbox (
    key         TEXT PRIMARY KEY,
    effect      TEXT NOT NULL,     -- JSON
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    event_id    TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at) WHERE sent_at IS NULL;
