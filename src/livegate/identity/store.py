"""The database :class:`~livegate.identity.otp.OtpStore`: one row per subject, shared by every node.

The two racing operations are single conditional UPDATEs, so two nodes can never both
count the same try or both accept one code.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from livegate.core.db import Database
from livegate.identity.models import OtpChallengeRow
from livegate.identity.otp import OtpChallenge

__all__ = ["DatabaseOtpStore"]


def _to_challenge(row: OtpChallengeRow) -> OtpChallenge:
    return OtpChallenge(
        challenge_id=row.challenge_id, subject=row.subject, code_hash=row.code_hash, issued_at=row.issued_at,
        expires_at=row.expires_at, attempts=row.attempts, used_at=row.used_at,
    )


class DatabaseOtpStore:
    """Challenges in ``otp_challenges``; each method is its own short transaction, run off the event loop."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_challenge(self, subject: str) -> OtpChallenge | None:
        return await asyncio.to_thread(self._get, subject)

    async def put_challenge(self, challenge: OtpChallenge) -> None:
        await asyncio.to_thread(self._put, challenge)

    async def delete_challenge(self, challenge_id: str) -> None:
        await asyncio.to_thread(self._delete, challenge_id)

    async def add_attempt(self, challenge_id: str) -> int | None:
        return await asyncio.to_thread(self._add_attempt, challenge_id)

    async def mark_used(self, challenge_id: str, at: dt.datetime) -> bool:
        return await asyncio.to_thread(self._mark_used, challenge_id, at)

    def purge_expired(self, before: dt.datetime) -> int:
        """Forget challenges that expired before ``before``; returns how many."""
        with self._db.session() as s:
            res = s.execute(delete(OtpChallengeRow).where(OtpChallengeRow.expires_at < before))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    # sync halves ------------------------------------------------------------------------
    def _get(self, subject: str) -> OtpChallenge | None:
        with self._db.session() as s:
            row = s.scalar(select(OtpChallengeRow).where(OtpChallengeRow.subject == subject))
            return _to_challenge(row) if row is not None else None

    def _put(self, challenge: OtpChallenge) -> None:
        for _ in range(3):  # another node may insert for the same subject between our delete and insert
            try:
                with self._db.session() as s:
                    s.execute(delete(OtpChallengeRow).where(OtpChallengeRow.subject == challenge.subject))
                    s.add(OtpChallengeRow(
                        challenge_id=challenge.challenge_id, subject=challenge.subject,
                        code_hash=challenge.code_hash, issued_at=challenge.issued_at,
                        expires_at=challenge.expires_at, attempts=challenge.attempts, used_at=challenge.used_at,
                    ))
                return
            except IntegrityError:
                continue
        raise RuntimeError("could not store the OTP challenge")

    def _delete(self, challenge_id: str) -> None:
        with self._db.session() as s:
            s.execute(delete(OtpChallengeRow).where(OtpChallengeRow.challenge_id == challenge_id))

    def _add_attempt(self, challenge_id: str) -> int | None:
        with self._db.session() as s:
            value = s.execute(
                update(OtpChallengeRow)
                .where(OtpChallengeRow.challenge_id == challenge_id)
                .values(attempts=OtpChallengeRow.attempts + 1)
                .returning(OtpChallengeRow.attempts)
            ).scalar()
            return int(value) if value is not None else None

    def _mark_used(self, challenge_id: str, at: dt.datetime) -> bool:
        with self._db.session() as s:
            res = s.execute(
                update(OtpChallengeRow)
                .where(OtpChallengeRow.challenge_id == challenge_id, OtpChallengeRow.used_at.is_(None))
                .values(used_at=at)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]
