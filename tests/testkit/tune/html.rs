//! `--html FILE`: one self-contained page (inline SVG and CSS, no script, nothing fetched) with
//! the strategies' table, a chart of added billed time against data delay, and a timeline of
//! the first environment's invocations and flushes under the recommended strategy. Pure text.

use std::fmt::Write;
use tandem_modes::tune::model::{Event, EventKind};
use tandem_modes::tune::report::{self, Recommendation, Row};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 760.0;
const H: f64 = 340.0;
const PAD: f64 = 56.0;

/// Added billed ms (y) against p99 data delay (x, log scale), one labelled dot per strategy.
fn scatter(rows: &[Row], best: &str, max_delay_s: f64) -> String {
    let lx = |s: f64| (s.max(0.01)).log10();
    let (x0, x1) = (
        lx(0.01),
        lx(rows.iter().map(|r| r.delay_s_p99).fold(1000.0, f64::max)),
    );
    let y1 = rows
        .iter()
        .map(|r| r.added_billed_ms_mean)
        .fold(1.0, f64::max)
        * 1.1;
    let px = |s: f64| PAD + (lx(s) - x0) / (x1 - x0) * (W - 2.0 * PAD);
    let py = |ms: f64| H - PAD - ms / y1 * (H - 2.0 * PAD);
    let mut g = format!(
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="added billed time against data delay"><rect width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = write!(
        g,
        r#"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" class="axis"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" class="axis"/>"#,
        b = H - PAD,
        r = W - PAD
    );
    for s in [0.1, 1.0, 10.0, 60.0, 600.0] {
        let x = px(s);
        let _ = write!(
            g,
            r#"<text x="{x:.1}" y="{y}" class="tick">{s} s</text>"#,
            y = H - PAD + 18.0
        );
    }
    let lim = px(max_delay_s);
    let _ = write!(
        g,
        r#"<line x1="{lim:.1}" y1="{PAD}" x2="{lim:.1}" y2="{b}" class="limit"/><text x="{lim:.1}" y="{t}" class="tick">limit {max_delay_s} s</text>"#,
        b = H - PAD,
        t = PAD - 8.0
    );
    for k in 0..=4 {
        let ms = y1 * f64::from(k) / 4.0;
        let _ = write!(
            g,
            r#"<text x="{x}" y="{y:.1}" class="tick" text-anchor="end">{ms:.0} ms</text>"#,
            x = PAD - 6.0,
            y = py(ms) + 4.0
        );
    }
    // Strategies that land on the same spot (periodically and continuously often do) share
    // one dot and one label.
    let mut spots: Vec<((i64, i64), Vec<&str>, bool)> = Vec::new();
    for r in rows {
        let (x, y) = (px(r.delay_s_p99), py(r.added_billed_ms_mean));
        let key = ((x / 4.0).round() as i64, (y / 4.0).round() as i64);
        match spots.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, names, b)) => {
                names.push(&r.strategy);
                *b |= r.strategy == best;
            }
            None => spots.push((key, vec![&r.strategy], r.strategy == best)),
        }
    }
    for (i, ((kx, ky), names, is_best)) in spots.iter().enumerate() {
        let (x, y) = (*kx as f64 * 4.0, *ky as f64 * 4.0);
        let class = if *is_best { "best" } else { "dot" };
        let dy = [-8.0, 14.0, -20.0, 26.0][i % 4];
        // Labels of dots in the right part of the chart run leftwards, inside it.
        let (tx, anchor) = if x > W * 0.6 {
            (x - 7.0, "end")
        } else {
            (x + 7.0, "start")
        };
        let _ = write!(
            g,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" class="{class}"><title>{s}</title></circle><text x="{tx:.1}" y="{ty:.1}" class="label" text-anchor="{anchor}">{s}</text>"#,
            s = esc(&names.join(" = ")),
            ty = y + dy
        );
    }
    let _ = write!(
        g,
        r#"<text x="{cx}" y="{by}" class="title">p99 data delay (log scale)</text><text x="14" y="{cy}" class="title" transform="rotate(-90 14 {cy})">added billed ms per invocation</text></svg>"#,
        cx = W / 2.0,
        by = H - 12.0,
        cy = H / 2.0
    );
    g
}

/// The first environment's invocations (blue), flushes (orange) and shutdown (red).
fn timeline(events: &[Event]) -> String {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return "<p>No events.</p>".into();
    };
    let (t0, t1) = (first.start_ms, last.end_ms.max(first.start_ms + 1.0));
    let px = |t: f64| PAD + (t - t0) / (t1 - t0) * (W - 2.0 * PAD);
    let h = 140.0;
    let mut g = format!(
        r#"<svg viewBox="0 0 {W} {h}" role="img" aria-label="timeline of one environment"><rect width="{W}" height="{h}" fill="white"/>"#
    );
    for e in events {
        let (x, w) = (px(e.start_ms), (px(e.end_ms) - px(e.start_ms)).max(1.5));
        let (y, class) = match e.kind {
            EventKind::Invocation => (30.0, "inv"),
            EventKind::Flush => (70.0, "flush"),
            EventKind::Shutdown => (30.0, "shut"),
        };
        let _ = write!(
            g,
            r#"<rect x="{x:.1}" y="{y}" width="{w:.1}" height="26" class="{class}"/>"#
        );
    }
    let _ = write!(
        g,
        r#"<text x="{PAD}" y="20" class="tick">invocations</text><text x="{PAD}" y="112" class="tick">flushes — {:.1} min shown</text></svg>"#,
        (t1 - t0) / 60_000.0
    );
    g
}

pub(crate) fn render(
    summary: &str,
    rows: &[Row],
    rec: &Recommendation,
    max_delay_s: f64,
    events: &[Event],
) -> String {
    let mut table = String::from("<table><tr>");
    for c in report::COLUMNS {
        let _ = write!(table, "<th>{}</th>", esc(c));
    }
    table.push_str("</tr>");
    for r in rows {
        let class = if r.strategy == rec.strategy {
            " class=\"bestrow\""
        } else {
            ""
        };
        let _ = write!(table, "<tr{class}>");
        for c in r.cells() {
            let _ = write!(table, "<td>{}</td>", esc(&c));
        }
        table.push_str("</tr>");
    }
    table.push_str("</table>");
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tandem-tune report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 980px; color: #222; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
.rec {{ background: #eef6ee; border-left: 4px solid #2a7d2a; padding: 10px 14px; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} .bestrow {{ background: #eef6ee; font-weight: 600; }}
svg {{ width: 100%; height: auto; border: 1px solid #eee; }}
.axis {{ stroke: #888; }} .limit {{ stroke: #c33; stroke-dasharray: 4 3; }}
.tick {{ font-size: 11px; fill: #555; }} .label {{ font-size: 10px; fill: #333; }} .title {{ font-size: 12px; fill: #333; text-anchor: middle; }}
.dot {{ fill: #4a78c2; }} .best {{ fill: #2a7d2a; stroke: #000; }}
.inv {{ fill: #4a78c2; }} .flush {{ fill: #e08a2c; }} .shut {{ fill: #c33; }}
</style></head><body>
<h1>Which flush strategy suits this traffic</h1>
<p>{summary}</p>
<p class="rec"><b>Recommended: <code>DD_SERVERLESS_FLUSH_STRATEGY={best}</code></b> — {why}.{runner}</p>
<h2>Added billed time against data delay</h2>
{scatter}
<h2>One environment under <code>{best}</code></h2>
{timeline}
<h2>Every strategy</h2>
{table}
<p>Modelled by <code>tandem-tune</code> with the extension's own flush planner; see the README's "Tuning the flush strategy" for what the model does not capture.</p>
</body></html>
"#,
        summary = esc(summary),
        best = esc(&rec.strategy),
        why = esc(&rec.why),
        runner = rec
            .runner_up
            .as_ref()
            .map(|r| format!(" Runner-up: <code>{}</code>.", esc(r)))
            .unwrap_or_default(),
        scatter = scatter(rows, &rec.strategy, max_delay_s),
        timeline = timeline(events),
    )
}
