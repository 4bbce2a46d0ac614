-- reserved: number 12 belongs to the perf2 branch (this file only keeps the numbering gapless)
SELECT 1;
