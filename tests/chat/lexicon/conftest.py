"""Shared fixtures: the test lexicon and allow-list under tests/data/moderation."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegate.chat.lexicon import AllowList, Lexicon, Moderator

DATA = Path(__file__).resolve().parents[2] / "data" / "moderation"


@pytest.fixture(scope="session")
def sample_lexicon() -> Lexicon:
    return Lexicon.load(DATA / "lexicon.tsv")


@pytest.fixture(scope="session")
def sample_allow_list() -> AllowList:
    return AllowList.load(DATA / "allow_list.txt")


@pytest.fixture(scope="session")
def moderator(sample_lexicon: Lexicon, sample_allow_list: AllowList) -> Moderator:
    return Moderator(sample_lexicon, sample_allow_list)
