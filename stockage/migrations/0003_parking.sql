-- The parking lot (stationnement) and the team-meeting agenda. A parked item's text is the one
-- message body Halte keeps: its author chose to park it. Nothing parked is ever deleted by the
-- bot's own logic; `retire` and merges only change the status.

-- The room's name when last seen, for agenda titles and `halte export-agenda`.
ALTER TABLE groups ADD COLUMN name TEXT;
ALTER TABLE groups ADD COLUMN parking_anonymous INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN meeting_room TEXT;
ALTER TABLE groups ADD COLUMN agenda_lead_hours INTEGER NOT NULL DEFAULT 24;

CREATE TABLE parked_items (
    id            INTEGER PRIMARY KEY,
    room_id       TEXT NOT NULL REFERENCES groups (room_id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,          -- #1, #2, … per group
    text          TEXT NOT NULL,
    author        TEXT,                      -- who parked it; NULL once erased by its author
    anonymous     INTEGER NOT NULL DEFAULT 0,-- hide who parked it in lists and agendas
    -- The event that parked it (the command, or the message reacted 🅿️): parking the same
    -- message twice, or replaying the command after a crash, finds this row again.
    source_event  TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'ouvert'
                  CHECK (status IN ('ouvert', 'ordre_du_jour', 'traite', 'fusionne', 'retire')),
    note          TEXT,                      -- what was decided, when dealt with
    merged_into   INTEGER REFERENCES parked_items (id),
    checkin_id    INTEGER REFERENCES checkins (id) ON DELETE SET NULL,
    agendas       INTEGER NOT NULL DEFAULT 0,-- how many agendas it appeared on (carry-over)
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (room_id, number),
    UNIQUE (room_id, source_event)
);
CREATE INDEX parked_items_status ON parked_items (room_id, status);

-- When the team meets (same shape as `schedules`), per group.
CREATE TABLE meeting_schedules (
    room_id       TEXT PRIMARY KEY REFERENCES groups (room_id) ON DELETE CASCADE,
    weekday       INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_time    TEXT NOT NULL,
    every_weeks   INTEGER NOT NULL DEFAULT 1 CHECK (every_weeks BETWEEN 1 AND 12),
    timezone      TEXT NOT NULL,
    anchor_date   TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE agendas (
    id          INTEGER PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES groups (room_id) ON DELETE CASCADE,
    meeting_at  TEXT,                        -- the meeting it prepares (UTC); NULL if posted by hand
    posted_at   TEXT NOT NULL,
    UNIQUE (room_id, meeting_at)
);

CREATE TABLE agenda_items (
    agenda_id   INTEGER NOT NULL REFERENCES agendas (id) ON DELETE CASCADE,
    item_id     INTEGER NOT NULL REFERENCES parked_items (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    carried     INTEGER NOT NULL DEFAULT 0,  -- it was on an earlier agenda and not dealt with
    PRIMARY KEY (agenda_id, item_id)
);
