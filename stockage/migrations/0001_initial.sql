-- Groups, their members, and what the transport needs to resume without replaying events.
-- No table holds a message body.

CREATE TABLE groups (
    room_id     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('soutien', 'communaute')),
    language    TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    timezone    TEXT NOT NULL,
    format      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE members (
    room_id     TEXT NOT NULL REFERENCES groups (room_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    joined_at   TEXT NOT NULL,
    -- What the member declared (e.g. 'gestionnaire'), for the hierarchy warning.
    role        TEXT,
    PRIMARY KEY (room_id, user_id)
);

-- Event ids already handled: a replayed event after a crash is recognised and skipped.
CREATE TABLE processed_events (
    event_id      TEXT PRIMARY KEY,
    processed_at  TEXT NOT NULL
);
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- Small transport facts: the sync token, so a restart does not replay old events.
CREATE TABLE transport_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- The direct chat the bot uses with each person.
CREATE TABLE direct_rooms (
    user_id  TEXT PRIMARY KEY,
    room_id  TEXT NOT NULL
);
