//! Watching a connection so that no client can hold one without using it:
//! what it read and wrote and when, whether a request is in progress, and
//! how fast an upload arrives. A [`watchdog`] says when a connection has
//! stalled (idle, half-sent headers, a response nobody reads); a
//! [`TimedBody`] refuses an upload that stops or crawls.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::runtime::config::ConnectionsConfig;

const NEVER: u64 = u64::MAX;

/// The timeouts of one connection, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub body_idle: Duration,
    pub min_upload_rate: u64,
    pub send: Duration,
    pub keep_alive_idle: Duration,
}

impl From<&ConnectionsConfig> for Timeouts {
    fn from(c: &ConnectionsConfig) -> Self {
        Timeouts {
            header: Duration::from_secs(c.header_timeout_secs),
            body_idle: Duration::from_secs(c.body_idle_timeout_secs),
            min_upload_rate: c.min_upload_bytes_per_sec,
            send: Duration::from_secs(c.send_timeout_secs),
            keep_alive_idle: Duration::from_secs(c.keep_alive_idle_secs),
        }
    }
}

/// What a connection has been doing, in milliseconds since it opened.
pub struct Activity {
    start: Instant,
    /// HTTP/1.1: bytes read while no request is in progress are the start
    /// of the next request's headers. (HTTP/2 reads pings and settings.)
    http1: bool,
    in_flight: AtomicU32,
    /// When the last request ended (or the connection opened).
    idle_since: AtomicU64,
    /// HTTP/1.1: when the first byte of the next request arrived.
    head_since: AtomicU64,
    /// When a write last found the client's window full, until one succeeds.
    blocked_since: AtomicU64,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stalled {
    /// No request for `keep_alive_idle`: an ordinary close.
    Idle,
    /// A request's headers did not arrive in time.
    Headers,
    /// The client stopped reading its response.
    Sending,
}

impl Activity {
    pub fn new(http1: bool) -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            http1,
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NEVER),
            blocked_since: AtomicU64::new(NEVER),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// A request has arrived whole; the connection is busy until the guard
    /// (held by the response body) is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(NEVER, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn read(&self) {
        if self.http1 && self.in_flight.load(Ordering::SeqCst) == 0 {
            let _ = self.head_since.compare_exchange(NEVER, self.now(), Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    fn write_blocked(&self) {
        let _ = self.blocked_since.compare_exchange(NEVER, self.now(), Ordering::SeqCst, Ordering::SeqCst);
    }

    fn wrote(&self) {
        self.blocked_since.store(NEVER, Ordering::SeqCst);
    }

    /// The earliest moment the connection counts as stalled, and why.
    fn deadline(&self, t: &Timeouts) -> (u64, Stalled) {
        let after = |since: u64, d: Duration| since.saturating_add(u64::try_from(d.as_millis()).unwrap_or(NEVER));
        let mut next = (NEVER, Stalled::Idle);
        let blocked = self.blocked_since.load(Ordering::SeqCst);
        if blocked != NEVER {
            next = (after(blocked, t.send), Stalled::Sending);
        }
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let head = self.head_since.load(Ordering::SeqCst);
            let idle = if head != NEVER {
                (after(head, t.header), Stalled::Headers)
            } else {
                (after(self.idle_since.load(Ordering::SeqCst), t.keep_alive_idle), Stalled::Idle)
            };
            if idle.0 < next.0 {
                next = idle;
            }
        }
        next
    }
}

/// A request in progress on a connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            a.idle_since.store(a.now(), Ordering::SeqCst);
        }
    }
}

/// Resolves when the connection has stalled (checked at least once a
/// second, so a change of state is seen within about a second).
pub async fn watchdog(activity: &Activity, t: Timeouts) -> Stalled {
    loop {
        let (at, why) = activity.deadline(&t);
        let now = activity.now();
        if now >= at {
            return why;
        }
        tokio::time::sleep(Duration::from_millis((at - now).min(1000))).await;
    }
}

/// The connection's byte stream, reporting reads and blocked writes to its [`Activity`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        match r {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => self.activity.wrote(),
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S> Watched<S> {
    fn note(&self, r: &Poll<std::io::Result<usize>>) {
        match r {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Ready(_) => {}
        }
    }
}

/// Why an upload was refused: set by [`TimedBody`], turned into a `408`
/// problem by the router whatever the handler made of the broken body.
#[derive(Clone, Default)]
pub struct BodyVerdict(Arc<OnceLock<String>>);

impl BodyVerdict {
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyTimedOut(String);

/// A request body that fails when no byte arrives for `body_idle`, or when,
/// once the hub has waited that long in all, the bytes came slower than
/// `min_upload_rate` on average. Only time spent waiting for the client
/// counts, not time the handler spent on what it had received.
pub struct TimedBody<B> {
    inner: B,
    t: Timeouts,
    received: u64,
    waited: Duration,
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    verdict: BodyVerdict,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, t: Timeouts, verdict: BodyVerdict) -> Self {
        TimedBody { inner, t, received: 0, waited: Duration::ZERO, waiting_since: None, timer: None, verdict }
    }

    /// When waiting that began at `since` stops being acceptable, and what is said then.
    fn deadline(&self, since: Instant) -> (Instant, String) {
        let idle = (
            since + self.t.body_idle,
            format!("no byte of the request body arrived for {} s", self.t.body_idle.as_secs()),
        );
        if self.t.min_upload_rate == 0 {
            return idle;
        }
        // Too slow once waited > received / rate, and waited ≥ body_idle.
        let needed =
            Duration::from_secs_f64(self.received as f64 / self.t.min_upload_rate as f64).max(self.t.body_idle);
        let at = since + needed.saturating_sub(self.waited);
        if at < idle.0 {
            let waited = (self.waited + at.saturating_duration_since(since)).as_secs_f64().max(1.0);
            let detail = format!(
                "the request body arrived at {:.0} bytes a second, below the minimum of {}",
                self.received as f64 / waited,
                self.t.min_upload_rate
            );
            (at, detail)
        } else {
            idle
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(Ok(f)) = &frame
                    && let Some(data) = f.data_ref()
                {
                    this.received += data.len() as u64;
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let since = *this.waiting_since.get_or_insert_with(Instant::now);
                let (at, detail) = this.deadline(since);
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                ready!(timer.as_mut().poll(cx));
                let _ = this.verdict.0.set(detail.clone());
                Poll::Ready(Some(Err(Box::new(BodyTimedOut(detail)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How long the rest of a refused upload is read and thrown away.
const LINGER: Duration = Duration::from_secs(30);

/// A request body that, dropped before its end (a handler refused the
/// request early), is read on and thrown away — at most `max_bytes` more,
/// for at most [`LINGER`] — so that the client, which may send everything
/// before it reads (or, on HTTP/2, would see its stream reset), gets the
/// answer. Not when the body is known to be longer than that, nor when an
/// HTTP/1.1 client waits for `100 Continue` and was never told to send.
pub struct Lingering<B: Body<Data = Bytes> + Unpin + Send + 'static> {
    inner: Option<B>,
    max_bytes: u64,
    started: bool,
    activity: Arc<Activity>,
}

impl<B: Body<Data = Bytes> + Unpin + Send + 'static> Lingering<B> {
    pub fn new(inner: B, max_bytes: u64, waits_for_continue: bool, activity: Arc<Activity>) -> Self {
        Lingering { inner: Some(inner), max_bytes, started: !waits_for_continue, activity }
    }
}

impl<B: Body<Data = Bytes> + Unpin + Send + 'static> Body for Lingering<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.started = true;
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(|b| b.size_hint()).unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl<B: Body<Data = Bytes> + Unpin + Send + 'static> Drop for Lingering<B> {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else { return };
        if !self.started || body.is_end_stream() || body.size_hint().lower() > self.max_bytes {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        // The connection is busy while it drains: not idle, not a new request.
        let busy = self.activity.begin();
        let max_bytes = self.max_bytes;
        runtime.spawn(async move {
            let mut read = 0u64;
            let drain = async {
                while let Some(Ok(frame)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                    if read > max_bytes {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
            drop(busy);
        });
    }
}

/// A response body that keeps its request [`InFlight`] until it is sent or dropped.
pub struct Tracked<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Tracked { inner, _in_flight: in_flight }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts {
            header: Duration::from_secs(10),
            body_idle: Duration::from_secs(20),
            min_upload_rate: 1000,
            send: Duration::from_secs(5),
            keep_alive_idle: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_stalls_after_keep_alive_and_a_busy_one_never() {
        let a = Activity::new(true);
        let busy = a.begin();
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(a.deadline(&timeouts()).0, NEVER, "a request in progress is not idle");
        drop(busy);
        let (at, why) = a.deadline(&timeouts());
        assert_eq!((at, why), (120_000 + 30_000, Stalled::Idle));
        a.read();
        assert_eq!(a.deadline(&timeouts()), (120_000 + 10_000, Stalled::Headers), "half a request: header timeout");
        a.write_blocked();
        let _busy = a.begin();
        assert_eq!(a.deadline(&timeouts()), (120_000 + 5_000, Stalled::Sending));
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_reading_pings_is_still_idle() {
        let a = Activity::new(false);
        a.read();
        assert_eq!(a.deadline(&timeouts()).1, Stalled::Idle);
    }

    #[test]
    fn the_rate_deadline_counts_only_time_spent_waiting() {
        let verdict = BodyVerdict::default();
        let mut b = TimedBody::new(axum::body::Body::empty(), timeouts(), verdict);
        let since = Instant::now();
        // Nothing received: the idle limit comes first.
        assert_eq!(b.deadline(since).0, since + Duration::from_secs(20));
        // 60,000 bytes at 1,000 a second may take 60 s of waiting; 50 s already waited.
        b.received = 60_000;
        b.waited = Duration::from_secs(50);
        let (at, detail) = b.deadline(since);
        assert_eq!(at, since + Duration::from_secs(10));
        assert!(detail.contains("below the minimum of 1000"), "{detail}");
    }
}
