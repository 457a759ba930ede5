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

mod connections;
mod proxy;
pub mod stall;

use connections::{Admitted, Connections, Event};
use stall::{Activity, BodyVerdict, Lingering, Stalled, TimedBody, Timeouts, Tracked, Watched, watchdog};

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
        Self::start_with_routes(config, store, clock, Router::new()).await
    }

    /// [`start`](Self::start), with `extra` routes served beside the API
    /// (see [`router_with`](crate::http::router_with)).
    pub async fn start_with_routes(
        config: Config,
        store: Store,
        clock: SharedClock,
        extra: Router<crate::http::AppState>,
    ) -> anyhow::Result<Hub> {
        let tls = TlsState::load(&config).context("TLS configuration")?;
        let app = Arc::new(App::new(config, store, clock, tls)?);
        jobs::prepare(&app).await?;
        crate::http::ops::prometheus();
        let (shutdown, _) = watch::channel(false);
        // Listening before the node serves: no event of another node is missed.
        let events = crate::service::events::listen(app.clone(), shutdown.subscribe()).await?;
        let mut tasks = JoinSet::new();

        let router = crate::http::router_with(app.clone(), extra);
        let conns = Connections::new(&app.config.connections);
        raise_open_file_limit(app.config.connections.max_connections);
        let mut https = Vec::new();
        for addr in &app.config.server.https {
            let l = TcpListener::bind(addr).await.with_context(|| format!("bind HTTPS {addr}"))?;
            https.push(l.local_addr()?);
            tasks.spawn(serve_https(app.clone(), l, router.clone(), conns.clone(), shutdown.subscribe()));
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

        if let Some(forward) = events {
            tasks.spawn(forward);
        }
        tasks.spawn(jobs::run_daily(app.clone(), shutdown.subscribe()));
        tasks.spawn(jobs::refresh_guard(app.clone(), shutdown.subscribe()));
        tasks.spawn(crate::service::trust::watch(app.clone(), shutdown.subscribe()));
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

async fn serve_https(
    app: Arc<App>,
    listener: TcpListener,
    router: Router,
    conns: Arc<Connections>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, socket_peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most often: wait for some to close.
                    tracing::warn!(%e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let admitted = match conns.admit() {
            Ok(a) => a,
            Err(why) => {
                drop(stream);
                let (app, conns) = (app.clone(), conns.clone());
                tokio::spawn(async move { conns.log(&app, socket_peer.ip(), None, Event::Refused(why)).await });
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, router, conns) = (app.clone(), router.clone(), conns.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some((tls, conn, _admitted)) = accept_tls(&app, &conns, admitted, stream, socket_peer).await else {
                return;
            };
            let http1 = tls.ssl().selected_alpn_protocol() != Some(b"h2");
            let activity = Activity::new(http1);
            let timeouts = Timeouts::from(&app.config.connections);
            let (ip, cert) = (conn.peer.ip(), conn.cert.as_ref().map(|c| c.fingerprint.clone()));
            let (conn, requests) = (Arc::new(conn), activity.clone());
            let linger_bytes = app.config.limits.max_package_bytes + 4 * 1024 * 1024;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let in_flight = requests.begin();
                let verdict = BodyVerdict::default();
                let waits_for_continue = req
                    .headers()
                    .get(http::header::EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                let mut req = req.map(|b| {
                    let timed = TimedBody::new(b, timeouts, verdict.clone());
                    axum::body::Body::new(Lingering::new(timed, linger_bytes, waits_for_continue, requests.clone()))
                });
                req.extensions_mut().insert(conn.clone());
                req.extensions_mut().insert(verdict);
                let response = router.clone().oneshot(req);
                async move { response.await.map(|r| r.map(|b| axum::body::Body::new(Tracked::new(b, in_flight)))) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(Watched::new(tls, activity.clone())), service);
            tokio::select! {
                r = watcher.watch(connection) => if let Err(e) = r {
                    tracing::debug!(%e, "connection ended with an error");
                },
                why = watchdog(&activity, timeouts) => {
                    let detail = match why {
                        Stalled::Idle => return,
                        Stalled::Headers => format!("the request headers did not arrive within {} s", timeouts.header.as_secs()),
                        Stalled::Sending => format!("the client read nothing of its response for {} s", timeouts.send.as_secs()),
                    };
                    conns.log(&app, ip, cert, Event::TimedOut(detail)).await;
                }
            }
        });
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after 10 s; closing");
    }
}

/// PROXY protocol (when configured), the per-address connection limit,
/// then the TLS handshake. A refused client certificate is written to the
/// exchange log with its reason; so is a handshake that stalls.
async fn accept_tls(
    app: &App,
    conns: &Arc<Connections>,
    mut admitted: Admitted,
    mut stream: TcpStream,
    socket_peer: SocketAddr,
) -> Option<(tokio_openssl::SslStream<TcpStream>, ConnInfo, Admitted)> {
    let handshake_timeout = Duration::from_secs(app.config.connections.handshake_timeout_secs);
    let started = tokio::time::Instant::now();
    let from_proxy = app.trusted_proxies.iter().any(|p| p.contains(socket_peer.ip()));
    let mut peer = socket_peer;
    if app.config.proxy.proxy_protocol && from_proxy {
        match tokio::time::timeout(handshake_timeout, proxy::read_header(&mut stream)).await {
            Ok(Ok(Some(source))) => peer = source,
            Ok(Ok(None)) => {} // PROXY UNKNOWN / LOCAL: the proxy's own connection
            Ok(Err(e)) => {
                tracing::warn!(%socket_peer, %e, "bad PROXY protocol header");
                return None;
            }
            Err(_) => return None,
        }
    }
    // Behind a proxy that does not announce clients, its address is not one client's.
    if (!from_proxy || peer != socket_peer)
        && let Err(why) = conns.admit_from(&mut admitted, peer.ip())
    {
        conns.log(app, peer.ip(), None, Event::Refused(why)).await;
        return None;
    }
    let handshake = crate::runtime::tls::handshake(&app.tls, stream);
    match tokio::time::timeout_at(started + handshake_timeout, handshake).await {
        Ok(Ok((tls, cert))) => {
            let resumed = tls.ssl().session_reused();
            Some((tls, ConnInfo { peer, socket_peer, cert, resumed }, admitted))
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
        Err(_) => {
            let detail = format!("the TLS handshake did not complete within {} s", handshake_timeout.as_secs());
            conns.log(app, peer.ip(), None, Event::TimedOut(detail)).await;
            None
        }
    }
}

/// Lets the process hold `max_connections` sockets besides its files: the
/// soft limit on open files (often 1024) is raised up to the hard one.
fn raise_open_file_limit(max_connections: u32) {
    let wanted = u64::from(max_connections) + 1024;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= wanted {
            return;
        }
        let target = wanted.min(lim.rlim_max);
        if target > lim.rlim_cur {
            lim.rlim_cur = target;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        if target < wanted {
            tracing::warn!(
                hard_limit = lim.rlim_max,
                max_connections,
                "the open-file limit is below connections.max_connections; accepts will fail before the limit"
            );
        }
    }
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
