-- How sensitive the crisis net's learned model is in this group: 'standard' (the shipped
-- threshold) or 'elevee' (catches more crises, and sends more needless private messages).
-- The hand-written patterns always apply; no setting can make the net less sensitive.
ALTER TABLE groups ADD COLUMN crisis_sensitivity TEXT NOT NULL DEFAULT 'standard';
