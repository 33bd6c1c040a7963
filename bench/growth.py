#!/usr/bin/env python3
"""How the poll's costs grow with the number of feeds (issue 20).

Reads every bench/results/poll-<feeds>x<items>[-features].json that
`cargo bench --bench poll` wrote, and writes

- docs/growth.md: a table (feeds, items, first poll wall and CPU seconds,
  re-poll wall seconds, peak RSS, archive bytes per item, and the cost per
  item, which stays flat while a cost grows linearly), and
- docs/growth.svg: a log-log plot of those times and of peak RSS against
  feeds, with a line of slope 1 (linear growth) through the smallest size
  for comparison.

Standard library only (the SVG is written by hand), so it runs wherever
the bench does. Usage:

    python3 bench/growth.py                 # both modes, every size found
    python3 bench/growth.py --mode features # only TF_BENCH_FEATURES=1 runs

bench/README.md ("Growth") gives the commands that produce the inputs.
"""

import argparse
import glob
import json
import math
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(results_dir, mode):
    rows = []
    for path in sorted(glob.glob(os.path.join(results_dir, "poll-*.json"))):
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
        features = bool(r.get("features"))
        if mode == "features" and not features or mode == "plain" and features:
            continue
        r["_file"] = os.path.relpath(path, REPO)
        rows.append(r)
    rows.sort(key=lambda r: (r["features"], r["feeds"], r["items_per_feed"]))
    return rows


def fmt(x, digits):
    return "n/a" if x is None else f"{x:.{digits}f}"


def per_item_us(seconds, items):
    return None if seconds is None else seconds / items * 1e6


def table(rows):
    out = [
        "| mode | feeds | items/feed | items | hosts | first poll wall s | CPU s | CPU us/item | "
        "re-poll wall s | re-poll CPU s | re-poll CPU us/feed | peak RSS MiB | archive bytes/item | "
        "start + open s (feeds sync) | busy cores before | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first, re = r["first_poll"], r["re_poll"]
        rss = max(x for x in (first["peak_rss_mib"], re["peak_rss_mib"], 0) if x is not None)
        ph = r.get("first_poll_phases") or {}
        opened = (
            "{:.2f} ({:.2f})".format(ph["start_s"] + ph["open_s"], ph["feeds_sync_s"]) if ph else "n/a"
        )
        out.append(
            "| {} | {:,} | {} | {:,} | {:,} | {} | {} | {} | {} | {} | {} | {} | {:.0f} | {} | {} | {} |".format(
                "features" if r["features"] else "plain",
                r["feeds"],
                r["items_per_feed"],
                r["items"],
                r["hosts"],
                fmt(first["wall_s"], 2),
                fmt(first["cpu_s"], 2),
                fmt(per_item_us(first["cpu_s"], r["items"]), 0),
                fmt(re["wall_s"], 2),
                fmt(re["cpu_s"], 2),
                fmt(per_item_us(re["cpu_s"], r["feeds"]), 0),
                fmt(rss or None, 1),
                r["archive_bytes_per_item"],
                opened,
                fmt(r.get("busy_cores_before"), 2),
                r.get("source", "?"),
            )
        )
    return "\n".join(out)


# --- the plot ------------------------------------------------------------

W, H = 1010, 440  # room right of the second panel for its last tick label
PANEL_W = 400
MARGIN_L, MARGIN_T, MARGIN_B = 70, 50, 70
GAP = 110

SERIES_TIME = [
    ("first poll wall", lambda r: r["first_poll"]["wall_s"], "#1f77b4"),
    ("first poll CPU", lambda r: r["first_poll"]["cpu_s"], "#2ca02c"),
    ("re-poll wall", lambda r: r["re_poll"]["wall_s"], "#d62728"),
]
SERIES_RSS = [
    ("peak RSS, first poll", lambda r: r["first_poll"]["peak_rss_mib"], "#9467bd"),
    ("peak RSS, re-poll", lambda r: r["re_poll"]["peak_rss_mib"], "#ff7f0e"),
]


def decades(lo, hi):
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return a, b


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(x0, title, ylabel, rows, series, xs_all):
    """One log-log panel at horizontal offset x0; returns SVG elements."""
    pts = [(r["feeds"], f(r), r) for _, f, _ in series for r in rows if f(r)]
    if not pts:
        return []
    ys = [y for _, y, _ in pts]
    xa, xb = decades(min(xs_all), max(xs_all))
    ya, yb = decades(min(ys), max(ys))
    pw, ph = PANEL_W, H - MARGIN_T - MARGIN_B

    def sx(x):
        return x0 + (math.log10(x) - xa) / (xb - xa) * pw

    def sy(y):
        return MARGIN_T + ph - (math.log10(y) - ya) / (yb - ya) * ph

    e = [
        f'<text x="{x0 + pw / 2}" y="{MARGIN_T - 22}" text-anchor="middle" font-weight="bold">{esc(title)}</text>',
        f'<rect x="{x0}" y="{MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>',
    ]
    for d in range(xa, xb + 1):
        x = sx(10**d)
        e.append(f'<line x1="{x}" y1="{MARGIN_T}" x2="{x}" y2="{MARGIN_T + ph}" stroke="#ddd"/>')
        e.append(f'<text x="{x}" y="{MARGIN_T + ph + 18}" text-anchor="middle">{10**d:,}</text>')
    for d in range(ya, yb + 1):
        y = sy(10**d)
        e.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + pw}" y2="{y}" stroke="#ddd"/>')
        label = f"{10.0**d:g}"
        e.append(f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{label}</text>')
    e.append(
        f'<text x="{x0 + pw / 2}" y="{MARGIN_T + ph + 40}" text-anchor="middle">feeds (log)</text>'
    )
    e.append(
        f'<text transform="translate({x0 - 50},{MARGIN_T + ph / 2}) rotate(-90)" '
        f'text-anchor="middle">{esc(ylabel)}</text>'
    )
    # Slope 1 through the first series' smallest point: linear growth.
    first = sorted((r["feeds"], series[0][1](r)) for r in rows if series[0][1](r))
    if first:
        fx, fy = first[0]
        gx = max(xs_all)
        gy = fy * gx / fx
        e.append(
            f'<line x1="{sx(fx)}" y1="{sy(fy)}" x2="{sx(gx)}" y2="{sy(min(gy, 10**yb))}" '
            'stroke="#999" stroke-dasharray="5,4"/>'
        )
        if gy > 10**yb:  # clipped: end the line where it leaves the panel
            e[-1] = (
                f'<line x1="{sx(fx)}" y1="{sy(fy)}" x2="{sx(fx * 10**yb / fy)}" y2="{sy(10**yb)}" '
                'stroke="#999" stroke-dasharray="5,4"/>'
            )
    for mode, dash in ((False, ""), (True, ' stroke-dasharray="2,3"')):
        for name, f, colour in series:
            line = sorted((r["feeds"], f(r)) for r in rows if r["features"] == mode and f(r))
            if not line:
                continue
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
            e.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for x, y in line:
                shape = (
                    f'<rect x="{sx(x) - 4:.1f}" y="{sy(y) - 4:.1f}" width="8" height="8" fill="{colour}"/>'
                    if mode
                    else f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{colour}"/>'
                )
                e.append(shape)
    # Legend inside the panel, top left.
    ly = MARGIN_T + 16
    for name, _, colour in series:
        e.append(f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 34}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        e.append(f'<text x="{x0 + 40}" y="{ly}">{esc(name)}</text>')
        ly += 16
    e.append(f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 34}" y2="{ly - 4}" stroke="#999" stroke-dasharray="5,4"/>')
    e.append(f'<text x="{x0 + 40}" y="{ly}">linear growth</text>')
    return e


def svg(rows):
    xs_all = [r["feeds"] for r in rows]
    modes = sorted({r["features"] for r in rows})
    note = "circles: features off; squares, dotted: features on" if len(modes) > 1 else (
        "features on" if modes and modes[0] else "features off"
    )
    sizes = ", ".join(f'{r["feeds"]:,}x{r["items_per_feed"]}' for r in rows if r["features"] == modes[-1])
    e = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    e += panel(MARGIN_L, "tickerfeed poll: time", "seconds (log)", rows, SERIES_TIME, xs_all)
    e += panel(MARGIN_L + PANEL_W + GAP, "tickerfeed poll: peak RSS", "MiB (log)", rows, SERIES_RSS, xs_all)
    e.append(
        f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" fill="#555">'
        f"{esc(note)}; sizes (feeds x items per feed): {esc(sizes)}; bench/results/poll-*.json</text>"
    )
    e.append("</svg>")
    return "\n".join(e) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["all", "plain", "features"], default="all")
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--out", default=os.path.join(REPO, "docs"), help="folder for growth.md and growth.svg")
    args = ap.parse_args()
    rows = load(args.results, args.mode)
    if not rows:
        sys.exit(f"no poll-*.json in {args.results}: run `cargo bench --bench poll` first (bench/README.md)")
    t = table(rows)
    md = [
        "# How the poll's costs grow with the number of feeds",
        "",
        "Written by `python3 bench/growth.py` from " + ", ".join(f'`{r["_file"]}`' for r in rows) + ".",
        "Medians over each file's runs; CPU is user + system of the `tickerfeed poll` process; "
        "peak RSS is the higher of the two phases. A cost that grows linearly keeps its per-item "
        "(or, for the re-poll, per-feed) figure flat. bench/README.md (\"Growth\") says how to re-run.",
        "",
        t,
        "",
        "![Time and peak RSS against feeds, log-log](growth.svg)",
        "",
    ]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "growth.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    with open(os.path.join(args.out, "growth.svg"), "w", encoding="utf-8") as f:
        f.write(svg(rows))
    print(t)
    print(f"\nwritten to {os.path.relpath(args.out, os.getcwd())}/growth.md and growth.svg")


if __name__ == "__main__":
    main()
