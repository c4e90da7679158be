"""Retention (issue 23, first slice): each record's review date from its owning agency's schedule,
review before destruction, legal holds, and destruction with a certificate in the audit log."""
