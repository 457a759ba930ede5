//! `deadlines/sender` (the paper resend list, §12-2) and
//! `deadlines/receiver` (the overdue list, §13-2), each for the caller's
//! own participant: JSON pages, CSV, or a printable page.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::AppState;
use super::extract::{Limit, PageOf, Query};
use super::problem::ApiResult;
use super::report::{Format, Table, local_time, local_time_opt};
use crate::service::caller::Caller;
use crate::service::deadlines;
use crate::service::documents::lifecycle::DeliveryView;
use crate::store::DeliveryRecord;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/deadlines/sender", get(sender)).route("/api/v1/deadlines/receiver", get(receiver))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `json` (default, paginated), `csv` or `html` (printable; the whole list).
    pub format: Option<Format>,
    /// At most this many items (1–1000, default 100).
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page (a delivery id).
    pub cursor: Option<String>,
}

/// A printout holds the whole list, up to this many rows.
const PRINT_MAX: i64 = 5000;

/// Which of the two lists.
#[derive(Clone, Copy)]
pub(super) enum Listing {
    /// 受文者未確認及被退文清單: deliveries to resend on paper.
    PaperResend,
    /// 逾期未處理公文清單: deliveries past the receiver's check deadline.
    Overdue,
}

impl Listing {
    /// `sender` or `receiver`, as in the paths.
    pub(super) fn from_name(name: &str) -> Option<Listing> {
        match name {
            "sender" => Some(Listing::PaperResend),
            "receiver" => Some(Listing::Overdue),
            _ => None,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Listing::PaperResend => "受文者未確認及被退文清單（應補發紙本）",
            Listing::Overdue => "逾期未處理公文清單",
        }
    }

    fn columns(self) -> Vec<&'static str> {
        match self {
            Listing::PaperResend => {
                vec![
                    "發文字號",
                    "主旨",
                    "受文者",
                    "正副本",
                    "狀態",
                    "送達時間（臺北）",
                    "檢核期限（臺北）",
                    "退文理由",
                    "交付編號",
                ]
            }
            Listing::Overdue => vec![
                "發文字號",
                "主旨",
                "發文者",
                "速別",
                "狀態",
                "送達時間（臺北）",
                "收文檢核期限（臺北）",
                "立即確認期限（臺北）",
                "交付編號",
            ],
        }
    }

    fn row(self, d: DeliveryRecord) -> Vec<String> {
        let state = d.state.zh().to_owned();
        let delivered = local_time(d.delivered_at);
        match self {
            Listing::PaperResend => vec![
                d.document_number,
                d.subject,
                d.recipient_code,
                d.kind.zh().to_owned(),
                state,
                delivered,
                local_time_opt(d.sender_deadline),
                d.return_reason.unwrap_or_default(),
                d.id,
            ],
            Listing::Overdue => vec![
                d.document_number,
                d.subject,
                d.sender_code,
                d.speed.as_str().to_owned(),
                state,
                delivered,
                local_time_opt(d.receiver_deadline),
                local_time_opt(d.immediate_deadline),
                d.id,
            ],
        }
    }

    async fn fetch(
        self,
        app: &AppState,
        caller: &Caller,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, crate::service::error::ServiceError> {
        match self {
            Listing::PaperResend => deadlines::paper_resend_list(app, caller, after, limit).await,
            Listing::Overdue => deadlines::overdue_list(app, caller, after, limit).await,
        }
    }

    /// The whole list (up to [`PRINT_MAX`] rows) as a table to print or
    /// export, with the (delivery id, document id) of each row.
    pub(super) async fn printable(
        self,
        app: &AppState,
        caller: &Caller,
    ) -> Result<(Table, Vec<(String, String)>), crate::service::error::ServiceError> {
        let mut records = self.fetch(app, caller, None, PRINT_MAX + 1).await?;
        let cut = records.len() as i64 > PRINT_MAX;
        records.truncate(PRINT_MAX as usize);
        let ids = records.iter().map(|d| (d.id.clone(), d.document_id.clone())).collect();
        let (code, name) = (caller.participant.code.to_string(), &caller.participant.name);
        let table = Table {
            title: self.title().into(),
            subtitle: format!("{name}（{code}）"),
            columns: self.columns(),
            rows: records.into_iter().map(|d| self.row(d)).collect(),
            note: cut.then(|| format!("僅列出前 {PRINT_MAX} 筆；請以 JSON 分頁查詢其餘資料。")),
            file: match self {
                Listing::PaperResend => format!("paper-resend-{code}"),
                Listing::Overdue => format!("overdue-{code}"),
            },
        };
        Ok((table, ids))
    }
}

/// One JSON page of the list, or the whole list as CSV or a printable page.
async fn respond(app: AppState, caller: Caller, q: ListParams, listing: Listing) -> ApiResult<Response> {
    let format = q.format.unwrap_or_default();
    if format == Format::Json {
        let limit = Limit::or(q.limit, 100);
        let items = listing.fetch(&app, &caller, q.cursor.as_deref(), limit).await?;
        let items: Vec<DeliveryView> = items.into_iter().map(DeliveryView::from).collect();
        return Ok(Json(PageOf::new(items, limit, |d| d.id.clone())).into_response());
    }
    Ok(listing.printable(&app, &caller).await?.0.respond(format))
}

/// 受文者未確認清單及被退文清單: deliveries to resend on paper.
#[utoipa::path(get, path = "/api/v1/deadlines/sender", tag = "deadlines", params(ListParams),
    responses((status = 200, body = PageOf<DeliveryView>, description = "JSON, or CSV or a printable page with `format`",
        content((PageOf<DeliveryView> = "application/json"), (String = "text/csv"), (String = "text/html")))))]
pub(super) async fn sender(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListParams>,
) -> ApiResult<Response> {
    respond(app, caller, q, Listing::PaperResend).await
}

/// 逾期未處理清單: deliveries past the receiver's check deadline.
#[utoipa::path(get, path = "/api/v1/deadlines/receiver", tag = "deadlines", params(ListParams),
    responses((status = 200, body = PageOf<DeliveryView>, description = "JSON, or CSV or a printable page with `format`",
        content((PageOf<DeliveryView> = "application/json"), (String = "text/csv"), (String = "text/html")))))]
pub(super) async fn receiver(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListParams>,
) -> ApiResult<Response> {
    respond(app, caller, q, Listing::Overdue).await
}
