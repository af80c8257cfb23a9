"""vecgate's one benchmark harness: `make bench` (or `python -m bench`)."""
