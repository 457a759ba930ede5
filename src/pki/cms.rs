//! CMS (PKCS#7) signatures: the sender's detached signature over the
//! envelope, and the hub's signed receipt. Both sides use BINARY so the
//! exact bytes are signed, never a canonicalised text.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509, X509Ref};

use super::trust::TrustMaterial;

/// A detached CMS signature (DER) over `data`, as
/// `openssl cms -sign -binary -outform DER` makes it; the signer's
/// certificate is included.
pub fn sign_detached(
    data: &[u8],
    cert: &X509Ref,
    key: &PKeyRef<Private>,
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let cms = CmsContentInfo::sign(Some(cert), Some(key), None, Some(data), CMSOptions::DETACHED | CMSOptions::BINARY)?;
    cms.to_der()
}

/// A CMS SignedData (DER) that carries `content`, signed by `cert` with
/// `chain` included so a verifier needs only the root.
pub fn sign_attached(
    content: &[u8],
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    chain: &[X509],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut extra = Stack::new()?;
    for c in chain {
        extra.push(c.clone())?;
    }
    let cms = CmsContentInfo::sign(Some(cert), Some(key), Some(&extra), Some(content), CMSOptions::BINARY)?;
    cms.to_der()
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not a CMS/PKCS#7 structure in DER: {0}")]
    Malformed(String),
    #[error("the signature does not verify: {0}")]
    Invalid(String),
}

fn openssl_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors().iter().map(|e| e.reason().unwrap_or("unknown").to_owned()).collect::<Vec<_>>().join("; ")
}

/// Verifies a detached signature over `data` against the trust store (chain,
/// validity, CRLs) and returns the signer's certificate.
pub fn verify_detached(signature: &[u8], data: &[u8], trust: &TrustMaterial) -> Result<X509, SignatureError> {
    let mut cms = CmsContentInfo::from_der(signature).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    let store = trust.x509_store_any_purpose().map_err(|e| SignatureError::Invalid(e.to_string()))?;
    cms.verify(None, Some(&store), Some(data), None, CMSOptions::BINARY)
        .map_err(|e| SignatureError::Invalid(openssl_reason(&e)))?;
    signer(signature)
}

/// The signer certificate of a CMS SignedData (issuer-and-serial signer id).
pub fn signer(signature: &[u8]) -> Result<X509, SignatureError> {
    let p7 = Pkcs7::from_der(signature).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    let empty = Stack::new().map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let signers = p7.signers(&empty, Pkcs7Flags::empty()).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    let mut it = signers.iter();
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c.to_owned()),
        (None, _) => Err(SignatureError::Malformed("no signer certificate".into())),
        (Some(_), Some(_)) => Err(SignatureError::Malformed("more than one signer".into())),
    }
}

/// Verifies an attached CMS SignedData against `trust` and returns its content
/// and signer.
pub fn verify_attached(der: &[u8], trust: &TrustMaterial) -> Result<(Vec<u8>, X509), SignatureError> {
    let mut cms = CmsContentInfo::from_der(der).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    let store = trust.x509_store_any_purpose().map_err(|e| SignatureError::Invalid(e.to_string()))?;
    let mut content = Vec::new();
    cms.verify(None, Some(&store), None, Some(&mut content), CMSOptions::BINARY)
        .map_err(|e| SignatureError::Invalid(openssl_reason(&e)))?;
    Ok((content, signer(der)?))
}
