-- Placeholder: version 0004 belongs to another change of issue 12 developed at the same time. Migrations must
-- have no gaps (migrations.Load), so this branch carries an empty 0004 until that one is merged; delete this
-- file when merging it.
SELECT 1;
