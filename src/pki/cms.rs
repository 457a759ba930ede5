//! CMS (PKCS#7) signatures: the sender's detached signature over the
//! envelope, and the hub's signed receipt. Both sides use BINARY so the
//! exact bytes are signed, never a canonicalised text.

use openssl::cms::{CMSOptions, CmsContentInfo};
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

unsafe extern "C" {
    // Not bound by openssl-sys. Valid after CMS_verify; the stack is the
    // caller's, the certificates inside are not (take a reference to keep one).
    fn CMS_get0_signers(cms: *mut openssl_sys::CMS_ContentInfo) -> *mut openssl_sys::stack_st_X509;
}

/// Verifies a detached signature over `data` and the signer's certificate
/// against the trust store (chain, validity, CRLs); returns the signer.
///
/// The signature itself is checked every time. The certificate chain is
/// checked once per certificate and trust-store load (a chain with CRLs
/// costs more than the signature); later uses re-check only the validity
/// period and the revocation list.
pub fn verify_detached(signature: &[u8], data: &[u8], trust: &TrustMaterial) -> Result<X509, SignatureError> {
    let mut cms = CmsContentInfo::from_der(signature).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    cms.verify(None, None, Some(data), None, CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY)
        .map_err(|e| SignatureError::Invalid(openssl_reason(&e)))?;
    let signer = only_signer(&cms)?;
    trust.check_signer(&signer).map_err(SignatureError::Invalid)?;
    Ok(signer)
}

/// The single signer of a verified CMS structure.
fn only_signer(cms: &CmsContentInfo) -> Result<X509, SignatureError> {
    use foreign_types::{ForeignType, ForeignTypeRef};
    // SAFETY: `cms` was verified, so its signer certificates are set; the
    // returned stack is ours to free, its certificates are borrowed and
    // up-referenced by `to_owned` before the stack goes.
    unsafe {
        let stack = CMS_get0_signers(cms.as_ptr());
        if stack.is_null() {
            return Err(SignatureError::Malformed("no signer certificate".into()));
        }
        let stack = openssl::stack::StackRef::<X509>::from_ptr(stack);
        let signer = match (stack.iter().next(), stack.len()) {
            (Some(c), 1) => Ok(c.to_owned()),
            (None, _) => Err(SignatureError::Malformed("no signer certificate".into())),
            _ => Err(SignatureError::Malformed("more than one signer".into())),
        };
        openssl_sys::OPENSSL_sk_free(stack.as_ptr() as *mut openssl_sys::OPENSSL_STACK);
        signer
    }
}

/// Verifies an attached CMS SignedData against `trust` and returns its content
/// and signer.
pub fn verify_attached(der: &[u8], trust: &TrustMaterial) -> Result<(Vec<u8>, X509), SignatureError> {
    let mut cms = CmsContentInfo::from_der(der).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    let mut content = Vec::new();
    cms.verify(None, Some(trust.signature_store()), None, Some(&mut content), CMSOptions::BINARY)
        .map_err(|e| SignatureError::Invalid(openssl_reason(&e)))?;
    Ok((content, only_signer(&cms)?))
}
