//! Why a service refused: one error type for every action, each variant
//! with its own stable problem type. The HTTP layer maps them to RFC 9457
//! problems in one place (`http::problem`); the command line and the
//! console show the same words.

use std::net::IpAddr;
use std::time::Duration;

use crate::domain::Invalid;
use crate::store::StoreError;

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The certificate, address or participant status did not authenticate (DESIGN §2).
    #[error("{}", .0.detail)]
    Auth(Refusal),
    /// The caller may not do this (not its group, not its delivery).
    #[error("{0}")]
    Forbidden(String),
    /// A trusted certificate the hub does not know asked for what needs a registered one.
    #[error("{0}")]
    NotRegistered(String),
    /// The source address is blocked (§15).
    #[error("{0}")]
    IpBlocked(String),
    /// Over a rate limit; retry after this long.
    #[error("{detail}")]
    RateLimited { detail: String, retry_after: Duration },

    // Submitting a package (DESIGN §3.4), in the order of the checks.
    #[error("{0}")]
    CannotSend(String),
    #[error("{0}")]
    InvalidPackage(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    InvalidEnvelope(String),
    #[error("{0}")]
    SenderMismatch(String),
    #[error("{0}")]
    UnsafeXml(String),
    #[error("{0}")]
    UnsafeFileName(String),
    #[error("{0}")]
    BadSignature(String),
    /// The signature verifies, but its digest or certificate is too weak (`pki::policy`).
    #[error("{0}")]
    WeakSignature(String),
    #[error("{0}")]
    SignerNotSender(String),
    #[error("{0}")]
    MissingFile(String),
    #[error("{0}")]
    UnlistedFile(String),
    #[error("{0}")]
    FileMismatch(String),
    #[error("{0}")]
    InvalidDocument(String),
    #[error("{0}")]
    DocumentMismatch(String),
    #[error("{0}")]
    Confidential(String),
    #[error("{0}")]
    AttachmentFormat(String),
    #[error("{detail}")]
    UnknownRecipient { detail: String, codes: Vec<String> },
    #[error("{detail}")]
    RecipientUnreachable { detail: String, codes: Vec<String> },
    #[error("{0}")]
    RosterMismatch(String),
    #[error("{0}")]
    DuplicateNumber(String),

    /// The thing does not exist, or is not the caller's to see.
    #[error("{0}")]
    NotFound(String),
    /// The state of a delivery, group or application does not allow the action.
    #[error("{0}")]
    WrongState(String),
    /// A record with the same key exists, or the change contradicts one.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidField(String),
    /// A send group that does not exist or is not the sender's to use.
    #[error("{0}")]
    GroupNotUsable(String),
    #[error("{0}")]
    GroupCycle(String),
    #[error("{0}")]
    TermsNotAccepted(String),
    /// A certificate to register does not verify against the trust store.
    #[error("{0}")]
    UntrustedCertificate(String),
    /// A certificate to register is one the hub's policy (and TLS) refuses.
    #[error("{0}")]
    WeakCertificate(String),
    /// The trust store could not be read again; the previous one stays.
    #[error("{0}")]
    TrustReloadFailed(String),
    /// The database or the document store does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// Stored bytes no longer match their SHA-256: not served.
    #[error("{0}")]
    Damaged(String),
    /// The disk (or the database's) is full: nothing of the request was kept.
    #[error("{0}")]
    StorageFull(String),
    #[error("{0}")]
    Internal(String),
}

/// Why authentication refused a request. Each kind has a stable problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    CertificateRequired,
    CertificateRevoked,
    /// A CRL on the certificate's chain is past its nextUpdate (fail closed).
    RevocationUnknown,
    CertificateExpired,
    UnknownCertificate,
    IpNotAllowed,
    CredentialDisabled,
    ParticipantSuspended,
    /// The credential lacks the role for the action.
    Forbidden,
}

/// An authentication refusal, with what the exchange log records of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub detail: String,
    pub participant: Option<String>,
    pub credential: Option<String>,
    pub source_ip: IpAddr,
}

impl From<Refusal> for ServiceError {
    fn from(r: Refusal) -> Self {
        ServiceError::Auth(r)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("no such record".into()),
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            e if e.is_storage_full() => storage_full(&e, "the database's storage is full"),
            other => {
                tracing::error!(error = %other, "storage error");
                ServiceError::Internal("the database could not complete the request".into())
            }
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::InvalidField(e.to_string())
    }
}

/// What a client is told when the hub's storage is full.
pub const STORAGE_FULL: &str =
    "the hub's storage is full; nothing of this request was kept: send it again later (the IT bureau is alerted)";

/// What a client is told when the document store (an object store) does
/// not answer.
pub const STORE_UNAVAILABLE: &str =
    "the hub's document store is not answering; nothing of this request was kept: send it again later";

/// A full disk, the database's or the document store's: logged, counted in
/// `gwx_storage_full_total`, and told the client as [`STORAGE_FULL`].
fn storage_full(e: &dyn std::fmt::Display, what: &str) -> ServiceError {
    tracing::error!(error = %e, "{what}");
    metrics::counter!("gwx_storage_full_total").increment(1);
    ServiceError::StorageFull(STORAGE_FULL.into())
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        if matches!(e.kind(), K::StorageFull | K::QuotaExceeded) {
            return storage_full(&e, "the document store is full");
        }
        tracing::error!(error = %e, "blob storage error");
        if matches!(e.kind(), K::NotConnected | K::TimedOut | K::ConnectionRefused | K::ConnectionReset) {
            return ServiceError::Unavailable(STORE_UNAVAILABLE.into());
        }
        ServiceError::Internal("the document store could not complete the request".into())
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
