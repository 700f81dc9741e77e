"""Polling: the poll pass (``cycle``) and the ingest of one fetched feed (``ingest``),
mixed into ``monitor.service.Monitor``."""
