"""Escalation: policies, target resolution, pages, timers, the notifier and the worker."""
