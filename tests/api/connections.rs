//! Connections a single client cannot use to exhaust the hub: stalled
//! handshakes, headers, uploads and downloads are cut off and logged, idle
//! keep-alive connections closed quietly, and connections counted per
//! address and in all (`[connections]` in gwx.toml). These rules live in
//! the accept loop, not in storage, so they run on SQLite alone.

use std::time::Duration;

use gwx::runtime::config::Config;
use gwx::tools::demo::{EDUCATION, SECRETARIAT};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, TestHub, raw_response, read_until_closed};

async fn hub(configure: impl FnOnce(&mut gwx::runtime::config::ConnectionsConfig)) -> TestHub {
    TestHub::start_with(Backend::Sqlite, |c: &mut Config| configure(&mut c.connections)).await
}

async fn logged_count(hub: &TestHub, action: &str) -> usize {
    let filter = gwx::store::LogFilter { actions: vec![action.into()], limit: 1000, ..Default::default() };
    hub.store().log_entries(&filter).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_starts_its_handshake_is_closed_and_logged() {
    let hub = hub(|c| c.handshake_timeout_secs = 1).await;
    let mut tcp = hub.raw_tcp("127.0.0.1").await;
    assert!(read_until_closed(&mut tcp, 30).await.is_empty());
    let e = hub.logged("connection.timed_out", "the TLS handshake did not complete within 1 s").await;
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off_after_the_header_timeout_and_logged() {
    let hub = hub(|c| {
        c.header_timeout_secs = 1;
        c.keep_alive_idle_secs = 600;
    })
    .await;
    let mut tls = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    assert!(read_until_closed(&mut tls, 30).await.is_empty());
    let e = hub.logged("connection.timed_out", "the request headers did not arrive within 1 s").await;
    assert!(e.credential.is_some(), "the certificate that stalled is named");
    hub.stop().await;
}

/// A multipart upload as SECRETARIAT that declares `length` bytes and sends `sent` of them.
async fn start_upload(hub: &TestHub, length: u64, sent: &[u8]) -> crate::helpers::RawTls {
    let mut tls = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    let head = format!(
        "POST /api/v1/documents HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XX\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(sent).await.unwrap();
    tls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_refused_with_408_and_logged() {
    // The idle timeout alone: with the minimum rate on, a little waiting
    // between the first chunks on a loaded machine lets the rate verdict
    // (as rightly) come first, with its own words.
    let hub = hub(|c| {
        c.body_idle_timeout_secs = 1;
        c.min_upload_bytes_per_sec = 0;
    })
    .await;
    let mut tls =
        start_upload(&hub, 100_000, b"--XX\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n<env").await;
    let (status, head, problem) = raw_response(&read_until_closed(&mut tls, 30).await);
    assert_eq!(status, 408, "{problem}");
    assert_eq!(problem["type"], "urn:gwx:error:request-timeout");
    assert!(head.contains("connection: close"), "{head}");
    let e = hub.logged("request.refused", "no byte of the request body arrived for 1 s").await;
    assert_eq!(e.participant.as_deref(), Some(SECRETARIAT));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_slower_than_the_minimum_rate_is_refused() {
    let hub = hub(|c| {
        c.body_idle_timeout_secs = 2;
        c.min_upload_bytes_per_sec = 100_000;
    })
    .await;
    let tls = start_upload(&hub, 1_000_000, b"--XX\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n").await;
    let (mut rx, mut tx) = tokio::io::split(tls);
    // Ten bytes every 300 ms: never idle for 2 s, but far below 100 kB/s.
    let drip = tokio::spawn(async move {
        while tx.write_all(b"<envelope>").await.is_ok() && tx.flush().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let (status, _, problem) = raw_response(&read_until_closed(&mut rx, 60).await);
    drip.abort();
    assert_eq!(status, 408, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("below the minimum of 100000"), "{problem}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    // No timeout can be what answers: the upload could wait ten minutes.
    let hub = hub(|c| c.body_idle_timeout_secs = 600).await;
    let mut tls = start_upload(&hub, 2 * 1024 * 1024 * 1024, b"").await;
    let (status, _, problem) = raw_response(&read_until_closed(&mut tls, 30).await);
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["type"], "urn:gwx:error:package-too-large");
    assert!(problem["detail"].as_str().unwrap().contains("declares 2147483648 bytes"), "{problem}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_without_a_log_entry() {
    let hub = hub(|c| c.keep_alive_idle_secs = 1).await;
    let mut tls = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    // The answer, then (no Connection: close asked) the idle close.
    let (status, _, me) = raw_response(&read_until_closed(&mut tls, 30).await);
    assert_eq!((status, me["participant"]["code"].as_str()), (200, Some(SECRETARIAT)), "{me}");
    assert_eq!(logged_count(&hub, "connection.timed_out").await, 0, "an idle close is ordinary");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_too() {
    let hub = hub(|c| c.keep_alive_idle_secs = 1).await;
    let mut tls = hub.raw_tls(SECRETARIAT, "h2", "127.0.0.1").await.unwrap();
    assert_eq!(tls.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));
    // The client preface and an empty SETTINGS frame, then nothing.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.unwrap();
    let server_frames = read_until_closed(&mut tls, 30).await;
    assert!(!server_frames.is_empty(), "the hub spoke HTTP/2 before closing");
    assert_eq!(logged_count(&hub, "connection.timed_out").await, 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_a_request_in_progress_not_an_idle_connection() {
    let hub = hub(|c| c.keep_alive_idle_secs = 1).await;
    let inbox = hub.as_(EDUCATION).get("/api/v1/inbox?wait=3").await.ok();
    assert_eq!(inbox["items"].as_array().unwrap().len(), 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_download_is_disconnected_and_logged() {
    let hub = TestHub::start_with(Backend::Sqlite, |c| {
        c.connections.send_timeout_secs = 1;
        c.limits.max_file_bytes = 64 << 20;
        c.limits.max_package_bytes = 128 << 20;
    })
    .await;
    // A package larger than every buffer between the hub and the client.
    let opts = gwx::client::package::SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    let sent = hub.send_doc(&hub.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150000777", &opts, Some(32 << 20)).await;
    sent.created();
    let delivery = hub.inbox(EDUCATION).await[0]["id"].as_str().unwrap().to_owned();
    let mut tls = hub.raw_tls(EDUCATION, "http/1.1", "127.0.0.1").await.unwrap();
    let get = format!("GET /api/v1/deliveries/{delivery}/package HTTP/1.1\r\nHost: localhost\r\n\r\n");
    tls.write_all(get.as_bytes()).await.unwrap();
    let e = hub.logged("connection.timed_out", "the client read nothing of its response for 1 s").await;
    assert!(e.credential.is_some());
    let got = read_until_closed(&mut tls, 30).await;
    assert!(got.len() < 32 << 20, "the download was cut off ({} bytes)", got.len());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_share_of_connections() {
    let hub = hub(|c| c.max_connections_per_ip = 2).await;
    let first = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    let _second = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    assert!(hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.is_err(), "a third is refused");
    hub.logged("connection.refused", "127.0.0.1 already holds its maximum of 2 connections").await;
    // Another address is not affected.
    let _other = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.2").await.unwrap();
    // A closed connection gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(c) = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the place of the closed connection was not given back");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_of_connections_is_bounded_for_all_addresses_together() {
    let hub = hub(|c| {
        c.max_connections = 2;
        c.max_connections_per_ip = 2;
    })
    .await;
    let _a = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.1").await.unwrap();
    let _b = hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.2").await.unwrap();
    assert!(hub.raw_tls(SECRETARIAT, "http/1.1", "127.0.0.3").await.is_err());
    let e = hub.logged("connection.refused", "the hub already holds its maximum of 2 connections").await;
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.3"));
    hub.stop().await;
}

/// A multipart body whose first part the hub refuses at once, followed by
/// 8 MiB the client sends anyway.
fn refused_at_once() -> Vec<u8> {
    let mut body = b"--XX\r\nContent-Disposition: form-data; name=\"bogus\"\r\n\r\n".to_vec();
    body.resize(body.len() + (8 << 20), b'x');
    body.extend(b"\r\n--XX--\r\n");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_that_sends_all_before_reading_gets_the_refusal() {
    let hub = hub(|c| c.keep_alive_idle_secs = 2).await;
    let body = refused_at_once();
    let mut tls = start_upload(&hub, body.len() as u64, b"").await;
    tls.write_all(&body).await.expect("the hub reads the rest of a refused upload");
    tls.flush().await.unwrap();
    let (status, _, problem) = raw_response(&read_until_closed(&mut tls, 30).await);
    assert_eq!((status, problem["type"].as_str()), (400, Some("urn:gwx:error:invalid-package")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("unknown part 'bogus'"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_gets_the_refusal_not_a_reset_stream() {
    let hub = hub(|_| {}).await;
    let tls = hub.raw_tls(SECRETARIAT, "h2", "127.0.0.1").await.unwrap();
    let (mut client, connection) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(connection);
    let req = http::Request::post(hub.url("/api/v1/documents"))
        .header("content-type", "multipart/form-data; boundary=XX")
        .body(())
        .unwrap();
    let (response, mut upload) = client.send_request(req, false).unwrap();
    let sender = tokio::spawn(async move {
        for chunk in refused_at_once().chunks(16384) {
            upload.reserve_capacity(chunk.len());
            loop {
                match std::future::poll_fn(|cx| upload.poll_capacity(cx)).await {
                    Some(Ok(n)) if n >= chunk.len() => break,
                    Some(Ok(_)) => continue,
                    _ => return Err("the hub reset the stream"),
                }
            }
            upload.send_data(bytes::Bytes::copy_from_slice(chunk), false).map_err(|_| "send failed")?;
        }
        upload.send_data(bytes::Bytes::new(), true).map_err(|_| "end failed")
    });
    let response = response.await.expect("a response, not a stream error");
    assert_eq!(response.status(), 400);
    let mut body = response.into_body();
    let mut problem = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("the whole problem, not a stream error");
        let _ = body.flow_control().release_capacity(chunk.len());
        problem.extend_from_slice(&chunk);
    }
    let problem: serde_json::Value = serde_json::from_slice(&problem).unwrap();
    assert_eq!(problem["type"], "urn:gwx:error:invalid-package");
    assert_eq!(sender.await.unwrap(), Ok(()), "the hub read the whole upload");
    hub.stop().await;
}
