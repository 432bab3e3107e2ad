"""Policy as data: the shipped policy loads, every cross-field rule names its path, and the
decision helpers put boundary values on the right side."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from livegate.core.errors import LivegateError, NotFound, ValidationFailed
from livegate.core.policy import (
    MIN_RETENTION_DAYS,
    Policy,
    PolicyError,
    PolicyHolder,
    UnknownPolicyKey,
    default_policy_text,
    load_default_policy,
    load_policy,
    parse_policy,
    validate_policy_data,
)

Data = dict[str, Any]
_DEFAULT_DATA: Data = yaml.safe_load(default_policy_text())


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_default_policy()


def default_data() -> Data:
    return copy.deepcopy(_DEFAULT_DATA)


def errors_for(data: Data) -> dict[str, str]:
    with pytest.raises(PolicyError) as info:
        validate_policy_data(data, source="test")
    return {issue.path: issue.message for issue in info.value.issues}


# ----------------------------------------------------------------------------- loading


def test_default_policy_loads_with_the_required_categories(policy: Policy) -> None:
    assert {"news", "show", "gaming", "education", "ecommerce", "other"} <= set(policy.categories)
    news = policy.category("news")
    assert news.requires_editorial_approval
    assert news.comment_mode == "premoderated"
    assert news.frame_sampling_seconds == 2
    assert news.required_credentials.platform == ["internet_news_info_service"]
    assert news.required_credentials.publisher == ["news_credential"]
    assert policy.category("show").required_credentials.platform == ["online_culture_business"]
    assert policy.retention.default_days == 60 and policy.retention.network_logs_days == 180
    assert (policy.otp.code_ttl_seconds, policy.otp.max_attempts, policy.otp.resend_cooldown_seconds) == (300, 5, 60)
    assert (policy.publisher.min_age, policy.publisher.guardian_consent_below) == (16, 18)
    assert policy.credit.scale.start == 100
    assert [level.key for level in policy.credit.levels] == ["A", "B", "C", "D"]
    assert policy.complaints.acknowledge_within.total_seconds() == 3600
    assert policy.platform_mark_text == policy.platform_mark.text


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_policy_text(), encoding="utf-8")
    assert load_policy(path).digest == load_default_policy().digest


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert info.value.issues[0].path == "(file)"


def test_digest_ignores_layout_but_not_rules() -> None:
    text = default_policy_text()
    reformatted = "# a comment the digest must not see\n" + text.replace("version: ", "version:   ", 1)
    assert parse_policy(reformatted).digest == parse_policy(text).digest
    changed = text.replace("audio_ident_interval_minutes: 10", "audio_ident_interval_minutes: 11")
    assert parse_policy(changed).digest != parse_policy(text).digest


def test_a_dumped_policy_validates_back_to_the_same_rules(policy: Policy) -> None:
    # What the console reads as JSON it can send back unchanged.
    dumped = policy.model_dump(mode="json")
    assert dumped["credit"]["levels"][0]["consequences"]["allowed_categories"] == "all"
    assert validate_policy_data(dumped).digest == policy.digest


def test_policy_error_lists_every_problem_as_path_lines() -> None:
    data = default_data()
    data["retention"]["default_days"] = 30
    data["categories"]["news"]["comment_mode"] = "open"
    data["audience_tiers"][2]["min_viewers"] = 999
    data["colour"] = "red"
    with pytest.raises(PolicyError) as info:
        validate_policy_data(data, source="ops.yaml")
    err = info.value
    assert isinstance(err, LivegateError) and err.code == "policy_invalid"
    lines = err.message.splitlines()
    assert "ops.yaml" in lines[0] and "4 errors" in lines[0]
    assert set(lines[1:]) == {str(issue) for issue in err.issues}
    assert {issue.path for issue in err.issues} == {
        "retention.default_days",
        "categories.news.comment_mode",
        "audience_tiers[2].min_viewers",
        "colour",
    }
    assert err.to_dict()["details"]["issues"][0].keys() == {"path", "message"}


def test_yaml_duplicate_keys_are_refused() -> None:
    text = default_policy_text().replace("categories:\n", "categories:\n  other:\n    display_name: X\n", 1)
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    issue = info.value.issues[0]
    assert issue.path == "(yaml)" and "duplicate key 'other'" in issue.message and "line" in issue.message


@pytest.mark.parametrize("text", ["version: [unclosed", "- just\n- a list\n", ""])
def test_not_a_policy_document(text: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert info.value.issues[0].path in {"(yaml)", "(root)"}


# ----------------------------------------------------------------------------- rules


def _set(path: str, value: Any) -> Callable[[Data], None]:
    def mutate(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Callable[[Data], None]:
    def mutate(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[int(last) if isinstance(node, list) else last]

    return mutate


RULES: list[tuple[str, Callable[[Data], None], str, str]] = [
    # (id, mutation, path that must be named, words the message must contain)
    ("tier gap", _set("audience_tiers.2.min_viewers", 1500), "audience_tiers[2].min_viewers", "contiguous"),
    ("tier overlap", _set("audience_tiers.1.min_viewers", 50), "audience_tiers[1].min_viewers", "contiguous"),
    ("first tier", _set("audience_tiers.0.min_viewers", 1), "audience_tiers[0].min_viewers", "must be 0"),
    ("unbounded middle", _delete("audience_tiers.1.max_viewers"), "audience_tiers[1].max_viewers", "last tier"),
    ("bounded last", _set("audience_tiers.3.max_viewers", 10**6), "audience_tiers[3].max_viewers", "unbounded"),
    ("empty tier", _set("audience_tiers.1.max_viewers", 100), "audience_tiers[1].max_viewers", "greater"),
    ("duplicate tier", _set("audience_tiers.1.key", "small"), "audience_tiers[1].key", "duplicate"),
    ("level gap", _set("credit.levels.1.min_score", 72), "credit.levels[1].min_score", "70..71"),
    ("level overlap", _set("credit.levels.1.max_score", 92), "credit.levels[0].min_score", "overlaps"),
    ("top uncovered", _set("credit.levels.0.max_score", 95), "credit.levels", "96..100"),
    ("level outside", _set("credit.levels.3.min_score", -10), "credit.levels[3]", "outside the scale"),
    ("level inverted", _set("credit.levels.1.min_score", 95), "credit.levels[1].min_score", "max_score"),
    ("duplicate level", _set("credit.levels.1.key", "A"), "credit.levels[1].key", "duplicate"),
    ("deduction missing", _delete("credit.deductions.serious"), "credit.deductions.serious", "missing"),
    ("recovery cap", _set("credit.recovery.cap", 120), "credit.recovery.cap", "within the scale"),
    ("scale start", _set("credit.scale.start", 101), "credit.scale.start", "within"),
    (
        "undefined credential",
        _set("categories.show.required_credentials.platform", ["performance_permit"]),
        "categories.show.required_credentials.platform[0]",
        "not defined",
    ),
    (
        "wrong holder",
        _set("categories.news.required_credentials.publisher", ["news_credential", "internet_news_info_service"]),
        "categories.news.required_credentials.publisher[1]",
        "held by the platform",
    ),
    (
        "undefined category in level",
        _set("credit.levels.2.consequences.allowed_categories", ["show", "cooking"]),
        "credit.levels[2].consequences.allowed_categories[1]",
        "'cooking'",
    ),
    (
        "undefined tier in level",
        _set("credit.levels.3.consequences.max_audience_tier", "huge"),
        "credit.levels[3].consequences.max_audience_tier",
        "'huge'",
    ),
    (
        "allowed categories word",
        _set("credit.levels.0.consequences.allowed_categories", "everything"),
        "credit.levels[0].consequences.allowed_categories",
        "'all'",
    ),
    (
        "multiplier loosens",
        _set("credit.levels.0.consequences.sampling_multiplier", 2),
        "credit.levels[0].consequences.sampling_multiplier",
        "1",
    ),
    (
        "delay range",
        _set("categories.news.broadcast_delay_seconds", 301),
        "categories.news.broadcast_delay_seconds",
        "300",
    ),
    (
        "negative delay",
        _set("categories.show.broadcast_delay_seconds", -1),
        "categories.show.broadcast_delay_seconds",
        "0",
    ),
    (
        "combined delay",
        _set("audience_tiers.3.extra_delay_seconds", 200),
        "audience_tiers[3].extra_delay_seconds",
        "over the 300 s limit",
    ),
    ("news missing", _delete("categories.news"), "categories.news", "required"),
    (
        "news unapproved",
        _set("categories.news.requires_editorial_approval", False),
        "categories.news.requires_editorial_approval",
        "Article 7",
    ),
    (
        "news open comments",
        _set("categories.news.comment_mode", "open"),
        "categories.news.comment_mode",
        "premoderated",
    ),
    (
        "slow without seconds",
        _set("categories.gaming.slow_mode_seconds", 0),
        "categories.gaming.slow_mode_seconds",
        "slow",
    ),
    ("watermark mode", _set("categories.show.watermark_mode", "stamp"), "categories.show.watermark_mode", "burn"),
    ("closure not last", _set("sanctions.ladder.0", {"action": "closure"}), "sanctions.ladder[0].action", "last rung"),
    ("suspension days", _set("sanctions.ladder.1", {"action": "suspension"}), "sanctions.ladder[1].days", "required"),
    ("warning days", _set("sanctions.ladder.0", {"action": "warning", "days": 3}), "sanctions.ladder[0].days", "only"),
    ("entry rung", _set("sanctions.entry_step.critical", 4), "sanctions.entry_step.critical", "ladder index"),
    ("entry missing", _delete("sanctions.entry_step.minor"), "sanctions.entry_step.minor", "missing"),
    ("retention default", _set("retention.default_days", 59), "retention.default_days", "at least 60"),
    ("retention logs", _set("retention.network_logs_days", 30), "retention.network_logs_days", "Article 16"),
    ("retention kind", _set("retention.by_kind", {"comments": 7}), "retention.by_kind.comments", "at least 60"),
    ("otp cooldown", _set("otp.resend_cooldown_seconds", 300), "otp.resend_cooldown_seconds", "shorter"),
    ("guardian age", _set("publisher.guardian_consent_below", 14), "publisher.guardian_consent_below", "min_age"),
    ("sla order", _set("complaints.acknowledge_within_hours", 48), "complaints.acknowledge_within_hours", "exceed"),
    ("clause id", _set("agreement_clauses.1.id", "rights_and_obligations"), "agreement_clauses[1].id", "duplicate"),
    ("extra nested", _set("categories.news.colour", "red"), "categories.news.colour", "Extra inputs"),
    ("extra top", _set("colour", "red"), "colour", "Extra inputs"),
    ("missing section", _delete("otp"), "otp", "required"),
    ("empty version", _set("version", ""), "version", "at least 1"),
]


@pytest.mark.parametrize(("mutate", "path", "words"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_rejects_with_its_path(mutate: Callable[[Data], None], path: str, words: str) -> None:
    data = default_data()
    mutate(data)
    errors = errors_for(data)
    assert path in errors, errors
    assert words in errors[path], errors[path]


def test_retention_floor_is_the_articles_sixty_days() -> None:
    assert MIN_RETENTION_DAYS == 60
    data = default_data()
    data["retention"]["default_days"] = 60
    data["retention"]["network_logs_days"] = 60
    assert validate_policy_data(data).retention_days("network_logs") == 60


def test_one_broken_section_does_not_hide_another() -> None:
    data = default_data()
    data["otp"]["max_attempts"] = 0  # a field error elsewhere
    data["audience_tiers"][2]["min_viewers"] = 1500  # a cross-field error in the tiers
    data["categories"]["show"]["required_credentials"]["platform"] = ["nope"]
    errors = errors_for(data)
    assert {
        "otp.max_attempts",
        "audience_tiers[2].min_viewers",
        "categories.show.required_credentials.platform[0]",
    } <= set(errors)


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("viewers", "tier"),
    [(0, "small"), (99, "small"), (100, "medium"), (999, "medium"), (1000, "large"), (9999, "large"),
     (10_000, "massive"), (10**9, "massive")],
)  # fmt: skip
def test_tier_boundaries(policy: Policy, viewers: int, tier: str) -> None:
    assert policy.tier_for(viewers).key == tier


def test_negative_viewers_are_refused(policy: Policy) -> None:
    with pytest.raises(ValidationFailed):
        policy.tier_for(-1)


def test_massive_tier_requires_patrol(policy: Policy) -> None:
    assert policy.tier_for(10_000).patrol_required
    assert not policy.tier_for(9_999).patrol_required


@pytest.mark.parametrize(
    ("score", "level"),
    [(100, "A"), (90, "A"), (89, "B"), (70, "B"), (69, "C"), (40, "C"), (39, "D"), (0, "D"), (-20, "D"), (150, "A")],
)
def test_credit_level_boundaries(policy: Policy, score: int, level: str) -> None:
    assert policy.credit_level_for(score).key == level


def test_out_of_scale_score_is_clamped_and_says_so(policy: Policy) -> None:
    explanation = policy.explain_credit_level(-20)
    assert explanation.value.key == "D"
    assert "outside the scale" in explanation.reasons[0]


@pytest.mark.parametrize(
    ("category", "viewers", "level", "seconds"),
    [
        ("news", 50, "A", 2),  # the category is stricter than the tier
        ("show", 50, "A", 10),
        ("show", 5000, "A", 5),  # the tier is stricter than the category
        ("show", 5000, "B", 3.75),
        ("show", 5000, "C", 2.5),  # credit tightens it further
        ("education", 10, "A", 30),
        ("education", 20_000, "D", 0.5),
    ],
)
def test_sampling_interval(policy: Policy, category: str, viewers: int, level: str, seconds: float) -> None:
    assert policy.sampling_interval(category, viewers, level) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("category", "level", "viewers", "seconds"),
    [
        ("news", "A", 10, 30),  # the category's window
        ("education", "A", 50, 0),
        ("education", "B", 50, 10),  # the credit level's window is longer
        ("show", "D", 20_000, 130),  # max(10, 120) + the massive tier's 10
        ("gaming", "A", 1000, 10),  # 5 + the large tier's 5
    ],
)
def test_effective_delay(policy: Policy, category: str, level: str, viewers: int, seconds: int) -> None:
    assert policy.effective_delay(category, level, viewers) == seconds


def test_explain_tier_says_which_and_why(policy: Policy) -> None:
    explanation = policy.explain_tier(1500)
    assert explanation.value.key == "large"
    assert "1,500" in str(explanation) and "'large'" in str(explanation) and "1,000 to 9,999" in str(explanation)
    assert explanation.policy_version == policy.version


def test_explain_room_gathers_everything(policy: Policy) -> None:
    room = policy.explain("news", 15_000, policy.credit_level("C"))
    assert room.tier.key == "massive" and room.patrol_required
    assert room.sampling_seconds == pytest.approx(1.0)
    assert room.delay_seconds == 40
    assert room.comment_mode == "premoderated" and room.watermark_mode == "burn"
    assert not room.category_allowed and room.over_audience_cap
    text = "\n".join(room.reasons)
    for words in ("'massive'", "may not publish", "caps the audience at tier 'large'", "human patrol", "0.5"):
        assert words in text
    ordinary = policy.explain("gaming", 10, "A")
    assert ordinary.category_allowed and not ordinary.over_audience_cap
    assert ordinary.comment_mode == "slow" and ordinary.slow_mode_seconds == 3


def test_comment_mode_follows_credit(policy: Policy) -> None:
    assert policy.comment_mode("show", "A") == "open"
    assert policy.comment_mode("show", "C") == "premoderated"


@pytest.mark.parametrize(
    ("severity", "prior", "action", "days"),
    [("minor", 0, "warning", None), ("minor", 1, "suspension", 7), ("minor", 2, "suspension", 30),
     ("minor", 3, "closure", None), ("minor", 9, "closure", None), ("serious", 0, "suspension", 7),
     ("critical", 0, "closure", None)],
)  # fmt: skip
def test_sanctions_escalate_on_repeats(
    policy: Policy, severity: Any, prior: int, action: str, days: int | None
) -> None:
    step = policy.sanction_for(severity, prior)
    assert (step.value.action, step.value.days) == (action, days)
    assert "90 days" in str(step)


def test_unknown_keys_are_not_found(policy: Policy) -> None:
    for call in (
        lambda: policy.category("cooking"),
        lambda: policy.credit_level("E"),
        lambda: policy.tier("huge"),
        lambda: policy.credential_kind("x"),
    ):
        with pytest.raises(UnknownPolicyKey) as info:
            call()
        assert isinstance(info.value, NotFound)


def test_rate_rules_come_from_the_policy(policy: Policy) -> None:
    rule = policy.comments.per_account_per_room_rule()
    assert (rule.name, rule.capacity, rule.refill_per_second) == ("comments.per_account_per_room", 5, 0.5)
    otp = policy.otp.per_number_rule()
    assert otp.capacity == 5 and otp.refill_per_second == pytest.approx(5 / 3600)


def test_policy_is_immutable(policy: Policy) -> None:
    with pytest.raises(ValueError):
        policy.version = "x"  # type: ignore[misc]


# ----------------------------------------------------------------------------- holder


def test_holder_swaps_and_returns_the_old_policy(policy: Policy) -> None:
    holder = PolicyHolder(policy)
    assert holder.version == policy.digest and holder.label == policy.version
    data = default_data()
    data["version"] = "next"
    new = validate_policy_data(data)
    seen: list[tuple[str, str]] = []
    holder.add_listener(lambda old, cur: seen.append((old.version, cur.version)))
    assert holder.swap(new) is policy
    assert holder.get() is new and holder.version_hash == new.digest
    assert seen == [(policy.version, "next")]


def test_reload_of_an_invalid_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_policy_text(), encoding="utf-8")
    holder = PolicyHolder.from_file(path)
    before = holder.get()
    path.write_text(default_policy_text().replace("default_days: 60", "default_days: 30"), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        holder.reload()
    assert "retention.default_days" in info.value.message
    assert holder.get() is before
    path.write_text(default_policy_text().replace('version: "2026.1"', 'version: "2026.2"'), encoding="utf-8")
    assert holder.reload().version == "2026.2"
    assert holder.get().version == "2026.2"


def test_readers_see_one_whole_policy_while_swapping(policy: Policy) -> None:
    data = default_data()
    data["version"] = "other"
    other = validate_policy_data(data)
    holder = PolicyHolder(policy)
    stop = threading.Event()
    bad: list[object] = []

    def read() -> None:
        while not stop.is_set():
            current = holder.get()
            if current is not policy and current is not other:
                bad.append(current)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for i in range(2000):
        holder.swap(other if i % 2 == 0 else policy)
    stop.set()
    for t in readers:
        t.join(timeout=5)
    assert not bad


# ----------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(viewers=st.integers(min_value=0, max_value=10**12))
def test_every_viewer_count_maps_to_exactly_one_tier(viewers: int) -> None:
    policy = load_default_policy_cached()
    containing = [tier for tier in policy.audience_tiers if tier.contains(viewers)]
    assert len(containing) == 1
    assert policy.tier_for(viewers) is containing[0]


@settings(max_examples=60, deadline=None)
@given(
    bounds=st.lists(st.integers(min_value=1, max_value=10**7), min_size=0, max_size=6, unique=True).map(sorted),
    viewers=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=20),
)
def test_any_valid_tier_layout_is_a_partition(bounds: list[int], viewers: list[int]) -> None:
    edges = [0, *bounds]
    tiers = []
    for i, low in enumerate(edges):
        tier: Data = {"key": f"t{i}", "display_name": f"T{i}", "min_viewers": low, "sampling_seconds": 5}
        if i + 1 < len(edges):
            tier["max_viewers"] = edges[i + 1]
        tiers.append(tier)
    data = default_data()
    data["audience_tiers"] = tiers
    data["credit"]["levels"][2]["consequences"]["max_audience_tier"] = None
    data["credit"]["levels"][3]["consequences"]["max_audience_tier"] = None
    policy = validate_policy_data(data)
    for count in viewers:
        assert sum(tier.contains(count) for tier in policy.audience_tiers) == 1


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=100), min_size=0, max_size=5, unique=True).map(sorted))
def test_any_valid_credit_layout_maps_each_score_to_one_level(cuts: list[int]) -> None:
    edges = [0, *cuts, 101]
    levels = []
    for i in range(len(edges) - 1):
        levels.append(
            {
                "key": f"L{i}",
                "display_name": f"L{i}",
                "min_score": edges[i],
                "max_score": edges[i + 1] - 1,
                "consequences": {
                    "broadcast_delay_seconds": 0,
                    "comment_premoderation": False,
                    "allowed_categories": "all",
                    "sampling_multiplier": 1,
                },
            }
        )
    data = default_data()
    data["credit"]["levels"] = levels
    policy = validate_policy_data(data)
    for score in range(0, 101):
        matching = [lv for lv in policy.credit.levels if lv.min_score <= score <= lv.max_score]
        assert len(matching) == 1 and policy.credit_level_for(score) is matching[0]


_CACHED: list[Policy] = []


def load_default_policy_cached() -> Policy:
    # hypothesis forbids function-scoped fixtures in @given tests; parse once.
    if not _CACHED:
        _CACHED.append(load_default_policy())
    return _CACHED[0]
