"""The team report: its figures over one window (`figures`) and its charts (`charts`)."""
