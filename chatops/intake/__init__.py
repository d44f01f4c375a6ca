"""Cases opened, acknowledged and resolved by other tools (a PagerDuty Events API v2 endpoint)."""
