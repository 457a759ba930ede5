//! The exchanged formats: the envelope, the 公文 DI document and its SW
//! recipient list, attachments, and the package that carries them.

pub mod address_book;
pub mod attachment;
pub mod document;
pub mod dtd;
pub mod encoding;
pub mod envelope;
pub mod fuzz;
pub mod multipart;
pub mod reading;
pub mod roster;
pub mod xml;

/// Why a format was refused; each maps to a problem type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// ServiceError for safety: entities, DTD declarations (`unsafe-xml`).
    #[error("{0}")]
    Unsafe(String),
    /// A file name with a path or control characters (`unsafe-file-name`).
    #[error("{0}")]
    UnsafeName(String),
    /// Not valid against the format's rules.
    #[error("{0}")]
    Invalid(String),
}

impl FormatError {
    pub fn from_xml(e: xml::XmlError) -> Self {
        match e {
            xml::XmlError::Unsafe(m) => FormatError::Unsafe(m),
            xml::XmlError::Malformed(m) => FormatError::Invalid(format!("not well-formed XML: {m}")),
        }
    }
}
