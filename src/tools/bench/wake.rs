//! `wake`: how soon a recipient's long-poll returns once a document for it
//! is accepted — on the same node (the in-process wake) or, behind a load
//! balancer, on another node (PostgreSQL `NOTIFY` between the nodes).
//! One document at a time, each while the recipient is already waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::load::{Failures, ReceiptCheck};
use super::report::{Latencies, Wake};
use super::*;

/// The long-poll is waiting before the document is sent.
const POLL_HEAD_START: Duration = Duration::from_millis(100);

pub(super) async fn wake(
    sender: &Client,
    receiver: &Client,
    signer: &Signer,
    to: &str,
    documents: usize,
    run: u64,
    check: Arc<ReceiptCheck>,
) -> anyhow::Result<Wake> {
    let (mut after_accept, mut from_submit) = (Vec::new(), Vec::new());
    let mut failures = Failures::default();
    for i in 0..documents {
        let serial = format!("60{run:04}{i:04}");
        let out = make_package(signer, &serial, 4096, 1, vec![to.to_owned()])?;
        // Delivery ids are time-ordered (UUIDv7): only what is delivered from now on.
        let cursor = uuid::Uuid::now_v7();
        let poll = async {
            let page =
                receiver.get_json(&format!("/api/v1/inbox?state=delivered&limit=10&wait=30&cursor={cursor}")).await;
            (page, Instant::now())
        };
        let send = async {
            tokio::time::sleep(POLL_HEAD_START).await;
            let start = Instant::now();
            let sent = sender.send_without_retry(&out).await;
            (sent, start, Instant::now())
        };
        let ((page, woken), (sent, submitted, accepted)) = tokio::join!(poll, send);
        let document = match &sent {
            Ok((201, v)) => v["document_id"].as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        if let Err(cause) = check.verdict(sent, &out.envelope_xml) {
            failures.add(cause);
            continue;
        }
        match page {
            Ok(p) if p["items"].as_array().is_some_and(|v| v.iter().any(|d| d["document_id"] == document.as_str())) => {
                // The poll may return before the sender has read its 201.
                after_accept.push(woken.saturating_duration_since(accepted));
                from_submit.push(woken.saturating_duration_since(submitted));
            }
            Ok(_) => failures.add("the long-poll returned without the document".into()),
            Err(_) => failures.add("the long-poll failed".into()),
        }
    }
    Ok(Wake {
        documents,
        sender_hub: sender.hub().to_owned(),
        receiver_hub: receiver.hub().to_owned(),
        after_accept: Latencies::of(after_accept),
        from_submit: Latencies::of(from_submit),
        failures: failures.total(),
        failures_by_cause: failures.0,
    })
}
