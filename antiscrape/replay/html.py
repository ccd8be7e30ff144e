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


def offenders_over_time(s: dict[str, Any], max_lines: int = 8) -> str:
    """Requests per time bucket for the top offenders."""
    offenders = [o for o in s["top_offenders"] if o["series"]][:max_lines]
    first, last = s["first"] or 0.0, s["last"] or 0.0
    lo_min, hi_min = int(first // 60), int(last // 60)
    span = max(hi_min - lo_min + 1, 1)
    bucket = max(1, math.ceil(span / 120))
    n = math.ceil(span / bucket)
    series: list[tuple[dict[str, Any], list[int]]] = []
    for o in offenders:
        counts = [0] * n
        for minute, count in o["series"]:
            counts[min(n - 1, max(0, (minute - lo_min) // bucket))] += count
        series.append((o, counts))
    top = max([max(c) for _, c in series] + [1])
    body: list[str] = []
    for frac in (0.0, 0.5, 1.0):
        y = _y(top * frac, top)
        body.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" '
                    f'class="grid"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{top * frac:,.0f}</text>')
    legend = []
    for i, (o, counts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{_x(j, 0, max(n - 1, 1)):.1f},{_y(c, top):.1f}"
                          for j, c in enumerate(counts))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                    f'stroke-width="1.5" class="offender"/>')
        legend.append((f"{o['client']} ({o['action']})", color))
    if not series:
        body.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no client was '
                    "flagged</text>")
    for j in (0, n // 2, n - 1) if n > 1 else (0,):
        x = _x(j, 0, max(n - 1, 1))
        when = datetime.fromtimestamp((lo_min + j * bucket) * 60, UTC).strftime("%m-%d %H:%M")
        body.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle">'
                    f"{when}</text>")
    body.append(_legend(legend))
    unit = f"{bucket} min" if bucket < 60 else f"{bucket / 60:g} h"
    return _frame("Requests over time, top offenders", "plot-offenders", body,
                  "time (UTC)", f"requests per {unit}")


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


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
svg text{font:11px sans-serif;fill:#333}svg .title{font-weight:bold;font-size:13px}
svg .small{font-size:10px}.axis{stroke:#444}.grid{stroke:#ddd}
figure{margin:12px 0}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:12px;
max-width:420px;overflow-wrap:anywhere}th{background:#f3f3f3}
"""


def render_report(s: dict[str, Any], *, source: str = "", lines_per_second: float = 0.0) -> str:
    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"

    totals = [[a, s["clients_by_action"][a], s["requests_by_action"][a]]
              for a in ("allow", "throttle", "challenge", "block")]
    rules = [[r["action"], r["rule"], r["requests"], r["example"][:160]] for r in s["by_rule"]]
    offenders = [[o["client"], o["action"], o["max_score"], o["distinct_records"],
                  o["requests"], o["flagged"], o["reason"][:120], o["user_agent"][:120]]
                 for o in s["top_offenders"]]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width'>",
        f"<title>antiscrape replay: {escape(source)}</title><style>{_CSS}</style></head><body>",
        f"<h1>antiscrape replay report: {escape(source)}</h1>",
        f"<p>{s['lines']:,} lines, {s['requests']:,} requests from {s['clients']:,} clients, "
        f"{s['malformed']:,} malformed lines skipped; {when(s['first'])} to {when(s['last'])} "
        f"UTC. Replayed at {lines_per_second:,.0f} lines/s in monitor mode: nothing here was "
        "enforced.</p>",
        "<h2>Would be</h2>", _table(["action", "clients", "requests"], totals),
        "<h2>Plots</h2>", score_histogram(s), what_if_curve(s), offenders_over_time(s),
        "<h2>By rule</h2>", _table(["action", "rule", "requests", "example reason"], rules),
        "<h2>Top offenders</h2>",
        _table(["client", "action", "max score", "distinct records", "requests", "flagged",
                "reason", "user agent"], offenders),
        "</body></html>",
    ]
    return "".join(parts)
