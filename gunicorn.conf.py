"""gunicorn's settings for the hub in production: `gunicorn -c gunicorn.conf.py wsgi:app`.

The access log never holds a query string or a referrer: the children's search is a GET form, so
a name, date of birth or NHS number typed into it is in the URL's query (and in the referrer of
the next page). Only the method, the path, the status, the size and the time are logged, with the
request id the hub also puts in its audit events, so a request can be traced without the log
holding personal data (tests/test_production_settings.py)."""

import os

bind = os.environ.get("HUB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HUB_WORKERS", "4"))
accesslog = "-"
# %(U)s is the path without its query; no %(r)s (the request line), %(q)s (the query) or %(f)s (the referrer).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'
# Large enough for any of the hub's URLs, small enough to refuse a request line used as a payload.
limit_request_line = 4094
