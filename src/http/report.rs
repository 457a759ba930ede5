//! Lists that clerks and auditors query *or print* (§8, §12-2: 查詢或列印):
//! the same rows as JSON, as CSV (UTF-8 with a BOM, so spreadsheet programs
//! read the Chinese right), or as a printable HTML page.

use askama::Template;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderValue, header};

use super::problem::Problem;

/// `?format=`: `json` (default), `csv` or `html` (printable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
    Html,
}

/// Rows for CSV or the printable page.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    pub subtitle: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Shown under the table (e.g. that a printout was cut short).
    pub note: Option<String>,
    /// The download name of the CSV, without extension.
    pub file: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    title: &'a str,
    subtitle: &'a str,
    generated: String,
    columns: &'a [&'static str],
    rows: &'a [Vec<String>],
    note: &'a Option<String>,
}

impl Table {
    /// The table as CSV or HTML; JSON is the caller's business.
    pub fn respond(&self, format: Format) -> Response {
        match format {
            Format::Csv => {
                let mut out = String::from("\u{feff}");
                out.push_str(&csv_line(self.columns.iter().copied()));
                for r in &self.rows {
                    out.push_str(&csv_line(r.iter().map(String::as_str)));
                }
                csv_response(&self.file, out)
            }
            _ => {
                let page = Page {
                    title: &self.title,
                    subtitle: &self.subtitle,
                    generated: local_time(Utc::now()),
                    columns: &self.columns,
                    rows: &self.rows,
                    note: &self.note,
                };
                match page.render() {
                    Ok(html) => html_response(html),
                    Err(e) => Problem::internal(format!("cannot render the page: {e}")).into_response(),
                }
            }
        }
    }
}

pub fn html_response(html: String) -> Response {
    let mut resp = html.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

pub fn csv_response(file: &str, body: impl Into<axum::body::Body>) -> Response {
    let mut resp = body.into().into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let disposition =
        format!("attachment; filename=\"{}.csv\"", file.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("ASCII"));
    resp
}

/// One CSV record (RFC 4180 quoting), ending in CRLF. A leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> String {
    let mut line = String::new();
    push_csv_line(&mut line, fields);
    line
}

/// [`csv_line`] appended to `out`, without a string of its own per field.
pub fn push_csv_line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let defuse = f.starts_with(['=', '+', '-', '@']);
        // Bytes, not chars: every one that matters is ASCII.
        let quote = f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
        if quote {
            out.push('"');
        }
        if defuse {
            out.push('\'');
        }
        if quote {
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

/// `stream` driven by a task of its own, up to `depth` items ahead of the
/// reader: an export reads and formats its next batches while the
/// connection sends the last (instead of each waiting for the other). The
/// task ends when the reader is dropped.
pub fn read_ahead<T: Send + 'static>(
    stream: impl futures_util::Stream<Item = T> + Send + 'static,
    depth: usize,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(depth);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    received(rx)
}

/// What a task sends on `rx`, as a stream (a response body's).
pub fn received<T: Send + 'static>(rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// A time as clerks read it: Taipei local, to the minute.
pub fn local_time(t: DateTime<Utc>) -> String {
    crate::domain::calendar::local_minute(t)
}

pub fn local_time_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(local_time).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_line(["a", "b,c", "say \"hi\""].into_iter()), "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(csv_line(["a\nb", "c\rd", "中文"].into_iter()), "\"a\nb\",\"c\rd\",中文\r\n");
        assert_eq!(csv_line(["=HYPERLINK(\"x\")", "-1"].into_iter()), "\"'=HYPERLINK(\"\"x\"\")\",'-1\r\n");
    }
}
