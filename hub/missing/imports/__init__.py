"""The police daily download: download.py reads and checks the spreadsheet and writes nothing;
service.py queues, claims and applies it (through hub.missing.service), with the review queue and
each force's column mapping; views.py and forms.py are its pages (the `missing_import` blueprint)."""
