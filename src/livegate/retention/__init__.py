"""Retention (Article 16): what is kept, for how long, what is held, and inspection exports.

``p.retention`` is a :class:`~livegate.retention.service.RetentionModule`; ``p.storage`` the
object storage (local data dir or S3-compatible) the recordings are archived into.
"""
