"""The site-wide series (:class:`Pulse`): its baseline, and when it enters and leaves the
guarded state, on the reference store (Redis is held to the same answers by
``test_redis_storage``)."""

from __future__ import annotations

from antiscrape.state import MemoryStorage, Pulse

T0 = 1_000_000.0 * 600  # a bucket boundary


def pulse(amount: int = 1, **kw: float) -> Pulse:
    fields = dict(key="s", amount=amount, bucket=600, alpha=0.25, factor=4.0, leave=2.0,
                  floor=10.0, cooldown=1800, ttl=86_400 * 30)
    fields.update(kw)
    return Pulse(**fields)  # type: ignore[arg-type]


def run(store: MemoryStorage, now: float, amount: int = 1, **kw: float):
    return store.execute([pulse(amount, **kw)], now)[0]


def test_baseline_learns_complete_buckets_and_decays_over_quiet_ones() -> None:
    store = MemoryStorage()
    for i in range(8):  # 8 events in the first bucket
        first = run(store, T0 + i)
    assert first.rate == 8 and first.baseline == 0 and first.since == 0
    second = run(store, T0 + 600, amount=0)  # the first complete bucket seeds the baseline
    assert second.baseline == 8
    for i in range(4):
        run(store, T0 + 601 + i)
    third = run(store, T0 + 1200, amount=0)  # 8 + 0.25 * (4 - 8)
    assert third.baseline == 7
    later = run(store, T0 + 1200 + 3 * 600, amount=0)  # two buckets of 0 since
    assert later.baseline == (7 + 0.25 * (0 - 7)) * 0.75 ** 2


def test_the_bucket_a_series_began_in_part_of_the_way_through_is_not_learned() -> None:
    """A series begun late in a bucket holds part of a bucket's events, or only those of
    whoever was there when it began (a crawler already running when the site deployed):
    the first whole bucket seeds the usual rate instead."""
    store = MemoryStorage()
    for i in range(6):  # 6 events in the last 100 s of the bucket the series began in
        run(store, T0 - 100 + i)
    assert run(store, T0, amount=0).baseline == 0  # not learned
    for i in range(3):
        run(store, T0 + 1 + i)
    assert run(store, T0 + 600, amount=0).baseline == 3  # the first whole bucket


def test_enters_above_factor_times_baseline_once_and_leaves_after_a_calm_cooldown() -> None:
    store = MemoryStorage()
    for i in range(10):  # a calm first bucket: 10 events (not over the floor of 10)
        assert run(store, T0 + i * 50).since == 0
    now = T0 + 600
    entered = []
    for i in range(60):  # 60 events in 60 s: far over 4 x 10
        result = run(store, now + i)
        if result.changed:
            entered.append((i, result.changed, result.since))
    # at i = 30 the sliding rate is 10 * (1 - 30/600) + 31 = 40.5 > 4 x 10
    assert entered == [(30, 1, now + 30)], entered
    assert run(store, now + 60).since == now + 30  # still guarded, no second transition
    # quiet from now + 60 on: the guard holds for the cool-down, then leaves exactly once
    assert run(store, now + 60 + 1799, amount=0).since == now + 30
    left = run(store, now + 60 + 1800, amount=0)
    assert (left.since, left.changed) == (0, -1)
    assert run(store, now + 60 + 1801, amount=0).changed == 0


def test_the_attack_does_not_teach_the_baseline() -> None:
    store = MemoryStorage()
    for i in range(5):
        run(store, T0 + i)
    for i in range(200):  # guarded for the whole next bucket
        run(store, T0 + 600 + i)
    after = run(store, T0 + 1200, amount=0)
    assert after.since != 0
    assert after.baseline == 5  # the 200 guarded events were not learned


def test_a_monitored_guard_learns_the_busy_sites_usual_rate_and_leaves() -> None:
    """A site busier than the floor from its first minutes: guarded at once. Enforced, the
    guard never learns and stays on; monitored (``learn_guarded``), it learns the site's own
    traffic and leaves once that is its usual rate."""
    def busy(learn_guarded: bool) -> list:
        store = MemoryStorage()
        results = []
        for minute in range(6 * 60):  # six hours at 5 events a minute (50 a bucket, floor 10)
            for i in range(5):
                results.append(run(store, T0 + minute * 60 + i, learn_guarded=learn_guarded))
        return results

    enforced, monitored = busy(False), busy(True)
    assert enforced[-1].since and enforced[-1].baseline == 0
    assert [r.changed for r in enforced if r.changed] == [1]
    assert monitored[-1].since == 0 and monitored[-1].baseline == 50
    assert [r.changed for r in monitored if r.changed] == [1, -1]


def test_a_fresh_site_is_guarded_past_the_floor() -> None:
    store = MemoryStorage()
    results = [run(store, T0 + i) for i in range(12)]
    assert [r.changed for r in results].index(1) == 10  # the 11th event is over a floor of 10


def test_reading_with_amount_zero_counts_nothing() -> None:
    store = MemoryStorage()
    run(store, T0)
    assert run(store, T0 + 1, amount=0).rate == 1


def test_a_busy_series_leaves_the_guard_once_back_at_its_usual_rate() -> None:
    """A series that has learned 100 events per bucket (its floor raised to 120, as a busy
    site sets it), a short spike, then its usual traffic again, swaying above and below the
    average (60 to 150 a bucket-length, over the floor at times but never twice the
    average): the guard leaves one cool-down after the spike has left the sliding count.
    Waiting instead for the rate to stay under the average itself (``leave`` = 1), it would
    stay on for as long as the traffic sways."""
    for leave, leaves in ((2.0, True), (1.0, False)):
        store = MemoryStorage()
        now = T0
        for i in range(100):  # the first bucket, calm: 100 events
            run(store, now + i * 6, leave=leave, floor=120.0)
        now += 600
        for i in range(600):  # a spike in the second: 600 events in 60 s
            spike = run(store, now + i / 10, leave=leave, floor=120.0)
        assert spike.since and spike.baseline == 100
        left_at = None
        for step in range(1, 1 + 6 * 180):  # six hours of the usual 100 per bucket, swaying
            t = now + 60 + step * 20
            amount = 5 if (step // 30) % 2 else 2  # 10 minutes at 150 a bucket, 10 at 60
            result = run(store, t, amount=amount, leave=leave, floor=120.0)
            if result.changed == -1:
                left_at = t
                break
        if leaves:
            # the spike's bucket weighs in the sliding rate for up to a bucket after it ends,
            # then the cool-down runs: out within 2 buckets and a cool-down (measured 2,850 s)
            assert left_at is not None and left_at - (now + 60) <= 2 * 600 + 1_800, left_at
        else:
            assert left_at is None  # the behaviour this setting exists to avoid
