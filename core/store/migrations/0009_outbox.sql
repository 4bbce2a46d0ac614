-- placeholder for the outbox migration of issue 10 (TEMPORARY: replaced by the outbox branch on merge)
SELECT 1;
