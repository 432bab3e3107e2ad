"""Roles and the permissions they grant.

Every HTTP route and CLI command declares one permission (or that it is public); the
route-enumeration test refuses a route that declares none, and checks that every role
without the permission is refused.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AUDIENCE = "audience"
    PUBLISHER = "publisher"
    ROOM_MANAGER = "room_manager"  # always scoped to a room
    REVIEWER = "reviewer"
    PATROL_OFFICER = "patrol_officer"
    CHIEF_EDITOR = "chief_editor"
    COMPLIANCE_OFFICER = "compliance_officer"
    ADMINISTRATOR = "administrator"


STAFF_ROLES = frozenset(
    {Role.REVIEWER, Role.PATROL_OFFICER, Role.CHIEF_EDITOR, Role.COMPLIANCE_OFFICER, Role.ADMINISTRATOR}
)


class Permission(StrEnum):
    # any signed-in account
    ACCOUNT_SELF = "account:self"
    # publishers
    STUDIO_USE = "studio:use"
    ROOM_MANAGE_OWN = "room:manage_own"
    # room managers (scoped) and staff
    COMMENTS_MODERATE = "comments:moderate"
    # staff
    CONSOLE_VIEW = "console:view"
    STREAM_CUTOFF = "stream:cutoff"
    STREAM_UNBLOCK = "stream:unblock"
    REVIEW_WORK = "review:work"
    PATROL_WATCH = "patrol:watch"
    EDITORIAL_APPROVE = "editorial:approve"
    IDENTITY_REVIEW = "identity:review"
    IDENTITY_REVEAL = "identity:reveal"
    SANCTIONS_MANAGE = "sanctions:manage"
    AUDIT_READ = "audit:read"
    POLICY_MANAGE = "policy:manage"
    USERS_MANAGE = "users:manage"
    METRICS_READ = "metrics:read"
    FILING_EXPORT = "filing:export"
    LAWFUL_REQUESTS = "lawful_requests:manage"
    COMPLAINTS_HANDLE = "complaints:handle"
    COMPLAINTS_EXPORT = "complaints:export"
    EMERGENCY_OPERATE = "emergency:operate"
    DUTY_MANAGE = "duty:manage"
    # retention (issue 8)
    LEGAL_HOLD = "legal_hold:manage"
    INSPECTION_EXPORT = "inspection:export"
    STORAGE_VIEW = "storage:view"
    RETENTION_PURGE = "retention:purge"


_STAFF_BASE = {Permission.ACCOUNT_SELF, Permission.CONSOLE_VIEW}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AUDIENCE: frozenset({Permission.ACCOUNT_SELF}),
    Role.PUBLISHER: frozenset({Permission.ACCOUNT_SELF, Permission.STUDIO_USE, Permission.ROOM_MANAGE_OWN}),
    Role.ROOM_MANAGER: frozenset({Permission.ACCOUNT_SELF, Permission.COMMENTS_MODERATE}),
    Role.REVIEWER: frozenset(
        _STAFF_BASE | {Permission.REVIEW_WORK, Permission.COMMENTS_MODERATE, Permission.STREAM_CUTOFF,
                       Permission.IDENTITY_REVIEW}
    ),
    Role.PATROL_OFFICER: frozenset(
        _STAFF_BASE | {Permission.PATROL_WATCH, Permission.STREAM_CUTOFF, Permission.COMMENTS_MODERATE}
    ),
    Role.CHIEF_EDITOR: frozenset(
        _STAFF_BASE | {Permission.EDITORIAL_APPROVE, Permission.REVIEW_WORK, Permission.COMMENTS_MODERATE,
                       Permission.STREAM_CUTOFF}
    ),
    Role.COMPLIANCE_OFFICER: frozenset(
        _STAFF_BASE | {Permission.IDENTITY_REVIEW, Permission.IDENTITY_REVEAL, Permission.SANCTIONS_MANAGE,
                       Permission.AUDIT_READ, Permission.STREAM_CUTOFF, Permission.STREAM_UNBLOCK,
                       Permission.FILING_EXPORT, Permission.LAWFUL_REQUESTS}
    ),
    Role.ADMINISTRATOR: frozenset(
        _STAFF_BASE | {Permission.POLICY_MANAGE, Permission.USERS_MANAGE, Permission.AUDIT_READ,
                       Permission.METRICS_READ, Permission.STREAM_CUTOFF, Permission.STREAM_UNBLOCK,
                       Permission.COMMENTS_MODERATE, Permission.REVIEW_WORK, Permission.PATROL_WATCH,
                       Permission.IDENTITY_REVIEW}
    ),
}

# Complaints (Art. 19): everyone who works cases or watches rooms handles them; compliance exports.
_COMPLAINT_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset({Permission.COMPLAINTS_HANDLE}),
    Role.PATROL_OFFICER: frozenset({Permission.COMPLAINTS_HANDLE}),
    Role.CHIEF_EDITOR: frozenset({Permission.COMPLAINTS_HANDLE}),
    Role.COMPLIANCE_OFFICER: frozenset({Permission.COMPLAINTS_HANDLE, Permission.COMPLAINTS_EXPORT}),
    Role.ADMINISTRATOR: frozenset({Permission.COMPLAINTS_HANDLE, Permission.COMPLAINTS_EXPORT}),
}
ROLE_PERMISSIONS = {role: perms | _COMPLAINT_GRANTS.get(role, frozenset()) for role, perms in ROLE_PERMISSIONS.items()}

# Retention (Art. 16): compliance officers hold and export; administrators run the purge; both see storage.
_RETENTION_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.COMPLIANCE_OFFICER: frozenset({Permission.LEGAL_HOLD, Permission.INSPECTION_EXPORT, Permission.STORAGE_VIEW}),
    Role.ADMINISTRATOR: frozenset({Permission.RETENTION_PURGE, Permission.STORAGE_VIEW}),
}
ROLE_PERMISSIONS = {role: perms | _RETENTION_GRANTS.get(role, frozenset()) for role, perms in ROLE_PERMISSIONS.items()}

# Review (Art. 7): emergency switches for the chief editor, compliance and administrators;
# the duty roster for administrators.
_REVIEW_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.CHIEF_EDITOR: frozenset({Permission.EMERGENCY_OPERATE}),
    Role.COMPLIANCE_OFFICER: frozenset({Permission.EMERGENCY_OPERATE}),
    Role.ADMINISTRATOR: frozenset({Permission.EMERGENCY_OPERATE, Permission.DUTY_MANAGE}),
}
ROLE_PERMISSIONS = {role: perms | _REVIEW_GRANTS.get(role, frozenset()) for role, perms in ROLE_PERMISSIONS.items()}

# Scoped permissions: a room manager holds these only for the rooms named in the grant.
SCOPED_PERMISSIONS = frozenset({Permission.COMMENTS_MODERATE})


def permissions_for(roles: set[tuple[str, str | None]], room: str | None = None) -> set[Permission]:
    """The permissions granted by ``roles`` (role, scope) pairs, for an optional room."""
    out: set[Permission] = set()
    for role_name, scope in roles:
        try:
            role = Role(role_name)
        except ValueError:
            continue
        for perm in ROLE_PERMISSIONS[role]:
            if scope is not None and perm in SCOPED_PERMISSIONS and scope != room:
                continue
            out.add(perm)
    return out
