//! The webhooks page's chart: webhook attempts per minute over the last hour, delivered
//! (green) under failed (red), drawn as SVG on the server — no script, no charting
//! service. Each bar's `<title>` says its minute and counts.

use std::fmt::Write;

use crate::core::MinuteActivity;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 180;
const LEFT: u32 = 40;
const BOTTOM: u32 = 24;
const TOP: u32 = 10;

/// The chart of `minutes`, oldest first.
pub fn svg(minutes: &[MinuteActivity]) -> String {
    let peak = minutes.iter().map(|m| m.delivered + m.failed).max().unwrap_or(0).max(1);
    // A round top for the axis: 1, 2, 5 × 10ⁿ.
    let top = nice_ceiling(peak);
    let plot_w = WIDTH - LEFT - 8;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = f64::from(plot_w) / minutes.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |count: u64| f64::from(plot_h) * (count as f64 / top as f64);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg id=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Webhook attempts per minute, \
         last hour\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // Lines at 0, half and the top; the half is labelled when it is a whole number.
    for step in 0..=2u64 {
        let value = top * step / 2;
        let label = if step == 1 && top % 2 == 1 { String::new() } else { value.to_string() };
        let at = f64::from(TOP + plot_h) - y(value);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#e6e8ec\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#5a6472\">{label}</text>",
            WIDTH - 8,
            LEFT - 4,
            at + 3.0
        );
    }
    for (i, m) in minutes.iter().enumerate() {
        let x = f64::from(LEFT) + slot * i as f64 + (slot - bar) / 2.0;
        let base = f64::from(TOP + plot_h);
        let ok = y(m.delivered);
        let bad = y(m.failed);
        let label = m.minute.format("%H:%M");
        let _ = write!(
            out,
            "<g class=\"minute\"><title>{label} UTC: {} delivered, {} failed</title>",
            m.delivered, m.failed
        );
        if m.delivered > 0 {
            let _ = write!(
                out,
                "<rect class=\"delivered\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{ok:.1}\" fill=\"#0b7a44\"/>",
                base - ok
            );
        }
        if m.failed > 0 {
            let _ = write!(
                out,
                "<rect class=\"failed\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bad:.1}\" fill=\"#c62828\"/>",
                base - ok - bad
            );
        }
        out.push_str("</g>");
        let last = i + 1 == minutes.len();
        if i % 15 == 0 || last {
            // The newest minute's label ends at its bar, inside the chart.
            let (at, anchor) = if last { (x + bar, "end") } else { (x + bar / 2.0, "middle") };
            let _ = write!(
                out,
                "<text x=\"{at:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"#5a6472\">{label}</text>",
                HEIGHT - 8
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn nice_ceiling(n: u64) -> u64 {
    let mut scale = 1;
    loop {
        for step in [1, 2, 5] {
            if step * scale >= n {
                return step * scale;
            }
        }
        scale *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    #[test]
    fn bars_follow_the_counts() {
        let start = DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z").unwrap().to_utc();
        let minutes: Vec<_> = (0..60)
            .map(|i| MinuteActivity {
                minute: start + TimeDelta::minutes(i),
                delivered: if i == 59 { 8 } else { 0 },
                failed: if i == 59 { 2 } else { 0 },
            })
            .collect();
        let svg = svg(&minutes);
        assert_eq!(svg.matches("class=\"delivered\"").count(), 1);
        assert_eq!(svg.matches("class=\"failed\"").count(), 1);
        assert!(svg.contains("<title>09:59 UTC: 8 delivered, 2 failed</title>"), "{svg}");
        assert_eq!(svg.matches("<g class=\"minute\">").count(), 60, "every minute has its place");
        assert!(svg.contains(">10</text>"), "the axis tops at a round 10");
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(4900), 5000);
    }
}
