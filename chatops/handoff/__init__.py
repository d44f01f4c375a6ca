"""Shift handoffs: boundaries from the rota, timers in the database, notes, acceptance, and
the daily coverage watch (issue #6)."""
