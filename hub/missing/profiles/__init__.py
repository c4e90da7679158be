"""Philomena protocol profiles: service.py (keep, read, release), photos.py (what an upload must
be, and what is kept of it), content.py (the released profile as the share's text, and back)."""
