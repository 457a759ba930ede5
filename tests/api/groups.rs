//! Send groups (行文群組, §7) end to end: shared and private rights from
//! both sides, nesting, cycles, history, sending to groups, and a sent
//! document that a later group edit does not change.

use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, FOUNDATION, IT_BUREAU, RDEC, SECRETARIAT, SOCIAL_WELFARE};
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestHub, detail};

fn members(codes: &[&str]) -> Value {
    Value::Array(
        codes
            .iter()
            .map(|c| match c.strip_prefix("g:") {
                Some(g) => json!({"group": g}),
                None => json!({"participant": c}),
            })
            .collect(),
    )
}

/// Creates a group as `who`.
async fn create(hub: &TestHub, who: &str, scope: &str, name: &str, of: &[&str]) -> Reply {
    hub.as_(who).post("/api/v1/groups", json!({"scope": scope, "name": name, "members": members(of)})).await
}

/// The id of a group `who` creates.
async fn created(hub: &TestHub, who: &str, scope: &str, name: &str, of: &[&str]) -> String {
    create(hub, who, scope, name, of).await.created()["id"].as_str().unwrap().to_owned()
}

/// Sends a document from `sender` to `groups` (and `to`), number `serial`.
async fn send_to(hub: &TestHub, sender: &str, serial: &str, groups: &[&str], to: &[&str]) -> Reply {
    hub.send_plain(sender, serial, to, groups).await
}

/// The recipients of a sent document with the group that brought each.
async fn recipients(hub: &TestHub, sender: &str, doc: &str) -> Vec<(String, Option<String>)> {
    let status = hub.as_(sender).get(&format!("/api/v1/documents/{doc}")).await.ok();
    let mut r: Vec<_> = status["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["recipient"].as_str().unwrap().to_owned(), d["via_group"].as_str().map(str::to_owned)))
        .collect();
    r.sort();
    r
}

async fn the_secretariat_creates_shared_groups_and_an_agency_admin_private_ones(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let shared = create(&hub, SECRETARIAT, "shared", "本府一級機關", &[RDEC, ETHICS]).await.created();
    assert_eq!(shared["version"], 1);
    let private = create(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await.created();
    assert_eq!(private["owner"], CIVIL_AFFAIRS);
    create(&hub, CIVIL_AFFAIRS, "shared", "x", &[]).await.refused(403, "forbidden");
    create(&hub, IT_BUREAU, "private", "x", &[]).await.refused(403, "forbidden");
    hub.stop().await;
}

async fn a_group_needs_a_name_and_existing_members(backend: Backend) {
    let hub = TestHub::start(backend).await;
    create(&hub, SECRETARIAT, "shared", " ", &[]).await.refused(422, "invalid-field");
    create(&hub, SECRETARIAT, "shared", "x", &["379999999Z"]).await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn a_shared_group_cannot_contain_a_private_one(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let pid = created(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await;
    create(&hub, SECRETARIAT, "shared", "x", &[&format!("g:{pid}")]).await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn an_agency_sees_the_shared_groups_and_its_own_private_ones(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let sid = created(&hub, SECRETARIAT, "shared", "本府一級機關", &[RDEC, ETHICS]).await;
    let pid = created(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await;
    let list = |who: &'static str| {
        let hub = &hub;
        async move {
            let v = hub.as_(who).get("/api/v1/groups").await.ok();
            v.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let civil = list(CIVIL_AFFAIRS).await;
    assert!(civil.contains(&pid) && civil.contains(&sid), "{civil:?}");
    let it = list(IT_BUREAU).await;
    assert!(it.contains(&sid) && !it.contains(&pid), "{it:?}");
    assert!(list(FOUNDATION).await.is_empty(), "a connected user does not use shared groups");
    hub.stop().await;
}

async fn someone_elses_private_group_does_not_exist_for_them(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let pid = created(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await;
    for who in [SECRETARIAT, IT_BUREAU] {
        hub.as_(who).get(&format!("/api/v1/groups/{pid}")).await.refused(404, "not-found");
        hub.as_(who).get(&format!("/api/v1/groups/{pid}/history")).await.refused(404, "not-found");
    }
    let change = json!({"name": "x", "members": members(&[RDEC])});
    hub.as_(SECRETARIAT).put(&format!("/api/v1/groups/{pid}"), change).await.refused(404, "not-found");
    hub.stop().await;
}

async fn only_the_secretariat_edits_or_deletes_a_shared_group(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let sid = created(&hub, SECRETARIAT, "shared", "本府一級機關", &[RDEC, ETHICS]).await;
    let change = json!({"name": "x", "members": members(&[RDEC])});
    hub.as_(CIVIL_AFFAIRS).put(&format!("/api/v1/groups/{sid}"), change).await.refused(403, "forbidden");
    hub.as_(CIVIL_AFFAIRS).delete(&format!("/api/v1/groups/{sid}")).await.refused(403, "forbidden");
    hub.stop().await;
}

async fn another_agencys_private_group_and_no_group_are_refused_alike(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let pid = created(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await;
    let sid = created(&hub, SECRETARIAT, "shared", "本府一級機關", &[RDEC, ETHICS]).await;
    let a = send_to(&hub, IT_BUREAU, "7000001", &[&pid], &[]).await.refused(403, "group-not-usable");
    let b = send_to(&hub, IT_BUREAU, "7000002", &["GNOSUCHGRP"], &[]).await.refused(403, "group-not-usable");
    assert_eq!(a["title"], b["title"]);
    assert_eq!(detail(&a).replace(&pid, "X"), detail(&b).replace("GNOSUCHGRP", "X"));
    // A connected user does not use the shared groups either.
    send_to(&hub, FOUNDATION, "7000003", &[&sid], &[]).await.refused(403, "group-not-usable");
    hub.stop().await;
}

async fn a_document_to_groups_reaches_their_members_through_them(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let sid = created(&hub, SECRETARIAT, "shared", "本府一級機關", &[RDEC, ETHICS]).await;
    let pid = created(&hub, CIVIL_AFFAIRS, "private", "民政局常用", &[EDUCATION]).await;
    let r = send_to(&hub, CIVIL_AFFAIRS, "7000004", &[&pid, &sid], &[]).await.created();
    assert_eq!(
        recipients(&hub, CIVIL_AFFAIRS, r["document_id"].as_str().unwrap()).await,
        [(EDUCATION.into(), Some(pid.clone())), (ETHICS.into(), Some(sid.clone())), (RDEC.into(), Some(sid.clone()))]
    );
    hub.stop().await;
}

/// A shared group 內層 (RDEC, ETHICS) inside 外層 (RDEC, 內層, EDUCATION): (inner id, outer id).
async fn nested(hub: &TestHub) -> (String, String) {
    let iid = created(hub, SECRETARIAT, "shared", "內層", &[RDEC, ETHICS]).await;
    let oid = created(hub, SECRETARIAT, "shared", "外層", &[RDEC, &format!("g:{iid}"), EDUCATION]).await;
    (iid, oid)
}

async fn a_cycle_of_groups_is_refused_naming_the_path(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (iid, oid) = nested(&hub).await;
    let body = json!({"name": "內層", "members": members(&[RDEC, &format!("g:{oid}")])});
    let v = hub.as_(SECRETARIAT).put(&format!("/api/v1/groups/{iid}"), body).await.refused(422, "group-cycle");
    assert!(detail(&v).contains(&oid), "{v}");
    hub.stop().await;
}

async fn a_group_that_is_part_of_another_is_not_deleted(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (iid, _) = nested(&hub).await;
    hub.as_(SECRETARIAT).delete(&format!("/api/v1/groups/{iid}")).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn a_recipient_named_several_times_gets_one_delivery(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, oid) = nested(&hub).await;
    // RDEC, three times in all, is recorded as named directly; the rest via the group.
    let r = send_to(&hub, IT_BUREAU, "7100001", &[&oid], &[RDEC]).await.created();
    assert_eq!(
        recipients(&hub, IT_BUREAU, r["document_id"].as_str().unwrap()).await,
        [(EDUCATION.into(), Some(oid.clone())), (ETHICS.into(), Some(oid.clone())), (RDEC.into(), None)]
    );
    assert_eq!(r["recipients"].as_array().unwrap().len(), 3);
    hub.stop().await;
}

async fn editing_a_group_leaves_documents_already_sent_as_they_were(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, oid) = nested(&hub).await;
    let r = send_to(&hub, IT_BUREAU, "7100001", &[&oid], &[RDEC]).await.created();
    let doc = r["document_id"].as_str().unwrap().to_owned();
    let before = recipients(&hub, IT_BUREAU, &doc).await;
    let edit = json!({"name": "外層（修正）", "members": members(&[SOCIAL_WELFARE]), "version": 1});
    let v2 = hub.as_(SECRETARIAT).put(&format!("/api/v1/groups/{oid}"), edit).await.ok();
    assert_eq!(v2["version"], 2);
    assert_eq!(recipients(&hub, IT_BUREAU, &doc).await, before);
    hub.stop().await;
}

async fn a_stale_edit_is_refused_rather_than_overwriting(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, oid) = nested(&hub).await;
    let url = format!("/api/v1/groups/{oid}");
    let secretariat = hub.as_(SECRETARIAT);
    secretariat
        .put(&url, json!({"name": "外層（修正）", "members": members(&[SOCIAL_WELFARE]), "version": 1}))
        .await
        .ok();
    secretariat.put(&url, json!({"name": "y", "members": [], "version": 1})).await.refused(409, "invalid-state");
    hub.stop().await;
}

async fn a_groups_history_keeps_every_version_who_and_when(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, oid) = nested(&hub).await;
    let edit = json!({"name": "外層（修正）", "members": members(&[SOCIAL_WELFARE]), "version": 1});
    hub.as_(SECRETARIAT).put(&format!("/api/v1/groups/{oid}"), edit).await.ok();
    let h = hub.as_(IT_BUREAU).get(&format!("/api/v1/groups/{oid}/history")).await.ok();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0]["change"].as_str(), h[1]["change"].as_str()), (Some("created"), Some("updated")));
    assert_eq!(h[0]["members"].as_array().unwrap().len(), 3);
    assert_eq!(h[1]["members"], members(&[SOCIAL_WELFARE]));
    assert_eq!(h[1]["actor"], SECRETARIAT);
    assert_eq!(h[1]["actor_name"], "陳秘書");
    hub.stop().await;
}

async fn a_group_naming_a_suspended_member_stays_valid_and_sending_names_it(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let oid = created(&hub, SECRETARIAT, "shared", "外層", &[SOCIAL_WELFARE]).await;
    let suspend = format!("/api/v1/participants/{SOCIAL_WELFARE}/suspend");
    hub.as_(IT_BUREAU).post(&suspend, json!({"reason": "停權"})).await.ok();
    hub.as_(SECRETARIAT).get(&format!("/api/v1/groups/{oid}")).await.ok();
    let v = send_to(&hub, IT_BUREAU, "7100002", &[&oid], &[]).await.refused(422, "recipient-unreachable");
    assert_eq!(v["recipients"], json!([SOCIAL_WELFARE]));
    hub.stop().await;
}

async fn a_deleted_group_is_gone_for_everyone_and_its_deletion_logged(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let oid = created(&hub, SECRETARIAT, "shared", "外層", &[RDEC]).await;
    hub.as_(SECRETARIAT).delete(&format!("/api/v1/groups/{oid}")).await.no_content();
    hub.as_(SECRETARIAT).get(&format!("/api/v1/groups/{oid}")).await.refused(404, "not-found");
    send_to(&hub, IT_BUREAU, "7100003", &[&oid], &[]).await.refused(403, "group-not-usable");
    hub.logged("group.deleted", &oid).await;
    hub.stop().await;
}

/// The `gwx group` client commands against a running hub.
async fn the_gwx_group_commands_create_edit_and_show_history(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let gwx = |who: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
            .arg("group")
            .args(args)
            .env("GWX_HUB", format!("https://localhost:{}", hub.addr().port()))
            .env("GWX_CERT", hub.path(&format!("clients/{who}.pem")))
            .env("GWX_KEY", hub.path(&format!("clients/{who}.key")))
            .env("GWX_CA", hub.path("certs/ca.pem"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = gwx(CIVIL_AFFAIRS, &["create", "--name", "里辦公處", "--member", RDEC]);
    assert!(ok, "{err}");
    let id = out.split_whitespace().next().unwrap().to_owned();
    assert!(out.contains("private") && out.contains(RDEC), "{out}");
    let (ok, out, _) = gwx(CIVIL_AFFAIRS, &["add", &id, "--member", ETHICS, "--member", EDUCATION]);
    assert!(ok && out.contains(ETHICS) && out.contains(EDUCATION), "{out}");
    let (ok, out, _) = gwx(CIVIL_AFFAIRS, &["remove", &id, "--member", RDEC]);
    assert!(ok && !out.contains(RDEC), "{out}");
    let (ok, out, _) = gwx(CIVIL_AFFAIRS, &["history", &id]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().last().unwrap().contains("updated by 吳民政"), "{out}");
    let (ok, out, _) = gwx(CIVIL_AFFAIRS, &["list"]);
    assert!(ok && out.contains(&id), "{out}");
    // From the wrong side: the clerk of another agency, in its own words.
    let (ok, _, err) = gwx(SECRETARIAT, &["show", &id]);
    assert!(!ok && err.contains("查無資料") && err.contains("urn:gwx:error:not-found"), "{err}");
    let (ok, _, err) = gwx(IT_BUREAU, &["create", "--name", "x", "--shared"]);
    assert!(!ok && err.contains("urn:gwx:error:forbidden"), "{err}");
    hub.stop().await;
}

crate::both_databases!(
    the_secretariat_creates_shared_groups_and_an_agency_admin_private_ones,
    a_group_needs_a_name_and_existing_members,
    a_shared_group_cannot_contain_a_private_one,
    an_agency_sees_the_shared_groups_and_its_own_private_ones,
    someone_elses_private_group_does_not_exist_for_them,
    only_the_secretariat_edits_or_deletes_a_shared_group,
    another_agencys_private_group_and_no_group_are_refused_alike,
    a_document_to_groups_reaches_their_members_through_them,
    a_cycle_of_groups_is_refused_naming_the_path,
    a_group_that_is_part_of_another_is_not_deleted,
    a_recipient_named_several_times_gets_one_delivery,
    editing_a_group_leaves_documents_already_sent_as_they_were,
    a_stale_edit_is_refused_rather_than_overwriting,
    a_groups_history_keeps_every_version_who_and_when,
    a_group_naming_a_suspended_member_stays_valid_and_sending_names_it,
    a_deleted_group_is_gone_for_everyone_and_its_deletion_logged,
    the_gwx_group_commands_create_edit_and_show_history,
);
