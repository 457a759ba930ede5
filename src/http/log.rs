//! `GET /api/v1/log`: the exchange log (DESIGN §9), to query, export as CSV
//! or print (§8: 查詢及列印). Who sees what is `service::log`'s rule.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::NaiveDate;
use futures_util::StreamExt;

use super::AppState;
use super::extract::{Limit, PageOf, Query, numeric_cursor};
use super::problem::ApiResult;
use super::report::{Format, Table, csv_line, csv_response, local_time, push_csv_line, read_ahead};
use crate::domain::log::LogEntry;
use crate::domain::period::{Period, period};
use crate::service::caller::Caller;
use crate::service::log;
use crate::store::LogFilter;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/log", get(list))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// First day of the period (Taipei date, inclusive). Default: 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day of the period (inclusive). Default: today.
    pub to: Option<NaiveDate>,
    /// Only entries about this participant (ignored for a participant's own view).
    pub participant: Option<String>,
    /// Only these actions, comma-separated, e.g. `auth.refused,tls.refused`.
    pub action: Option<String>,
    /// Only entries about this document id.
    pub document: Option<String>,
    /// `json` (default, paginated), `csv` (the whole period) or `html` (printable).
    pub format: Option<Format>,
    /// At most this many items (1–1000, default 100).
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page (a sequence number).
    #[param(schema_with = super::extract::numeric_cursor_schema)]
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/log", tag = "log", params(LogParams),
    responses((status = 200, body = PageOf<LogEntry>, description = "JSON, or CSV or a printable page with `format`",
        content((PageOf<LogEntry> = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 422, description = "problem: invalid-field")))]
async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<LogParams>,
) -> ApiResult<Response> {
    let filter = log::filter(&caller, q.participant.as_deref(), q.action.as_deref(), q.document.as_deref())?;
    let title = match &filter.participant {
        Some(p) => format!("交換紀錄（{p}）"),
        None => "交換紀錄（全部）".to_owned(),
    };
    respond(&app, &q, filter, &title, "exchange-log").await
}

/// The log entries of `filter` over the period of `q`, in `q`'s format.
/// Shared by the log and the security audit view.
pub async fn respond(
    app: &AppState,
    q: &LogParams,
    mut filter: LogFilter,
    title: &str,
    file: &str,
) -> ApiResult<Response> {
    let p = period(q.from, q.to, app.now())?;
    (filter.from, filter.to) = (Some(p.start), Some(p.end));
    match q.format.unwrap_or_default() {
        Format::Json => {
            filter.after_seq = numeric_cursor(q.cursor.as_deref())?;
            filter.limit = Limit::or(q.limit, 100);
            let items = log::entries(app, &filter).await?;
            Ok(Json(PageOf::new(items, filter.limit, |e| e.seq.to_string())).into_response())
        }
        Format::Csv => Ok(csv_response(&format!("{file}-{}", p.label().replace(" 至 ", "_")), csv_stream(app, filter))),
        Format::Html => Ok(printable(app, filter, &p, title, file).await?.respond(Format::Html)),
    }
}

/// The entries of `filter` within `period` as a table to print, the first
/// [`PRINT_MAX`] of them (the table says so when there were more).
pub async fn printable(
    app: &AppState,
    mut filter: LogFilter,
    period: &Period,
    title: &str,
    file: &str,
) -> ApiResult<Table> {
    let (entries, note) = printed_entries(app, &mut filter, period).await?;
    Ok(Table {
        title: title.to_owned(),
        subtitle: format!("期間 {}", period.label()),
        columns: COLUMNS.to_vec(),
        rows: entries.iter().map(row).collect(),
        note,
        file: file.to_owned(),
    })
}

const PRINT_MAX: i64 = 2000;

/// The entries of `filter` in `period` a printed page holds (up to
/// [`PRINT_MAX`]), and the note saying so when there were more.
async fn printed_entries(
    app: &AppState,
    filter: &mut LogFilter,
    period: &Period,
) -> ApiResult<(Vec<LogEntry>, Option<String>)> {
    (filter.from, filter.to, filter.limit) = (Some(period.start), Some(period.end), PRINT_MAX + 1);
    let mut entries = log::entries(app, filter).await?;
    let cut = entries.len() as i64 > PRINT_MAX;
    entries.truncate(PRINT_MAX as usize);
    Ok((entries, cut.then(|| format!("僅列出前 {PRINT_MAX} 筆；請縮短期間或下載 CSV。"))))
}

/// The entries of `filter` in `period` as a table people read (政風處's
/// security view): when, what in words, who (by name), from where, with
/// which card (its fingerprint shortened), and what happened.
pub async fn readable(app: &AppState, mut filter: LogFilter, period: &Period, title: &str) -> ApiResult<Table> {
    let (entries, note) = printed_entries(app, &mut filter, period).await?;
    let mut codes: Vec<String> = Vec::new();
    for e in &entries {
        codes.extend(e.participant.iter().chain(&e.counterpart).cloned());
    }
    codes.sort_unstable();
    codes.dedup();
    let mut names = std::collections::HashMap::new();
    for code in codes {
        let name = crate::service::participants::existing(app, &code).await.map(|p| p.name).unwrap_or_default();
        names.insert(code, name);
    }
    let who = |c: &Option<String>| match c {
        Some(c) if !names.get(c).is_none_or(String::is_empty) => format!("{}（{c}）", names[c]),
        Some(c) => c.clone(),
        None => String::new(),
    };
    let rows = entries
        .iter()
        .map(|e| {
            let card = e.credential.as_deref().map(|f| format!("{}…", &f[..f.len().min(16)])).unwrap_or_default();
            vec![
                local_time(e.at),
                e.action.zh().to_owned(),
                who(&e.participant),
                who(&e.counterpart),
                e.source_ip.clone().unwrap_or_default(),
                card,
                e.detail.clone(),
            ]
        })
        .collect();
    Ok(Table {
        title: title.to_owned(),
        subtitle: format!("期間 {}", period.label()),
        columns: vec!["時間（臺北時間）", "事件", "機關", "對象", "來源 IP", "憑證", "說明"],
        rows,
        note,
        file: "security-log".to_owned(),
    })
}

/// Every field of an entry; the action in words and as its stable code
/// (what filters and audits name).
const COLUMNS: [&str; 12] =
    ["序號", "時間（臺北）", "動作", "動作代碼", "機關", "對象", "公文", "來源 IP", "憑證", "錯誤類型", "說明", "雜湊"];

fn row(e: &LogEntry) -> Vec<String> {
    let (seq, at) = (e.seq.to_string(), local_time(e.at));
    fields(e, &seq, &at).map(str::to_owned).to_vec()
}

/// The cells of [`COLUMNS`], `seq` and `at` written out by the caller.
fn fields<'a>(e: &'a LogEntry, seq: &'a str, at: &'a str) -> [&'a str; 12] {
    let o = |f: &'a Option<String>| f.as_deref().unwrap_or_default();
    [
        seq,
        at,
        e.action.zh(),
        e.action.as_str(),
        o(&e.participant),
        o(&e.counterpart),
        o(&e.document),
        o(&e.source_ip),
        o(&e.credential),
        o(&e.problem),
        &e.detail,
        &e.hash,
    ]
}

/// The whole selection as CSV, read, formatted and sent a batch at a time,
/// the next two batches read while one is sent.
fn csv_stream(app: &AppState, filter: LogFilter) -> Body {
    let header = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(format!("\u{feff}{}", csv_line(COLUMNS.into_iter())))
    });
    let rows = log::batches(app, filter).map(|batch| {
        batch
            .map(|b| {
                let mut out = String::with_capacity(b.len() * 200);
                for e in &b {
                    let (seq, at) = (e.seq.to_string(), local_time(e.at));
                    push_csv_line(&mut out, fields(e, &seq, &at).into_iter());
                }
                out
            })
            .map_err(std::io::Error::other)
    });
    Body::from_stream(header.chain(read_ahead(rows, 2)))
}
