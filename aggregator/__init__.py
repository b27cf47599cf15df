"""Allt som sker aggregator: harvest organizers' calendars, merge, republish."""

__version__ = "0.1.0"
