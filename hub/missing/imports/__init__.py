"""The police daily download: download.py reads and checks the spreadsheet and writes nothing;
batches.py queues and runs it (a worker's lease in claims.py), rows.py applies its rows (through
hub.missing.service), review.py is the queue of rows that match no child, mapping.py each force's
column headings; views.py and forms.py are its pages (the `missing_import` blueprint)."""
