//! Starting and stopping the hub: the HTTPS accept loop (with optional
//! PROXY protocol from trusted load balancers), the plain-HTTP redirector,
//! the daily jobs, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::domain::log::{LogAction, NewLogEntry};
use crate::runtime::clock::SharedClock;
use crate::runtime::config::Config;
use crate::runtime::tls::{ConnInfo, TlsState};
use crate::service::app::App;
use crate::service::jobs;
use crate::store::Store;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A running hub.
pub struct Hub {
    pub app: Arc<App>,
    /// The bound HTTPS addresses (useful with port 0).
    pub https: Vec<SocketAddr>,
    pub http: Vec<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Hub {
    /// Binds every listener and starts serving. Returns once listening.
    pub async fn start(config: Config, store: Store, clock: SharedClock) -> anyhow::Result<Hub> {
        let tls = TlsState::load(&config).context("TLS configuration")?;
        let app = Arc::new(App::new(config, store, clock, tls)?);
        jobs::prepare(&app).await?;
        crate::http::ops::prometheus();
        let (shutdown, _) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let router = crate::http::router(app.clone());
        let mut https = Vec::new();
        for addr in &app.config.server.https {
            let l = TcpListener::bind(addr).await.with_context(|| format!("bind HTTPS {addr}"))?;
            https.push(l.local_addr()?);
            tasks.spawn(serve_https(app.clone(), l, router.clone(), shutdown.subscribe()));
        }

        // The redirect goes to the configured public URL; with port 0 the
        // real HTTPS port is only known now.
        let public_url = match &app.config.server.public_url {
            Some(_) => app.config.public_url(),
            None => format!("https://localhost:{}", https.first().map(|a| a.port()).unwrap_or(443)),
        };
        let mut http = Vec::new();
        for addr in &app.config.server.http {
            let l = TcpListener::bind(addr).await.with_context(|| format!("bind HTTP {addr}"))?;
            http.push(l.local_addr()?);
            tasks.spawn(serve_redirect(l, public_url.clone(), shutdown.subscribe()));
        }

        tasks.spawn(jobs::run_daily(app.clone(), shutdown.subscribe()));
        tasks.spawn(jobs::refresh_guard(app.clone(), shutdown.subscribe()));
        tracing::info!(?https, ?http, database = app.backend_name(), "hub listening");
        Ok(Hub { app, https, http, shutdown, tasks })
    }

    /// Stops accepting, lets open requests finish (up to 10 s), and closes the database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.app.close().await;
    }

    /// Runs the daily jobs now (tests and operators use this).
    pub async fn run_daily_jobs(&self) -> anyhow::Result<jobs::DailyReport> {
        jobs::daily(&self.app).await
    }
}

async fn serve_https(app: Arc<App>, listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, socket_peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(%e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some((tls, conn)) = accept_tls(&app, stream, socket_peer).await else { return };
            let conn = Arc::new(conn);
            let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(conn.clone());
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%e, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after 10 s; closing");
    }
}

/// PROXY protocol (when configured), then the TLS handshake. A refused
/// client certificate is written to the exchange log with its reason.
async fn accept_tls(
    app: &App,
    mut stream: TcpStream,
    socket_peer: SocketAddr,
) -> Option<(tokio_openssl::SslStream<TcpStream>, ConnInfo)> {
    let from_proxy = app.trusted_proxies.iter().any(|p| p.contains(socket_peer.ip()));
    let mut peer = socket_peer;
    if app.config.proxy.proxy_protocol && from_proxy {
        match tokio::time::timeout(PROXY_HEADER_TIMEOUT, read_proxy_header(&mut stream)).await {
            Ok(Ok(Some(source))) => peer = source,
            Ok(Ok(None)) => {} // PROXY UNKNOWN / LOCAL: the proxy's own connection
            Ok(Err(e)) => {
                tracing::warn!(%socket_peer, %e, "bad PROXY protocol header");
                return None;
            }
            Err(_) => return None,
        }
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, crate::runtime::tls::handshake(&app.tls, stream)).await {
        Ok(Ok((tls, cert))) => {
            let resumed = tls.ssl().session_reused();
            Some((tls, ConnInfo { peer, socket_peer, cert, resumed }))
        }
        Ok(Err((error, Some(f)))) => {
            metrics::counter!("gwx_tls_refusals_total").increment(1);
            let subject = f.subject.as_deref().unwrap_or("unknown subject");
            let mut entry = NewLogEntry::new(
                LogAction::TlsRefused,
                format!("client certificate refused at depth {}: {} ({subject})", f.depth, f.reason),
            )
            .source_ip(peer.ip().to_canonical())
            .problem("urn:gwx:error:certificate-refused");
            entry.credential = f.fingerprint;
            app.log(&entry).await;
            tracing::info!(%peer, %error, "TLS handshake refused a client certificate");
            None
        }
        Ok(Err((error, None))) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// Reads exactly one PROXY protocol v1 or v2 header and returns the source
/// address it announces (`None` for UNKNOWN/LOCAL).
async fn read_proxy_header(stream: &mut TcpStream) -> anyhow::Result<Option<SocketAddr>> {
    const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    let mut buf = vec![0u8; 16];
    stream.read_exact(&mut buf[..5]).await?;
    if &buf[..5] == b"PROXY" {
        // v1: text up to CRLF, at most 107 bytes.
        buf.truncate(5);
        while !buf.ends_with(b"\r\n") {
            anyhow::ensure!(buf.len() < 107, "PROXY v1 header too long");
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await?;
            buf.push(b[0]);
        }
    } else {
        stream.read_exact(&mut buf[5..16]).await?;
        anyhow::ensure!(&buf[..12] == V2_SIGNATURE, "connection from a trusted proxy without a PROXY header");
        let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        anyhow::ensure!(len <= 512, "PROXY v2 header too long");
        buf.resize(16 + len, 0);
        stream.read_exact(&mut buf[16..]).await?;
    }
    let header = ppp::HeaderResult::parse(&buf);
    let addresses = match header {
        ppp::HeaderResult::V1(Ok(h)) => match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Unknown => None,
        },
        ppp::HeaderResult::V2(Ok(h)) => match h.addresses {
            ppp::v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            _ => None,
        },
        ppp::HeaderResult::V1(Err(e)) => anyhow::bail!("PROXY v1: {e:?}"),
        ppp::HeaderResult::V2(Err(e)) => anyhow::bail!("PROXY v2: {e:?}"),
    };
    Ok(addresses)
}

/// The plain-HTTP port: every request gets a 301 to the same path on HTTPS.
async fn serve_redirect(listener: TcpListener, public_url: String, mut shutdown: watch::Receiver<bool>) {
    let router = Router::new().fallback(move |req: Request| {
        let public_url = public_url.clone();
        async move { redirect(&public_url, &req) }
    });
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await;
}

fn redirect(public_url: &str, req: &Request) -> Response {
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // 301 exactly (seeds/004): axum's Redirect::permanent would answer 308.
    let location = format!("{public_url}{path}");
    (http::StatusCode::MOVED_PERMANENTLY, [(http::header::LOCATION, location)]).into_response()
}
