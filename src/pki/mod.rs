//! Certificates: reading what the hub needs from an X.509 certificate, the
//! trust store (anchors + CRLs), and the demo PKI of `gwx init`.

pub mod cms;
pub mod demo;
pub mod policy;
pub mod receipt;
pub mod trust;

use chrono::{DateTime, Utc};
use foreign_types::ForeignTypeRef;
use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::x509::{X509, X509Extension, X509NameRef, X509Ref};

/// OID under which GPKI organisation certificates carry the 統一編號, inside
/// the subjectDirectoryAttributes extension (DESIGN §3.6).
pub const UBN_ATTRIBUTE_OID: &str = "2.16.886.1.100.2.101";
const UBN_ATTRIBUTE_DER: [u8; 7] = [0x60, 0x86, 0x76, 0x01, 0x64, 0x02, 0x65];

/// What the hub records of a certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    /// SHA-256 of the DER, lower-case hex: the key credentials are found by.
    pub fingerprint: String,
    pub subject: String,
    pub issuer: String,
    /// Upper-case hex.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub unified_business_number: Option<String>,
    pub pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("not a PEM certificate: {0}")]
    BadPem(String),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

impl CertInfo {
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertError> {
        let block = pem_blocks(pem)
            .find(|(label, _)| *label == "CERTIFICATE")
            .ok_or_else(|| CertError::BadPem("no CERTIFICATE block".into()))?
            .1;
        let cert = X509::from_pem(block.as_bytes()).map_err(|e| CertError::BadPem(e.to_string()))?;
        Self::from_x509(&cert)
    }

    pub fn from_x509(cert: &X509Ref) -> Result<Self, CertError> {
        Ok(CertInfo {
            fingerprint: fingerprint(cert),
            subject: name_to_string(cert.subject_name()),
            issuer: name_to_string(cert.issuer_name()),
            serial: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            not_before: asn1_to_utc(cert.not_before())?,
            not_after: asn1_to_utc(cert.not_after())?,
            unified_business_number: unified_business_number(cert),
            pem: String::from_utf8_lossy(&cert.to_pem()?).into_owned(),
        })
    }
}

/// SHA-256 of the certificate's DER encoding, lower-case hex.
pub fn fingerprint(cert: &X509Ref) -> String {
    let d = cert.digest(MessageDigest::sha256()).expect("sha256 digest of a parsed certificate");
    hex::encode(d)
}

/// A distinguished name in the usual `C=TW, O=…, CN=…` form, UTF-8.
pub fn name_to_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().map(str::to_owned).unwrap_or_else(|_| e.object().to_string());
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn asn1_to_utc(t: &Asn1TimeRef) -> Result<DateTime<Utc>, openssl::error::ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
    Ok(DateTime::from_timestamp(secs, 0).expect("certificate time within chrono's range"))
}

/// Iterates the `-----BEGIN label-----` blocks of a PEM file as (label, whole block).
pub fn pem_blocks(pem: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let text = std::str::from_utf8(pem).unwrap_or("");
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("-----BEGIN ")?;
            let after = &rest[start + 11..];
            let label_end = after.find("-----")?;
            let label = &after[..label_end];
            let end_marker = format!("-----END {label}-----");
            let Some(end) = rest[start..].find(&end_marker) else {
                rest = "";
                return None;
            };
            let block_end = start + end + end_marker.len();
            let block = &rest[start..block_end];
            rest = &rest[block_end..];
            if !label.is_empty() {
                return Some((label, block));
            }
        }
    })
}

/// The subjectDirectoryAttributes extension carrying a 統一編號.
pub fn ubn_extension(ubn: &str) -> Result<X509Extension, openssl::error::ErrorStack> {
    // Attribute ::= SEQUENCE { type OID, values SET OF PrintableString }
    let mut value = vec![0x13, ubn.len() as u8];
    value.extend_from_slice(ubn.as_bytes());
    let set = der(0x31, &value);
    let mut oid = vec![0x06, UBN_ATTRIBUTE_DER.len() as u8];
    oid.extend_from_slice(&UBN_ATTRIBUTE_DER);
    oid.extend_from_slice(&set);
    let attribute = der(0x30, &oid);
    let sda = der(0x30, &attribute);
    let obj = Asn1Object::from_str("2.5.29.9")?;
    let octets = Asn1OctetString::new_from_bytes(&sda)?;
    X509Extension::new_from_der(&obj, false, &octets)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128, "short-form DER length only");
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

/// Reads the 統一編號 from the subjectDirectoryAttributes extension, if present.
pub fn unified_business_number(cert: &X509Ref) -> Option<String> {
    let sda = extension_data(cert, openssl_sys::NID_subject_directory_attributes)?;
    // SEQUENCE OF Attribute
    let (0x30, attrs, _) = der_read(&sda)? else { return None };
    let mut rest = attrs;
    while !rest.is_empty() {
        let (tag, attr, next) = der_read(rest)?;
        rest = next;
        if tag != 0x30 {
            continue;
        }
        let (0x06, oid, values) = der_read(attr)? else { continue };
        if oid != UBN_ATTRIBUTE_DER {
            continue;
        }
        let (0x31, set, _) = der_read(values)? else { return None };
        let (tag, s, _) = der_read(set)?;
        // PrintableString, UTF8String or IA5String
        if matches!(tag, 0x13 | 0x0c | 0x16) {
            return std::str::from_utf8(s).ok().map(str::to_owned);
        }
    }
    None
}

fn extension_data(cert: &X509Ref, nid: i32) -> Option<Vec<u8>> {
    // SAFETY: the pointers come from a live certificate and are only read
    // while `cert` is borrowed; the data is copied out before returning.
    unsafe {
        let loc = openssl_sys::X509_get_ext_by_NID(cert.as_ptr(), nid, -1);
        if loc < 0 {
            return None;
        }
        let ext = openssl_sys::X509_get_ext(cert.as_ptr(), loc);
        if ext.is_null() {
            return None;
        }
        let data = openssl_sys::X509_EXTENSION_get_data(ext);
        if data.is_null() {
            return None;
        }
        let octets = openssl::asn1::Asn1OctetStringRef::from_ptr(data);
        Some(octets.as_slice().to_vec())
    }
}

/// Reads one DER TLV: (tag, content, rest). Definite lengths up to 4 bytes.
pub(crate) fn der_read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Reads `path` in chunks, copying the bytes to `copy` when given, and
/// returns its size and SHA-256 digest.
pub fn digest_file(path: &std::path::Path, mut copy: Option<&mut std::fs::File>) -> std::io::Result<(u64, [u8; 32])> {
    use std::io::{Read, Write};
    let mut f = std::fs::File::open(path)?;
    let mut h = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(out) = copy.as_mut() {
            out.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_split_mixed_files() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
                    -----BEGIN X509 CRL-----\nBBBB\n-----END X509 CRL-----\n";
        let labels: Vec<_> = pem_blocks(text.as_bytes()).map(|(l, _)| l).collect();
        assert_eq!(labels, ["CERTIFICATE", "X509 CRL"]);
    }

    #[test]
    fn der_reader_refuses_truncation() {
        assert_eq!(der_read(&[0x30, 0x02, 0x01]), None);
        assert_eq!(der_read(&[0x30, 0x81, 0x01, 0xff]), Some((0x30, &[0xff][..], &[][..])));
    }
}
