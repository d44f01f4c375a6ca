"""Cases: ids, the case record and its timeline, and the service the commands call."""
