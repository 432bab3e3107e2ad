"""Complaints and reports (Article 19): a public intake with evidence captured at the
moment of the report, cases that merge reports on one target, SLA timers with escalation,
and statistics for the console and the authorities."""
