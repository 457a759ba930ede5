//! One policy for what the hub accepts of a certificate or a signature,
//! wherever one is presented: a TLS client certificate at the handshake, an
//! envelope's signer and the digest it signed with, and a certificate the
//! IT bureau registers as a credential (which must be one TLS will accept).
//!
//! - keys: RSA of at least 2048 bits, EC of at least 256 bits, Ed25519;
//! - the issuer's signature on a certificate: SHA-2 (RSA, RSA-PSS, ECDSA)
//!   or Ed25519, never MD5 or SHA-1;
//! - a leaf is not a CA (`basicConstraints CA:TRUE`);
//! - keyUsage, when present, allows digitalSignature (a signer:
//!   digitalSignature or nonRepudiation);
//! - extendedKeyUsage, when present on a TLS client certificate, includes
//!   clientAuth;
//! - an envelope's signature digest: SHA-256, SHA-384 or SHA-512.

use foreign_types::ForeignTypeRef;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509Ref;

pub const MIN_RSA_BITS: u32 = 2048;
pub const MIN_EC_BITS: u32 = 256;

/// What a certificate is presented for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Authenticating a TLS connection (and registering a credential).
    TlsClient,
    /// Signing an envelope.
    Signer,
}

/// Why a certificate or signature is too weak, in words for the refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Weak(pub String);

const KU_DIGITAL_SIGNATURE: u32 = 0x0080;
const KU_NON_REPUDIATION: u32 = 0x0040;

/// The issuer signature algorithms accepted on a certificate.
const SIGNATURES: &[Nid] = &[
    Nid::SHA256WITHRSAENCRYPTION,
    Nid::SHA384WITHRSAENCRYPTION,
    Nid::SHA512WITHRSAENCRYPTION,
    Nid::RSASSAPSS,
    Nid::ECDSA_WITH_SHA256,
    Nid::ECDSA_WITH_SHA384,
    Nid::ECDSA_WITH_SHA512,
    Nid::from_raw(openssl_sys::NID_ED25519),
];

/// The digests accepted for an envelope's signature.
const DIGESTS: &[Nid] = &[Nid::SHA256, Nid::SHA384, Nid::SHA512];

fn nid_name(nid: Nid) -> String {
    nid.long_name().map(str::to_owned).unwrap_or_else(|_| format!("algorithm {}", nid.as_raw()))
}

/// A leaf certificate presented for `use_`.
pub fn certificate(cert: &X509Ref, use_: Use) -> Result<(), Weak> {
    key(cert)?;
    issuer_signature(cert)?;
    // SAFETY: the extension flags are computed from the certificate, which
    // outlives the call; nothing is kept.
    let (flags, usage, extended) = unsafe {
        let x = cert.as_ptr();
        (
            openssl_sys::X509_get_extension_flags(x),
            openssl_sys::X509_get_key_usage(x),
            openssl_sys::X509_get_extended_key_usage(x),
        )
    };
    if flags & openssl_sys::EXFLAG_CA != 0 {
        return Err(Weak("the certificate is a CA certificate (basicConstraints CA:TRUE), not an end entity's".into()));
    }
    if flags & openssl_sys::EXFLAG_KUSAGE != 0 {
        let allowed = match use_ {
            Use::TlsClient => usage & KU_DIGITAL_SIGNATURE != 0,
            Use::Signer => usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION) != 0,
        };
        if !allowed {
            let needs = match use_ {
                Use::TlsClient => "digitalSignature",
                Use::Signer => "digitalSignature or nonRepudiation",
            };
            return Err(Weak(format!("the certificate's keyUsage does not allow {needs}")));
        }
    }
    if use_ == Use::TlsClient && flags & openssl_sys::EXFLAG_XKUSAGE != 0 && extended & openssl_sys::XKU_SSL_CLIENT == 0
    {
        return Err(Weak("the certificate's extendedKeyUsage does not include clientAuth".into()));
    }
    Ok(())
}

/// The certificate's key.
pub fn key(cert: &X509Ref) -> Result<(), Weak> {
    let key = cert.public_key().map_err(|e| Weak(format!("the certificate's key cannot be read: {e}")))?;
    let bits = key.bits();
    match key.id() {
        Id::RSA | Id::RSA_PSS if bits < MIN_RSA_BITS => {
            Err(Weak(format!("an RSA key of {bits} bits (at least {MIN_RSA_BITS})")))
        }
        Id::RSA | Id::RSA_PSS => Ok(()),
        Id::EC if bits < MIN_EC_BITS => Err(Weak(format!("an EC key of {bits} bits (at least {MIN_EC_BITS})"))),
        Id::EC | Id::ED25519 => Ok(()),
        other => Err(Weak(format!("a key of type {} is not accepted", other.as_raw()))),
    }
}

/// The signature its issuer put on the certificate (also checked on the
/// intermediate CAs of a chain; a trust anchor's own signature is not).
pub fn issuer_signature(cert: &X509Ref) -> Result<(), Weak> {
    let nid = cert.signature_algorithm().object().nid();
    if SIGNATURES.contains(&nid) {
        Ok(())
    } else {
        Err(Weak(format!("the certificate is signed with {} (SHA-2 or Ed25519 only)", nid_name(nid))))
    }
}

/// The digest of an envelope's signature.
pub fn digest(nid: Nid) -> Result<(), Weak> {
    if DIGESTS.contains(&nid) {
        Ok(())
    } else {
        Err(Weak(format!("the signature uses the digest {} (SHA-256, SHA-384 or SHA-512 only)", nid_name(nid))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::demo::{self, Profile, Weakness};

    fn leaf(w: Option<Weakness>) -> openssl::x509::X509 {
        let now = chrono::Utc::now();
        let ca = demo::issue_new(&[("CN", "CA")], Profile::Ca, now, now + chrono::Duration::days(1), None).unwrap();
        let subject = [("C", "TW"), ("O", "機關"), ("CN", "機關")];
        let (from, to) = (now - chrono::Duration::hours(1), now + chrono::Duration::days(1));
        let kp = match w {
            None => demo::issue_new(&subject, Profile::Client { ubn: None }, from, to, Some(&ca)),
            Some(w) => demo::issue_weak(&subject, w, from, to, &ca),
        };
        kp.unwrap().cert
    }

    #[test]
    fn a_demo_client_certificate_passes_for_both_uses() {
        let c = leaf(None);
        assert_eq!(certificate(&c, Use::TlsClient), Ok(()));
        assert_eq!(certificate(&c, Use::Signer), Ok(()));
    }

    #[test]
    fn each_weakness_is_named() {
        let cases = [
            (Weakness::Rsa1024, "RSA key of 1024 bits"),
            (Weakness::Sha1Signed, "signed with sha1WithRSAEncryption"),
            (Weakness::NoDigitalSignature, "keyUsage does not allow"),
            (Weakness::Ca, "CA certificate"),
            (Weakness::NoClientAuth, "does not include clientAuth"),
        ];
        for (w, words) in cases {
            let e = certificate(&leaf(Some(w)), Use::TlsClient).unwrap_err();
            assert!(e.0.contains(words), "{w:?}: {e}");
        }
        // A signing certificate without clientAuth is a fine signer.
        assert_eq!(certificate(&leaf(Some(Weakness::NoClientAuth)), Use::Signer), Ok(()));
    }

    #[test]
    fn only_sha2_digests_sign_envelopes() {
        assert!(digest(Nid::SHA256).is_ok());
        assert!(digest(Nid::SHA1).unwrap_err().0.contains("sha1"));
        assert!(digest(Nid::MD5).is_err());
    }
}
