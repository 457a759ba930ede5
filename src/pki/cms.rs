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

/// [`sign_detached`] with the digest `md` (`openssl cms -sign -md …`): for
/// tests of the refusal of weak digests.
pub fn sign_detached_with(
    data: &[u8],
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    md: openssl::hash::MessageDigest,
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    use foreign_types::{ForeignType, ForeignTypeRef};
    let flags = (CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::PARTIAL).bits();
    // SAFETY: the CMS structure is created, given a signer and finalised
    // here, then owned by `CmsContentInfo`; the certificate, key and digest
    // are borrowed (CMS_add1_signer takes its own references).
    unsafe {
        let cms = openssl_sys::CMS_sign(
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            flags,
        );
        if cms.is_null() {
            return Err(openssl::error::ErrorStack::get());
        }
        let cms = CmsContentInfo::from_ptr(cms);
        if CMS_add1_signer(cms.as_ptr(), cert.as_ptr(), key.as_ptr(), md.as_ptr(), flags).is_null() {
            return Err(openssl::error::ErrorStack::get());
        }
        let bio = openssl_sys::BIO_new_mem_buf(data.as_ptr().cast(), data.len() as std::ffi::c_int);
        let done = CMS_final(cms.as_ptr(), bio, std::ptr::null_mut(), flags);
        openssl_sys::BIO_free_all(bio);
        if done != 1 {
            return Err(openssl::error::ErrorStack::get());
        }
        cms.to_der()
    }
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
    /// It verifies, but with a digest or certificate the policy refuses.
    #[error("the signature is too weak: {0}")]
    Weak(String),
}

fn openssl_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors().iter().map(|e| e.reason().unwrap_or("unknown").to_owned()).collect::<Vec<_>>().join("; ")
}

unsafe extern "C" {
    // Not bound by openssl-sys. Valid after CMS_verify; the stack is the
    // caller's, the certificates inside are not (take a reference to keep one).
    fn CMS_get0_signers(cms: *mut openssl_sys::CMS_ContentInfo) -> *mut openssl_sys::stack_st_X509;
    fn CMS_add1_signer(
        cms: *mut openssl_sys::CMS_ContentInfo,
        signer: *mut openssl_sys::X509,
        pk: *mut openssl_sys::EVP_PKEY,
        md: *const openssl_sys::EVP_MD,
        flags: std::ffi::c_uint,
    ) -> *mut std::ffi::c_void;
    fn CMS_final(
        cms: *mut openssl_sys::CMS_ContentInfo,
        data: *mut openssl_sys::BIO,
        dcont: *mut openssl_sys::BIO,
        flags: std::ffi::c_uint,
    ) -> std::ffi::c_int;
    // The SignerInfos, owned by `cms`; and one's algorithms, owned by it.
    fn CMS_get0_SignerInfos(cms: *mut openssl_sys::CMS_ContentInfo) -> *mut openssl_sys::OPENSSL_STACK;
    fn CMS_SignerInfo_get0_algs(
        si: *mut std::ffi::c_void,
        pk: *mut *mut openssl_sys::EVP_PKEY,
        signer: *mut *mut openssl_sys::X509,
        pdig: *mut *mut openssl_sys::X509_ALGOR,
        psig: *mut *mut openssl_sys::X509_ALGOR,
    );
}

/// The digest algorithms of a CMS structure's signers.
fn signer_digests(cms: &CmsContentInfo) -> Vec<openssl::nid::Nid> {
    use foreign_types::ForeignType;
    // SAFETY: the stack and the algorithms are owned by `cms`, which outlives
    // this call; nothing is freed or kept.
    unsafe {
        let infos = CMS_get0_SignerInfos(cms.as_ptr());
        if infos.is_null() {
            return Vec::new();
        }
        (0..openssl_sys::OPENSSL_sk_num(infos))
            .filter_map(|i| {
                let si = openssl_sys::OPENSSL_sk_value(infos, i);
                let mut dig: *mut openssl_sys::X509_ALGOR = std::ptr::null_mut();
                let none = std::ptr::null_mut();
                CMS_SignerInfo_get0_algs(si, none, std::ptr::null_mut(), &mut dig, std::ptr::null_mut());
                if dig.is_null() {
                    return None;
                }
                let mut obj: *const openssl_sys::ASN1_OBJECT = std::ptr::null();
                openssl_sys::X509_ALGOR_get0(&mut obj, std::ptr::null_mut(), std::ptr::null_mut(), dig);
                (!obj.is_null()).then(|| openssl::nid::Nid::from_raw(openssl_sys::OBJ_obj2nid(obj)))
            })
            .collect()
    }
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
    for nid in signer_digests(&cms) {
        super::policy::digest(nid).map_err(|w| SignatureError::Weak(w.0))?;
    }
    super::policy::certificate(&signer, super::policy::Use::Signer).map_err(|w| SignatureError::Weak(w.0))?;
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
