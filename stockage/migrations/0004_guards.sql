-- Guards: per-group switches and thresholds, and the count of safety signals (who, where,
-- when — never what was written).

ALTER TABLE groups ADD COLUMN nudges INTEGER NOT NULL DEFAULT 1;
-- 'seance' (during check-ins, the default), 'toujours' (always) or 'non' (never).
ALTER TABLE groups ADD COLUMN technical_mode TEXT NOT NULL DEFAULT 'seance'
    CHECK (technical_mode IN ('seance', 'toujours', 'non'));
-- Venting thresholds that differ from the defaults, as JSON ({"long_chars": 800, …}).
ALTER TABLE groups ADD COLUMN guard_thresholds TEXT NOT NULL DEFAULT '{}';

CREATE TABLE safety_signals (
    id              INTEGER PRIMARY KEY,
    room_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'red_weather')),
    at              TEXT NOT NULL,
    resources_sent  INTEGER NOT NULL DEFAULT 0,
    alerted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX safety_signals_user ON safety_signals (user_id, at);
