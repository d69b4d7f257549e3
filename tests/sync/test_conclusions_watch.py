"""The light pull while staff wait for the doctor's answer (sync.conclusions_watch), against the real development
server: nothing is asked while nobody waits or while offline; while waiting, the conclusions come down in a worker
thread (never on the loop that runs the screens) and the screens are told once."""
from __future__ import annotations

import asyncio
import threading

import pytest

from sync.background import SyncLoop
from sync.conclusions_watch import ConclusionsWatch
from sync.pull import SearchClient
from tests.support.doctor_side import doctor_signs
from tests.sync.test_conclusions_received import server, tablet  # noqa: F401 - the same server and tablet

pytestmark = pytest.mark.timeout(120)


class ThreadRecordingClient(SearchClient):
    """A real client that remembers on which thread each search ran."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.threads: list[int] = []

    def search(self, url, params=None):
        self.threads.append(threading.get_ident())
        return super().search(url, params)


async def test_the_watch_pulls_only_while_someone_waits_and_the_server_is_reachable(server, tablet):  # noqa: F811
    wf, key, encounter = tablet
    doctor_signs(server, key, encounter=encounter)
    client = ThreadRecordingClient(server)
    told, online = [], [False]
    watch = ConclusionsWatch(wf.store.path, client, wanted=wf.waiting_for_answer, online=lambda: online[0],
                             on_received=lambda: told.append(wf.received_conclusions()["waiting"]["conclusion"]))
    try:
        assert not wf.waiting_for_answer()  # on the teleconsultation step, but nothing asked of a doctor yet
        wf.request_advice()
        assert wf.waiting_for_answer()  # advice asked: staff wait for the answer
        assert await watch.beat() is False and client.requests_made == 0  # offline: the server is not asked
        online[0] = True
        wf.state.step = "vitals"  # staff went back: nobody waits for an answer
        assert not wf.waiting_for_answer()
        assert await watch.beat() is False and client.requests_made == 0
        wf.state.step = "teleconsult"
        assert await watch.beat() is True
        assert len(told) == 1 and wf.received_conclusions()["waiting"] is not None
        assert client.threads and threading.get_ident() not in client.threads  # a worker thread did the network
        assert await watch.beat() is False and len(told) == 1  # nothing new: the screens are not told again
        wf.start_call(doctor_name="Dr Appel")
        wf.accept_conclusions()
        assert not wf.waiting_for_answer()  # answered: the watch rests
    finally:
        await watch.stop()


async def test_the_watch_runs_on_its_own_and_stops(server, tablet):  # noqa: F811
    wf, key, encounter = tablet
    client = SearchClient(server)
    arrived = asyncio.Event()
    watch = ConclusionsWatch(wf.store.path, client, wanted=lambda: True, online=lambda: True,
                             on_received=arrived.set, interval_seconds=0.05)
    watch.start()
    try:
        doctor_signs(server, key, encounter=encounter)
        await asyncio.wait_for(arrived.wait(), timeout=30)
        assert watch.pulls >= 1 and watch.last_counts is not None
    finally:
        await watch.stop()
    assert wf.received_conclusions()["waiting"]["doctor_name"] == "Dr Claire Démo-Martin"


async def test_the_regular_pull_tells_the_screens_when_an_answer_came(server, tablet):  # noqa: F811
    wf, key, encounter = tablet
    doctor_signs(server, key, encounter=encounter)
    told = asyncio.Event()
    sync_loop = SyncLoop(wf.store.path, server, interval_seconds=60, on_answers=told.set)
    sync_loop.start()
    try:
        await asyncio.wait_for(told.wait(), timeout=30)
    finally:
        await sync_loop.stop()
    assert sync_loop.last_pull.counts["conclusions"]["created"] == 1
    assert wf.received_conclusions()["waiting"] is not None
