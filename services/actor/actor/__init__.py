"""The self-play actor: `python -m actor`. See loop.py for the phases."""
