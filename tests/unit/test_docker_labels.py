"""Labels and owner liveness: how cleanup tells a dead session from a live one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

from bot_bottle.backend.docker import labels
from bot_bottle.backend.docker.labels import Owner, process_start_time


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_current_process_is_a_live_owner() -> None:
    owner = Owner.current()
    assert owner.pid == os.getpid()
    assert owner.host == socket.gethostname()
    assert owner.started == process_start_time(os.getpid())
    assert owner.is_alive()


def test_an_owner_round_trips_through_its_label() -> None:
    owner = Owner("build-host", 4242, "987654")
    assert str(owner) == "build-host:4242:987654"
    assert Owner.parse(str(owner)) == owner


def test_a_malformed_owner_label_is_none() -> None:
    assert Owner.parse("") is None
    assert Owner.parse("no-colons") is None
    assert Owner.parse("host:notapid:1") is None


def test_an_exited_process_is_a_dead_owner() -> None:
    owner = Owner(socket.gethostname(), dead_pid(), "1")
    assert not owner.is_alive()


def test_a_reused_pid_with_another_start_time_is_a_dead_owner() -> None:
    owner = Owner(socket.gethostname(), os.getpid(), "1")
    assert not owner.is_alive()


def test_an_owner_on_another_host_counts_as_alive() -> None:
    owner = Owner("some-other-host", dead_pid(), "1")
    assert owner.is_alive(this_host="this-host")


def test_session_labels_name_everything_cleanup_and_lists_need() -> None:
    owner = Owner("h", 1, "2")
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    found = labels.session_labels(
        session="abc123",
        agent="dev",
        bottle="web",
        owner=owner,
        runtime="runsc",
        role="agent",
        started=when,
    )
    assert found == {
        "dev.bot-bottle.managed": "true",
        "dev.bot-bottle.session": "abc123",
        "dev.bot-bottle.agent": "dev",
        "dev.bot-bottle.bottle": "web",
        "dev.bot-bottle.owner": "h:1:2",
        "dev.bot-bottle.runtime": "runsc",
        "dev.bot-bottle.role": "agent",
        "dev.bot-bottle.started": "2026-05-01T12:00:00+00:00",
    }
    assert labels.owner_of(found) == owner
    assert labels.started_at(found) == when


def test_filters_select_by_label_not_by_name() -> None:
    assert labels.managed_filter() == {"label": "dev.bot-bottle.managed=true"}
    assert labels.session_filter("abc123") == {
        "label": ["dev.bot-bottle.managed=true", "dev.bot-bottle.session=abc123"]
    }


def test_a_missing_or_bad_start_time_is_none() -> None:
    assert labels.started_at({}) is None
    assert labels.started_at({labels.STARTED: "yesterday"}) is None
