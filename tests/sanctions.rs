//! Sanctions (§15, terms §10–11) and the public roster (§5-4): IP blocks
//! that take effect on open connections, rate limits, suspension and
//! termination, and a roster readable without a certificate.

mod common;

use common::{Backend, TestHub, json, problem, wait_for_log};
use gwx::tools::demo::{ASSOCIATION, CIVIL_AFFAIRS, FOUNDATION, IT_BUREAU, RDEC, SECRETARIAT};
use serde_json::json;

async fn roster_is_public_in_json_and_csv_with_its_changes(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let anonymous = hub.anonymous();
    let list = json(anonymous.get(hub.url("/api/v1/roster")).send().await.unwrap(), 200).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), gwx::tools::demo::PARTICIPANTS.len());
    let foundation = list.iter().find(|e| e["code"] == FOUNDATION).unwrap();
    assert_eq!(foundation["kind"], "connected_user");
    assert_eq!(foundation["name"], "財團法人臺北市青少年文教基金會");
    assert_eq!(foundation["capabilities"], json!({"receive": true, "send": true}));
    assert!(foundation["since"].is_string());

    let admin = hub.client(IT_BUREAU);
    let minute = chrono::Duration::minutes(1);
    hub.clock.advance(minute);
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend")))
            .json(&json!({"reason": "資安稽核"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    hub.clock.advance(minute);
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate")))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    hub.clock.advance(minute);
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{FOUNDATION}/terminate")))
            .json(&json!({"reason": "申請註銷"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;

    let csv = anonymous.get(hub.url("/api/v1/roster?format=csv")).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "\u{feff}code,name,kind,receive,send,status,since,updated_at");
    assert!(csv.contains(&format!("{SECRETARIAT},臺北市政府秘書處,agency,true,true,active,")), "{csv}");
    assert!(!csv.contains(FOUNDATION), "a cancelled participant leaves the roster");
    assert_eq!(csv.lines().count(), gwx::tools::demo::PARTICIPANTS.len());

    let changes = json(anonymous.get(hub.url("/api/v1/roster/changes")).send().await.unwrap(), 200).await;
    let kinds: Vec<(String, String)> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap().to_owned(), c["change"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(kinds.iter().filter(|(_, c)| c == "registered").count(), gwx::tools::demo::PARTICIPANTS.len());
    let tail: Vec<_> = kinds.iter().rev().take(3).rev().cloned().collect();
    assert_eq!(
        tail,
        [
            (CIVIL_AFFAIRS.to_owned(), "suspended".to_owned()),
            (CIVIL_AFFAIRS.to_owned(), "reinstated".to_owned()),
            (FOUNDATION.to_owned(), "terminated".to_owned())
        ]
    );
    let last = &changes["items"].as_array().unwrap().last().unwrap();
    assert!(last["detail"].as_str().unwrap().contains("申請註銷"));
    // Only what happened since a given time.
    let since = urlencode(last["at"].as_str().unwrap());
    let recent =
        json(anonymous.get(hub.url(&format!("/api/v1/roster/changes?since={since}"))).send().await.unwrap(), 200).await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn a_block_takes_effect_on_open_connections(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.client(IT_BUREAU);
    let association = hub.client_from(ASSOCIATION, "127.0.0.2");
    let url = hub.url("/api/v1/whoami");
    json(association.get(&url).send().await.unwrap(), 200).await;

    // The operator cannot lock itself out by accident.
    problem(
        admin.post(hub.url("/api/v1/blocks")).json(&json!({"ip": "127.0.0.0/30", "reason": "x"})).send().await.unwrap(),
        422,
        "invalid-field",
    )
    .await;
    problem(
        admin.post(hub.url("/api/v1/blocks")).json(&json!({"ip": "127.0.0.2", "reason": " "})).send().await.unwrap(),
        422,
        "invalid-field",
    )
    .await;
    // Other roles cannot block at all.
    problem(
        hub.client(SECRETARIAT)
            .post(hub.url("/api/v1/blocks"))
            .json(&json!({"ip": "127.0.0.2", "reason": "x"}))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;

    let b = json(
        admin
            .post(hub.url("/api/v1/blocks"))
            .json(&json!({"ip": "127.0.0.2", "reason": "異常大量連線"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    // The same keep-alive client, the very next request: refused, and told to close.
    let resp = association.get(&url).send().await.unwrap();
    assert_eq!(resp.headers().get("connection").map(|v| v.to_str().unwrap()), Some("close"));
    let v = problem(resp, 403, "ip-blocked").await;
    assert!(v["detail"].as_str().unwrap().contains("異常大量連線"));
    // Public pages too.
    let anon = reqwest::Client::builder()
        .tls_certs_only(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(hub.path("certs/ca.pem")).unwrap()).unwrap(),
        )
        .resolve("localhost", hub.addr())
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap();
    problem(anon.get(hub.url("/api/v1/roster")).send().await.unwrap(), 403, "ip-blocked").await;
    // Others are not affected.
    json(hub.client(FOUNDATION).get(&url).send().await.unwrap(), 200).await;
    wait_for_log(hub.store(), "ip.blocked", "127.0.0.2 blocked").await;
    let e = wait_for_log(hub.store(), "auth.refused", "is blocked").await;
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.2"));

    let list = json(admin.get(hub.url("/api/v1/blocks")).send().await.unwrap(), 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = b["id"].as_i64().unwrap();
    assert_eq!(admin.delete(hub.url(&format!("/api/v1/blocks/{id}"))).send().await.unwrap().status(), 204);
    json(hub.client_from(ASSOCIATION, "127.0.0.2").get(&url).send().await.unwrap(), 200).await;
    wait_for_log(hub.store(), "ip.unblocked", "127.0.0.2").await;
    hub.stop().await;
}

async fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| {
        c.limits.requests_per_minute_per_certificate = 5;
        c.limits.requests_per_minute_per_ip = 8;
    })
    .await;
    let url = hub.url("/api/v1/whoami");
    let me = hub.client(RDEC);
    for _ in 0..5 {
        json(me.get(&url).send().await.unwrap(), 200).await;
    }
    let resp = me.get(&url).send().await.unwrap();
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let v = problem(resp, 429, "rate-limited").await;
    assert!(v["detail"].as_str().unwrap().contains("certificate"));
    // Another certificate from the same address still has room, until the address's own limit.
    json(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 200).await;
    json(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 200).await;
    let v = problem(hub.client(SECRETARIAT).get(&url).send().await.unwrap(), 429, "rate-limited").await;
    assert!(v["detail"].as_str().unwrap().contains("address"));
    wait_for_log(hub.store(), "auth.refused", "too many requests").await;
    hub.stop().await;
}

async fn suspension_and_termination_from_both_sides(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.client(IT_BUREAU);
    // A document to 民政局 is waiting in its inbox.
    let doc = send(&hub, SECRETARIAT, "8000001", &[CIVIL_AFFAIRS, RDEC]).await;
    let doc = json(doc, 201).await["document_id"].as_str().unwrap().to_owned();

    // A suspended sender cannot send; reinstated, it can.
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{SECRETARIAT}/suspend")))
            .json(&json!({"reason": "違反管理規範"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    problem(send(&hub, SECRETARIAT, "8000002", &[RDEC]).await, 403, "participant-suspended").await;
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{SECRETARIAT}/reinstate")))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    json(send(&hub, SECRETARIAT, "8000002", &[RDEC]).await, 201).await;

    // Terminated: it cannot act any more, nobody can send to it, and the
    // sender still sees its pending delivery.
    json(
        admin
            .post(hub.url(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/terminate")))
            .json(&json!({"reason": "機關裁撤"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    problem(
        hub.client(CIVIL_AFFAIRS).get(hub.url("/api/v1/inbox")).send().await.unwrap(),
        403,
        "participant-suspended",
    )
    .await;
    let v = problem(send(&hub, SECRETARIAT, "8000003", &[CIVIL_AFFAIRS]).await, 422, "recipient-unreachable").await;
    assert!(v["detail"].as_str().unwrap().contains("terminated"));
    let s = json(hub.client(SECRETARIAT).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200)
        .await;
    let civil = s["recipients"].as_array().unwrap().iter().find(|r| r["recipient"] == CIVIL_AFFAIRS).unwrap();
    assert_eq!(civil["state"], "delivered");
    // The sender records the paper resend for it.
    let id = civil["id"].as_str().unwrap();
    json(
        hub.client(SECRETARIAT).post(hub.url(&format!("/api/v1/deliveries/{id}/paper-resend"))).send().await.unwrap(),
        200,
    )
    .await;
    hub.stop().await;
}

/// Sends a document without attachments from `sender` to `to`.
async fn send(hub: &TestHub, sender: &str, serial: &str, to: &[&str]) -> reqwest::Response {
    common::send_plain(hub, &hub.client(sender), sender, sender, serial, to, &[]).await
}

both_databases!(
    roster_is_public_in_json_and_csv_with_its_changes,
    a_block_takes_effect_on_open_connections,
    rate_limits_answer_429_with_retry_after,
    suspension_and_termination_from_both_sides,
);
