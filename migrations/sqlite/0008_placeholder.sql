-- 0008: placeholder on branch h/restoration only, so that 0011 (the number this branch was assigned) loads
-- without a gap (migrations.Load). The migrations of other branches take this number at merge; drop this file.
SELECT 1;
