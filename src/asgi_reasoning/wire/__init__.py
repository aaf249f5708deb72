"""Bytes on the wire: the incremental SSE parser and encoder, and the JSON backend."""
