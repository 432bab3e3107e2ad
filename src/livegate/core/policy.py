"""Policy as data: what each content category, audience size and credit level implies.

Article 7 asks for level-based and category-based management "according to the content
category and user scale" of a livestream, Article 15 for a stratified credit system, Article
14 for graded sanctions and Article 16 for 60-day retention. Those choices belong to the
operator, not to the code, so they live in one YAML file validated here. The code keeps only
the floors the Measures set (retention of at least 60 days, news reviewed before
publication), so that no policy file can configure the platform out of compliance.

Loading is all-or-nothing: :func:`parse_policy` reports every problem at once as
``path.to.field: message`` lines (:class:`PolicyError`), and :class:`PolicyHolder` swaps a
new policy in atomically, so an invalid file never changes what is running.

Every decision helper has an ``explain_*`` twin that returns the value together with the
reasons behind it, because the console shows each room's tier, delay and sampling *and why*.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from livegate.core.errors import LivegateError, NotFound, ValidationFailed
from livegate.core.ratelimit import RateRule

__all__ = [
    "MAX_BROADCAST_DELAY_SECONDS",
    "MIN_RETENTION_DAYS",
    "AgreementClause",
    "AudienceTier",
    "Category",
    "CommentRules",
    "ComplaintSla",
    "CredentialKind",
    "CredentialRequirements",
    "Credit",
    "CreditConsequences",
    "CreditLevel",
    "CreditRecovery",
    "CreditScale",
    "Explanation",
    "OtpSettings",
    "PlatformMark",
    "Policy",
    "PolicyError",
    "PolicyHolder",
    "PolicyIssue",
    "PublisherRules",
    "RateSpec",
    "Retention",
    "ReviewRules",
    "RoomExplanation",
    "SanctionStep",
    "Sanctions",
    "Severity",
    "UnknownPolicyKey",
    "default_policy_text",
    "load_default_policy",
    "load_policy",
    "parse_policy",
    "validate_policy_data",
]

#: Article 16: content and logs are kept for 60 days; no policy may go below.
MIN_RETENTION_DAYS = 60
#: The delay buffer holds at most this much; longer delays make "live" meaningless.
MAX_BROADCAST_DELAY_SECONDS = 300

Severity = Literal["minor", "moderate", "serious", "critical"]
SEVERITIES: tuple[Severity, ...] = ("minor", "moderate", "serious", "critical")
CommentMode = Literal["open", "slow", "premoderated"]
WatermarkMode = Literal["burn", "overlay"]

DEFAULT_POLICY_RESOURCE = "default_policy.yaml"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in a policy file, located by a dotted path such as ``categories.news.comment_mode``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PolicyError(LivegateError):
    """The policy file is not valid; nothing was changed."""

    code = "policy_invalid"
    http_status = 422

    def __init__(self, issues: list[PolicyIssue], *, source: str = "<policy>") -> None:
        self.issues = tuple(issues)
        self.source = source
        lines = "\n".join(str(issue) for issue in self.issues)
        count = len(self.issues)
        super().__init__(
            f"policy {source} is invalid ({count} error{'s' if count != 1 else ''}):\n{lines}",
            source=source,
            issues=[{"path": i.path, "message": i.message} for i in self.issues],
        )


class UnknownPolicyKey(NotFound):
    """The policy has no such category, tier, credit level or credential kind."""

    code = "unknown_policy_key"


class _Issues(ValueError):
    """Raised by model validators to report several located problems at once.

    Pydantic wraps a ``ValueError`` raised in a validator and keeps the instance in the
    error's context, so :func:`_issues_from_validation_error` can unpack every path.
    """

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{p}: {m}" for p, m in issues))


class _IssueList:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise _Issues(self.items)


def _join_path(prefix: str, rest: str) -> str:
    if rest.startswith("$."):  # an absolute path: the rule lives in one field but names another
        return rest[2:]
    if not prefix:
        return rest
    if not rest:
        return prefix
    return prefix + rest if rest.startswith("[") else f"{prefix}.{rest}"


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = _join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path


def _issues_from_validation_error(exc: ValidationError) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    for err in exc.errors(include_url=False):
        prefix = _loc_to_path(tuple(err["loc"]))
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, _Issues):
            issues.extend(PolicyIssue(_join_path(prefix, p) or "(root)", m) for p, m in inner.issues)
        else:
            message = err["msg"].removeprefix("Value error, ")
            issues.append(PolicyIssue(prefix or "(root)", message))
    return issues


# --------------------------------------------------------------------------- schema


class _Model(BaseModel):
    # Frozen: a Policy is shared by every request until the next swap; nobody edits it in place.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialKind(_Model):
    """A licence the platform holds or a credential a publisher registers (Articles 5, 6)."""

    display_name: str = Field(min_length=1)
    holder: Literal["platform", "publisher"]
    basis: str = Field(default="", description="the article or law that asks for it")


class CredentialRequirements(_Model):
    """Credential kinds, by key, that must be valid before a room of a category goes live."""

    platform: list[str] = Field(default_factory=list)
    publisher: list[str] = Field(default_factory=list)


class Category(_Model):
    """What a content category implies for the publish, media and interaction flows."""

    display_name: str = Field(min_length=1)
    required_credentials: CredentialRequirements = Field(default_factory=CredentialRequirements)
    watermark_mode: WatermarkMode
    broadcast_delay_seconds: int = Field(ge=0, le=MAX_BROADCAST_DELAY_SECONDS)
    comment_mode: CommentMode
    slow_mode_seconds: int = Field(default=0, ge=0, le=3600)
    frame_sampling_seconds: float = Field(gt=0, le=600)
    replay_allowed: bool
    requires_editorial_approval: bool

    @model_validator(mode="after")
    def _check(self) -> Category:
        issues = _IssueList()
        if self.comment_mode == "slow" and self.slow_mode_seconds <= 0:
            issues.add("slow_mode_seconds", "must be greater than 0 when comment_mode is 'slow'")
        if self.requires_editorial_approval and self.comment_mode != "premoderated":
            # Article 7: news livestreams *and their interactional content* are reviewed
            # before publication.
            issues.add(
                "comment_mode",
                "must be 'premoderated' when requires_editorial_approval is true (Article 7)",
            )
        issues.raise_if_any()
        return self


class AudienceTier(_Model):
    """A band of concurrent viewers: ``min_viewers <= viewers < max_viewers`` (no max: unbounded)."""

    key: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    display_name: str = Field(min_length=1)
    min_viewers: int = Field(ge=0)
    max_viewers: int | None = Field(default=None, ge=1)
    sampling_seconds: float = Field(gt=0, le=600)
    extra_delay_seconds: int = Field(default=0, ge=0, le=MAX_BROADCAST_DELAY_SECONDS)
    patrol_required: bool = False

    @model_validator(mode="after")
    def _check(self) -> AudienceTier:
        if self.max_viewers is not None and self.max_viewers <= self.min_viewers:
            raise _Issues([("max_viewers", f"must be greater than min_viewers ({self.min_viewers})")])
        return self

    def contains(self, viewers: int) -> bool:
        return viewers >= self.min_viewers and (self.max_viewers is None or viewers < self.max_viewers)

    def describe_range(self) -> str:
        if self.max_viewers is None:
            return f"{self.min_viewers:,} viewers or more"
        return f"{self.min_viewers:,} to {self.max_viewers - 1:,} viewers"


class CreditScale(_Model):
    start: int
    max: int
    min: int

    @model_validator(mode="after")
    def _check(self) -> CreditScale:
        issues = _IssueList()
        if self.min >= self.max:
            issues.add("min", f"must be less than max ({self.max})")
        elif not self.min <= self.start <= self.max:
            issues.add("start", f"must be within [min, max] = [{self.min}, {self.max}]")
        issues.raise_if_any()
        return self


class CreditRecovery(_Model):
    """Points given back for a clean record: ``points`` every ``per_days`` without a violation."""

    points: int = Field(ge=0)
    per_days: int = Field(ge=1)
    cap: int = Field(description="recovery never lifts a score above this")


class CreditConsequences(_Model):
    """What holding a credit level means for a publisher's rooms (Article 15)."""

    broadcast_delay_seconds: int = Field(ge=0, le=MAX_BROADCAST_DELAY_SECONDS)
    comment_premoderation: bool
    #: ``"all"`` in the file; ``None`` here means every category is allowed.
    allowed_categories: list[str] | None
    #: Largest audience tier the publisher's rooms may reach; ``None``: no cap.
    max_audience_tier: str | None = None
    #: Applied to the sampling interval; at most 1, because credit may only make review
    #: stricter than what the audience size already requires, never laxer.
    sampling_multiplier: float = Field(gt=0, le=1)

    @field_validator("allowed_categories", mode="before")
    @classmethod
    def _all_or_list(cls, value: Any) -> Any:
        if value == "all":
            return None
        if value is None or isinstance(value, str):
            raise ValueError("must be 'all' or a list of category keys")
        return value

    @field_serializer("allowed_categories")
    def _dump_all(self, value: list[str] | None) -> list[str] | str:
        return "all" if value is None else value

    def allows(self, category: str) -> bool:
        return self.allowed_categories is None or category in self.allowed_categories


class CreditLevel(_Model):
    """A grade (A-D) covering the inclusive score range ``min_score..max_score``."""

    key: str = Field(min_length=1, max_length=8)
    display_name: str = Field(min_length=1)
    min_score: int
    max_score: int
    consequences: CreditConsequences

    @model_validator(mode="after")
    def _check(self) -> CreditLevel:
        if self.min_score > self.max_score:
            raise _Issues([("min_score", f"must not exceed max_score ({self.max_score})")])
        return self


class Credit(_Model):
    scale: CreditScale
    deductions: dict[Severity, int]
    recovery: CreditRecovery
    levels: list[CreditLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Credit:
        issues = _IssueList()
        scale = self.scale
        for severity in SEVERITIES:
            if severity not in self.deductions:
                issues.add(f"deductions.{severity}", "missing: every severity needs a deduction")
        for severity, points in self.deductions.items():
            if points < 0:
                issues.add(f"deductions.{severity}", "must be 0 or more")
        if not scale.min <= self.recovery.cap <= scale.max:
            issues.add("recovery.cap", f"must be within the scale [{scale.min}, {scale.max}]")
        keys = [level.key for level in self.levels]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                issues.add(f"levels[{i}].key", f"duplicate level key {key!r}")
        # The levels must tile the scale: every score maps to exactly one level.
        order = sorted(range(len(self.levels)), key=lambda i: self.levels[i].min_score)
        expected = scale.min
        for i in order:
            level = self.levels[i]
            if level.min_score < expected:
                issues.add(
                    f"levels[{i}].min_score",
                    f"range {level.min_score}..{level.max_score} overlaps another level"
                    f" (scores below {expected} are already covered)",
                )
            elif level.min_score > expected:
                issues.add(
                    f"levels[{i}].min_score",
                    f"scores {expected}..{level.min_score - 1} are not covered by any level",
                )
            expected = max(expected, level.max_score + 1)
        if expected <= scale.max:
            issues.add("levels", f"scores {expected}..{scale.max} are not covered by any level")
        for i, level in enumerate(self.levels):
            if level.max_score > scale.max or level.min_score < scale.min:
                issues.add(
                    f"levels[{i}]",
                    f"range {level.min_score}..{level.max_score} is outside the scale [{scale.min}, {scale.max}]",
                )
        issues.raise_if_any()
        return self


class SanctionStep(_Model):
    """One rung of the sanctions ladder (Article 14: warning, suspension, closure)."""

    action: Literal["warning", "suspension", "closure"]
    days: int | None = Field(default=None, ge=1, le=3650)
    #: Closure may also enter the user on the blacklist (Article 15).
    blacklist: bool = False

    @model_validator(mode="after")
    def _check(self) -> SanctionStep:
        issues = _IssueList()
        if self.action == "suspension" and self.days is None:
            issues.add("days", "required for a suspension")
        if self.action != "suspension" and self.days is not None:
            issues.add("days", f"only a suspension has a duration, not a {self.action}")
        if self.blacklist and self.action != "closure":
            issues.add("blacklist", "only a closure can blacklist")
        issues.raise_if_any()
        return self

    def describe(self) -> str:
        if self.action == "suspension":
            return f"{self.days}-day suspension"
        return "closure and blacklist" if self.blacklist else self.action


class Sanctions(_Model):
    """Escalation: each prior violation inside the window moves one rung up the ladder."""

    repeat_window_days: int = Field(ge=1, le=3650)
    ladder: list[SanctionStep] = Field(min_length=1)
    #: The rung a first violation of each severity starts on.
    entry_step: dict[Severity, int]

    @model_validator(mode="after")
    def _check(self) -> Sanctions:
        issues = _IssueList()
        for i, step in enumerate(self.ladder[:-1]):
            if step.action == "closure":
                issues.add(f"ladder[{i}].action", "closure must be the last rung: nothing escalates beyond it")
        for severity in SEVERITIES:
            if severity not in self.entry_step:
                issues.add(f"entry_step.{severity}", "missing: every severity needs an entry rung")
        for severity, index in self.entry_step.items():
            if not 0 <= index < len(self.ladder):
                issues.add(f"entry_step.{severity}", f"must be a ladder index 0..{len(self.ladder) - 1}")
        issues.raise_if_any()
        return self


class Retention(_Model):
    """How long content and logs are kept; Article 16 sets 60 days as the floor."""

    default_days: int
    network_logs_days: int
    by_kind: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Retention:
        issues = _IssueList()
        message = f"must be at least {MIN_RETENTION_DAYS} days (Article 16)"
        if self.default_days < MIN_RETENTION_DAYS:
            issues.add("default_days", message)
        if self.network_logs_days < MIN_RETENTION_DAYS:
            issues.add("network_logs_days", message)
        for kind, days in self.by_kind.items():
            if days < MIN_RETENTION_DAYS:
                issues.add(f"by_kind.{kind}", message)
        issues.raise_if_any()
        return self


class OtpSettings(_Model):
    """Phone verification codes (Article 12: audiences verified by mobile number)."""

    code_length: int = Field(default=6, ge=4, le=10)
    code_ttl_seconds: int = Field(ge=30, le=3600)
    max_attempts: int = Field(ge=1, le=20)
    resend_cooldown_seconds: int = Field(ge=0, le=3600)
    per_number_per_hour: int = Field(ge=1)
    per_ip_per_hour: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> OtpSettings:
        if self.resend_cooldown_seconds >= self.code_ttl_seconds:
            raise _Issues(
                [
                    (
                        "resend_cooldown_seconds",
                        f"must be shorter than code_ttl_seconds ({self.code_ttl_seconds})",
                    )
                ]
            )
        return self

    def per_number_rule(self) -> RateRule:
        """The limit on codes sent to one phone number."""
        return RateRule.per_window("otp.per_number", self.per_number_per_hour, 3600)

    def per_ip_rule(self) -> RateRule:
        """The limit on codes requested from one IP address."""
        return RateRule.per_window("otp.per_ip", self.per_ip_per_hour, 3600)


class PublisherRules(_Model):
    min_age: int = Field(ge=0, le=100)
    guardian_consent_below: int = Field(ge=0, le=100)
    #: A publisher account is bound to this many verified real identities (Article 12).
    identities_per_publisher: int = Field(ge=1)
    #: How many publisher accounts one verified identity may hold.
    publisher_accounts_per_identity: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> PublisherRules:
        if self.guardian_consent_below < self.min_age:
            raise _Issues([("guardian_consent_below", f"must be at least min_age ({self.min_age})")])
        return self


class RateSpec(_Model):
    """``limit`` events per ``per_seconds``, counted as a token bucket of that capacity."""

    limit: int = Field(ge=1)
    per_seconds: float = Field(gt=0)

    def rule(self, name: str) -> RateRule:
        """This spec as a rate-limit rule named ``name``."""
        return RateRule.per_window(name, self.limit, self.per_seconds)


class CommentRules(_Model):
    max_length: int = Field(ge=1, le=10_000)
    per_account_per_room: RateSpec
    per_room: RateSpec

    def per_account_per_room_rule(self) -> RateRule:
        """Key hits by ``(account, room)``: one chatty viewer must not drown a room."""
        return self.per_account_per_room.rule("comments.per_account_per_room")

    def per_room_rule(self) -> RateRule:
        """Key hits by room: caps what moderation and fan-out must absorb in one room."""
        return self.per_room.rule("comments.per_room")


class ComplaintSurge(_Model):
    """``reports`` reports on one live room within ``within_minutes`` raise it to the patrol."""

    reports: int = Field(default=5, ge=2, le=10_000)
    within_minutes: float = Field(default=10, gt=0, le=24 * 60)


def _complaints_per_ip() -> RateSpec:
    return RateSpec(limit=10, per_seconds=3600)


def _complaints_per_account() -> RateSpec:
    return RateSpec(limit=20, per_seconds=3600)


class ComplaintIntake(_Model):
    """Abuse limits on the public intake: reports per IP and per account, and the
    proof-of-work difficulty (leading zero bits) asked of anonymous reporters."""

    per_ip: RateSpec = Field(default_factory=_complaints_per_ip)
    per_account: RateSpec = Field(default_factory=_complaints_per_account)
    challenge_bits: int = Field(default=16, ge=0, le=28)


class ComplaintSla(_Model):
    """Article 19: complaints are handled promptly; these are the promises we measure."""

    acknowledge_within_hours: float = Field(gt=0)
    decide_within_hours: float = Field(gt=0)
    surge: ComplaintSurge = Field(default_factory=ComplaintSurge)
    intake: ComplaintIntake = Field(default_factory=ComplaintIntake)

    @model_validator(mode="after")
    def _check(self) -> ComplaintSla:
        if self.acknowledge_within_hours > self.decide_within_hours:
            raise _Issues(
                [
                    (
                        "acknowledge_within_hours",
                        f"must not exceed decide_within_hours ({self.decide_within_hours})",
                    )
                ]
            )
        return self

    @property
    def acknowledge_within(self) -> dt.timedelta:
        return dt.timedelta(hours=self.acknowledge_within_hours)

    @property
    def decide_within(self) -> dt.timedelta:
        return dt.timedelta(hours=self.decide_within_hours)


class PlatformMark(_Model):
    """The platform's identifying mark on every stream (Article 7)."""

    text: str = Field(min_length=1, max_length=64)
    position: Literal["top_left", "top_right", "bottom_left", "bottom_right"] = "top_right"


class ReviewRules(_Model):
    """Content review thresholds (Articles 7, 9): what the machine does with a case's score.

    A case at or above ``auto_action_score`` is acted on at once (a close hash-bank match,
    within ``hash_exact_distance`` bits, cuts the stream); at or above ``queue_score`` it goes
    to a person; below, it is recorded and ignored. Priority grows with score and audience.
    """

    auto_action_score: float = Field(default=95, gt=0, le=100)
    queue_score: float = Field(default=30, ge=0, le=100)
    hash_match_distance: int = Field(default=31, ge=0, le=64)
    hash_exact_distance: int = Field(default=16, ge=0, le=64)
    hash_min_quality: int = Field(default=50, ge=0, le=100)
    classifier_threshold: float = Field(default=0.6, gt=0, le=1)
    emergency_sampling_seconds: float = Field(default=2, gt=0, le=60)
    audience_weight: float = Field(default=10, ge=0, le=100)

    @model_validator(mode="after")
    def _check(self) -> ReviewRules:
        if self.queue_score > self.auto_action_score:
            raise ValueError("queue_score must not exceed auto_action_score")
        if self.hash_exact_distance > self.hash_match_distance:
            raise ValueError("hash_exact_distance must not exceed hash_match_distance")
        return self


AgreementParty = Literal["publisher", "audience"]


def _both_parties() -> list[AgreementParty]:
    return ["publisher", "audience"]


class AgreementClause(_Model):
    """A clause every service agreement must contain (Article 13)."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    description: str = Field(min_length=1)
    applies_to: list[AgreementParty] = Field(default_factory=_both_parties, min_length=1)


def _check_delay_bound(
    categories: dict[str, Category], tiers: list[AudienceTier], credit: Credit, issues: _IssueList
) -> None:
    """effective_delay = max(category, credit level) + tier extra; the worst case must fit the buffer."""
    cat_key, cat = max(categories.items(), key=lambda kv: kv[1].broadcast_delay_seconds)
    level_i, level = max(enumerate(credit.levels), key=lambda il: il[1].consequences.broadcast_delay_seconds)
    tier_i, tier = max(enumerate(tiers), key=lambda it: it[1].extra_delay_seconds)
    total = max(cat.broadcast_delay_seconds, level.consequences.broadcast_delay_seconds) + tier.extra_delay_seconds
    if total > MAX_BROADCAST_DELAY_SECONDS:
        issues.add(
            f"$.audience_tiers[{tier_i}].extra_delay_seconds",
            f"with categories.{cat_key}.broadcast_delay_seconds ({cat.broadcast_delay_seconds}) and"
            f" credit.levels[{level_i}].consequences.broadcast_delay_seconds"
            f" ({level.consequences.broadcast_delay_seconds}) the delay reaches {total} s,"
            f" over the {MAX_BROADCAST_DELAY_SECONDS} s limit",
        )


class Policy(_Model):
    """The whole operator policy. Build it with :func:`parse_policy` or :func:`load_policy`."""

    version: str = Field(min_length=1)
    credential_kinds: dict[str, CredentialKind]
    categories: dict[str, Category] = Field(min_length=1)
    audience_tiers: list[AudienceTier] = Field(min_length=1)
    credit: Credit
    sanctions: Sanctions
    retention: Retention
    otp: OtpSettings
    publisher: PublisherRules
    comments: CommentRules
    complaints: ComplaintSla
    audio_ident_interval_minutes: int = Field(ge=1, le=120)
    platform_mark: PlatformMark
    agreement_clauses: list[AgreementClause] = Field(min_length=1)
    review: ReviewRules = Field(default_factory=ReviewRules)

    # Cross-field rules are field validators where they can be: a field validator runs as
    # soon as its own field (and the fields before it, via ``info.data``) are valid, so one
    # broken section does not hide the problems of another.

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, categories: dict[str, Category], info: ValidationInfo) -> dict[str, Category]:
        issues = _IssueList()
        # Without valid credential_kinds (reported on their own) references cannot be checked.
        kinds: dict[str, CredentialKind] = info.data.get("credential_kinds") or {}
        for key, category in categories.items() if "credential_kinds" in info.data else ():
            required = category.required_credentials
            for holder, keys in (("platform", required.platform), ("publisher", required.publisher)):
                for i, kind_key in enumerate(keys):
                    path = f"{key}.required_credentials.{holder}[{i}]"
                    kind = kinds.get(kind_key)
                    if kind is None:
                        issues.add(path, f"credential kind {kind_key!r} is not defined in credential_kinds")
                    elif kind.holder != holder:
                        issues.add(path, f"credential kind {kind_key!r} is held by the {kind.holder}, not the {holder}")
        # Articles 5 and 7: news needs a chief editor's approval and premoderated interaction.
        news = categories.get("news")
        if news is None:
            issues.add("news", "required: news livestreams have their own rules (Articles 5, 7)")
        elif not news.requires_editorial_approval:
            issues.add("news.requires_editorial_approval", "must be true (Article 7)")
        issues.raise_if_any()
        return categories

    @field_validator("audience_tiers")
    @classmethod
    def _check_tiers(cls, tiers: list[AudienceTier]) -> list[AudienceTier]:
        issues = _IssueList()
        keys = [tier.key for tier in tiers]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                issues.add(f"[{i}].key", f"duplicate tier key {key!r}")
        if tiers[0].min_viewers != 0:
            issues.add("[0].min_viewers", "must be 0: every audience size needs a tier")
        for i in range(1, len(tiers)):
            previous = tiers[i - 1]
            if previous.max_viewers is None:
                issues.add(
                    f"[{i - 1}].max_viewers",
                    "only the last tier may be unbounded (tiers are ordered by audience size)",
                )
            elif tiers[i].min_viewers != previous.max_viewers:
                issues.add(
                    f"[{i}].min_viewers",
                    f"must equal the previous tier's max_viewers ({previous.max_viewers}): tiers are contiguous",
                )
        if tiers[-1].max_viewers is not None:
            issues.add(f"[{len(tiers) - 1}].max_viewers", "the last tier must be unbounded (leave max_viewers out)")
        issues.raise_if_any()
        return tiers

    @field_validator("credit")
    @classmethod
    def _check_credit_references(cls, credit: Credit, info: ValidationInfo) -> Credit:
        issues = _IssueList()
        categories: dict[str, Category] | None = info.data.get("categories")
        tiers: list[AudienceTier] | None = info.data.get("audience_tiers")
        for i, level in enumerate(credit.levels):
            consequences = level.consequences
            path = f"levels[{i}].consequences"
            if categories is not None:
                for j, category in enumerate(consequences.allowed_categories or []):
                    if category not in categories:
                        issues.add(f"{path}.allowed_categories[{j}]", f"category {category!r} is not defined")
            cap = consequences.max_audience_tier
            if tiers is not None and cap is not None and cap not in {tier.key for tier in tiers}:
                issues.add(f"{path}.max_audience_tier", f"tier {cap!r} is not defined in audience_tiers")
        if categories is not None and tiers is not None:
            _check_delay_bound(categories, tiers, credit, issues)
        issues.raise_if_any()
        return credit

    @field_validator("agreement_clauses")
    @classmethod
    def _check_clauses(cls, clauses: list[AgreementClause]) -> list[AgreementClause]:
        issues = _IssueList()
        ids = [clause.id for clause in clauses]
        for i, clause_id in enumerate(ids):
            if clause_id in ids[:i]:
                issues.add(f"[{i}].id", f"duplicate clause id {clause_id!r}")
        issues.raise_if_any()
        return clauses

    # ----------------------------------------------------------------- identity

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: the same rules give the same digest, whatever
        the file's layout, comments or key order."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def platform_mark_text(self) -> str:
        return self.platform_mark.text

    # ----------------------------------------------------------------- look-ups

    def category(self, key: str) -> Category:
        try:
            return self.categories[key]
        except KeyError:
            raise UnknownPolicyKey(f"unknown content category {key!r}", key=key) from None

    def credential_kind(self, key: str) -> CredentialKind:
        try:
            return self.credential_kinds[key]
        except KeyError:
            raise UnknownPolicyKey(f"unknown credential kind {key!r}", key=key) from None

    def tier(self, key: str) -> AudienceTier:
        for tier in self.audience_tiers:
            if tier.key == key:
                return tier
        raise UnknownPolicyKey(f"unknown audience tier {key!r}", key=key)

    def credit_level(self, key: str | CreditLevel) -> CreditLevel:
        if isinstance(key, CreditLevel):
            return key
        for level in self.credit.levels:
            if level.key == key:
                return level
        raise UnknownPolicyKey(f"unknown credit level {key!r}", key=key)

    def retention_days(self, kind: str) -> int:
        """Days to keep records of ``kind``: ``by_kind`` overrides, ``network_logs``, else the default."""
        if kind in self.retention.by_kind:
            return self.retention.by_kind[kind]
        if kind == "network_logs":
            return self.retention.network_logs_days
        return self.retention.default_days

    # ----------------------------------------------------------------- decisions

    def tier_for(self, viewers: int) -> AudienceTier:
        return self.explain_tier(viewers).value

    def explain_tier(self, viewers: int) -> Explanation[AudienceTier]:
        if viewers < 0:
            raise ValidationFailed("a viewer count cannot be negative", viewers=viewers)
        for tier in self.audience_tiers:
            if tier.contains(viewers):
                reason = f"{viewers:,} concurrent viewers falls in tier {tier.key!r} ({tier.describe_range()})"
                return Explanation(tier, (reason,), self.version)
        raise AssertionError("validated tiers cover every count")  # pragma: no cover

    def credit_level_for(self, score: int) -> CreditLevel:
        return self.explain_credit_level(score).value

    def explain_credit_level(self, score: int) -> Explanation[CreditLevel]:
        """The level for ``score``. A score outside the scale is clamped onto it rather than
        refused, because a score stored under an older policy must still map to a level."""
        scale = self.credit.scale
        reasons: list[str] = []
        clamped = min(max(score, scale.min), scale.max)
        if clamped != score:
            reasons.append(f"score {score} is outside the scale [{scale.min}, {scale.max}]; read as {clamped}")
        for level in self.credit.levels:
            if level.min_score <= clamped <= level.max_score:
                reasons.append(f"credit score {clamped} is in level {level.key} ({level.min_score}..{level.max_score})")
                return Explanation(level, tuple(reasons), self.version)
        raise AssertionError("validated levels cover the scale")  # pragma: no cover

    def sampling_interval(self, category: str, viewers: int, credit_level: str | CreditLevel) -> float:
        return self.explain_sampling_interval(category, viewers, credit_level).value

    def explain_sampling_interval(
        self, category: str, viewers: int, credit_level: str | CreditLevel
    ) -> Explanation[float]:
        """Seconds between sampled frames: the stricter of category and tier, tightened by credit."""
        cat = self.category(category)
        tier_expl = self.explain_tier(viewers)
        tier = tier_expl.value
        level = self.credit_level(credit_level)
        base = min(cat.frame_sampling_seconds, tier.sampling_seconds)
        reasons = list(tier_expl.reasons)
        reasons.append(
            f"category {category!r} samples every {_fmt(cat.frame_sampling_seconds)} s and tier {tier.key!r}"
            f" every {_fmt(tier.sampling_seconds)} s; the shorter, {_fmt(base)} s, applies"
        )
        value = base * level.consequences.sampling_multiplier
        if level.consequences.sampling_multiplier != 1:
            reasons.append(
                f"credit level {level.key} multiplies it by {_fmt(level.consequences.sampling_multiplier)}:"
                f" {_fmt(value)} s"
            )
        return Explanation(value, tuple(reasons), self.version)

    def effective_delay(self, category: str, credit_level: str | CreditLevel, viewers: int) -> int:
        return self.explain_delay(category, credit_level, viewers).value

    def explain_delay(self, category: str, credit_level: str | CreditLevel, viewers: int) -> Explanation[int]:
        """Broadcast delay in seconds: the longer of category and credit level, plus the tier's extra.

        Category and credit level each set a minimum review window, so the longer one wins;
        a large audience adds time on top because more people would see a violation.
        """
        cat = self.category(category)
        level = self.credit_level(credit_level)
        tier_expl = self.explain_tier(viewers)
        tier = tier_expl.value
        cat_delay = cat.broadcast_delay_seconds
        level_delay = level.consequences.broadcast_delay_seconds
        base = max(cat_delay, level_delay)
        reasons = [
            f"category {category!r} needs {cat_delay} s and credit level {level.key} needs {level_delay} s;"
            f" the longer, {base} s, applies",
            *tier_expl.reasons,
        ]
        value = base + tier.extra_delay_seconds
        if tier.extra_delay_seconds:
            reasons.append(f"tier {tier.key!r} adds {tier.extra_delay_seconds} s: {value} s")
        return Explanation(value, tuple(reasons), self.version)

    def comment_mode(self, category: str, credit_level: str | CreditLevel) -> CommentMode:
        cat = self.category(category)
        if self.credit_level(credit_level).consequences.comment_premoderation:
            return "premoderated"
        return cat.comment_mode

    def sanction_for(self, severity: Severity, prior_violations_in_window: int) -> Explanation[SanctionStep]:
        """The rung for a new violation: the severity's entry rung plus one per recent repeat."""
        entry = self.sanctions.entry_step[severity]
        index = min(entry + max(prior_violations_in_window, 0), len(self.sanctions.ladder) - 1)
        step = self.sanctions.ladder[index]
        reasons = (
            f"a {severity} violation starts at rung {entry} ({self.sanctions.ladder[entry].describe()})",
            f"{prior_violations_in_window} prior violation(s) in the last {self.sanctions.repeat_window_days}"
            f" days escalate to rung {index}: {step.describe()}",
        )
        return Explanation(step, reasons, self.version)

    def explain(self, category: str, viewers: int, credit_level: str | CreditLevel) -> RoomExplanation:
        """Everything the policy says about one room right now, with the reasons, for the console."""
        cat = self.category(category)
        level = self.credit_level(credit_level)
        tier_expl = self.explain_tier(viewers)
        tier = tier_expl.value
        sampling = self.explain_sampling_interval(category, viewers, level)
        delay = self.explain_delay(category, level, viewers)
        mode = self.comment_mode(category, level)
        reasons = list(sampling.reasons) + [r for r in delay.reasons if r not in sampling.reasons]
        if mode != cat.comment_mode:
            reasons.append(f"credit level {level.key} requires premoderated comments")
        allowed = level.consequences.allows(category)
        if not allowed:
            reasons.append(f"credit level {level.key} may not publish in category {category!r}")
        over_cap = False
        cap_key = level.consequences.max_audience_tier
        if cap_key is not None:
            cap_index = [t.key for t in self.audience_tiers].index(cap_key)
            over_cap = self.audience_tiers.index(tier) > cap_index
            if over_cap:
                reasons.append(f"credit level {level.key} caps the audience at tier {cap_key!r}")
        if tier.patrol_required:
            reasons.append(f"tier {tier.key!r} requires a human patrol")
        return RoomExplanation(
            policy_version=self.version,
            category=category,
            viewers=viewers,
            tier=tier,
            credit_level=level,
            sampling_seconds=sampling.value,
            delay_seconds=delay.value,
            comment_mode=mode,
            slow_mode_seconds=cat.slow_mode_seconds if mode == "slow" else 0,
            watermark_mode=cat.watermark_mode,
            patrol_required=tier.patrol_required,
            category_allowed=allowed,
            over_audience_cap=over_cap,
            reasons=tuple(reasons),
        )


def _fmt(value: float) -> str:
    return f"{value:g}"


T = TypeVar("T")


@dataclass(frozen=True)
class Explanation(Generic[T]):
    """A value the policy decided, the reasons a person can read, and the policy version."""

    value: T
    reasons: tuple[str, ...]
    policy_version: str

    def __str__(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class RoomExplanation:
    """What applies to one room and why: the console's tier column and its tooltip."""

    policy_version: str
    category: str
    viewers: int
    tier: AudienceTier
    credit_level: CreditLevel
    sampling_seconds: float
    delay_seconds: int
    comment_mode: CommentMode
    slow_mode_seconds: int
    watermark_mode: WatermarkMode
    patrol_required: bool
    category_allowed: bool
    over_audience_cap: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- loading


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys: a second ``news:`` would silently win otherwise."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def validate_policy_data(data: Any, *, source: str = "<data>") -> Policy:
    """Validate already-parsed data (from YAML, or JSON sent by the console editor)."""
    if not isinstance(data, Mapping):
        raise PolicyError([PolicyIssue("(root)", "the policy must be a mapping")], source=source)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_issues_from_validation_error(exc), source=source) from None


def parse_policy(text: str, *, source: str = "<string>") -> Policy:
    """Parse and validate YAML text; raise :class:`PolicyError` listing every problem."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([PolicyIssue("(yaml)", f"{where}{problem}")], source=source) from None
    return validate_policy_data(data, source=source)


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            [PolicyIssue("(file)", f"cannot read {path}: {exc.strerror or exc}")], source=str(path)
        ) from None
    return parse_policy(text, source=str(path))


def default_policy_text() -> str:
    return resources.files("livegate.core").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")


def load_default_policy() -> Policy:
    """The policy shipped with livegate: compliant with the Measures out of the box."""
    return parse_policy(default_policy_text(), source=f"livegate/core/{DEFAULT_POLICY_RESOURCE}")


# --------------------------------------------------------------------------- holder


class PolicyHolder:
    """The policy in force, swapped atomically on reload.

    Callers take ``holder.get()`` once per decision and use that snapshot throughout, so one
    decision never mixes two versions. ``reload`` parses first and swaps only on success: an
    invalid file raises :class:`PolicyError` and the running policy stays as it was.
    Nothing here is module-level state: each node builds its own holder from the same file.
    """

    def __init__(self, policy: Policy, *, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._policy = policy
        self._path = Path(path) if path is not None else None
        self._listeners: list[Callable[[Policy, Policy], None]] = []

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyHolder:
        return cls(load_policy(path), path=path)

    def get(self) -> Policy:
        with self._lock:
            return self._policy

    @property
    def version(self) -> str:
        """The version hash of the policy in force (its :attr:`Policy.digest`).

        Nodes compare and record this, not the file's own ``version`` label, because two
        files with the same label but different rules must never look alike.
        """
        return self.get().digest

    @property
    def version_hash(self) -> str:
        return self.get().digest

    @property
    def label(self) -> str:
        """The operator's ``version`` string from the file, for people."""
        return self.get().version

    def swap(self, new: Policy) -> Policy:
        """Put ``new`` in force and return the policy it replaced."""
        with self._lock:
            old, self._policy = self._policy, new
            listeners = list(self._listeners)
        for listener in listeners:
            listener(old, new)
        return old

    def reload(self, path: str | Path | None = None) -> Policy:
        """Load ``path`` (default: the file this holder came from) and swap it in; return the new policy."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise PolicyError([PolicyIssue("(file)", "this holder was not loaded from a file")], source="<holder>")
        new = load_policy(target)
        self.swap(new)
        return new

    def add_listener(self, listener: Callable[[Policy, Policy], None]) -> None:
        """Call ``listener(old, new)`` after each swap (e.g. to re-evaluate live rooms)."""
        with self._lock:
            self._listeners.append(listener)
