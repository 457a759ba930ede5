//! The demo PKI of `gwx init`, shaped like GPKI (DESIGN §3.6): a root CA
//! (政府憑證總管理中心 style), an issuing CA for agencies (GCA) and one for
//! organisations (XCA), the hub's server certificate, client certificates and
//! CRLs. Every key made here is a **demo/test key**, never for production.

use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{CrlNumber, X509, X509Builder, X509Crl, X509CrlBuilder, X509Name, X509RevokedBuilder};

use super::ubn_extension;

type Result<T> = std::result::Result<T, openssl::error::ErrorStack>;

/// A certificate and its private key.
#[derive(Clone)]
pub struct KeyPair {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl KeyPair {
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("PEM of a built certificate")
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), the form most clients read.
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("PEM of a generated key")
    }

    /// Writes `<base>.pem` and `<base>.key` (the key readable by its owner only).
    pub fn write(&self, base: &Path) -> std::io::Result<()> {
        std::fs::write(base.with_extension("pem"), self.cert_pem())?;
        write_private(&base.with_extension("key"), &self.key_pem())
    }

    pub fn read(base: &Path) -> anyhow::Result<Self> {
        let cert = X509::from_pem(&std::fs::read(base.with_extension("pem"))?)?;
        let key = PKey::private_key_from_pem(&std::fs::read(base.with_extension("key"))?)?;
        Ok(KeyPair { cert, key })
    }
}

/// Writes a file with mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

pub fn new_key() -> Result<PKey<Private>> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

/// An ECDSA P-256 key (the hub's receipt-signing key).
pub fn new_ec_key() -> Result<PKey<Private>> {
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)
}

/// What a certificate is for.
pub enum Profile<'a> {
    Ca,
    Server {
        dns: &'a [&'a str],
        ips: &'a [IpAddr],
    },
    /// A client (organisation or agency) certificate; `ubn` goes into
    /// subjectDirectoryAttributes as GPKI organisation certificates do.
    Client {
        ubn: Option<&'a str>,
    },
    /// A signing-only certificate (the hub's receipts).
    Signing,
}

/// Subject fields in order, e.g. `[("C", "TW"), ("O", "行政院"), ("CN", "…")]`.
pub fn name(fields: &[(&str, &str)]) -> Result<X509Name> {
    let mut b = X509Name::builder()?;
    for (k, v) in fields {
        b.append_entry_by_text(k, v)?;
    }
    Ok(b.build())
}

fn random_serial() -> Result<Asn1Integer> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

fn asn1(t: DateTime<Utc>) -> Result<Asn1Time> {
    Asn1Time::from_unix(t.timestamp())
}

/// Issues a certificate for `key` valid from `not_before` to `not_after`,
/// signed by `issuer` (self-signed when `None`).
pub fn issue(
    subject: &X509Name,
    key: &PKey<Private>,
    profile: Profile<'_>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    issuer: Option<&KeyPair>,
) -> Result<X509> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*random_serial()?)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer.map(|i| i.cert.subject_name()).unwrap_or(subject))?;
    b.set_pubkey(key)?;
    b.set_not_before(&*asn1(not_before)?)?;
    b.set_not_after(&*asn1(not_after)?)?;

    match profile {
        Profile::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        }
        Profile::Server { dns, ips } => {
            b.append_extension(BasicConstraints::new().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().key_encipherment().build()?)?;
            b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
            let mut san = SubjectAlternativeName::new();
            for d in dns {
                san.dns(d);
            }
            for ip in ips {
                san.ip(&ip.to_string());
            }
            let ext = san.build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))?;
            b.append_extension(ext)?;
        }
        Profile::Signing => {
            b.append_extension(BasicConstraints::new().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().non_repudiation().build()?)?;
        }
        Profile::Client { ubn } => {
            b.append_extension(BasicConstraints::new().build()?)?;
            b.append_extension(
                KeyUsage::new().critical().digital_signature().non_repudiation().key_encipherment().build()?,
            )?;
            b.append_extension(ExtendedKeyUsage::new().client_auth().email_protection().build()?)?;
            if let Some(ubn) = ubn {
                b.append_extension(ubn_extension(ubn)?)?;
            }
        }
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))?;
    b.append_extension(ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))?;
        b.append_extension(aki)?;
    }
    let signer = issuer.map(|i| &i.key).unwrap_or(key);
    b.sign(signer, MessageDigest::sha256())?;
    Ok(b.build())
}

/// Makes a new key and a certificate for it.
pub fn issue_new(
    subject: &[(&str, &str)],
    profile: Profile<'_>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    issuer: Option<&KeyPair>,
) -> Result<KeyPair> {
    let key = new_key()?;
    let cert = issue(&name(subject)?, &key, profile, not_before, not_after, issuer)?;
    Ok(KeyPair { cert, key })
}

/// A way a client certificate can fail the hub's policy (`pki::policy`),
/// for tests and demonstrations of the refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    Rsa1024,
    Sha1Signed,
    /// keyUsage keyEncipherment only.
    NoDigitalSignature,
    /// basicConstraints CA:TRUE on what is presented as a client certificate.
    Ca,
    /// extendedKeyUsage emailProtection only.
    NoClientAuth,
}

/// A client certificate from `issuer` with one `weakness`, and its key.
pub fn issue_weak(
    subject: &[(&str, &str)],
    weakness: Weakness,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    issuer: &KeyPair,
) -> Result<KeyPair> {
    let key = if weakness == Weakness::Rsa1024 { PKey::from_rsa(Rsa::generate(1024)?)? } else { new_key()? };
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*random_serial()?)?;
    let subject = name(subject)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(issuer.cert.subject_name())?;
    b.set_pubkey(&key)?;
    b.set_not_before(&*asn1(not_before)?)?;
    b.set_not_after(&*asn1(not_after)?)?;
    let mut ku = KeyUsage::new();
    ku.critical();
    match weakness {
        Weakness::NoDigitalSignature => ku.key_encipherment(),
        Weakness::Ca => ku.digital_signature().key_cert_sign(),
        _ => ku.digital_signature().non_repudiation(),
    };
    let mut bc = BasicConstraints::new();
    if weakness == Weakness::Ca {
        bc.critical().ca();
    }
    b.append_extension(bc.build()?)?;
    b.append_extension(ku.build()?)?;
    let mut eku = ExtendedKeyUsage::new();
    if weakness == Weakness::NoClientAuth {
        eku.email_protection()
    } else {
        eku.client_auth()
    };
    b.append_extension(eku.build()?)?;
    let aki = AuthorityKeyIdentifier::new().keyid(true).build(&b.x509v3_context(Some(&issuer.cert), None))?;
    b.append_extension(aki)?;
    let digest = if weakness == Weakness::Sha1Signed { MessageDigest::sha1() } else { MessageDigest::sha256() };
    b.sign(&issuer.key, digest)?;
    Ok(KeyPair { cert: b.build(), key })
}

/// A CRL of `ca` revoking the given certificates, valid from `now` for `days`.
pub fn crl(ca: &KeyPair, revoked: &[&X509], number: u32, now: DateTime<Utc>, days: i64) -> Result<X509Crl> {
    let mut b = X509CrlBuilder::new()?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_last_update(&*asn1(now - Duration::minutes(5))?)?;
    b.set_next_update(&*asn1(now + Duration::days(days))?)?;
    let dummy = X509Builder::new()?;
    let aki = AuthorityKeyIdentifier::new().keyid(true).build(&dummy.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(aki)?;
    b.append_extension(CrlNumber::new(BigNum::from_u32(number)?)?.build()?)?;
    for cert in revoked {
        let mut r = X509RevokedBuilder::new()?;
        r.set_serial_number(cert.serial_number())?;
        r.set_revocation_date(&*asn1(now - Duration::minutes(1))?)?;
        b.add_revoked(r.build())?;
    }
    b.sign(&ca.key, MessageDigest::sha256())?;
    b.build()
}
