"""The submit write path's two speed-ups (survey.db): group commit and FastInsert.

Group commit is tested twice: its batching and failure isolation with a stand-in session
(deterministic: the first commit is held while others queue), and for real, with many
threads submitting through the app on both databases.
"""
from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from survey.db import get_session
from survey.models import Answer, IdempotencyKey, QuestionnaireVersion, Response, ResponseFlag
from survey.writes import FastInsert, GroupCommit, new_ids
from tests.conftest import FormPage, bundled_questionnaires
from tests.formdata import answers_for, post_body

SIPAS = next(q for q in bundled_questionnaires() if q.key == "sipas-2017")


class FakeSession:
    """Records what a GroupCommit does with the leader's session."""

    def __init__(self, hold: bool = False) -> None:
        self.log: list[tuple[str, list[str]]] = []
        self.pending: list[str] = []
        self.hold = hold  # hold the first commit until told (to let others queue behind it)
        self.hold_first_commit = threading.Event()
        self.first_commit_started = threading.Event()

    def write(self, name: str) -> None:
        self.pending.append(name)

    def commit(self) -> None:
        if self.hold and not self.log:
            self.first_commit_started.set()
            assert self.hold_first_commit.wait(10)
        self.log.append(("commit", self.pending))
        self.pending = []

    def rollback(self) -> None:
        self.log.append(("rollback", self.pending))
        self.pending = []


def run_all(group: GroupCommit, sessions: dict[str, FakeSession]) -> dict[str, object]:
    """Each name in its own thread, in dict order; returns each result or exception."""
    out: dict[str, object] = {}

    def one(name: str) -> None:
        try:
            out[name] = group.run(sessions[name], name)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            out[name] = exc

    threads = {name: threading.Thread(target=one, args=(name,)) for name in sessions}
    first, *rest = threads
    threads[first].start()
    assert sessions[first].first_commit_started.wait(10)
    for name in rest:  # queue up behind the first commit
        threads[name].start()
    deadline = time.monotonic() + 10
    while len(group._waiting) < len(rest) and time.monotonic() < deadline:
        time.sleep(0.01)
    sessions[first].hold_first_commit.set()
    for t in threads.values():
        t.join(10)
        assert not t.is_alive()
    return out


def writer(failing: str = ""):
    """A batch writer that writes names in order and fails on the ones in `failing`."""
    def write(session: FakeSession, names: list[str]) -> list[str]:
        for name in names:
            session.write(name)
            if name in failing:
                raise IntegrityError("INSERT", {}, Exception(f"{name} is a duplicate"))
        return [f"stored {name}" for name in names]
    return write


def test_writes_queued_behind_a_commit_share_the_next_one():
    group = GroupCommit(writer())
    leader = FakeSession(hold=True)
    sessions = {"a": leader, **{n: FakeSession() for n in "bcde"}}
    out = run_all(group, sessions)
    assert out == {n: f"stored {n}" for n in "abcde"}
    # a committed alone (nobody was waiting); b led the next batch, in its own session
    assert leader.log == [("commit", ["a"])]
    assert sessions["b"].log == [("commit", ["b", "c", "d", "e"])]
    assert all(sessions[n].log == [] for n in "cde")
    assert group._waiting == [] and not group._leading


def test_a_failing_write_reaches_only_its_own_request():
    group = GroupCommit(writer(failing="c"))
    sessions = {"a": FakeSession(hold=True), **{n: FakeSession() for n in "bcd"}}
    out = run_all(group, sessions)
    assert out["b"] == "stored b" and out["d"] == "stored d" and out["a"] == "stored a"
    assert isinstance(out["c"], IntegrityError) and "c is a duplicate" in str(out["c"])
    batch_leader = next(n for n in "bcd" if sessions[n].log and sessions[n].log[0][0] == "rollback")
    # the batch stopped at c and was rolled back as a whole; then each item of the batch
    # (d included, never reached in it) was written again alone, in its own session
    assert batch_leader == "b" and sessions["b"].log[0] == ("rollback", ["b", "c"])
    for name in "bd":
        assert ("commit", [name]) in sessions[name].log
    assert ("commit", ["c"]) not in sessions["c"].log


def test_a_batch_never_exceeds_its_limit():
    group = GroupCommit(writer(), limit=2)
    sessions = {"a": FakeSession(hold=True), **{n: FakeSession() for n in "bcde"}}
    run_all(group, sessions)
    batches = [names for s in sessions.values() for kind, names in s.log if kind == "commit"]
    assert sorted(n for b in batches for n in b) == list("abcde")
    assert max(len(b) for b in batches) <= 2


def test_fast_insert_stores_exactly_what_the_orm_stores(app):
    """Same values through the ORM and through FastInsert: byte-identical rows, and timestamps
    that read back as the same aware UTC instant (SQLite stores them as text)."""
    when = datetime(2026, 11, 21, 1, 2, 3, 456789, tzinfo=UTC)
    insert_response = FastInsert(Response.__table__, ["id", "version_id", "submitted_at", "channel", "source",
                                                       "language", "duration_ms"])
    with app.app_context():
        session = get_session()
        version_id = session.scalar(select(QuestionnaireVersion.id).limit(1))
        orm = Response(version_id=version_id, submitted_at=when, channel="web", source="feedback", language="vi",
                       duration_ms=1234)
        session.add(orm)
        session.flush()
        fast_id, = new_ids(session.connection(), Response.__table__, 1)
        insert_response.many(session.connection(), [{
            "id": fast_id, "version_id": version_id, "submitted_at": when, "channel": "web", "source": "feedback",
            "language": "vi", "duration_ms": 1234}])
        session.commit()
        assert fast_id != orm.id
        raw = session.execute(text("SELECT version_id, submitted_at, channel, source, language, duration_ms "
                                   "FROM responses WHERE id IN (:a, :b) ORDER BY id"), {"a": orm.id, "b": fast_id}).all()
        assert raw[0] == raw[1]
        session.expire_all()
        assert session.get(Response, fast_id).submitted_at == when
        assert session.scalar(select(func.count()).select_from(Response).where(Response.submitted_at == when)) == 2


def test_fast_insert_raises_sqlalchemy_errors(app):
    insert_key = FastInsert(IdempotencyKey.__table__, ["key", "response_id", "created_at"])
    with app.app_context():
        session = get_session()
        version_id = session.scalar(select(QuestionnaireVersion.id).limit(1))
        response = Response(version_id=version_id, channel="web")
        session.add(response)
        session.flush()
        row = {"key": "k" * 32, "response_id": response.id, "created_at": datetime.now(UTC)}
        insert_key.many(session.connection(), [dict(row)])
        with pytest.raises(IntegrityError):
            insert_key.many(session.connection(), [dict(row)])
        session.rollback()


def test_many_concurrent_submits_are_each_stored_once(app):
    """8 threads × 12 submissions through the app (group-committed), one twin posted twice at
    once: every acknowledged submission is stored exactly once with all its answers and flags.
    Nine posting threads fit the app's pool (5 + 5 overflow), so a loaded test machine makes them
    slow, not refused by the pool's 10 s wait (which a 12-thread version once hit on CI's load)."""
    threads_n, per_thread = 8, 12
    forms: list[list[tuple[object, str, dict]]] = []
    for t in range(threads_n):
        batch = []
        for k in range(per_thread):
            client = app.test_client()
            page = FormPage(client.get("/q/sipas-2017").get_data(as_text=True))
            answers = answers_for(SIPAS, choose=random.Random(t * 100 + k).randint(1, 5))
            batch.append((client, page.hidden["submission_id"], post_body(page.hidden, answers)))
        forms.append(batch)
    twin_client, twin_id, twin_body = forms[0][0]
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n + 1)

    def post(client, body) -> None:
        status = client.post("/q/sipas-2017", data=urlencode(body),
                             content_type="application/x-www-form-urlencoded").status_code
        with lock:
            statuses.append(status)

    def worker(batch) -> None:
        start.wait()
        for client, _, body in batch:
            post(client, body)

    threads = [threading.Thread(target=worker, args=(b,)) for b in forms]
    threads.append(threading.Thread(target=lambda: (start.wait(), post(twin_client, twin_body))))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [303] * (threads_n * per_thread + 1)
    with app.app_context():
        session = get_session()
        ids = [sid for batch in forms for _, sid, _ in batch]
        stored = dict(session.execute(select(IdempotencyKey.key, IdempotencyKey.response_id)).all())
        assert sorted(stored) == sorted(ids)
        assert session.scalar(select(func.count()).select_from(Response)) == len(ids)
        per_response = dict(session.execute(select(Answer.response_id, func.count()).group_by(Answer.response_id)).all())
        items = {i.key for i in SIPAS.items}
        for _, sid, body in (f for batch in forms for f in batch):
            assert per_response[stored[sid]] == sum(1 for k, _ in body if k in items), sid
        # posted within a second of rendering: every one is flagged as a speeder, none lost
        speeders = session.scalar(select(func.count(func.distinct(ResponseFlag.response_id)))
                                  .where(ResponseFlag.reason == "speeder"))
        assert speeders == len(ids)


def test_a_batch_is_written_whole_with_each_hook_and_flag_on_its_own_response(app):
    """store() with three submissions at once (as GroupCommit hands them over): each gets its
    own id, key, answers and flags; a hook sees its own response only."""
    from survey import catalog
    from survey.responses import Pending, Submission, Tags, store

    with app.app_context():
        session = get_session()
        published = catalog.Published.of(catalog.latest(session, "sipas-2017"))
        earlier = Response(version_id=published.id, channel="paper")  # ids continue after rows written elsewhere
        session.add(earlier)
        session.commit()
        seen: list[int] = []

        def hook(_session, stored) -> None:
            seen.append(stored.id)
            stored.flags.append(("burst", "hook saw this response"))

        subs = [Submission(version_id=published.id, questionnaire=SIPAS, answers=answers_for(SIPAS, choose=c),
                           idempotency_key=f"{c}" * 32, tags=Tags(channel="counter", device_hash=f"d{c}"),
                           flags=[("speeder", "fast")] if c == 2 else [])
                for c in (1, 2, 3)]
        stored = store(session, [Pending(subs[0]), Pending(subs[1], hook), Pending(subs[2])])
        session.commit()
        ids = [s.id for s in stored]
        assert len(set(ids)) == 3 and min(ids) > earlier.id and seen == [ids[1]]
        flags = session.execute(select(ResponseFlag.response_id, ResponseFlag.reason).order_by(ResponseFlag.reason)).all()
        assert flags == [(ids[1], "burst"), (ids[1], "speeder")]
        keys = dict(session.execute(select(IdempotencyKey.key, IdempotencyKey.response_id)).all())
        assert keys == {"1" * 32: ids[0], "2" * 32: ids[1], "3" * 32: ids[2]}
        for sub, rid in zip(subs, ids):
            codes = dict(session.execute(select(Answer.item_key, Answer.code).where(Answer.response_id == rid,
                                                                                     Answer.item_key == "overall")).all())
            assert codes == {"overall": sub.answers["overall"]}
            assert session.get(Response, rid).device_hash == sub.tags.device_hash


def test_fast_insert_splits_rows_over_statements_within_the_parameter_limit(app):
    insert_answer = FastInsert(Answer.__table__, ["response_id", "item_key", "code", "text"])
    insert_answer.MAX_PARAMS = 8  # two rows of four columns per statement
    with app.app_context():
        session = get_session()
        response = Response(version_id=session.scalar(select(QuestionnaireVersion.id).limit(1)), channel="web")
        session.add(response)
        session.flush()
        rows = [{"response_id": response.id, "item_key": f"q{i}", "code": i, "text": "it's “quoted”" if i == 3 else None}
                for i in range(5)]
        insert_answer.many(session.connection(), rows)
        session.commit()
        stored = session.execute(select(Answer.item_key, Answer.code, Answer.text).order_by(Answer.code)).all()
        assert stored == [(r["item_key"], r["code"], r["text"]) for r in rows]
