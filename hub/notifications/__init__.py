"""School notifications (Operation Encompass style): routing, inbox, acknowledgement, escalation,
and the outbox that delivers e-mails without losing or repeating any."""
