-- What a moderator action acted on, when a command names it: parked item numbers (`#3`, or
-- `#3 #5` for a merge). Never text someone wrote: the trail says who did what, not what was said.
ALTER TABLE moderator_actions ADD COLUMN target TEXT;
