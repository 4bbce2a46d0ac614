-- reserved for issue 12 (reports); replaced by its migration when merged
SELECT 1;
