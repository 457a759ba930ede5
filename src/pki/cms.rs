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
    // No S/MIME capabilities attribute: it says which ciphers to encrypt
    // mail with, means nothing in a receipt, and costs a provider lookup
    // of each cipher per signature.
    let flags = CMSOptions::BINARY | CMSOptions::NOSMIMECAP;
    let cms = CmsContentInfo::sign(Some(cert), Some(key), Some(&extra), Some(content), flags)?;
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
    let (mut cms, certs) = parse(signature)?;
    cms.verify(certs.as_deref(), None, Some(data), None, CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY)
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
    let (mut cms, certs) = parse(der)?;
    let mut content = Vec::new();
    cms.verify(certs.as_deref(), Some(trust.signature_store()), None, Some(&mut content), CMSOptions::BINARY)
        .map_err(|e| SignatureError::Invalid(openssl_reason(&e)))?;
    Ok((content, only_signer(&cms)?))
}

/// Parses a CMS SignedData whose certificates, if it carries them in the
/// usual form, are taken out and returned apart, each parsed once per
/// process ([`known_certificate`]): OpenSSL 3 decodes every certificate's
/// public key through its provider decoders, which cost more than the
/// signature check itself, and a sender signs with the same card all day.
/// Verifying with those certificates supplied is verifying the structure
/// as it came (OpenSSL looks for the signer among both). Anything unusual
/// (BER, other certificate choices) is parsed whole, as before.
fn parse(der: &[u8]) -> Result<(CmsContentInfo, Option<Stack<X509>>), SignatureError> {
    if let Some((stripped, cert_ders)) = der::split_certificates(der) {
        let certs = (|| -> Option<Stack<X509>> {
            let mut stack = Stack::new().ok()?;
            for c in cert_ders {
                stack.push(known_certificate(c)?).ok()?;
            }
            Some(stack)
        })();
        if let (Some(certs), Ok(cms)) = (certs, CmsContentInfo::from_der(&stripped)) {
            return Ok((cms, Some(certs)));
        }
    }
    let cms = CmsContentInfo::from_der(der).map_err(|e| SignatureError::Malformed(openssl_reason(&e)))?;
    Ok((cms, None))
}

/// The certificate with this DER encoding, parsed once per process (at
/// most a few thousand kept: senders' cards, the hub's own chain).
fn known_certificate(der: &[u8]) -> Option<X509> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    const KEPT: usize = 4096;
    static KNOWN: OnceLock<Mutex<HashMap<[u8; 32], X509>>> = OnceLock::new();
    let key = openssl::sha::sha256(der);
    let known = KNOWN.get_or_init(Mutex::default);
    if let Some(c) = known.lock().ok()?.get(&key) {
        return Some(c.clone());
    }
    let cert = X509::from_der(der).ok()?;
    let mut map = known.lock().ok()?;
    if map.len() >= KEPT {
        map.clear();
    }
    map.insert(key, cert.clone());
    Some(cert)
}

/// Just enough DER to take the certificates out of a SignedData.
mod der {
    use crate::pki::der_read;

    /// The elements (tag, whole TLV) of a constructed value's content.
    fn elements(mut b: &[u8]) -> Option<Vec<(u8, &[u8])>> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let (tag, _, rest) = der_read(b)?;
            out.push((tag, &b[..b.len() - rest.len()]));
            b = rest;
        }
        Some(out)
    }

    /// The content of the single TLV `b` with tag `tag`.
    fn only(b: &[u8], tag: u8) -> Option<&[u8]> {
        match der_read(b)? {
            (t, content, []) if t == tag => Some(content),
            _ => None,
        }
    }

    fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
        out.push(tag);
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
    }

    /// `der` (ContentInfo { id-signedData, [0] SignedData }) re-encoded
    /// without its `certificates`, and those certificates; `None` when it
    /// has none or is not in that form.
    pub(super) fn split_certificates(der: &[u8]) -> Option<(Vec<u8>, Vec<&[u8]>)> {
        const SIGNED_DATA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
        let info = elements(only(der, 0x30)?)?;
        let [(0x06, oid), (0xa0, explicit)] = info.as_slice() else { return None };
        if *oid != SIGNED_DATA {
            return None;
        }
        let fields = elements(only(only(explicit, 0xa0)?, 0x30)?)?;
        let (_, certs) = fields.iter().find(|(t, _)| *t == 0xa0)?;
        let list = elements(only(certs, 0xa0)?)?;
        if list.is_empty() || list.iter().any(|(t, _)| *t != 0x30) {
            return None;
        }
        let inner: Vec<u8> = fields.iter().filter(|(t, _)| *t != 0xa0).flat_map(|(_, f)| f.iter().copied()).collect();
        let mut seq = Vec::with_capacity(inner.len() + 8);
        push_tlv(&mut seq, 0x30, &inner);
        let mut content = SIGNED_DATA.to_vec();
        push_tlv(&mut content, 0xa0, &seq);
        let mut out = Vec::with_capacity(content.len() + 8);
        push_tlv(&mut out, 0x30, &content);
        Some((out, list.into_iter().map(|(_, c)| c).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::demo;

    fn signer() -> (X509, openssl::pkey::PKey<Private>) {
        let key = demo::new_key().unwrap();
        let name = demo::name(&[("CN", "cms test")]).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    #[test]
    fn certificates_taken_out_verify_as_the_structure_did() {
        let (cert, key) = signer();
        let sig = sign_detached(b"envelope", &cert, &key).unwrap();
        let (stripped, certs) = der::split_certificates(&sig).expect("the usual form");
        assert_eq!(certs, [cert.to_der().unwrap().as_slice()]);
        assert!(stripped.len() < sig.len());
        let (mut cms, certs) = parse(&sig).unwrap();
        assert!(certs.is_some(), "the fast path was taken");
        let flags = CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY;
        cms.verify(certs.as_deref(), None, Some(b"envelope"), None, flags).unwrap();
        assert_eq!(only_signer(&cms).unwrap().to_der().unwrap(), cert.to_der().unwrap());
        // Other bytes, or the signature altered, still fail.
        let (mut cms, certs) = parse(&sig).unwrap();
        assert!(cms.verify(certs.as_deref(), None, Some(b"envelopE"), None, flags).is_err());
        let mut bad = sig.clone();
        let n = bad.len();
        bad[n - 5] ^= 1;
        let (mut cms, certs) = parse(&bad).unwrap();
        assert!(cms.verify(certs.as_deref(), None, Some(b"envelope"), None, flags).is_err());
        // Without certificates, or not DER at all: parsed as it is.
        assert!(der::split_certificates(&stripped).is_none());
        assert!(matches!(parse(b"\x30\x80junk"), Err(SignatureError::Malformed(_))));
        assert!(der::split_certificates(&sig[..sig.len() - 1]).is_none());
    }
}
