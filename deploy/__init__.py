"""Composition of the whole system: the embedded (one process) and distributed (one process per service) modes."""
