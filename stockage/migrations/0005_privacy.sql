-- The person's rights (export, erasure) and the audit trail of moderator actions.
-- The audit trail records who ran which moderator command, where and when: never its
-- arguments, never any text.

CREATE TABLE moderator_actions (
    id         INTEGER PRIMARY KEY,
    room_id    TEXT NOT NULL,
    actor      TEXT NOT NULL,
    command    TEXT NOT NULL,              -- the command's name (`stationnement traite`)
    completed  INTEGER NOT NULL DEFAULT 1, -- 0 when the command failed part-way
    at         TEXT NOT NULL
);
CREATE INDEX moderator_actions_room ON moderator_actions (room_id, at);
CREATE INDEX moderator_actions_at ON moderator_actions (at);

-- `!oublier` waiting for its `!oublier confirmer`; gone once confirmed, or expired and purged.
CREATE TABLE erasure_requests (
    user_id       TEXT PRIMARY KEY,
    requested_at  TEXT NOT NULL
);

-- Export and erasure look rows up by person; retention by date.
CREATE INDEX members_user ON members (user_id);
CREATE INDEX attendance_user ON attendance (user_id);
CREATE INDEX participation_user ON participation (user_id);
CREATE INDEX parked_items_author ON parked_items (author);
CREATE INDEX parked_items_updated ON parked_items (status, updated_at);
CREATE INDEX safety_signals_at ON safety_signals (at);
