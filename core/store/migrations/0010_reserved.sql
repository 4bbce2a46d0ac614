-- placeholder for migration 0010 of another branch (TEMPORARY: dropped on merge)
SELECT 1;
