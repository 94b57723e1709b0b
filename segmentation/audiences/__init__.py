"""Audience files per platform: pure formats, the plan, the write, lookalikes. May import engine, dynamics, present, features, data and the leaves."""
