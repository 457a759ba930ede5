//! Documents: receiving a signed package, checking it in the order of
//! DESIGN §3.4, routing it, and the delivery lifecycle of §4.

pub mod intake;
pub mod lifecycle;
pub mod receipt;
pub mod submit;

/// Refuses (`Forbidden`, naming the role) unless the caller's credential
/// carries `role`.
pub fn need(caller: &crate::auth::Caller, role: crate::domain::Role) -> Result<(), Refused> {
    caller.require(role).map_err(|r| Refused::Forbidden(r.detail))
}

/// Why a package or an action on a delivery was refused. Each variant has
/// its own stable problem type (see `http::problem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
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
    /// The delivery or document is not the caller's (or does not exist).
    #[error("{0}")]
    NotFound(String),
    /// The delivery's state does not allow the action.
    #[error("{0}")]
    WrongState(String),
    #[error("{0}")]
    InvalidField(String),
    /// The credential lacks the role for the action.
    #[error("{0}")]
    Forbidden(String),
    /// A send group that does not exist or is not the sender's to use.
    #[error("{0}")]
    GroupNotUsable(String),
    #[error("{0}")]
    GroupCycle(String),
    #[error("{0}")]
    TermsNotAccepted(String),
    #[error("{0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for Refused {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "storage error during a document operation");
        Refused::Internal("the database could not complete the request".into())
    }
}

impl From<crate::domain::Invalid> for Refused {
    fn from(e: crate::domain::Invalid) -> Self {
        Refused::InvalidField(e.to_string())
    }
}

impl From<std::io::Error> for Refused {
    fn from(e: std::io::Error) -> Self {
        tracing::error!(error = %e, "blob storage error");
        Refused::Internal("the document store could not complete the request".into())
    }
}
