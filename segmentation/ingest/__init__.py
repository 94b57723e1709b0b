"""Files → events/customers: read, validate, then commit. May import engine, dynamics, present, features, data and the leaves."""
