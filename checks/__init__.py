"""Fact collectors: they gather, they never judge (rules/ does that)."""
