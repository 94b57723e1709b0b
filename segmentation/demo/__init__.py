"""Generated data with planted personas and ground truth. May import engine, dynamics, present, features, data and the leaves."""
