"""The replay report as one self-contained HTML file: inline SVG plots, inline CSS, no script,
no font or image fetched from anywhere, so it opens offline and can be mailed around.

Every string that came from the log (user agents, paths, reasons quoting them) is escaped:
a log is attacker-written text, and the report must not become an XSS vector.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

W, H = 720, 300
PAD_L, PAD_R, PAD_T, PAD_B = 64, 24, 48, 44
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#7f7f7f", "#bcbd22")
ACTION_COLORS = {"allow": "#2ca02c", "throttle": "#ff7f0e", "challenge": "#9467bd",
                 "block": "#d62728"}


def _x(value: float, lo: float, hi: float) -> float:
    span = (hi - lo) or 1.0
    return PAD_L + (value - lo) / span * (W - PAD_L - PAD_R)


def _y(value: float, top: float) -> float:
    return H - PAD_B - (value / (top or 1.0)) * (H - PAD_T - PAD_B)


def _frame(title: str, plot_id: str, body: list[str], x_label: str, y_label: str) -> str:
    return (
        f'<figure><svg id="{plot_id}" class="plot" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{W / 2}" y="16" text-anchor="middle" class="title">{escape(title)}</text>'
        f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" class="axis"/>'
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" class="axis"/>'
        + "".join(body)
        + f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 6}" text-anchor="middle">'
          f'{escape(x_label)}</text>'
        f'<text x="14" y="{(PAD_T + H - PAD_B) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(PAD_T + H - PAD_B) / 2})">{escape(y_label)}</text>'
        "</svg></figure>"
    )


def _threshold_marks(thresholds: dict[str, int], lo: float, hi: float) -> list[str]:
    out = []
    for name, value in thresholds.items():
        x = _x(value, lo, hi)
        color = ACTION_COLORS["block" if name == "block_at" else "challenge"]
        out.append(f'<line x1="{x:.1f}" y1="{PAD_T}" x2="{x:.1f}" y2="{H - PAD_B}" '
                   f'stroke="{color}" stroke-width="2" stroke-dasharray="6 4" '
                   f'class="threshold" data-threshold="{name}"/>'
                   f'<text {_label_at(x)} y="{PAD_T + 12}" fill="{color}">'
                   f'{escape(name)}={value}</text>')
    return out


def _label_at(x: float) -> str:
    """Label attributes beside a vertical marker, flipped left near the right edge."""
    if x > W - 160:
        return f'x="{x - 3:.1f}" text-anchor="end"'
    return f'x="{x + 3:.1f}"'


def _x_ticks(lo: float, hi: float, step: float, fmt: Any = str,
             scale_hi: float | None = None) -> list[str]:
    out = []
    v = lo
    while v <= hi + 1e-9:
        x = _x(v, lo, scale_hi if scale_hi is not None else hi)
        out.append(f'<line x1="{x:.1f}" y1="{H - PAD_B}" x2="{x:.1f}" y2="{H - PAD_B + 4}" '
                   f'class="axis"/><text x="{x:.1f}" y="{H - PAD_B + 16}" '
                   f'text-anchor="middle">{escape(fmt(v))}</text>')
        v += step
    return out


def score_histogram(s: dict[str, Any]) -> str:
    """Requests and clients per risk score (5-point bins, log scale), thresholds marked."""
    bins = 21
    req = [sum(s["request_scores"][i * 5:i * 5 + 5]) for i in range(bins)]
    cli = [sum(s["client_scores"][i * 5:i * 5 + 5]) for i in range(bins)]
    top = math.log10(max([*req, *cli, 1]) + 1)
    body: list[str] = []
    for exp in range(0, math.ceil(top) + 1):
        y = _y(math.log10(10 ** exp + 1), top)
        if y >= PAD_T:
            body.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" '
                        f'class="grid"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" '
                        f'text-anchor="end">{10 ** exp:,}</text>')
    width = (W - PAD_L - PAD_R) / 105 * 5
    for i in range(bins):
        for series, (values, color, offset) in enumerate(
                ((req, COLORS[0], 0.0), (cli, COLORS[3], 0.5))):
            if not values[i]:
                continue
            y = _y(math.log10(values[i] + 1), top)
            x = _x(i * 5, 0, 105) + offset * width
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width / 2 - 1:.1f}" '
                        f'height="{H - PAD_B - y:.1f}" fill="{color}" class="bar s{series}">'
                        f'<title>score {i * 5}-{i * 5 + 4}: {values[i]:,}</title></rect>')
    body += _threshold_marks(s["thresholds"], 0, 105)
    body += _x_ticks(0, 100, 10, scale_hi=105)
    body.append(_legend([("requests", COLORS[0]), ("clients (highest score)", COLORS[3])]))
    return _frame("Risk-score distribution", "plot-scores", body, "risk score",
                  "count (log scale)")


def what_if_curve(s: dict[str, Any]) -> str:
    """Share of clients and requests at or above each threshold value."""
    rows = s["what_if"]
    n_req = max(s["requests"], 1)
    n_cli = max(s["clients"], 1)
    body: list[str] = []
    for pct in range(0, 101, 25):
        y = _y(pct, 100)
        body.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" '
                    f'class="grid"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{pct}%</text>')
    for key, total, color in (("clients", n_cli, COLORS[3]), ("requests", n_req, COLORS[0])):
        points = " ".join(f"{_x(r['threshold'], 0, 100):.1f},{_y(100 * r[key] / total, 100):.1f}"
                          for r in rows[1:])
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                    f'stroke-width="2" class="curve" data-series="{key}"/>')
    body += _threshold_marks(s["thresholds"], 0, 100)
    for value in s["thresholds"].values():
        r = rows[value]
        body.append(f'<text {_label_at(_x(value, 0, 100))} y="{PAD_T + 26}" class="small">'
                    f'{r["clients"]:,} clients, {r["requests"]:,} requests</text>')
    body += _x_ticks(0, 100, 10)
    body.append(_legend([("clients affected", COLORS[3]), ("requests affected", COLORS[0])]))
    return _frame("What if the threshold were...", "plot-whatif", body,
                  "threshold (score at or above)", "share affected")


TIME_BUCKETS = ((60, "minute"), (300, "5 minutes"), (900, "15 minutes"), (3_600, "hour"),
                (6 * 3_600, "6 hours"), (86_400, "day"), (7 * 86_400, "week"),
                (30 * 86_400, "30 days"))
"""Bucket sizes of the time axis (seconds, name): whole units a reader can count with."""
MAX_BUCKETS = 240
"""Most points a series gets: the plot is 630 px wide, finer buckets would not show."""


def time_bucket(span: float, most: int = MAX_BUCKETS) -> tuple[int, str]:
    """The smallest bucket that cuts ``span`` seconds into fewer than ``most`` pieces:
    minutes for an hour's log, hours for a week's, days (or more) for years, so a long log
    still shows its shape instead of one spike per client."""
    for seconds, name in TIME_BUCKETS:
        if span / seconds < most:
            return seconds, name
    return TIME_BUCKETS[-1]


PERIOD_GAP = 86_400
"""Seconds without a plotted request that split the time axis into separate periods."""


def active_periods(minutes: list[int], gap: int = PERIOD_GAP) -> list[tuple[int, int]]:
    """(start, end) in seconds of each stretch of activity in ``minutes`` (epoch minutes),
    split wherever nothing happened for ``gap`` seconds: a log of several captures years
    apart plots as side-by-side periods, each readable, instead of spikes on an empty axis."""
    periods: list[tuple[int, int]] = []
    for minute in sorted(set(minutes)):
        at = minute * 60
        if periods and at - periods[-1][1] < gap:
            periods[-1] = (periods[-1][0], at + 60)
        else:
            periods.append((at, at + 60))
    return periods


def _time_label(ts: float, bucket: int, x: float, anchor: str) -> str:
    """A tick label with the year: the date, and under it the time when buckets are
    shorter than a day."""
    when = datetime.fromtimestamp(ts, UTC)
    y = H - PAD_B + 14
    label = f'<tspan x="{x:.1f}" y="{y}">{when:%Y-%m-%d}</tspan>'
    if bucket < 86_400:
        label += f'<tspan x="{x:.1f}" y="{y + 12}">{when:%H:%M}</tspan>'
    return (f'<line x1="{x:.1f}" y1="{H - PAD_B}" x2="{x:.1f}" y2="{H - PAD_B + 4}" '
            f'class="axis"/><text text-anchor="{anchor}" class="tick">{label}</text>')


def _buckets(lo: int, hi: int, most: int) -> tuple[int, str, int, int]:
    """(bucket seconds, its name, first bucket start, bucket count) for ``lo``..``hi``."""
    bucket, unit = time_bucket(hi - lo, most)
    start = lo // bucket * bucket
    return bucket, unit, start, max(1, math.ceil((hi - start) / bucket))


def _log_axis(top: float) -> tuple[float, float]:
    """Decades (low, high exponents) a log-scale axis needs to show rates up to ``top``,
    down to one request per 100 minutes."""
    return -2.0, max(0.0, math.ceil(math.log10(max(top, 1.0))))


def offenders_over_time(s: dict[str, Any], max_lines: int = 8) -> str:
    """Request rate over time of the top offenders, in the periods they were active.

    Periods a day or more apart sit side by side with a break between, each cut into
    buckets fit for its own length (minutes for a burst, hours for days, days for months);
    the y axis is requests per minute on a log scale, so a 20-minute burst of thousands and
    a three-day trickle of dozens are both readable in one plot."""
    offenders = [o for o in s["top_offenders"] if o["series"]][:max_lines]
    periods = active_periods([minute for o in offenders for minute, _ in o["series"]])
    gap_px = 14.0
    width = (W - PAD_L - PAD_R - gap_px * (len(periods) - 1)) / max(len(periods), 1)
    layout = []  # per period: first bucket start, bucket seconds, bucket count, left x
    for k, (lo, hi) in enumerate(periods):
        bucket, _, start, n = _buckets(lo, hi, max(8, int(width / 3)))
        layout.append((start, bucket, n, PAD_L + k * (width + gap_px)))
    rates = []
    for o in offenders:
        counts = [[0.0] * n for _, _, n, _ in layout]
        for minute, count in o["series"]:
            k = next(i for i, (lo, hi) in enumerate(periods) if lo <= minute * 60 < hi)
            start, bucket, n, _ = layout[k]
            counts[k][min(n - 1, (minute * 60 - start) // bucket)] += count * 60 / bucket
        rates.append((o, counts))
    low, high = _log_axis(max([max(max(c) for c in r) for _, r in rates] + [1.0]))

    def y_of(rate: float) -> float:
        exp = math.log10(rate) if rate > 0 else low
        return _y(max(exp, low) - low, high - low)

    def x_of(k: int, j: float) -> float:
        _, _, n, left = layout[k]
        return left + (j / (n - 1) * width if n > 1 else width / 2)

    body: list[str] = []
    for exp in range(int(low), int(high) + 1):
        y = y_of(10.0 ** exp)
        body.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" '
                    f'class="grid"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{10.0 ** exp:,g}</text>')
    legend = []
    for i, (o, counts) in enumerate(rates):
        color = COLORS[i % len(COLORS)]
        for k, period in enumerate(counts):
            if not any(period):
                continue
            points = [(x_of(k, j), y_of(r)) for j, r in enumerate(period)]
            body.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}'
                        f'" fill="none" stroke="{color}" stroke-width="1.5" class="offender"/>')
            if len(points) < 3:  # a line needs two points: mark each one
                body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                         for x, y in points]
        legend.append((f"{o['client']} ({o['action']})", color))
    if not rates:
        body.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no client was '
                    "flagged</text>")
    for k, (start, bucket, n, left) in enumerate(layout if rates else ()):
        if k:  # the break between two periods
            body.append(f'<text x="{left - gap_px / 2:.1f}" y="{H - PAD_B + 4}" '
                        'text-anchor="middle" class="break">//</text>')
        body.append(_time_label(start, bucket, x_of(k, 0), "start" if n > 1 else "middle"))
        if width > 150 and n > 1:
            body.append(_time_label(start + (n - 1) * bucket, bucket, x_of(k, n - 1), "end"))
        if width > 400 and n > 2:
            middle = (n - 1) // 2
            body.append(_time_label(start + middle * bucket, bucket, x_of(k, middle),
                                    "middle"))
    body.append(_legend(legend))
    return _frame("Requests over time (UTC), top offenders", "plot-offenders", body,
                  "", "requests per minute (log scale)")


def _legend(items: list[tuple[str, str]]) -> str:
    """Legend entries in rows of four between the title and the plot area."""
    out = []
    col_w = (W - PAD_L - PAD_R) / 4
    for i, (label, color) in enumerate(items):
        x = PAD_L + (i % 4) * col_w
        y = 22 + (i // 4) * 12
        out.append(f'<rect x="{x:.1f}" y="{y}" width="9" height="9" fill="{color}"/>'
                   f'<text x="{x + 12:.1f}" y="{y + 8}" class="small">'
                   f"{escape(label[:32])}</text>")
    return "".join(out)


class Markup(str):
    """Markup built here from numbers and escaped text: a cell puts it in as it is."""


def _duration(seconds: float) -> str:
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def activity(series: list[list[int]] | list[tuple[int, int]]) -> Markup:
    """One client's requests over its own active span, as a small inline line with the
    start and length written beside it: each offender's shape stays visible however long
    the whole log is."""
    if not series:
        return Markup("")
    lo, hi = series[0][0] * 60, series[-1][0] * 60 + 60
    bucket, unit, start, n = _buckets(lo, hi, 60)
    counts = [0] * n
    for minute, count in series:
        counts[min(n - 1, (minute * 60 - start) // bucket)] += count
    peak, w, h = max(counts), 120, 22
    step = (w - 2) / max(n - 1, 1)
    points = " ".join(f"{1 + j * step:.1f},{h - 1 - c / peak * (h - 2):.1f}"
                      for j, c in enumerate(counts)) if n > 1 else f"1,1 {w - 1},1"
    began = datetime.fromtimestamp(lo, UTC)
    return Markup(
        f'<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="requests per {unit}, peak {peak:,}"><title>requests per {unit}, peak '
        f'{peak:,}</title><polyline points="{points}" fill="none" stroke="{COLORS[0]}" '
        f'stroke-width="1.2"/></svg><br><small>{began:%Y-%m-%d %H:%M}, '
        f"{_duration(hi - lo)}</small>")


def _cell(value: Any, prose: bool) -> str:
    """A table cell. Numbers get thousands separators and align right; only ``prose``
    columns (reasons, user agents) wrap, and then at spaces, so an address or an action
    never breaks in the middle."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value:,}</td>'
    if isinstance(value, Markup):
        return f'<td class="word">{value}</td>'
    return f'<td class="{"prose" if prose else "word"}">{escape(str(value))}</td>'


def _table(headers: list[str], rows: list[list[Any]], table_id: str,
           prose: tuple[int, ...] = ()) -> str:
    """A table in a box that scrolls sideways on a narrow screen, rather than squeezing its
    columns until words break."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c, i in prose) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
svg text{font:11px sans-serif;fill:#333}svg .title{font-weight:bold;font-size:13px}
svg .small{font-size:10px}.axis{stroke:#444}.grid{stroke:#ddd}
figure{margin:12px 0;overflow-x:auto}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:12px;
vertical-align:top}th{background:#f3f3f3;white-space:nowrap}
td.word,td.num{white-space:nowrap}td.num{text-align:right}
td.prose{min-width:14em;max-width:36em;overflow-wrap:break-word}
.scroll{overflow-x:auto;max-width:100%}small{color:#555}
svg.plot{width:100%;max-width:720px;min-width:540px;height:auto}
"""


def render_report(s: dict[str, Any], *, source: str = "", lines_per_second: float = 0.0) -> str:
    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"

    totals = [[a, s["clients_by_action"][a], s["requests_by_action"][a]]
              for a in ("allow", "throttle", "challenge", "block")]
    rules = [[r["action"], r["rule"], r["requests"], r["example"][:160]] for r in s["by_rule"]]
    offenders = [[o["client"], o["action"], o["max_score"], o["distinct_records"],
                  o["requests"], o["flagged"], activity(o["series"]), o["reason"][:120],
                  o["user_agent"][:120]] for o in s["top_offenders"]]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width'>",
        f"<title>antiscrape replay: {escape(source)}</title><style>{_CSS}</style></head><body>",
        f"<h1>antiscrape replay report: {escape(source)}</h1>",
        f"<p>{s['lines']:,} lines, {s['requests']:,} requests from {s['clients']:,} clients, "
        f"{s['malformed']:,} malformed lines skipped; {when(s['first'])} to {when(s['last'])} "
        f"UTC. Replayed at {lines_per_second:,.0f} lines/s in monitor mode: nothing here was "
        "enforced.</p>",
        "<h2>Would be</h2>", _table(["action", "clients", "requests"], totals, "totals"),
        "<h2>Plots</h2>", score_histogram(s), what_if_curve(s), offenders_over_time(s),
        "<h2>By rule</h2>",
        _table(["action", "rule", "requests", "example reason"], rules, "rules", prose=(3,)),
        "<h2>Top offenders</h2>",
        "<p>Ranked by refused requests (throttled, challenged or blocked), then by "
        "requests.</p>",
        _table(["client", "action", "max score", "distinct records", "requests", "refused",
                "activity (UTC)", "reason", "user agent"], offenders, "offenders",
               prose=(7, 8)),
        "</body></html>",
    ]
    return "".join(parts)
