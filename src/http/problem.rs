//! RFC 9457 problem details: the one place where errors become responses.
//!
//! Every refusal the hub gives is a [`Problem`] with a stable type
//! `urn:gwx:error:<name>`, a zh-TW title and a detail. The response carries a
//! [`ProblemRecord`] extension that the logging middleware writes to the
//! exchange log, so no refusal goes unrecorded.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::auth::{Refusal, RefusalKind};
use crate::domain::Invalid;
use crate::store::StoreError;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// The stable part of the type: `urn:gwx:error:{name}`.
    pub name: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub participant: Option<String>,
    pub credential: Option<String>,
    /// An authentication or authorisation refusal (logged as `auth.refused`).
    pub auth: bool,
}

/// What the logging middleware needs of a problem response.
#[derive(Debug, Clone)]
pub struct ProblemRecord {
    pub type_uri: String,
    pub detail: String,
    pub participant: Option<String>,
    pub credential: Option<String>,
    pub auth: bool,
    pub server_error: bool,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// `urn:gwx:error:<name>`, stable.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, name: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { status, name, title, detail: detail.into(), participant: None, credential: None, auth: false }
    }

    pub fn type_uri(&self) -> String {
        format!("urn:gwx:error:{}", self.name)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "查無資料", detail)
    }

    pub fn invalid_request(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem::new(status, "invalid-request", "請求格式錯誤", detail)
    }

    pub fn invalid_field(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-field", "欄位內容不正確", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, "conflict", "資料衝突", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "系統錯誤", detail)
    }

    pub fn method_not_allowed() -> Self {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "不支援此方法",
            "this path does not accept that method",
        )
    }
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Self {
        use RefusalKind::*;
        let (status, name, title) = match r.kind {
            CertificateRequired => (StatusCode::UNAUTHORIZED, "certificate-required", "需要用戶端憑證"),
            CertificateRevoked => (StatusCode::UNAUTHORIZED, "certificate-revoked", "憑證已廢止"),
            CertificateExpired => (StatusCode::UNAUTHORIZED, "certificate-expired", "憑證不在有效期間"),
            UnknownCertificate => (StatusCode::FORBIDDEN, "unknown-certificate", "憑證未註冊"),
            IpNotAllowed => (StatusCode::FORBIDDEN, "ip-not-allowed", "來源 IP 不在固定 IP 清單"),
            CredentialDisabled => (StatusCode::FORBIDDEN, "credential-disabled", "憑證已停用"),
            ParticipantSuspended => (StatusCode::FORBIDDEN, "participant-suspended", "機關或連線用戶已停止使用"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "權限不足"),
        };
        Problem {
            status,
            name,
            title,
            detail: r.detail,
            participant: r.participant,
            credential: r.credential,
            auth: true,
        }
    }
}

impl From<Invalid> for Problem {
    fn from(e: Invalid) -> Self {
        Problem::invalid_field(e.to_string())
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Problem::not_found("no such record"),
            StoreError::Conflict(what) => Problem::conflict(what),
            other => {
                tracing::error!(error = %other, "storage error");
                Problem::internal("the database could not complete the request")
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let record = ProblemRecord {
            type_uri: self.type_uri(),
            detail: self.detail.clone(),
            participant: self.participant,
            credential: self.credential,
            auth: self.auth,
            server_error: self.status.is_server_error(),
        };
        let body = ProblemBody {
            type_: record.type_uri.clone(),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        resp.extensions_mut().insert(record);
        resp
    }
}

pub type ApiResult<T> = Result<T, Problem>;
