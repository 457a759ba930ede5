//! The connected-user application workflow end to end (§5, DESIGN §7):
//! apply → correction requested → amend → approve → activate → the new
//! organisation sends and receives with its own certificate from its own
//! address; a change of fixed IP; a rejection; a cancellation; every step
//! notified over the API and by e-mail to a local SMTP sink.

mod common;

use std::io::BufRead;

use common::{Backend, TestHub, json, problem, wait_for_log};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, FOUNDATION, IT_BUREAU, SOCIAL_WELFARE, UNREGISTERED_UBN};
use serde_json::{Value, json};

const APPLICANT: &str = "unregistered";
const NEW_CODE: &str = "CU10450010";

struct Sink {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sink {
    fn start() -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("python3")
            .args(["tests/smtp_sink.py", &port.to_string(), dir.path().to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Sink { child, dir, port }
    }

    /// Waits (bounded) until `n` messages have arrived; returns them all.
    async fn messages(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let mut all: Vec<_> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect();
            if all.len() >= n {
                all.sort();
                return all.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} e-mails arrived");
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form(kind: &str, ips: &[&str]) -> Value {
    json!({
        "kind": kind,
        "capabilities": {"receive": true, "send": true},
        "organisation_name": "社團法人臺北市新申請協會",
        "unified_business_number": UNREGISTERED_UBN,
        "card_number": "XCA0000009876",
        "card_activation_date": "2026-11-01",
        "fixed_ips": ips,
        "contact_name": "何申請",
        "contact_phone": "02-2720-8889",
        "contact_email": "apply@example.org.tw",
        "supervisor": EDUCATION,
        "terms_accepted": true,
    })
}

async fn post(c: &reqwest::Client, url: String, body: Value) -> reqwest::Response {
    c.post(url).json(&body).send().await.unwrap()
}

/// Sends a document from `who` (keys) as `code`, connecting from `from`, to `to`.
async fn send_doc(hub: &TestHub, who: &str, code: &str, from: &str, serial: &str, to: &str) -> reqwest::Response {
    common::send_plain(hub, &hub.client_from(who, from), who, code, serial, &[to], &[]).await
}

async fn the_whole_life_of_an_application(backend: Backend) {
    let sink = Sink::start();
    let port = sink.port;
    let hub = TestHub::start_with(backend, |c| {
        c.smtp = Some(gwx::runtime::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            from: "gwx@example.gov.tw".into(),
            starttls: false,
            username: None,
            password: None,
        });
    })
    .await;
    let applicant = hub.client(APPLICANT);
    let supervisor = hub.client(EDUCATION);
    let it = hub.client(IT_BUREAU);
    let apps = hub.url("/api/v1/applications");

    // Refused: no terms, a bad 統一編號, a 統一編號 other than the certificate's.
    let mut f = form("new", &["127.0.0.3"]);
    f["terms_accepted"] = json!(false);
    problem(post(&applicant, apps.clone(), f).await, 422, "terms-not-accepted").await;
    let mut f = form("new", &["127.0.0.3"]);
    f["unified_business_number"] = json!("10450011");
    let v = problem(post(&applicant, apps.clone(), f).await, 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("check-digit"), "{v}");
    let mut f = form("new", &["127.0.0.3"]);
    f["unified_business_number"] = json!("12345675");
    let v = problem(post(&applicant, apps.clone(), f).await, 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("certificate carries"), "{v}");
    let mut f = form("new", &["127.0.0.3"]);
    f["supervisor"] = json!(CIVIL_AFFAIRS);
    problem(post(&applicant, apps.clone(), f).await, 422, "invalid-field").await;

    // Apply (the form's fax left out on purpose).
    let a = json(post(&applicant, apps.clone(), form("new", &["127.0.0.3"])).await, 201).await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["state"], "submitted");
    problem(post(&applicant, apps.clone(), form("new", &["127.0.0.3"])).await, 409, "invalid-state").await;
    let url = |what: &str| hub.url(&format!("/api/v1/applications/{id}{what}"));

    // Only the named supervising agency reviews it.
    problem(post(&hub.client(SOCIAL_WELFARE), url("/approve"), json!({})).await, 403, "forbidden").await;
    problem(post(&hub.client(CIVIL_AFFAIRS), url("/approve"), json!({})).await, 403, "forbidden").await;
    problem(post(&applicant, url("/approve"), json!({})).await, 403, "unknown-certificate").await;
    problem(hub.client(SOCIAL_WELFARE).get(url("")).send().await.unwrap(), 404, "not-found").await;
    let queue = json(supervisor.get(hub.url("/api/v1/applications?state=submitted")).send().await.unwrap(), 200).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert!(
        json(hub.client(SOCIAL_WELFARE).get(apps.clone()).send().await.unwrap(), 200)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Correction requested (a reason is required), the applicant sees why and amends.
    problem(post(&supervisor, url("/request-correction"), json!({})).await, 422, "invalid-field").await;
    let c = json(post(&supervisor, url("/request-correction"), json!({"reason": "請補填傳真電話"})).await, 200).await;
    assert_eq!(c["state"], "correction_requested");
    let mine = json(applicant.get(url("")).send().await.unwrap(), 200).await;
    assert_eq!(mine["reason"], "請補填傳真電話");
    problem(post(&supervisor, url("/approve"), json!({})).await, 409, "invalid-state").await;
    let mut amended = form("new", &["127.0.0.3"]);
    amended["contact_fax"] = json!("02-2720-0000");
    let a2 = json(applicant.put(url("")).json(&amended).send().await.unwrap(), 200).await;
    assert_eq!((a2["state"].as_str(), a2["contact_fax"].as_str()), (Some("submitted"), Some("02-2720-0000")));
    problem(applicant.put(url("")).json(&amended).send().await.unwrap(), 409, "invalid-state").await;

    // Approved; only the IT bureau activates.
    json(post(&supervisor, url("/approve"), json!({})).await, 200).await;
    let approved = json(it.get(hub.url("/api/v1/applications?state=approved")).send().await.unwrap(), 200).await;
    assert_eq!(approved[0]["id"], id.as_str());
    problem(post(&supervisor, url("/activate"), json!({})).await, 403, "forbidden").await;
    let done = json(post(&it, url("/activate"), json!({})).await, 200).await;
    assert_eq!((done["state"].as_str(), done["participant"].as_str()), (Some("activated"), Some(NEW_CODE)));
    // Registered now, the applicant is held to its fixed IP like everyone else.
    problem(applicant.get(url("")).send().await.unwrap(), 403, "ip-not-allowed").await;
    let history = json(hub.client_from(APPLICANT, "127.0.0.3").get(url("")).send().await.unwrap(), 200).await;
    let steps: Vec<&str> =
        history["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["submitted", "correction_requested", "amended", "approved", "activated"]);

    // The new organisation works with its own card, from its own address only.
    let who =
        json(hub.client_from(APPLICANT, "127.0.0.3").get(hub.url("/api/v1/whoami")).send().await.unwrap(), 200).await;
    assert_eq!(who["participant"]["code"], NEW_CODE);
    assert_eq!(who["participant"]["supervisor"], EDUCATION);
    assert_eq!(who["roles"], json!(["sender", "receiver"]));
    problem(hub.client(APPLICANT).get(hub.url("/api/v1/whoami")).send().await.unwrap(), 403, "ip-not-allowed").await;
    json(send_doc(&hub, APPLICANT, NEW_CODE, "127.0.0.3", "9000001", EDUCATION).await, 201).await;
    json(send_doc(&hub, EDUCATION, EDUCATION, "127.0.0.1", "9000002", NEW_CODE).await, 201).await;
    let inbox =
        json(hub.client_from(APPLICANT, "127.0.0.3").get(hub.url("/api/v1/inbox")).send().await.unwrap(), 200).await;
    assert_eq!(inbox["items"][0]["sender"], EDUCATION);
    let roster = json(hub.anonymous().get(hub.url("/api/v1/roster")).send().await.unwrap(), 200).await;
    assert!(roster.as_array().unwrap().iter().any(|e| e["code"] == NEW_CODE));

    // A change of fixed IP: the old address is refused afterwards.
    let change_app =
        json(post(&hub.client_from(APPLICANT, "127.0.0.3"), apps.clone(), form("change", &["127.0.0.4"])).await, 201)
            .await;
    let cid = change_app["id"].as_str().unwrap().to_owned();
    json(post(&supervisor, hub.url(&format!("/api/v1/applications/{cid}/approve")), json!({})).await, 200).await;
    json(post(&it, hub.url(&format!("/api/v1/applications/{cid}/activate")), json!({})).await, 200).await;
    problem(
        hub.client_from(APPLICANT, "127.0.0.3").get(hub.url("/api/v1/whoami")).send().await.unwrap(),
        403,
        "ip-not-allowed",
    )
    .await;
    json(hub.client_from(APPLICANT, "127.0.0.4").get(hub.url("/api/v1/whoami")).send().await.unwrap(), 200).await;

    // Notifications: both sides, every step, over the API and by e-mail.
    let mine =
        json(hub.client_from(APPLICANT, "127.0.0.4").get(hub.url("/api/v1/notifications")).send().await.unwrap(), 200)
            .await;
    let subjects: Vec<&str> =
        mine["items"].as_array().unwrap().iter().map(|n| n["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 8, "{subjects:?}");
    assert!(
        subjects[1].contains("請補正") && subjects[4].contains(&format!("已開通：交換代碼 {NEW_CODE}")),
        "{subjects:?}"
    );
    let theirs = json(supervisor.get(hub.url("/api/v1/notifications")).send().await.unwrap(), 200).await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 8);
    let mails = sink.messages(16).await;
    let to = |addr: &str| mails.iter().filter(|m| m.contains(&format!("X-Envelope-To: {addr}"))).count();
    assert_eq!(to("apply@example.org.tw"), 8);
    assert_eq!(to(&format!("gwx-demo+{}@example.gov.tw", EDUCATION.to_lowercase())), 8);
    assert!(mails.iter().any(|m| m.contains(&id)));
    wait_for_log(hub.store(), "application.activated", &id).await;

    // A cancellation terminates the participant and its card.
    let cancel =
        json(post(&hub.client_from(APPLICANT, "127.0.0.4"), apps.clone(), form("cancel", &[])).await, 201).await;
    let xid = cancel["id"].as_str().unwrap().to_owned();
    json(post(&supervisor, hub.url(&format!("/api/v1/applications/{xid}/approve")), json!({})).await, 200).await;
    json(post(&it, hub.url(&format!("/api/v1/applications/{xid}/activate")), json!({})).await, 200).await;
    let p = json(it.get(hub.url(&format!("/api/v1/participants/{NEW_CODE}"))).send().await.unwrap(), 200).await;
    assert_eq!(p["status"], "terminated");
    let r = hub.client_from(APPLICANT, "127.0.0.4").get(hub.url("/api/v1/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    hub.stop().await;
}

async fn rejection_with_reason(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let foundation = hub.client(FOUNDATION);
    let mut f = form("change", &["127.0.0.1"]);
    f["unified_business_number"] = json!("10450009");
    f["organisation_name"] = json!("財團法人臺北市青少年文教基金會");
    let a = json(post(&foundation, hub.url("/api/v1/applications"), f).await, 201).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let url = |what: &str| hub.url(&format!("/api/v1/applications/{id}{what}"));
    problem(post(&hub.client(EDUCATION), url("/reject"), json!({"reason": "  "})).await, 422, "invalid-field").await;
    let r = json(post(&hub.client(EDUCATION), url("/reject"), json!({"reason": "非本局主管之團體"})).await, 200).await;
    assert_eq!((r["state"].as_str(), r["reason"].as_str()), (Some("rejected"), Some("非本局主管之團體")));
    let seen = json(foundation.get(url("")).send().await.unwrap(), 200).await;
    assert_eq!(seen["reason"], "非本局主管之團體");
    problem(post(&hub.client(IT_BUREAU), url("/activate"), json!({})).await, 409, "invalid-state").await;
    let n = json(foundation.get(hub.url("/api/v1/notifications")).send().await.unwrap(), 200).await;
    assert!(n["items"].as_array().unwrap().iter().any(|x| x["subject"].as_str().unwrap().contains("未通過")));
    // An agency does not apply through the form; a registered certificate does not apply as new.
    problem(
        post(&hub.client(CIVIL_AFFAIRS), hub.url("/api/v1/applications"), form("change", &["127.0.0.1"])).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        post(&foundation, hub.url("/api/v1/applications"), form("new", &["127.0.0.1"])).await,
        409,
        "invalid-state",
    )
    .await;
    // No certificate at all: nothing.
    problem(hub.anonymous().get(hub.url("/api/v1/applications")).send().await.unwrap(), 401, "certificate-required")
        .await;
    hub.stop().await;
}

both_databases!(the_whole_life_of_an_application, rejection_with_reason);
