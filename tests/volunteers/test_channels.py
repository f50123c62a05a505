"""Channels: Web Push through pywebpush's call, SMS through a gateway, the live stream addressed per volunteer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lifechain.app import create_app
from lifechain.db import transaction
from lifechain.settings import Settings
from lifechain.volunteers import flows, views

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
SUB = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "k", "auth": "a"}}
ALERT = flows.ResponderMessage("alert", 7, 3, NOW, {"nature_label": "Cardiac arrest", "address": "Kauppatori 1",
                                                    "location": {"lat": 60.1, "lon": 24.9}, "role": "aed",
                                                    "aed": {"id": 1}})


def test_web_push_sends_the_alert_text_with_vapid() -> None:
    """The push carries the short alert text to the stored subscription, signed with the VAPID key and subject."""
    calls: list[dict[str, Any]] = []
    push = flows.WebPushNotifier(vapid_private_key="KEY", subject="mailto:ops@example.org",
                                 sender=lambda **kw: calls.append(kw))
    push.send(None, flows.Recipient(3, ("push",), SUB), ALERT)  # type: ignore[arg-type]
    push.send(None, flows.Recipient(4, ("app",), None), ALERT)  # type: ignore[arg-type]
    assert len(calls) == 1 and calls[0]["subscription_info"] == SUB
    assert calls[0]["vapid_private_key"] == "KEY" and calls[0]["vapid_claims"] == {"sub": "mailto:ops@example.org"}
    data = json.loads(calls[0]["data"])
    assert data["body"] == "Cardiac arrest at Kauppatori 1: go via the AED now (role aed)." and data["incident_id"] == 7


def test_failed_push_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A push service error never stops the alert: it is logged."""
    def boom(**_kw: Any) -> None:
        raise RuntimeError("410 Gone")

    flows.WebPushNotifier(vapid_private_key="K", subject="mailto:x@y", sender=boom).send(
        None, flows.Recipient(3, ("push",), SUB), ALERT)  # type: ignore[arg-type]
    assert "410 Gone" in caplog.text


def test_sms_only_to_those_who_chose_it() -> None:
    """The SMS gateway receives the text for a responder with the sms channel and a phone, nobody else."""
    sent: list[tuple[str, str]] = []

    class Gateway:
        def send_sms(self, to: str, text: str) -> None:
            sent.append((to, text))

    sms = flows.Fanout([flows.SmsNotifier(Gateway())])
    sms.send(None, flows.Recipient(3, ("sms",), None, "+358401"), ALERT)  # type: ignore[arg-type]
    sms.send(None, flows.Recipient(4, ("app",), None, "+358402"), ALERT)  # type: ignore[arg-type]
    assert sent == [("+358401", ALERT.text())]


def test_volunteer_stream_carries_only_their_own_messages(settings: Settings) -> None:
    """Messages on the live stream are addressed: a volunteer's stream reads theirs, never another's."""
    app = create_app(settings)
    live = flows.LiveStreamNotifier()
    with transaction(app.state.sessionmaker) as s:
        _send(s, live, 3, "alert")
        _send(s, live, 4, "alert")
        _send(s, live, 3, "stood_down")
    last, mine = views._my_messages(app.state.sessionmaker, 0, 3)
    assert [m["body"]["kind"] for m in mine] == ["alert", "stood_down"]
    assert all(m["body"]["responder_id"] == 3 for m in mine) and last >= 3
    assert views._my_messages(app.state.sessionmaker, last, 3)[1] == []


def _send(s: Session, live: flows.LiveStreamNotifier, rid: int, kind: str) -> None:
    live.send(s, flows.Recipient(rid), flows.ResponderMessage(kind, 7, rid, NOW, {"incident_id": 7}))  # type: ignore[arg-type]


def test_web_push_is_wired_when_vapid_keys_are_set(settings: Settings) -> None:
    """With VAPID keys in the settings the app's channels include Web Push, and the browser can read the key."""
    from fastapi.testclient import TestClient

    from auth_helpers import signed_in
    from lifechain.auth.core import Role

    configured = settings.model_copy(update={"vapid_private_key": "PRIVATE", "vapid_public_key": "PUBLIC"})
    app = create_app(configured)
    kinds = [type(n).__name__ for n in app.state.volunteer_notifier.notifiers]
    assert kinds == ["LiveStreamNotifier", "WebPushNotifier"]
    assert [type(n).__name__ for n in create_app(settings).state.volunteer_notifier.notifiers] == [
        "LiveStreamNotifier"]
    with TestClient(app) as client:
        h = signed_in(client, "v", Role.VOLUNTEER, volunteer_id=1)
        assert client.get("/api/v1/volunteers/push-key", headers=h).json() == {"public_key": "PUBLIC"}


def test_a_failed_sms_is_logged_and_the_other_channels_still_carry_the_message(
        caplog: pytest.LogCaptureFixture) -> None:
    """An SMS gateway that raised (provider down, say) made the whole send raise, so the responders' alert (all
    channels, the app's live stream included) failed, and so did a stand-down riding on the crew's "on scene".
    It is now logged like a failed push, and the channels after it still send."""
    class Down:
        def send_sms(self, to: str, text: str) -> None:
            raise ConnectionError("gateway unreachable")

    got: list[int] = []

    class Recorder:
        def send(self, session: Session, recipient: flows.Recipient, message: flows.ResponderMessage) -> None:
            got.append(recipient.responder_id)

    both = flows.Fanout([flows.SmsNotifier(Down()), Recorder()])
    both.send(None, flows.Recipient(3, ("sms", "app"), None, "+358401"), ALERT)  # type: ignore[arg-type]
    assert got == [3]
    assert "SMS to responder 3 failed: gateway unreachable" in caplog.text
