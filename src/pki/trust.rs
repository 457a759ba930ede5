//! The trust store: the CA certificates client certificates must chain to,
//! and the CRLs that revoke them, loaded from one directory.
//!
//! Every `*.pem`, `*.crt` and `*.crl` file in the directory is read block by
//! block: CA certificates (basicConstraints CA) become trust material, CRLs
//! are checked against the CA that issued them, anything else (the hub's own
//! certificate and key, for instance) is skipped. The set of revoked serials
//! is also kept here so requests on long-lived or resumed TLS sessions can be
//! re-checked against the current CRLs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use foreign_types::ForeignTypeRef;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509, X509Crl, X509Ref};

use super::{asn1_to_utc, name_to_string, pem_blocks};

/// How far down the chain CRLs are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrlCheck {
    /// Every CA level needs a current CRL (the default).
    #[default]
    All,
    /// Only the CA that issued the client certificate needs one.
    Leaf,
    /// No revocation checking (not for production).
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read trust directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error("no CA certificate found in {0}")]
    NoAnchors(PathBuf),
    #[error("CRL of '{0}' is not signed by a CA of the trust store")]
    CrlUnverified(String),
    #[error("crl_check requires a CRL for '{0}', none found")]
    CrlMissing(String),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// A CRL as loaded, summarised for operators.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CrlSummary {
    pub issuer: String,
    pub last_update: DateTime<Utc>,
    pub next_update: Option<DateTime<Utc>>,
    pub revoked: usize,
    /// Whether it is still current, at the time the summary was made
    /// ([`TrustMaterial::summary_at`]).
    #[schema(value_type = String)]
    pub state: CrlState,
}

/// A CRL's currency. Once its nextUpdate has passed, the revocation status
/// of the certificates it covers is unknown, and the hub refuses them (new
/// handshakes and requests on open connections alike) until a newer CRL is
/// installed: fail closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrlState {
    Current,
    /// nextUpdate is within the warning period.
    Expiring,
    /// nextUpdate has passed.
    Expired,
}

impl CrlState {
    pub fn of(next_update: Option<DateTime<Utc>>, now: DateTime<Utc>, warn: chrono::Duration) -> CrlState {
        match next_update {
            Some(t) if t <= now => CrlState::Expired,
            Some(t) if t - now <= warn => CrlState::Expiring,
            _ => CrlState::Current,
        }
    }
}

/// What the trust directory held at the last (re)load.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TrustSummary {
    pub directory: String,
    pub certificate_authorities: Vec<String>,
    pub crls: Vec<CrlSummary>,
    #[schema(value_type = String)]
    pub crl_check: CrlCheck,
}

pub struct TrustMaterial {
    pub cas: Vec<X509>,
    pub crls: Vec<X509Crl>,
    revoked: HashSet<(Vec<u8>, String)>,
    /// The latest nextUpdate of each issuer's CRLs (issuer name, DER).
    crl_next_update: std::collections::HashMap<Vec<u8>, Option<DateTime<Utc>>>,
    /// Each CA's issuer (subject DER → issuer DER), to walk a chain up.
    ca_issuer: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    pub summary: TrustSummary,
    /// The store for CMS signatures, built once per load (building one
    /// walks every certificate and CRL).
    signature_store: X509Store,
    /// Fingerprints of signer certificates whose chain verified against
    /// this load of the trust store.
    verified_signers: std::sync::Mutex<HashSet<String>>,
}

unsafe extern "C" {
    // Declared here: openssl-sys does not bind it. Takes its own reference.
    fn X509_STORE_add_crl(store: *mut openssl_sys::X509_STORE, crl: *mut openssl_sys::X509_CRL) -> std::os::raw::c_int;
}

/// An OpenSSL store of `cas` with, as `crl_check` says, the CRLs.
fn build_store(
    cas: &[X509],
    crls: &[X509Crl],
    crl_check: CrlCheck,
    purpose: Option<openssl::x509::X509PurposeId>,
) -> Result<X509Store, TrustError> {
    let mut b = X509StoreBuilder::new()?;
    if let Some(p) = purpose {
        b.set_purpose(p)?;
    }
    for ca in cas {
        b.add_cert(ca.clone())?;
    }
    let flags = match crl_check {
        CrlCheck::All => X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL,
        CrlCheck::Leaf => X509VerifyFlags::CRL_CHECK,
        CrlCheck::None => X509VerifyFlags::empty(),
    };
    if !flags.is_empty() {
        for crl in crls {
            // SAFETY: X509_STORE_add_crl takes its own reference to the CRL.
            let rc = unsafe { X509_STORE_add_crl(b.as_ptr(), crl.as_ptr()) };
            if rc != 1 {
                return Err(openssl::error::ErrorStack::get().into());
            }
        }
        b.set_flags(flags)?;
    }
    Ok(b.build())
}

fn is_ca(cert: &X509Ref) -> bool {
    // SAFETY: reads (and caches) the extension flags of a valid certificate.
    let flags = unsafe { openssl_sys::X509_get_extension_flags(cert.as_ptr()) };
    flags & openssl_sys::EXFLAG_CA != 0
}

impl TrustMaterial {
    pub fn load_dir(dir: &Path, crl_check: CrlCheck) -> Result<Self, TrustError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| TrustError::Io(dir.to_owned(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pem" | "crt" | "crl")))
            .collect();
        files.sort();
        Self::load_files(dir, &files, crl_check)
    }

    /// Trust anchors from one PEM file (a client's `--ca`), without CRLs.
    pub fn load_ca_file(path: &Path) -> Result<Self, TrustError> {
        Self::load_files(path, &[path.to_owned()], CrlCheck::None)
    }

    fn load_files(dir: &Path, files: &[PathBuf], crl_check: CrlCheck) -> Result<Self, TrustError> {
        let mut cas = Vec::new();
        let mut crls = Vec::new();
        for path in files {
            let bytes = std::fs::read(path).map_err(|e| TrustError::Io(path.clone(), e))?;
            for (label, block) in pem_blocks(&bytes) {
                match label {
                    "CERTIFICATE" => {
                        let cert = X509::from_pem(block.as_bytes())
                            .map_err(|e| TrustError::Parse(path.clone(), e.to_string()))?;
                        // The same CA may come in several files (ca.pem, the hub's chain).
                        if is_ca(&cert)
                            && !cas.iter().any(|c: &X509| super::fingerprint(c) == super::fingerprint(&cert))
                        {
                            cas.push(cert);
                        }
                    }
                    "X509 CRL" => crls.push(
                        X509Crl::from_pem(block.as_bytes())
                            .map_err(|e| TrustError::Parse(path.clone(), e.to_string()))?,
                    ),
                    _ => {}
                }
            }
        }
        if cas.is_empty() {
            return Err(TrustError::NoAnchors(dir.to_owned()));
        }

        let mut revoked = HashSet::new();
        let mut crl_summaries = Vec::new();
        let mut crl_next_update = std::collections::HashMap::new();
        for crl in &crls {
            let issuer = crl.issuer_name();
            let signed_by_ca = cas.iter().any(|ca| {
                ca.subject_name().try_cmp(issuer).is_ok_and(|o| o.is_eq())
                    && ca.public_key().and_then(|k| crl.verify(&k)).unwrap_or(false)
            });
            if !signed_by_ca {
                return Err(TrustError::CrlUnverified(name_to_string(issuer)));
            }
            let issuer_der = issuer.to_der()?;
            let entries = crl.get_revoked().map(|s| s.iter().collect::<Vec<_>>()).unwrap_or_default();
            for r in &entries {
                revoked.insert((issuer_der.clone(), r.serial_number().to_bn()?.to_hex_str()?.to_string()));
            }
            let next_update = crl.next_update().map(asn1_to_utc).transpose()?;
            // Of several CRLs of one issuer, the one current longest counts (as OpenSSL picks).
            let latest = crl_next_update.entry(issuer_der.clone()).or_insert(next_update);
            if next_update.is_none() || latest.is_some_and(|t| next_update.is_some_and(|n| n > t)) {
                *latest = next_update;
            }
            crl_summaries.push(CrlSummary {
                issuer: name_to_string(issuer),
                last_update: asn1_to_utc(crl.last_update())?,
                next_update,
                revoked: entries.len(),
                state: CrlState::Current,
            });
        }

        // Every CA whose certificates we must check needs a CRL of its own.
        let has_crl =
            |ca: &X509| crls.iter().any(|c| ca.subject_name().try_cmp(c.issuer_name()).is_ok_and(|o| o.is_eq()));
        match crl_check {
            CrlCheck::All => {
                if let Some(ca) = cas.iter().find(|ca| !has_crl(ca)) {
                    return Err(TrustError::CrlMissing(name_to_string(ca.subject_name())));
                }
            }
            CrlCheck::Leaf => {
                if crls.is_empty() {
                    return Err(TrustError::CrlMissing("any CA".into()));
                }
            }
            CrlCheck::None => {}
        }

        let summary = TrustSummary {
            directory: dir.display().to_string(),
            certificate_authorities: cas.iter().map(|c| name_to_string(c.subject_name())).collect(),
            crls: crl_summaries,
            crl_check,
        };
        let signature_store = build_store(&cas, &crls, crl_check, Some(openssl::x509::X509PurposeId::ANY))?;
        let ca_issuer = cas
            .iter()
            .map(|c| Ok((c.subject_name().to_der()?, c.issuer_name().to_der()?)))
            .collect::<Result<_, openssl::error::ErrorStack>>()?;
        let mut trust = TrustMaterial {
            cas,
            crls,
            revoked,
            crl_next_update,
            ca_issuer,
            summary,
            signature_store,
            verified_signers: Default::default(),
        };
        trust.summary = trust.summary_at(Utc::now(), chrono::Duration::zero());
        Ok(trust)
    }

    /// The summary with each CRL's state at `now`, `warn` ahead.
    pub fn summary_at(&self, now: DateTime<Utc>, warn: chrono::Duration) -> TrustSummary {
        let mut s = self.summary.clone();
        for c in &mut s.crls {
            c.state = CrlState::of(c.next_update, now, warn);
        }
        s
    }

    /// Why the revocation status of a certificate issued by `issuer_der`
    /// cannot be known at `now`: a CRL on its chain (as `crl_check` asks)
    /// is past its nextUpdate. The handshake refuses such a certificate
    /// (OpenSSL: "CRL has expired"); this says the same for open sessions.
    pub fn revocation_unknown(&self, issuer_der: &[u8], now: DateTime<Utc>) -> Option<String> {
        if self.summary.crl_check == CrlCheck::None {
            return None;
        }
        let mut issuer = issuer_der.to_vec();
        for _ in 0..8 {
            if let Some(Some(t)) = self.crl_next_update.get(&issuer)
                && *t <= now
            {
                let name = openssl::x509::X509Name::from_der(&issuer)
                    .map(|n| name_to_string(&n))
                    .unwrap_or_else(|_| "a CA".into());
                return Some(format!("the CRL of {name} expired at {t} (its nextUpdate)"));
            }
            if self.summary.crl_check == CrlCheck::Leaf {
                break;
            }
            match self.ca_issuer.get(&issuer) {
                Some(up) if *up != issuer => issuer = up.clone(),
                _ => break,
            }
        }
        None
    }

    /// An OpenSSL verification store with the anchors and, as configured, the CRLs.
    pub fn x509_store(&self) -> Result<X509Store, TrustError> {
        build_store(&self.cas, &self.crls, self.summary.crl_check, None)
    }

    /// The same store for checking CMS signatures (built at load). Card certificates are
    /// issued for client authentication and signing; OpenSSL's default
    /// S/MIME purpose would refuse some, so the purpose is set to "any"
    /// deliberately: the chain, validity and CRLs still decide.
    pub fn signature_store(&self) -> &X509Store {
        &self.signature_store
    }

    /// Checks a signer's certificate: the full chain the first time it is
    /// seen under this load, then its validity period and revocation only.
    pub fn check_signer(&self, cert: &X509Ref) -> Result<(), String> {
        let fp = super::fingerprint(cert);
        if self.verified_signers.lock().expect("signer cache").contains(&fp) {
            let now = openssl::asn1::Asn1Time::days_from_now(0).map_err(|e| e.to_string())?;
            if cert.not_after() < now || cert.not_before() > now {
                return Err("certificate is not within its validity period".into());
            }
            let issuer = cert.issuer_name().to_der().map_err(|e| e.to_string())?;
            let serial = cert.serial_number().to_bn().and_then(|b| b.to_hex_str().map(|s| s.to_string()));
            if self.is_revoked(&issuer, &serial.map_err(|e| e.to_string())?) {
                return Err("certificate revoked".into());
            }
            return Ok(());
        }
        self.verify_with(&self.signature_store, cert)?;
        let mut cache = self.verified_signers.lock().expect("signer cache");
        if cache.len() >= 100_000 {
            cache.clear();
        }
        cache.insert(fp);
        Ok(())
    }

    /// Checks a certificate against the trust store (chain, validity, CRLs)
    /// at the current time; the error is OpenSSL's reason.
    pub fn verify(&self, cert: &X509Ref) -> Result<(), String> {
        let store = self.x509_store().map_err(|e| e.to_string())?;
        self.verify_with(&store, cert)
    }

    fn verify_with(&self, store: &X509Store, cert: &X509Ref) -> Result<(), String> {
        let run = || -> Result<Option<String>, openssl::error::ErrorStack> {
            let chain = openssl::stack::Stack::new()?;
            let mut ctx = openssl::x509::X509StoreContext::new()?;
            ctx.init(store, cert, &chain, |c| {
                Ok(if c.verify_cert()? { None } else { Some(c.error().error_string().to_owned()) })
            })
        };
        match run() {
            Ok(None) => Ok(()),
            Ok(Some(reason)) => Err(reason),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the CRLs revoke the certificate with this issuer (DER name) and serial (hex).
    pub fn is_revoked(&self, issuer_der: &[u8], serial_hex: &str) -> bool {
        self.summary.crl_check != CrlCheck::None && self.revoked.contains(&(issuer_der.to_vec(), serial_hex.to_owned()))
    }
}
