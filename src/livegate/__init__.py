"""livegate: a live-streaming platform with the Measures on the Administration of
Internet Live-streaming Services built in."""

__version__ = "0.1.0"
