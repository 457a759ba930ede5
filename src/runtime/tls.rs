//! HTTPS termination with OpenSSL: the acceptor, client-certificate checks at
//! the handshake, and the per-connection facts handed to the HTTP layer.
//!
//! The handshake asks for a client certificate but does not demand one, so a
//! browser without a card still reaches the public pages; a certificate that
//! is presented must chain to the trust store, be within validity and not be
//! revoked, or the handshake fails and the refusal is logged. The verified
//! certificate and the peer address travel with every request as
//! [`ConnInfo`]. The acceptor and trust material sit behind locks so an
//! operator can reload CRLs and CAs without a restart; new connections use
//! the new acceptor at once, and requests on open (or resumed) sessions are
//! re-checked against the current CRLs by the authentication layer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use openssl::ssl::{AlpnError, SslAcceptor, SslFiletype, SslMethod, SslSessionCacheMode, SslVerifyMode};
use openssl::x509::X509Ref;

use crate::pki::trust::{TrustError, TrustMaterial, TrustSummary};
use crate::pki::{asn1_to_utc, fingerprint, name_to_string};
use crate::runtime::config::Config;

/// A client certificate that passed the handshake's checks.
#[derive(Debug, Clone)]
pub struct PeerCert {
    pub fingerprint: String,
    pub subject: String,
    pub issuer_der: Vec<u8>,
    /// Upper-case hex.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The certificate itself, PEM (to bind it to an application).
    pub pem: String,
}

impl PeerCert {
    pub fn from_x509(cert: &X509Ref) -> Result<Self, openssl::error::ErrorStack> {
        Ok(PeerCert {
            fingerprint: fingerprint(cert),
            subject: name_to_string(cert.subject_name()),
            issuer_der: cert.issuer_name().to_der()?,
            serial: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            not_before: asn1_to_utc(cert.not_before())?,
            not_after: asn1_to_utc(cert.not_after())?,
            pem: String::from_utf8_lossy(&cert.to_pem()?).into_owned(),
        })
    }
}

/// Facts about one HTTPS connection, attached to each of its requests.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address: the TCP peer, or the source a trusted proxy
    /// announced in a PROXY-protocol header.
    pub peer: SocketAddr,
    /// The TCP peer itself (a load balancer, when there is one).
    pub socket_peer: SocketAddr,
    pub cert: Option<PeerCert>,
    /// The TLS session was resumed (no chain verification this time).
    pub resumed: bool,
}

/// Why the handshake refused a client certificate.
#[derive(Debug, Clone)]
pub struct VerifyFailure {
    pub reason: String,
    pub depth: u32,
    pub subject: Option<String>,
    pub fingerprint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("trust store: {0}")]
    Trust(#[from] TrustError),
    #[error("hub certificate or key {0}: {1}")]
    HubCert(PathBuf, openssl::error::ErrorStack),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// The live TLS configuration: acceptor and trust material, reloadable.
pub struct TlsState {
    cert: PathBuf,
    key: PathBuf,
    trust_dir: PathBuf,
    crl_check: crate::pki::trust::CrlCheck,
    acceptor: RwLock<Arc<SslAcceptor>>,
    trust: RwLock<Arc<TrustMaterial>>,
    /// What the trust directory held (names, sizes, times) when last read.
    loaded: Mutex<DirectoryState>,
}

/// The files of a directory by name, size and modification time: enough
/// to notice that an operator installed a new CRL or CA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryState(Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)>);

impl DirectoryState {
    pub fn read(dir: &std::path::Path) -> DirectoryState {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_file().then(|| (e.file_name(), m.len(), m.modified().ok()))
            })
            .collect();
        files.sort();
        DirectoryState(files)
    }
}

impl TlsState {
    pub fn load(config: &Config) -> Result<Self, TlsError> {
        let cert = config.path(&config.tls.cert);
        let key = config.path(&config.tls.key);
        let trust_dir = config.path(&config.tls.trust_dir);
        let crl_check = config.tls.crl_check;
        let loaded = DirectoryState::read(&trust_dir);
        let trust = TrustMaterial::load_dir(&trust_dir, crl_check)?;
        let acceptor = build_acceptor(&cert, &key, &trust)?;
        Ok(TlsState {
            cert,
            key,
            trust_dir,
            crl_check,
            acceptor: RwLock::new(Arc::new(acceptor)),
            trust: RwLock::new(Arc::new(trust)),
            loaded: Mutex::new(loaded),
        })
    }

    /// Re-reads the hub certificate, CAs and CRLs; on any error the old
    /// configuration stays in force.
    pub fn reload(&self) -> Result<TrustSummary, TlsError> {
        let seen = DirectoryState::read(&self.trust_dir);
        // Read once per change, whether it loads or not (a failure is reported once).
        *self.loaded.lock().expect("trust directory lock") = seen;
        let trust = TrustMaterial::load_dir(&self.trust_dir, self.crl_check)?;
        let acceptor = build_acceptor(&self.cert, &self.key, &trust)?;
        let summary = trust.summary.clone();
        *self.acceptor.write().expect("acceptor lock") = Arc::new(acceptor);
        *self.trust.write().expect("trust lock") = Arc::new(trust);
        Ok(summary)
    }

    /// Whether the trust directory differs from when it was last read.
    pub fn directory_changed(&self) -> bool {
        DirectoryState::read(&self.trust_dir) != *self.loaded.lock().expect("trust directory lock")
    }

    pub fn acceptor(&self) -> Arc<SslAcceptor> {
        self.acceptor.read().expect("acceptor lock").clone()
    }

    pub fn trust(&self) -> Arc<TrustMaterial> {
        self.trust.read().expect("trust lock").clone()
    }
}

fn build_acceptor(cert: &PathBuf, key: &PathBuf, trust: &TrustMaterial) -> Result<SslAcceptor, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_certificate_chain_file(cert).map_err(|e| TlsError::HubCert(cert.clone(), e))?;
    b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| TlsError::HubCert(key.clone(), e))?;
    b.check_private_key().map_err(|e| TlsError::HubCert(key.clone(), e))?;
    b.set_cert_store(trust.x509_store()?);
    // Tell clients (browsers above all) which CAs we accept, so they offer the right card.
    for ca in &trust.cas {
        b.add_client_ca(ca)?;
    }
    b.set_verify(SslVerifyMode::PEER);
    b.set_verify_depth(5);
    // Without a session id context, TLS 1.2 resumption with client certificates fails.
    b.set_session_id_context(b"gwx-hub")?;
    b.set_session_cache_mode(SslSessionCacheMode::SERVER);
    b.set_alpn_select_callback(|_, client| {
        openssl::ssl::select_next_proto(b"\x02h2\x08http/1.1", client).ok_or(AlpnError::NOACK)
    });
    Ok(b.build())
}

/// The hub's certificate policy (`pki::policy`) on the certificate OpenSSL
/// has just accepted at this depth: the client's own certificate in full,
/// an intermediate CA's key and signature; a trust anchor is taken as it is.
fn tls_policy(ctx: &openssl::x509::X509StoreContextRef) -> Option<String> {
    use crate::pki::policy;
    let depth = ctx.error_depth() as usize;
    let chain_len = ctx.chain().map_or(0, |c| c.len());
    let cert = ctx.current_cert()?;
    let verdict = if depth == 0 {
        policy::certificate(cert, policy::Use::TlsClient)
    } else if depth + 1 < chain_len {
        policy::key(cert).and_then(|()| policy::issuer_signature(cert))
    } else {
        Ok(())
    };
    verdict.err().map(|w| format!("weak certificate: {w}"))
}

/// Runs the TLS handshake on an accepted connection. The verify callback
/// keeps the first failure so the refusal can be logged with its reason.
pub async fn handshake<S>(
    tls: &TlsState,
    stream: S,
) -> Result<(tokio_openssl::SslStream<S>, Option<PeerCert>), (String, Option<VerifyFailure>)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let acceptor = tls.acceptor();
    let failure: Arc<Mutex<Option<VerifyFailure>>> = Arc::default();
    let setup = || -> Result<tokio_openssl::SslStream<S>, openssl::error::ErrorStack> {
        let mut ssl = openssl::ssl::Ssl::new(acceptor.context())?;
        let record = failure.clone();
        ssl.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
            // OpenSSL's verdict first; then the hub's policy on what it accepted.
            let refused = if ok { tls_policy(ctx) } else { Some(ctx.error().error_string().to_owned()) };
            if let Some(reason) = refused {
                let mut slot = record.lock().expect("verify failure lock");
                if slot.is_none() {
                    let leaf = ctx
                        .chain()
                        .and_then(|c| c.get(0).map(|c| c.to_owned()))
                        .or_else(|| ctx.current_cert().map(|c| c.to_owned()));
                    *slot = Some(VerifyFailure {
                        reason,
                        depth: ctx.error_depth(),
                        subject: leaf.as_ref().map(|c| name_to_string(c.subject_name())),
                        fingerprint: leaf.as_ref().map(|c| fingerprint(c)),
                    });
                }
                // A bad or weak certificate fails the handshake.
                return false;
            }
            true
        });
        tokio_openssl::SslStream::new(ssl, stream)
    };
    let mut s = setup().map_err(|e| (e.to_string(), None))?;
    let result = std::pin::Pin::new(&mut s).accept().await;
    let failure = failure.lock().expect("verify failure lock").take();
    match result {
        Ok(()) => {
            let cert = match s.ssl().peer_certificate() {
                Some(c) => Some(PeerCert::from_x509(&c).map_err(|e| (e.to_string(), None))?),
                None => None,
            };
            Ok((s, cert))
        }
        Err(e) => Err((e.to_string(), failure)),
    }
}
