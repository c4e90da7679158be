"""The WSGI entry point for any WSGI server: `gunicorn wsgi:app`.

Configuration comes from the HUB_* environment variables (see README, Configuration); in
production (HUB_ENV=production) the app refuses to build without its secrets.
"""

from hub import create_app

app = create_app()
