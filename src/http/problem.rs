//! RFC 9457 problem details: the one place where errors become responses.
//!
//! Every refusal the hub gives is a [`Problem`] with a stable type
//! `urn:gwx:error:<name>`, a zh-TW title and a detail. The response carries a
//! [`ProblemRecord`] extension that the logging middleware writes to the
//! exchange log, so no refusal goes unrecorded.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::domain::Invalid;
use crate::service::error::ServiceError;
use crate::service::error::{Refusal, RefusalKind};
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
    /// Extension members of the problem body (RFC 9457 §3.2).
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
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
    /// Extension members, e.g. `recipients` naming the unreachable ones.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, name: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            name,
            title,
            detail: detail.into(),
            participant: None,
            credential: None,
            auth: false,
            extensions: serde_json::Map::new(),
            retry_after: None,
        }
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

    /// The request did not arrive in time (a stalled or too slow upload).
    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", "請求逾時", detail)
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

impl Problem {
    fn refusal(r: Refusal) -> Self {
        use RefusalKind::*;
        let (status, name, title) = match r.kind {
            CertificateRequired => (StatusCode::UNAUTHORIZED, "certificate-required", "需要用戶端憑證"),
            CertificateRevoked => (StatusCode::UNAUTHORIZED, "certificate-revoked", "憑證已廢止"),
            RevocationUnknown => {
                (StatusCode::UNAUTHORIZED, "revocation-unknown", "憑證廢止清冊已過期，無法確認憑證狀態")
            }
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
            extensions: serde_json::Map::new(),
            retry_after: None,
        }
    }
}

/// The one mapping of service errors to problems: status, stable type, title.
impl From<ServiceError> for Problem {
    fn from(r: ServiceError) -> Self {
        use ServiceError::*;
        use StatusCode as S;
        let detail = r.to_string();
        let (status, name, title) = match &r {
            Auth(_) => {
                let Auth(refusal) = r else { unreachable!() };
                return Problem::refusal(refusal);
            }
            Forbidden(_) => (S::FORBIDDEN, "forbidden", "權限不足"),
            NotRegistered(_) => (S::FORBIDDEN, "unknown-certificate", "憑證未註冊"),
            IpBlocked(_) => (S::FORBIDDEN, "ip-blocked", "來源 IP 已被封鎖"),
            RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate-limited", "請求過於頻繁"),
            CannotSend(_) => (S::FORBIDDEN, "sender-cannot-send", "無發文權限"),
            InvalidPackage(_) => (S::BAD_REQUEST, "invalid-package", "公文封裝格式錯誤"),
            TooLarge(_) => (S::PAYLOAD_TOO_LARGE, "package-too-large", "公文或附件超過大小限制"),
            InvalidEnvelope(_) => (S::UNPROCESSABLE_ENTITY, "invalid-envelope", "交換封套格式錯誤"),
            SenderMismatch(_) => (S::UNPROCESSABLE_ENTITY, "sender-mismatch", "發文者與憑證不符"),
            UnsafeXml(_) => (S::UNPROCESSABLE_ENTITY, "unsafe-xml", "XML 含不安全的實體宣告"),
            UnsafeFileName(_) => (S::UNPROCESSABLE_ENTITY, "unsafe-file-name", "檔名不合規定"),
            BadSignature(_) => (S::UNPROCESSABLE_ENTITY, "bad-signature", "電子簽章驗證失敗"),
            WeakSignature(_) => (S::UNPROCESSABLE_ENTITY, "weak-signature", "電子簽章強度不足"),
            SignerNotSender(_) => (S::UNPROCESSABLE_ENTITY, "signer-not-sender", "簽章憑證非發文機關所有"),
            MissingFile(_) => (S::UNPROCESSABLE_ENTITY, "missing-file", "缺少封套所列檔案"),
            UnlistedFile(_) => (S::UNPROCESSABLE_ENTITY, "unlisted-file", "檔案未列於封套"),
            FileMismatch(_) => (S::UNPROCESSABLE_ENTITY, "file-mismatch", "檔案內容與封套不符"),
            InvalidDocument(_) => (S::UNPROCESSABLE_ENTITY, "invalid-document", "公文格式錯誤"),
            DocumentMismatch(_) => (S::UNPROCESSABLE_ENTITY, "document-mismatch", "公文與封套內容不一致"),
            Confidential(_) => (S::UNPROCESSABLE_ENTITY, "confidential-not-allowed", "機密性文書不適用電子交換"),
            AttachmentFormat(_) => (S::UNPROCESSABLE_ENTITY, "attachment-format", "附件格式不符規定"),
            UnknownRecipient { .. } => (S::UNPROCESSABLE_ENTITY, "unknown-recipient", "受文者不存在"),
            RecipientUnreachable { .. } => (S::UNPROCESSABLE_ENTITY, "recipient-unreachable", "受文者目前無法收文"),
            RosterMismatch(_) => (S::UNPROCESSABLE_ENTITY, "roster-mismatch", "交換表單與封套受文者不符"),
            DuplicateNumber(_) => (S::CONFLICT, "duplicate-document-number", "發文字號重複"),
            NotFound(_) => (S::NOT_FOUND, "not-found", "查無資料"),
            WrongState(_) => (S::CONFLICT, "invalid-state", "公文狀態不允許此操作"),
            Conflict(_) => (S::CONFLICT, "conflict", "資料衝突"),
            InvalidField(_) => (S::UNPROCESSABLE_ENTITY, "invalid-field", "欄位內容不正確"),
            GroupNotUsable(_) => (S::FORBIDDEN, "group-not-usable", "無法使用此行文群組"),
            GroupCycle(_) => (S::UNPROCESSABLE_ENTITY, "group-cycle", "行文群組循環包含"),
            TermsNotAccepted(_) => (S::UNPROCESSABLE_ENTITY, "terms-not-accepted", "未同意管理規範"),
            UntrustedCertificate(_) => (S::UNPROCESSABLE_ENTITY, "untrusted-certificate", "憑證無法驗證"),
            WeakCertificate(_) => (S::UNPROCESSABLE_ENTITY, "weak-certificate", "憑證強度不足"),
            TrustReloadFailed(_) => (S::UNPROCESSABLE_ENTITY, "trust-reload-failed", "信任憑證重新載入失敗"),
            Unavailable(_) => (S::SERVICE_UNAVAILABLE, "unavailable", "服務暫時無法使用"),
            Damaged(_) => (S::INTERNAL_SERVER_ERROR, "damaged-file", "檔案毀損"),
            StorageFull(_) => (S::INSUFFICIENT_STORAGE, "storage-full", "交換中心儲存空間不足"),
            Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "系統錯誤"),
        };
        let mut p = Problem::new(status, name, title, detail);
        p.auth = matches!(r, Forbidden(_) | IpBlocked(_) | RateLimited { .. });
        match r {
            UnknownRecipient { codes, .. } | RecipientUnreachable { codes, .. } => {
                p.extensions.insert("recipients".into(), codes.into());
            }
            RateLimited { retry_after, .. } => p.retry_after = Some(retry_after.as_secs().max(1)),
            _ => {}
        }
        p
    }
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Self {
        Problem::refusal(r)
    }
}

impl From<Invalid> for Problem {
    fn from(e: Invalid) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
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
            extensions: self.extensions,
        };
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp.extensions_mut().insert(record);
        resp
    }
}

pub type ApiResult<T> = Result<T, Problem>;
