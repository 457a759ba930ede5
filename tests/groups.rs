//! Send groups (行文群組, §7) end to end: shared and private rights from
//! both sides, nesting, cycles, history, sending to groups, and a sent
//! document that a later group edit does not change.

mod common;

use common::{Backend, TestHub, json, problem};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, FOUNDATION, IT_BUREAU, RDEC, SECRETARIAT, SOCIAL_WELFARE};
use serde_json::{Value, json};

async fn create(hub: &TestHub, who: &str, body: Value) -> reqwest::Response {
    hub.client(who).post(hub.url("/api/v1/groups")).json(&body).send().await.unwrap()
}

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

/// Sends a document from `sender` to `groups` (and `to`), number `serial`.
async fn send_to(hub: &TestHub, sender: &str, serial: &str, groups: &[&str], to: &[&str]) -> reqwest::Response {
    common::send_plain(hub, &hub.client(sender), sender, sender, serial, to, groups).await
}

fn recipients(status: &Value) -> Vec<(String, Option<String>)> {
    let mut r: Vec<_> = status["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["recipient"].as_str().unwrap().to_owned(), d["via_group"].as_str().map(str::to_owned)))
        .collect();
    r.sort();
    r
}

async fn shared_and_private_rights_from_both_sides(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let shared = json(
        create(
            &hub,
            SECRETARIAT,
            json!({"scope": "shared", "name": "本府一級機關", "members": members(&[RDEC, ETHICS])}),
        )
        .await,
        201,
    )
    .await;
    let sid = shared["id"].as_str().unwrap().to_owned();
    assert_eq!(shared["version"], 1);
    let private = json(
        create(
            &hub,
            CIVIL_AFFAIRS,
            json!({"scope": "private", "name": "民政局常用", "members": members(&[EDUCATION])}),
        )
        .await,
        201,
    )
    .await;
    let pid = private["id"].as_str().unwrap().to_owned();
    assert_eq!(private["owner"], CIVIL_AFFAIRS);

    // Creating: shared needs secretariat, private needs agency_admin.
    problem(
        create(&hub, CIVIL_AFFAIRS, json!({"scope": "shared", "name": "x", "members": []})).await,
        403,
        "forbidden",
    )
    .await;
    problem(create(&hub, IT_BUREAU, json!({"scope": "private", "name": "x", "members": []})).await, 403, "forbidden")
        .await;
    problem(
        create(&hub, SECRETARIAT, json!({"scope": "shared", "name": " ", "members": []})).await,
        422,
        "invalid-field",
    )
    .await;
    problem(
        create(&hub, SECRETARIAT, json!({"scope": "shared", "name": "x", "members": members(&["379999999Z"])})).await,
        422,
        "invalid-field",
    )
    .await;
    // A shared group cannot contain a private one.
    problem(
        create(&hub, SECRETARIAT, json!({"scope": "shared", "name": "x", "members": members(&[&format!("g:{pid}")])}))
            .await,
        422,
        "invalid-field",
    )
    .await;

    // Seeing: an agency sees the shared ones and its own private ones.
    let list = |who: &'static str| {
        let hub = &hub;
        async move {
            let v = json(hub.client(who).get(hub.url("/api/v1/groups")).send().await.unwrap(), 200).await;
            v.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let civil = list(CIVIL_AFFAIRS).await;
    assert!(civil.contains(&pid) && civil.contains(&sid), "{civil:?}");
    let it = list(IT_BUREAU).await;
    assert!(it.contains(&sid) && !it.contains(&pid), "{it:?}");
    assert!(list(FOUNDATION).await.is_empty(), "a connected user does not use shared groups");
    // Someone else's private group does not exist for them.
    for who in [SECRETARIAT, IT_BUREAU] {
        problem(hub.client(who).get(hub.url(&format!("/api/v1/groups/{pid}"))).send().await.unwrap(), 404, "not-found")
            .await;
        problem(
            hub.client(who).get(hub.url(&format!("/api/v1/groups/{pid}/history"))).send().await.unwrap(),
            404,
            "not-found",
        )
        .await;
    }

    // Editing: the secretariat edits shared ones, only the owner its private one.
    let change = json!({"name": "x", "members": members(&[RDEC])});
    problem(
        hub.client(CIVIL_AFFAIRS).put(hub.url(&format!("/api/v1/groups/{sid}"))).json(&change).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    problem(
        hub.client(SECRETARIAT).put(hub.url(&format!("/api/v1/groups/{pid}"))).json(&change).send().await.unwrap(),
        404,
        "not-found",
    )
    .await;
    problem(
        hub.client(CIVIL_AFFAIRS).delete(hub.url(&format!("/api/v1/groups/{sid}"))).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;

    // Using: another's private group and a group that does not exist are refused alike.
    let a = problem(send_to(&hub, IT_BUREAU, "7000001", &[&pid], &[]).await, 403, "group-not-usable").await;
    let b = problem(send_to(&hub, IT_BUREAU, "7000002", &["GNOSUCHGRP"], &[]).await, 403, "group-not-usable").await;
    assert_eq!(a["title"], b["title"]);
    assert_eq!(
        a["detail"].as_str().unwrap().replace(&pid, "X"),
        b["detail"].as_str().unwrap().replace("GNOSUCHGRP", "X")
    );
    problem(send_to(&hub, FOUNDATION, "7000003", &[&sid], &[]).await, 403, "group-not-usable").await;

    // The owner sends to its private group; the secretariat's shared group works for any agency.
    let r = json(send_to(&hub, CIVIL_AFFAIRS, "7000004", &[&pid, &sid], &[]).await, 201).await;
    let doc = r["document_id"].as_str().unwrap();
    let s =
        json(hub.client(CIVIL_AFFAIRS).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200)
            .await;
    assert_eq!(
        recipients(&s),
        [(EDUCATION.into(), Some(pid.clone())), (ETHICS.into(), Some(sid.clone())), (RDEC.into(), Some(sid.clone()))]
    );
    hub.stop().await;
}

async fn nesting_cycles_history_and_sent_documents_stay_as_sent(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let inner = json(
        create(&hub, SECRETARIAT, json!({"scope": "shared", "name": "內層", "members": members(&[RDEC, ETHICS])}))
            .await,
        201,
    )
    .await;
    let iid = inner["id"].as_str().unwrap().to_owned();
    let outer = json(
        create(
            &hub,
            SECRETARIAT,
            json!({"scope": "shared", "name": "外層", "members": members(&[RDEC, &format!("g:{iid}"), EDUCATION])}),
        )
        .await,
        201,
    )
    .await;
    let oid = outer["id"].as_str().unwrap().to_owned();

    // A cycle is refused, naming the path.
    let v = problem(
        hub.client(SECRETARIAT)
            .put(hub.url(&format!("/api/v1/groups/{iid}")))
            .json(&json!({"name": "內層", "members": members(&[RDEC, &format!("g:{oid}")])}))
            .send()
            .await
            .unwrap(),
        422,
        "group-cycle",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains(&oid), "{v}");
    // A group in use by another cannot be deleted.
    problem(
        hub.client(SECRETARIAT).delete(hub.url(&format!("/api/v1/groups/{iid}"))).send().await.unwrap(),
        409,
        "invalid-state",
    )
    .await;

    // Sending to the outer group and to RDEC directly: RDEC (three times in
    // all) gets one delivery, recorded as named directly; the rest via the group.
    let r = json(send_to(&hub, IT_BUREAU, "7100001", &[&oid], &[RDEC]).await, 201).await;
    let doc = r["document_id"].as_str().unwrap().to_owned();
    let before =
        json(hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200).await;
    assert_eq!(
        recipients(&before),
        [(EDUCATION.into(), Some(oid.clone())), (ETHICS.into(), Some(oid.clone())), (RDEC.into(), None)]
    );
    assert_eq!(r["recipients"].as_array().unwrap().len(), 3);

    // Editing the group afterwards does not touch the sent document.
    let v2 = json(
        hub.client(SECRETARIAT)
            .put(hub.url(&format!("/api/v1/groups/{oid}")))
            .json(&json!({"name": "外層（修正）", "members": members(&[SOCIAL_WELFARE]), "version": 1}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(v2["version"], 2);
    let after =
        json(hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200).await;
    assert_eq!(recipients(&after), recipients(&before));
    // A stale edit (from version 1) is refused rather than overwriting version 2.
    problem(
        hub.client(SECRETARIAT)
            .put(hub.url(&format!("/api/v1/groups/{oid}")))
            .json(&json!({"name": "y", "members": [], "version": 1}))
            .send()
            .await
            .unwrap(),
        409,
        "invalid-state",
    )
    .await;

    // The history keeps every version, who and when.
    let h =
        json(hub.client(IT_BUREAU).get(hub.url(&format!("/api/v1/groups/{oid}/history"))).send().await.unwrap(), 200)
            .await;
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0]["change"].as_str(), h[1]["change"].as_str()), (Some("created"), Some("updated")));
    assert_eq!(h[0]["members"].as_array().unwrap().len(), 3);
    assert_eq!(h[1]["members"], members(&[SOCIAL_WELFARE]));
    assert_eq!(h[1]["actor"], SECRETARIAT);
    assert_eq!(h[1]["actor_name"], "陳秘書");

    // A suspended member keeps the group valid; sending names the member.
    json(
        hub.client(IT_BUREAU)
            .post(hub.url(&format!("/api/v1/participants/{SOCIAL_WELFARE}/suspend")))
            .json(&json!({"reason": "停權"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let v = problem(send_to(&hub, IT_BUREAU, "7100002", &[&oid], &[]).await, 422, "recipient-unreachable").await;
    assert_eq!(v["recipients"], json!([SOCIAL_WELFARE]));

    // Deleting: then it is gone for everyone; the exchange log keeps the deletion.
    json(
        hub.client(SECRETARIAT)
            .put(hub.url(&format!("/api/v1/groups/{oid}")))
            .json(&json!({"name": "外層", "members": members(&[RDEC])}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        hub.client(SECRETARIAT).delete(hub.url(&format!("/api/v1/groups/{oid}"))).send().await.unwrap().status(),
        204
    );
    problem(
        hub.client(SECRETARIAT).get(hub.url(&format!("/api/v1/groups/{oid}"))).send().await.unwrap(),
        404,
        "not-found",
    )
    .await;
    problem(send_to(&hub, IT_BUREAU, "7100003", &[&oid], &[]).await, 403, "group-not-usable").await;
    common::wait_for_log(hub.store(), "group.deleted", &oid).await;
    hub.stop().await;
}

/// The `gwx group` client commands against a running hub.
async fn gwx_group_commands(backend: Backend) {
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

both_databases!(
    shared_and_private_rights_from_both_sides,
    nesting_cycles_history_and_sent_documents_stay_as_sent,
    gwx_group_commands
);
