//! The life of a delivery (DESIGN §4): only its recipient sees it, only the
//! sender the document; fetch before confirm, a return needs its reason,
//! final states stay final; paper resends; the inbox long-poll.

use gwx::tools::demo::{CIVIL_AFFAIRS, IT_BUREAU, RDEC, SECRETARIAT};
use serde_json::json;

use crate::helpers::{Backend, TestHub, detail};
use crate::packages::{letter, parts, post};

/// Sends the letter (to SECRETARIAT, copy to RDEC); returns SECRETARIAT's
/// delivery id, RDEC's, and the document id.
async fn sent(hub: &TestHub) -> (String, String, String) {
    post(hub, IT_BUREAU, parts(&letter(hub))).await.created();
    let mine = hub.inbox(SECRETARIAT).await.remove(0);
    let theirs = hub.inbox(RDEC).await.remove(0);
    let id = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
    (id(&mine, "id"), id(&theirs, "id"), id(&mine, "document_id"))
}

async fn a_delivery_does_not_exist_for_anyone_but_its_recipient(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (mine, _, _) = sent(&hub).await;
    let url = |what: &str| format!("/api/v1/deliveries/{mine}{what}");
    // Not even for the sender.
    for who in [RDEC, CIVIL_AFFAIRS, IT_BUREAU] {
        let c = hub.as_(who);
        c.get(&url("")).await.refused(404, "not-found");
        c.get(&url("/package")).await.refused(404, "not-found");
        c.post_empty(&url("/confirm")).await.refused(404, "not-found");
        c.post(&url("/return"), json!({"reason": "x"})).await.refused(404, "not-found");
    }
    hub.stop().await;
}

async fn only_the_sender_sees_the_documents_status_and_receipt(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, _, doc) = sent(&hub).await;
    hub.as_(SECRETARIAT).get(&format!("/api/v1/documents/{doc}")).await.refused(404, "not-found");
    hub.as_(SECRETARIAT).get(&format!("/api/v1/documents/{doc}/receipt")).await.refused(404, "not-found");
    hub.as_(IT_BUREAU).get(&format!("/api/v1/documents/{doc}")).await.ok();
    hub.stop().await;
}

async fn a_delivery_is_confirmed_only_after_it_is_fetched(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (mine, _, _) = sent(&hub).await;
    let me = hub.as_(SECRETARIAT);
    me.post_empty(&format!("/api/v1/deliveries/{mine}/confirm")).await.refused(409, "invalid-state");
    let r = me.get(&format!("/api/v1/deliveries/{mine}/package")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(me.get(&format!("/api/v1/deliveries/{mine}")).await.ok()["state"], "fetched");
    assert_eq!(me.post_empty(&format!("/api/v1/deliveries/{mine}/confirm")).await.ok()["state"], "confirmed");
    hub.stop().await;
}

async fn a_return_needs_its_reason(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (mine, _, _) = sent(&hub).await;
    let me = hub.as_(SECRETARIAT);
    let url = format!("/api/v1/deliveries/{mine}/return");
    me.post(&url, json!({"reason": "  "})).await.refused(422, "invalid-field");
    me.post(&url, json!({})).await.refused(422, "invalid-request");
    hub.stop().await;
}

async fn a_returned_delivery_is_neither_confirmed_nor_returned_again(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (mine, _, _) = sent(&hub).await;
    let me = hub.as_(SECRETARIAT);
    let url = |what: &str| format!("/api/v1/deliveries/{mine}{what}");
    assert_eq!(me.get(&url("/package")).await.status, 200);
    me.post(&url("/return"), json!({"reason": "附件缺漏"})).await.ok();
    let v = me.post_empty(&url("/confirm")).await.refused(409, "invalid-state");
    assert!(detail(&v).contains("returned"));
    me.post(&url("/return"), json!({"reason": "again"})).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn a_second_confirmation_keeps_the_first_and_a_confirmed_delivery_is_returned_on_paper(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, theirs, _) = sent(&hub).await;
    let them = hub.as_(RDEC);
    let url = |what: &str| format!("/api/v1/deliveries/{theirs}{what}");
    them.get(&url("/package")).await;
    let c1 = them.post_empty(&url("/confirm")).await.ok();
    let c2 = them.post_empty(&url("/confirm")).await.ok();
    assert_eq!(c1["confirmed_at"], c2["confirmed_at"]);
    let v = them.post(&url("/return"), json!({"reason": "x"})).await.refused(409, "invalid-state");
    assert!(detail(&v).contains("paper"));
    hub.stop().await;
}

async fn the_sender_records_one_paper_resend_of_an_unconfirmed_delivery(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (mine, theirs, _) = sent(&hub).await;
    hub.as_(SECRETARIAT).post(&format!("/api/v1/deliveries/{mine}/return"), json!({"reason": "附件缺漏"})).await.ok();
    hub.fetch_and_confirm(RDEC, &theirs).await;
    let resend = |id: &str| format!("/api/v1/deliveries/{id}/paper-resend");
    let sender = hub.as_(IT_BUREAU);
    // The recipient is not the sender; a confirmed delivery needs none.
    hub.as_(SECRETARIAT).post_empty(&resend(&mine)).await.refused(404, "not-found");
    sender.post_empty(&resend(&theirs)).await.refused(409, "invalid-state");
    let r = sender.post(&resend(&mine), json!({"note": "115年11月23日掛號寄出"})).await.ok();
    assert!(r["paper_resend_at"].is_string());
    assert_eq!(r["paper_resend_note"], "115年11月23日掛號寄出");
    sender.post_empty(&resend(&mine)).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn a_long_poll_returns_when_a_document_arrives(backend: Backend) {
    let hub = std::sync::Arc::new(TestHub::start(backend).await);
    let out = letter(&hub);
    let h = hub.clone();
    let waiting = tokio::spawn(async move { h.as_(SECRETARIAT).get("/api/v1/inbox?wait=30").await.ok() });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    post(&hub, IT_BUREAU, parts(&out)).await.created();
    let inbox = waiting.await.unwrap();
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);
    std::sync::Arc::into_inner(hub).unwrap().stop().await;
}

async fn an_inbox_without_news_answers_at_once(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let none = hub.as_(CIVIL_AFFAIRS).get("/api/v1/inbox?state=delivered").await.ok();
    assert!(none["items"].as_array().unwrap().is_empty());
    hub.stop().await;
}

crate::both_databases!(
    a_delivery_does_not_exist_for_anyone_but_its_recipient,
    only_the_sender_sees_the_documents_status_and_receipt,
    a_delivery_is_confirmed_only_after_it_is_fetched,
    a_return_needs_its_reason,
    a_returned_delivery_is_neither_confirmed_nor_returned_again,
    a_second_confirmation_keeps_the_first_and_a_confirmed_delivery_is_returned_on_paper,
    the_sender_records_one_paper_resend_of_an_unconfirmed_delivery,
    a_long_poll_returns_when_a_document_arrives,
    an_inbox_without_news_answers_at_once,
);

async fn a_long_poll_waits_at_most_a_minute(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let v = hub.as_(SECRETARIAT).get("/api/v1/inbox?wait=61").await.refused(400, "invalid-request");
    assert!(detail(&v).contains("at most 60 seconds"), "{v}");
    hub.stop().await;
}

crate::both_databases!(a_long_poll_waits_at_most_a_minute);
