"""The rota domain: pure scheduling (spec, handoffs, shifts, coverage); no Slack, no settings."""
