"""The lexicon in service: versions in the database, the CLI, live reload, `livegate moderate`,
and the classifier hook's timeout and fallback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.chat.classifier import HttpClassifier, consult
from livegate.chat.lexicon import Action
from livegate.cli import app as cli
from livegate.config import Settings


def test_cli_import_then_moderate_uses_the_new_lexicon(platform: Platform, settings: Settings, tmp_path: Path,
                                                       monkeypatch: object) -> None:
    import os

    env = {"LIVEGATE_DATA_DIR": str(settings.data_dir), "LIVEGATE_DATABASE_URL": settings.database_url,
           "LIVEGATE_BROKER_URL": settings.broker_url, "LIVEGATE_SECRET_KEY": settings.secret_key.get_secret_value(),
           "LIVEGATE_REDIS_NAMESPACE": settings.redis_namespace}
    tsv = tmp_path / "terms.tsv"
    tsv.write_text("term\tcategory\tseverity\taction\n违禁测试\tillegal.other\t4\tblock\n广告测试\tspam.advertising\t2\thold\n",
                   encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli, ["lexicon", "import", str(tsv)], env={**os.environ, **env})
    assert r.exit_code == 0, r.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("only\ttwo\n", encoding="utf-8")
    r = runner.invoke(cli, ["lexicon", "import", str(bad)], env={**os.environ, **env})
    assert r.exit_code != 0
    r = runner.invoke(cli, ["moderate"], input="违 禁 测 试\n你好\n广告测试\n", env={**os.environ, **env})
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["action"] for x in lines] == ["block", "pass", "hold"]
    assert lines[0]["matched"] == "违禁测试" and lines[0]["category"] == "illegal.other" and lines[0]["steps"]
    # the running node adopts the new version (the poll backstop: another process wrote it)
    assert platform.chat.sync_lexicon()
    assert platform.chat.moderate("违禁测试").action is Action.BLOCK


def test_an_imported_lexicon_reaches_a_started_node_by_itself(platform: Platform) -> None:
    async def run() -> None:
        await platform.chat.start()
        changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        platform.chat.lexicon_listeners.append(lambda v: loop.call_soon_threadsafe(changed.set))
        await asyncio.to_thread(platform.chat.import_lexicon, "直播新词\tspam.fraud\t3\thold\n", source="t",
                                actor="test", merge=True)
        await platform.chat.announce_lexicon()
        await asyncio.wait_for(changed.wait(), 10)
        assert platform.chat.moderate("直播新词").action is Action.HOLD
        assert platform.chat.moderate("色情网站").action is Action.BLOCK  # merged: the defaults stay
        await platform.chat.stop()

    asyncio.run(run())


def test_the_classifier_can_only_tighten_and_falls_back_on_timeout_or_error() -> None:
    never = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["text"] == "slow":
            await never.wait()
        if body["text"] == "broken":
            return httpx.Response(500)
        return httpx.Response(200, json={"action": "hold", "category": "spam.fraud", "reason": "looks like fraud"})

    hook = HttpClassifier("http://classifier.test/v1", transport=httpx.MockTransport(handler))

    async def run() -> None:
        ok = await consult(hook, "win money", room_id="r", account_id=1, timeout=2)
        assert ok.verdict is not None and ok.verdict.action is Action.HOLD and not ok.fallback
        slow = await consult(hook, "slow", room_id="r", account_id=1, timeout=0.05)
        assert slow.verdict is None and slow.fallback == "timeout"
        broken = await consult(hook, "broken", room_id="r", account_id=1, timeout=2)
        assert broken.verdict is None and broken.fallback == "error"
        await hook.aclose()

    asyncio.run(run())
