"""Captioning backends and the captioner app (the trainer's auto-label tab reuses the backends)."""
