"""The data protection officer's review of the audit log: search, "who has seen this child", flags,
exports, the integrity panel, and the alarms' e-mail to the hub's DPOs. It stands above the log
(hub/audit/) and the access rules (hub/permissions/), which read the log and are read here."""
