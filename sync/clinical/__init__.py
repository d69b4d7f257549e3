"""Clinical rules, decided in one place: the thresholds table for every vital sign (`rules`) and NEWS2 (`news2`).
Plain functions over decimals; no storage, no screen."""
