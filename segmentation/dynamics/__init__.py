"""Pure frames over snapshots: tracking, drift, profiles, rules, value over time. May import engine and the leaves."""
