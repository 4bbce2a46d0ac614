-- reserved for issue 8 (perf2); replaced by its migration when merged
SELECT 1;
