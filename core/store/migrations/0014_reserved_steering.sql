-- reserved for issue 12 (steering); replaced by its migration when merged
SELECT 1;
