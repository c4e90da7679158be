"""A C2SP tlog-witness (https://c2sp.org/tlog-witness) for the hub's audit log, run by a partner.

A partner agency (the police force, the council) runs one beside its own systems, with its own
Ed25519 key and its own SQLite storage: `python -m hub.witness init|trust|serve|status`. For each
log it trusts (an origin and the log's verifier key) it keeps the latest checkpoint it cosigned,
and cosigns a new one only when a consistency proof shows it extends that one. A hub whose
database was rewritten cannot prove that, so the witness refuses it and keeps the refusal.

It imports nothing of the hub but `hub.audit.merkle` and `hub.audit.checkpoint` (standard
library and `cryptography`), and Werkzeug for HTTP.
"""
