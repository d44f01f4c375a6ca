"""Shared test helpers: fake Slack, signed requests, served apps, worlds, teams."""
