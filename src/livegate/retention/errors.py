"""Typed errors of the retention domain (stable codes)."""

from __future__ import annotations

from livegate.core.errors import Conflict, LivegateError, NotFound, ValidationFailed


class RetentionError(LivegateError):
    """A retention operation failed."""

    code = "retention_error"


class HoldNotFound(NotFound):
    """There is no such legal hold."""

    code = "legal_hold_not_found"


class HoldAlreadyLifted(Conflict):
    """This legal hold has been lifted already."""

    code = "legal_hold_lifted"


class InvalidScope(ValidationFailed):
    """A hold or export scope must be an account, a room or a case that exists."""

    code = "retention_invalid_scope"


class DuplicateKind(Conflict):
    """A retention kind with this name is registered already."""

    code = "retention_duplicate_kind"


class StorageError(RetentionError):
    """The object storage refused or failed an operation."""

    code = "storage_error"
    http_status = 502


class ObjectMissing(NotFound):
    """No such object in storage."""

    code = "storage_object_missing"


class BundleInvalid(RetentionError):
    """The inspection bundle does not verify."""

    code = "bundle_invalid"
    http_status = 422


class HeadFileInvalid(RetentionError):
    """The audit-chain head file is not a valid signed head."""

    code = "audit_head_invalid"
    http_status = 422
