//! Sanctions (§15, terms §10–11) and the public roster (§5-4): IP blocks
//! that take effect on open connections, rate limits, suspension and
//! termination, and a roster readable without a certificate.

use gwx::tools::demo::{ASSOCIATION, CIVIL_AFFAIRS, FOUNDATION, IT_BUREAU, PARTICIPANTS, RDEC, SECRETARIAT};
use serde_json::json;

use crate::helpers::{Backend, TestHub, detail};

async fn the_roster_is_public(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let list = hub.anonymously().get("/api/v1/roster").await.ok();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), PARTICIPANTS.len());
    let foundation = list.iter().find(|e| e["code"] == FOUNDATION).unwrap();
    assert_eq!(foundation["kind"], "connected_user");
    assert_eq!(foundation["name"], "財團法人臺北市青少年文教基金會");
    assert_eq!(foundation["capabilities"], json!({"receive": true, "send": true}));
    assert!(foundation["since"].is_string());
    hub.stop().await;
}

/// CIVIL_AFFAIRS suspended and reinstated, FOUNDATION terminated, a minute apart.
async fn suspended_reinstated_terminated(hub: &TestHub) {
    let admin = hub.as_(IT_BUREAU);
    let minute = chrono::Duration::minutes(1);
    hub.clock.advance(minute);
    admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/suspend"), json!({"reason": "資安稽核"})).await.ok();
    hub.clock.advance(minute);
    admin.post(&format!("/api/v1/participants/{CIVIL_AFFAIRS}/reinstate"), json!({})).await.ok();
    hub.clock.advance(minute);
    admin.post(&format!("/api/v1/participants/{FOUNDATION}/terminate"), json!({"reason": "申請註銷"})).await.ok();
}

async fn the_roster_as_csv_leaves_out_the_cancelled(backend: Backend) {
    let hub = TestHub::start(backend).await;
    suspended_reinstated_terminated(&hub).await;
    let csv = hub.anonymously().get("/api/v1/roster?format=csv").await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    let csv = csv.text().to_owned();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "\u{feff}代碼,名稱,類別,收文,發文,狀態,加入時間（臺北）,異動時間（臺北）");
    assert!(csv.contains(&format!("{SECRETARIAT},臺北市政府秘書處,機關,是,是,使用中,")), "{csv}");
    assert!(csv.contains(&format!("{CIVIL_AFFAIRS},臺北市政府民政局,機關,是,是,使用中,")), "{csv}");
    assert!(!csv.contains(FOUNDATION), "a cancelled participant leaves the roster");
    assert_eq!(csv.lines().count(), PARTICIPANTS.len());
    hub.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn the_rosters_changes_are_public_in_order_and_since_a_time(backend: Backend) {
    let hub = TestHub::start(backend).await;
    suspended_reinstated_terminated(&hub).await;
    let changes = hub.anonymously().get("/api/v1/roster/changes").await.ok();
    let kinds: Vec<(String, String)> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap().to_owned(), c["change"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(kinds.iter().filter(|(_, c)| c == "registered").count(), PARTICIPANTS.len());
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
    assert!(detail(last).contains("申請註銷"));
    let since = urlencode(last["at"].as_str().unwrap());
    let recent = hub.anonymously().get(&format!("/api/v1/roster/changes?since={since}")).await.ok();
    assert_eq!(recent["items"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

async fn a_block_needs_its_reason_and_never_covers_the_operator(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    admin.post("/api/v1/blocks", json!({"ip": "127.0.0.0/30", "reason": "x"})).await.refused(422, "invalid-field");
    admin.post("/api/v1/blocks", json!({"ip": "127.0.0.2", "reason": " "})).await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn only_the_it_bureau_blocks(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let body = json!({"ip": "127.0.0.2", "reason": "x"});
    hub.as_(SECRETARIAT).post("/api/v1/blocks", body).await.refused(403, "forbidden");
    hub.as_from(ASSOCIATION, "127.0.0.2").get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

/// Blocks 127.0.0.2; the block's id.
async fn block_127_0_0_2(hub: &TestHub) -> i64 {
    let b = hub.as_(IT_BUREAU).post("/api/v1/blocks", json!({"ip": "127.0.0.2", "reason": "異常大量連線"})).await;
    b.created()["id"].as_i64().unwrap()
}

async fn a_block_takes_effect_on_open_connections_and_public_pages(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let association = hub.as_from(ASSOCIATION, "127.0.0.2");
    association.get("/api/v1/whoami").await.ok();
    block_127_0_0_2(&hub).await;
    // The same keep-alive client, the very next request: refused, and told to close.
    let resp = association.get("/api/v1/whoami").await;
    assert_eq!(resp.header("connection"), Some("close"));
    let v = resp.refused(403, "ip-blocked");
    assert!(detail(&v).contains("異常大量連線"));
    let anon = hub.anonymous_builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    hub.with(anon).get("/api/v1/roster").await.refused(403, "ip-blocked");
    // Others are not affected.
    hub.as_(FOUNDATION).get("/api/v1/whoami").await.ok();
    hub.logged("ip.blocked", "127.0.0.2 blocked").await;
    let e = hub.logged("auth.refused", "is blocked").await;
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.2"));
    hub.stop().await;
}

async fn a_lifted_block_lets_the_address_in_again(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let id = block_127_0_0_2(&hub).await;
    let admin = hub.as_(IT_BUREAU);
    assert_eq!(admin.get("/api/v1/blocks").await.ok().as_array().unwrap().len(), 1);
    admin.delete(&format!("/api/v1/blocks/{id}")).await.no_content();
    hub.as_from(ASSOCIATION, "127.0.0.2").get("/api/v1/whoami").await.ok();
    hub.logged("ip.unblocked", "127.0.0.2").await;
    hub.stop().await;
}

async fn rate_limits(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| {
        c.limits.requests_per_minute_per_certificate = 5;
        c.limits.requests_per_minute_per_ip = 8;
    })
    .await
}

async fn a_certificate_over_its_rate_limit_gets_429_with_retry_after(backend: Backend) {
    let hub = rate_limits(backend).await;
    let me = hub.as_(RDEC);
    for _ in 0..5 {
        me.get("/api/v1/whoami").await.ok();
    }
    let resp = me.get("/api/v1/whoami").await;
    let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let v = resp.refused(429, "rate-limited");
    assert!(detail(&v).contains("certificate"));
    hub.logged("auth.refused", "too many requests").await;
    hub.stop().await;
}

async fn an_address_has_its_own_rate_limit(backend: Backend) {
    let hub = rate_limits(backend).await;
    for _ in 0..6 {
        hub.as_(RDEC).get("/api/v1/whoami").await;
    }
    // Another certificate from the same address still has room, until the address's own limit.
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    let v = hub.as_(SECRETARIAT).get("/api/v1/whoami").await.refused(429, "rate-limited");
    assert!(detail(&v).contains("address"));
    hub.stop().await;
}

async fn a_suspended_sender_cannot_send_until_reinstated(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let admin = hub.as_(IT_BUREAU);
    admin.post(&format!("/api/v1/participants/{SECRETARIAT}/suspend"), json!({"reason": "違反管理規範"})).await.ok();
    hub.send_plain(SECRETARIAT, "8000002", &[RDEC], &[]).await.refused(403, "participant-suspended");
    admin.post(&format!("/api/v1/participants/{SECRETARIAT}/reinstate"), json!({})).await.ok();
    hub.send_plain(SECRETARIAT, "8000002", &[RDEC], &[]).await.created();
    hub.stop().await;
}

async fn a_terminated_participant_neither_acts_nor_receives(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let terminate = format!("/api/v1/participants/{CIVIL_AFFAIRS}/terminate");
    hub.as_(IT_BUREAU).post(&terminate, json!({"reason": "機關裁撤"})).await.ok();
    hub.as_(CIVIL_AFFAIRS).get("/api/v1/inbox").await.refused(403, "participant-suspended");
    let v = hub.send_plain(SECRETARIAT, "8000003", &[CIVIL_AFFAIRS], &[]).await.refused(422, "recipient-unreachable");
    assert!(detail(&v).contains("terminated"));
    hub.stop().await;
}

async fn the_sender_still_sees_and_resends_on_paper_what_a_terminated_recipient_had(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc = hub.send_plain(SECRETARIAT, "8000001", &[CIVIL_AFFAIRS, RDEC], &[]).await.created();
    let doc = doc["document_id"].as_str().unwrap().to_owned();
    let terminate = format!("/api/v1/participants/{CIVIL_AFFAIRS}/terminate");
    hub.as_(IT_BUREAU).post(&terminate, json!({"reason": "機關裁撤"})).await.ok();
    let s = hub.as_(SECRETARIAT).get(&format!("/api/v1/documents/{doc}")).await.ok();
    let civil = s["recipients"].as_array().unwrap().iter().find(|r| r["recipient"] == CIVIL_AFFAIRS).unwrap();
    assert_eq!(civil["state"], "delivered");
    let id = civil["id"].as_str().unwrap();
    hub.as_(SECRETARIAT).post_empty(&format!("/api/v1/deliveries/{id}/paper-resend")).await.ok();
    hub.stop().await;
}

/// `POST /api/v1/roster/import` as the IT bureau sends it.
async fn import(hub: &TestHub, who: &str, csv: &str, dry_run: bool) -> crate::helpers::Reply {
    let c = hub.as_(who);
    let path = format!("/api/v1/roster/import?dry_run={dry_run}");
    c.send(c.request(reqwest::Method::POST, &path).header("content-type", "text/csv").body(csv.to_owned())).await
}

async fn the_national_address_book_round_trips_through_export_and_import(backend: Backend) {
    let hub = TestHub::start(backend).await;
    suspended_reinstated_terminated(&hub).await;
    let admin = hub.as_(IT_BUREAU);
    admin.post(&format!("/api/v1/participants/{RDEC}/suspend"), json!({"reason": "資安稽核"})).await.ok();
    let book = hub.anonymously().get("/api/v1/roster?format=national").await;
    assert_eq!(book.content_type(), "text/csv; charset=utf-8");
    let book = book.text().to_owned();
    let mut lines = book.lines();
    assert_eq!(lines.next().unwrap(), "\u{feff}ORGID,ORGNAME,STATUSCODE,UPDATETIME");
    assert_eq!(book.lines().count(), 1 + PARTICIPANTS.len() - 1, "the terminated one is not listed: {book}");
    let rdec = book.lines().find(|l| l.starts_with(RDEC)).unwrap();
    assert!(rdec.starts_with(&format!("{RDEC},臺北市政府研究發展考核委員會,2,")), "{rdec}");
    // UPDATETIME is Taipei time, as the national files write it.
    let time = rdec.rsplit(',').next().unwrap();
    let taipei = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").unwrap();
    let now = gwx::runtime::clock::Clock::now(&hub.clock).with_timezone(&gwx::domain::calendar::taipei()).naive_local();
    assert!((now - taipei).num_seconds().abs() < 120, "{time} vs {now}");

    // Back in as it came out: nothing to change.
    let same = import(&hub, IT_BUREAU, &book, false).await.ok();
    assert_eq!(same["unchanged"], PARTICIPANTS.len() - 1, "{same}");
    assert!(same["created"].as_array().unwrap().is_empty() && same["renamed"].as_array().unwrap().is_empty());

    // A refreshed book: a renamed agency, a new one, a suspended one the hub has as active, an abolished one.
    let edited = book.replace("臺北市政府秘書處", "臺北市政府秘書處（新名）")
        + "379500000B,臺北市政府數位發展局,1,2026-12-01 09:00:00\r\n"
        + "379600000D,臺北市政府已裁撤處,3,2026-11-01 09:00:00\r\n";
    let edited =
        edited.replace(&format!("{CIVIL_AFFAIRS},臺北市政府民政局,1"), &format!("{CIVIL_AFFAIRS},臺北市政府民政局,2"));
    let dry = import(&hub, IT_BUREAU, &edited, true).await.ok();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["renamed"],
        json!([{"code": SECRETARIAT, "from": "臺北市政府秘書處", "to": "臺北市政府秘書處（新名）"}])
    );
    assert_eq!(dry["created"], json!([{"code": "379500000B", "name": "臺北市政府數位發展局"}]));
    assert_eq!(dry["status_differs"][0]["code"], CIVIL_AFFAIRS, "{dry}");
    assert_eq!(
        (dry["status_differs"][0]["national"].as_str(), dry["status_differs"][0]["hub"].as_str()),
        (Some("suspended"), Some("active"))
    );
    assert_eq!(dry["skipped"][0]["code"], "379600000D");
    // The dry run changed nothing.
    assert_eq!(admin.get(&format!("/api/v1/participants/{SECRETARIAT}")).await.ok()["name"], "臺北市政府秘書處");
    admin.get("/api/v1/participants/379500000B").await.refused(404, "not-found");

    let done = import(&hub, IT_BUREAU, &edited, false).await.ok();
    assert_eq!(done["dry_run"], false);
    assert_eq!(
        admin.get(&format!("/api/v1/participants/{SECRETARIAT}")).await.ok()["name"],
        "臺北市政府秘書處（新名）"
    );
    let new = admin.get("/api/v1/participants/379500000B").await.ok();
    assert_eq!((new["status"].as_str(), new["kind"].as_str()), (Some("pending"), Some("agency")));
    // Suspension stays the IT bureau's decision.
    assert_eq!(admin.get(&format!("/api/v1/participants/{CIVIL_AFFAIRS}")).await.ok()["status"], "active");
    let e = hub.logged("roster.imported", "1 created, 1 renamed").await;
    assert_eq!(e.participant.as_deref(), Some(IT_BUREAU));
    hub.logged("participant.created", "379500000B").await;
    hub.stop().await;
}

async fn a_bad_address_book_changes_nothing_and_says_which_lines(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let csv = "ORGID,ORGNAME,STATUSCODE,UPDATETIME\n379100000G,改名,1,\n37910,太短,1,\n379500000B,新局,9,\n";
    let v = import(&hub, IT_BUREAU, csv, false).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("line 3") && detail(&v).contains("line 4: STATUSCODE '9'"), "{v}");
    assert_eq!(
        hub.as_(IT_BUREAU).get(&format!("/api/v1/participants/{SECRETARIAT}")).await.ok()["name"],
        "臺北市政府秘書處"
    );
    let v = import(&hub, IT_BUREAU, "code,name\n", true).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("ORGID,ORGNAME,STATUSCODE,UPDATETIME"), "{v}");
    // From the wrong side: an agency clerk, and nobody at all.
    import(&hub, SECRETARIAT, csv, true).await.refused(403, "forbidden");
    let anon = hub.anonymously();
    let r = anon.send(anon.request(reqwest::Method::POST, "/api/v1/roster/import").body(csv)).await;
    assert_eq!(r.status, 401);
    hub.stop().await;
}

async fn the_rosters_changes_export_as_csv_in_taipei_time(backend: Backend) {
    let hub = TestHub::start(backend).await;
    suspended_reinstated_terminated(&hub).await;
    let csv = hub.anonymously().get("/api/v1/roster/changes?format=csv").await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    let csv = csv.text().to_owned();
    assert!(csv.starts_with("\u{feff}id,時間（臺北）,at,code,異動,change,detail\r\n"), "{csv}");
    let last = csv.lines().last().unwrap();
    assert!(last.contains(&format!(",{FOUNDATION},終止,terminated,")), "{last}");
    let at =
        hub.anonymously().get("/api/v1/roster/changes").await.ok()["items"].as_array().unwrap().last().unwrap()["at"]
            .as_str()
            .unwrap()
            .to_owned();
    let utc = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    let local = utc.with_timezone(&gwx::domain::calendar::taipei()).format("%Y-%m-%d %H:%M").to_string();
    assert!(last.contains(&local), "{last} should show {local}");
    hub.stop().await;
}

crate::both_databases!(
    the_national_address_book_round_trips_through_export_and_import,
    a_bad_address_book_changes_nothing_and_says_which_lines,
    the_rosters_changes_export_as_csv_in_taipei_time,
    the_roster_is_public,
    the_roster_as_csv_leaves_out_the_cancelled,
    the_rosters_changes_are_public_in_order_and_since_a_time,
    a_block_needs_its_reason_and_never_covers_the_operator,
    only_the_it_bureau_blocks,
    a_block_takes_effect_on_open_connections_and_public_pages,
    a_lifted_block_lets_the_address_in_again,
    a_certificate_over_its_rate_limit_gets_429_with_retry_after,
    an_address_has_its_own_rate_limit,
    a_suspended_sender_cannot_send_until_reinstated,
    a_terminated_participant_neither_acts_nor_receives,
    the_sender_still_sees_and_resends_on_paper_what_a_terminated_recipient_had,
);
