"""A crawler that paces itself under the site guard's ten-minute floor reads all day.

Found by trying the rotating crawler slower than the tests drove it: a new cookie jar every
40 reads (just under a person's ten-minute budget), every request from another /24 with
another browser's User-Agent, one read every 6 to 7 seconds. That is about 92 reads by
visitors new today per ten minutes, under the guard's floor of 100 (``min_young_reads``),
and 2.3 new visitors per ten minutes, far under theirs: nothing it did was ever over a line,
and in one simulated day it read 4,593 of the shop's 5,000 profiles.

People arriving together need the ten-minute floor's headroom for minutes; a whole day's
newcomers do not need 144 times it. Reads by visitors new today are now also counted by the
day (``guard.min_young_reads_per_day``). And the bucket a series began in, part of the way
through, is no longer learned as the usual rate: a crawler already running when the site
deployed (here, the shop's clock starts late in a day) had taught the daily series that
its own pace was usual, and read 2,791.
"""

from __future__ import annotations

import pytest

from antiscrape.config import GuardSettings
from tests.test_attacks_rotation import all_day, shop, stopped_within  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def test_a_crawler_pacing_under_the_ten_minute_floor_is_held_by_the_day(shop) -> None:  # noqa: F811
    url, clock = shop
    outcome = all_day(url, clock, max_requests=20_000, jitter=(6.0, 7.0), new_jar_every=40)
    # the day's floor, then only the anonymous pool's few reads (jars started since the
    # guard began are not people yet)
    stopped_within(outcome, GuardSettings().min_young_reads_per_day + 100)
