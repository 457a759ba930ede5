//! The timeliness chart, drawn by the hub as SVG (no chart service, no
//! script): one bar per participant, split into deliveries confirmed on
//! time, confirmed late, still overdue and returned.

use std::fmt::Write;

use crate::store::Timeliness;

/// (label, colour) of each segment, in drawing order.
pub const SEGMENTS: [(&str, &str); 4] =
    [("如期確認", "#1e6b30"), ("逾期確認", "#c98a00"), ("逾期未處理", "#b3261e"), ("退文", "#777777")];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The chart of `rows` (participants that received something).
pub fn timeliness_svg(rows: &[Timeliness]) -> String {
    let rows: Vec<&Timeliness> = rows.iter().filter(|r| r.received > 0).collect();
    let (label_w, bar_w, row_h, top) = (260.0, 520.0, 26.0, 34.0);
    let height = top + row_h * rows.len().max(1) as f64 + 30.0;
    let width = label_w + bar_w + 70.0;
    let max = rows.iter().map(|r| r.received).max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-labelledby="chart-title" font-family="sans-serif" font-size="13">"#
    );
    svg.push_str(r#"<title id="chart-title">各機關收文處理時效：如期確認、逾期確認、逾期未處理、退文</title>"#);
    // Legend.
    let mut x = label_w;
    for (label, colour) in SEGMENTS {
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/><text x="{}" y="17">{label}</text>"#,
            x + 16.0
        );
        x += 110.0;
    }
    if rows.is_empty() {
        let _ = write!(svg, r#"<text x="{label_w}" y="{}">此期間沒有收文。</text>"#, top + 16.0);
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let name = if r.name.is_empty() { r.code.clone() } else { format!("{} {}", r.code, r.name) };
        let _ = write!(svg, r#"<text x="4" y="{}">{}</text>"#, y + 16.0, esc(&name));
        let values = [r.confirmed_on_time, r.confirmed_late, r.overdue, r.returned];
        let mut x = label_w;
        for ((label, colour), v) in SEGMENTS.iter().zip(values) {
            if v == 0 {
                continue;
            }
            let w = bar_w * v as f64 / max;
            let _ = write!(
                svg,
                r#"<rect class="seg" x="{x:.1}" y="{}" width="{w:.1}" height="{}" fill="{colour}"><title>{}：{label} {v}</title></rect>"#,
                y + 4.0,
                row_h - 8.0,
                esc(&r.code)
            );
            x += w;
        }
        let _ = write!(svg, r#"<text x="{:.1}" y="{}">{}</text>"#, x + 6.0, y + 16.0, r.received);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, on_time: i64, late: i64, overdue: i64, returned: i64) -> Timeliness {
        Timeliness {
            code: code.into(),
            name: "<機關>".into(),
            received: on_time + late + overdue + returned,
            confirmed_on_time: on_time,
            confirmed_late: late,
            returned,
            overdue,
            ..Default::default()
        }
    }

    #[test]
    fn bars_are_proportional_and_names_escaped() {
        let svg = timeliness_svg(&[row("A", 2, 1, 1, 0), row("B", 1, 0, 0, 1)]);
        assert_eq!(svg.matches(r#"class="seg""#).count(), 5);
        // A received 4 = the full 520 px; one delivery is 130 px.
        assert!(svg.contains(r#"width="260.0""#) && svg.contains(r#"width="130.0""#), "{svg}");
        assert!(svg.contains("&lt;機關&gt;") && !svg.contains("<機關>"));
        assert!(timeliness_svg(&[]).contains("此期間沒有收文"));
    }
}
