//! Several nodes of one hub (DESIGN §11): one database, one blob store, no
//! state in a node. A document sent through one node is fetched and
//! confirmed through another; what an operator changes on one is enforced
//! on the others; a node whose blob store is not the database's refuses to
//! start.

use futures_util::StreamExt;
use gwx::client::package::SendOptions;
use gwx::tools::demo::{ASSOCIATION, CIVIL_AFFAIRS, EDUCATION, IT_BUREAU, SECRETARIAT};
use serde_json::json;

use crate::helpers::{Backend, TestHub};

async fn a_node_whose_blob_store_is_not_the_databases_refuses_to_start(backend: Backend) {
    let a = TestHub::start(backend).await;
    // A data directory of its own, or (on the object-store variant) a
    // prefix of its own: another store.
    let err = match crate::helpers::test_blobs() {
        Some(_) => {
            let other = crate::garage::blobs_config(crate::garage::garage().unwrap());
            a.another_node(|c| c.blobs = other).await.err()
        }
        None => a.another_node(|_| {}).await.err(),
    };
    let err = format!("{:#}", err.expect("the node is refused"));
    let recorded = a.store().recorded_blob_store().await.unwrap().unwrap();
    assert!(err.contains("this node's blob store is not the database's"), "{err}");
    assert!(
        err.contains(&recorded.id) && err.contains(&recorded.location),
        "says which store is the database's: {err}"
    );
    assert_eq!(recorded, a.hub.app.blobs.identity(false).await.unwrap().unwrap(), "the first node's store");
    // The first node serves on.
    a.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    a.stop().await;
}

crate::every_store!(a_node_whose_blob_store_is_not_the_databases_refuses_to_start);

/// Node A and node B on one PostgreSQL database and one object store.
async fn two_nodes() -> Option<(TestHub, TestHub)> {
    let garage = tokio::task::spawn_blocking(crate::garage::garage).await.unwrap()?;
    let backend = Backend::postgres()?;
    let blobs = crate::garage::blobs_config(garage);
    let a = TestHub::start_with(backend, |c| c.blobs = blobs).await;
    let b = a.another_node(|_| {}).await.expect("the second node starts");
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_sent_through_one_node_is_fetched_and_confirmed_through_another() {
    let Some((a, b)) = two_nodes().await else { return };
    let opts = SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    // 300 kB: an attachment in the object store, not inline.
    let sent = a.send_doc(&a.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150007001", &opts, Some(300_000)).await;
    let doc = sent.created()["document_id"].as_str().unwrap().to_owned();
    let delivery = b.inbox(EDUCATION).await[0]["id"].as_str().unwrap().to_owned();
    let out = b.path("fetched");
    let client = gwx::client::Client::new(&b.identity(EDUCATION)).unwrap();
    let files = client.fetch(&delivery, &out).await.unwrap();
    let attachment = files.iter().find(|p| p.extension().is_some_and(|e| e == "pdf")).expect("the attachment");
    assert_eq!(std::fs::metadata(attachment).unwrap().len(), 300_000, "all its bytes, through the other node");
    b.as_(EDUCATION).post(&format!("/api/v1/deliveries/{delivery}/confirm"), json!({})).await.ok();
    let status = a.as_(SECRETARIAT).get(&format!("/api/v1/documents/{doc}")).await.ok();
    assert_eq!(status["recipients"][0]["state"], "confirmed", "{status}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_edit_and_a_block_made_on_one_node_are_enforced_on_the_other() {
    let Some((a, b)) = two_nodes().await else { return };
    // The secretariat makes a shared group on A; a document to it through B
    // reaches its member.
    let g = a
        .as_(SECRETARIAT)
        .post(
            "/api/v1/groups",
            json!({"scope": "shared", "name": "跨節點群組", "members": [{"participant": EDUCATION}]}),
        )
        .await
        .created();
    let group = g["id"].as_str().unwrap().to_owned();
    let opts = SendOptions { groups: vec![group.clone()], ..Default::default() };
    b.send_doc(&b.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150007002", &opts, None).await.created();
    assert_eq!(a.inbox(EDUCATION).await.len(), 1);
    // An edit on A (the member replaced) holds for the next document through B.
    a.as_(SECRETARIAT)
        .put(
            &format!("/api/v1/groups/{group}"),
            json!({"name": "跨節點群組", "members": [{"participant": CIVIL_AFFAIRS}]}),
        )
        .await
        .ok();
    b.send_doc(&b.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150007003", &opts, None).await.created();
    assert_eq!(a.inbox(EDUCATION).await.len(), 1, "no second document for the old member");
    assert_eq!(b.inbox(CIVIL_AFFAIRS).await.len(), 1);

    // The IT bureau blocks 127.0.0.2 on A: B refuses it too (its block list
    // is refreshed from the database).
    b.as_from(ASSOCIATION, "127.0.0.2").get("/api/v1/whoami").await.ok();
    a.as_(IT_BUREAU).post("/api/v1/blocks", json!({"ip": "127.0.0.2", "reason": "攻擊來源"})).await.created();
    let mut refused = false;
    for _ in 0..100 {
        let r = b.as_from(ASSOCIATION, "127.0.0.2").try_get("/api/v1/whoami").await;
        if r.as_ref().is_ok_and(|r| r.status == 403) {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the block made on A is enforced on B");
    b.as_(EDUCATION).get("/api/v1/whoami").await.ok();
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_accepted_on_one_node_wakes_the_long_polls_on_another() {
    let Some((a, b)) = two_nodes().await else { return };
    // What wakes B's long-polls: nothing on B itself sends it, only A's
    // commit, through the database.
    let mut woken = b.hub.app.inbox_events.subscribe();
    let poll = {
        let c = b.as_(EDUCATION);
        async move { c.get("/api/v1/inbox?wait=60").await.ok() }
    };
    let send = async {
        // The long-poll is waiting before the document is sent.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let opts = SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
        a.send_doc(&a.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150007004", &opts, None).await.created()
    };
    let (polled, sent) = tokio::join!(poll, send);
    assert_eq!(polled["items"].as_array().unwrap().len(), 1, "{polled}");
    assert_eq!(polled["items"][0]["document_id"], sent["document_id"]);
    let code = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match woken.recv().await {
                Ok(c) if c == EDUCATION => return c,
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("B heard of A's delivery");
    assert_eq!(code, EDUCATION);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_jobs_run_on_one_node_at_a_time() {
    let Some((a, b)) = two_nodes().await else { return };
    // A is at them (its turn held): B does nothing, and says so.
    let turn = a.store().try_turn("gwx daily jobs").await.unwrap().expect("nobody has the turn");
    assert!(a.store().try_turn("gwx daily jobs").await.unwrap().is_none(), "one turn at a time");
    let r = b.hub.run_daily_jobs().await.unwrap();
    assert!(r.elsewhere, "{r:?}");
    turn.end().await;
    let r = b.hub.run_daily_jobs().await.unwrap();
    assert!(!r.elsewhere, "{r:?}");
    // A turn dropped unended (a node that failed mid-way) is free again
    // once its connection is gone.
    let turn = b.store().try_turn("gwx daily jobs").await.unwrap().unwrap();
    drop(turn);
    let mut free = false;
    for _ in 0..50 {
        if let Some(t) = a.store().try_turn("gwx daily jobs").await.unwrap() {
            t.end().await;
            free = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(free, "the lock went with the closed connection");
    b.stop().await;
    a.stop().await;
}

/// Nodes may share one data directory (a mount every node has) instead of
/// an object store: a node that starts clears only the scratch directories
/// of nodes no longer running, never the parts another node is receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starting_on_a_shared_data_directory_leaves_the_uploads_of_another_alone() {
    let Some(backend) = Backend::postgres() else { return };
    // 1 MiB for all uploads in memory: the 3 MiB attachment waits on disk.
    let a = TestHub::start_with(backend, |c| c.limits.intake_memory_bytes = 1 << 20).await;
    let out = crate::helpers::signed_package(&a.path(""), SECRETARIAT, "1150007201", &[EDUCATION], 3 << 20);
    let parts = crate::packages::parts(&out);
    let (_, name, attachment) = parts.iter().find(|(p, _, _)| *p == "attachment").cloned().unwrap();

    // The attachment's first half, then a pause until node B has started.
    let (go_on, wait) = tokio::sync::oneshot::channel::<()>();
    let (head, tail) = attachment.split_at(attachment.len() / 2);
    let (head, tail) = (bytes::Bytes::copy_from_slice(head), bytes::Bytes::copy_from_slice(tail));
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(
        futures_util::stream::once(async move {
            let _ = wait.await;
            Ok(tail)
        }),
    );
    let mut form = reqwest::multipart::Form::new();
    for (part, file, bytes) in parts.iter().filter(|(p, _, _)| *p != "attachment") {
        form = form.part(*part, reqwest::multipart::Part::bytes(bytes.clone()).file_name(file.clone()));
    }
    let streamed = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(body)).file_name(name.clone());
    let form = form.part("attachment", streamed);
    let request = a.client(SECRETARIAT).post(a.url("/api/v1/documents")).multipart(form);
    let upload = tokio::spawn(request.send());

    let scratch = a.path("data/tmp");
    while crate::packages::files_in(&scratch) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let data = a.path("data");
    let b = a.another_node(|c| c.server.data_dir = data).await.expect("the second node starts");
    assert!(crate::packages::files_in(&scratch) > 0, "node B removed the part node A is receiving");
    go_on.send(()).unwrap();
    let answer = upload.await.unwrap().unwrap();
    assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());

    let delivery = b.inbox(EDUCATION).await[0]["id"].as_str().unwrap().to_owned();
    let fetched = b.path("fetched");
    gwx::client::Client::new(&b.identity(EDUCATION)).unwrap().fetch(&delivery, &fetched).await.unwrap();
    assert_eq!(std::fs::read(fetched.join(&name)).unwrap(), attachment, "all its bytes, through node B");
    b.stop().await;
    a.stop().await;
}

/// Nodes started at the same moment on a new database and a new blob store
/// all start (the first deployment of a cluster, or every node restarted
/// on a restored database): one of them records the store and writes its
/// marker, the others find that record and read that marker.
async fn nodes_starting_together_on_a_new_hub_all_start(backend: Backend) {
    let started = TestHub::start_together(backend, 3).await;
    let nodes: Vec<TestHub> =
        started.into_iter().enumerate().map(|(i, n)| n.unwrap_or_else(|e| panic!("node {i} refused: {e:#}"))).collect();
    let recorded = nodes[0].store().recorded_blob_store().await.unwrap().expect("a store is recorded");
    for (i, node) in nodes.iter().enumerate() {
        let marker = node.hub.app.blobs.identity(false).await.unwrap().expect("a marker");
        assert_eq!(marker, recorded, "node {i} reads the recorded store's marker");
        node.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
    }
    nodes[0].send_plain(SECRETARIAT, "1150007301", &[EDUCATION], &[]).await.created();
    assert_eq!(nodes[2].inbox(EDUCATION).await.len(), 1, "sent through one node, in the inbox through another");
    for node in nodes.into_iter().rev() {
        node.stop().await;
    }
}

crate::every_store!(nodes_starting_together_on_a_new_hub_all_start);

/// Claims of a new blob store made at the same moment take turns, and the
/// store's marker is read or written only by the claim that records it,
/// however slow the store is between reading and writing it: no node
/// writes a marker of its own that another's then overwrites.
async fn claims_of_a_new_blob_store_made_together_record_one_marker(backend: Backend) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database(&backend, dir.path()).await;
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(gwx::store::Store::open(&url).await.unwrap());
    }
    let identified = AtomicUsize::new(0);
    let now = chrono::Utc::now();
    let claims = nodes.iter().map(|store| {
        let identified = &identified;
        store.claim_blob_store(now, move || async move {
            identified.fetch_add(1, Ordering::SeqCst);
            // A slow object store: the other claims arrive meanwhile.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let id = uuid::Uuid::now_v7().to_string();
            Ok::<_, gwx::store::StoreError>(gwx::store::blobs::StoreIdentity { id, location: "s3://b/p".into() })
        })
    });
    let claimed: Vec<_> = futures_util::future::join_all(claims).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(identified.load(Ordering::SeqCst), 1, "one claim read or wrote the marker");
    let recorded = nodes[0].recorded_blob_store().await.unwrap().unwrap();
    assert!(claimed.iter().all(|c| *c == recorded), "every claim has the recorded store: {claimed:?}");
    for store in &nodes {
        store.close().await;
    }
    if let Backend::Postgres(server) = &backend {
        crate::helpers::drop_postgres_database(server, &url).await;
    }
}

crate::both_databases!(claims_of_a_new_blob_store_made_together_record_one_marker);

/// Waits (bounded) until `store` has heard of a change to what
/// authentication reads since `before`.
async fn auth_change_heard(store: &gwx::store::Store, before: u64) {
    for _ in 0..100 {
        if store.auth_epoch() > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no change to what authentication reads was heard");
}

/// A node keeps an authentication a moment (PostgreSQL). A suspension made
/// on another node holds on it as soon as the database announces it, for a
/// credential it has just authenticated too; and a change by any writer
/// (plain SQL here, no node's doing) is announced as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_made_on_one_node_holds_on_the_other_once_announced() {
    let Some((a, b)) = two_nodes().await else { return };
    let on_b = b.as_(EDUCATION);
    on_b.get("/api/v1/whoami").await.ok();
    let before = b.store().auth_epoch();
    let suspend = format!("/api/v1/participants/{EDUCATION}/suspend");
    a.as_(IT_BUREAU).post(&suspend, json!({"reason": "資安稽核"})).await.ok();
    a.as_(EDUCATION).get("/api/v1/whoami").await.refused(403, "participant-suspended");
    auth_change_heard(b.store(), before).await;
    on_b.get("/api/v1/whoami").await.refused(403, "participant-suspended");

    let before = b.store().auth_epoch();
    let gwx::store::Db::Postgres(pool) = &a.store().db else { unreachable!("PostgreSQL") };
    sqlx::query("UPDATE participants SET status = 'active', status_reason = NULL WHERE code = $1")
        .bind(EDUCATION)
        .execute(pool)
        .await
        .unwrap();
    auth_change_heard(b.store(), before).await;
    on_b.get("/api/v1/whoami").await.ok();
    b.stop().await;
    a.stop().await;
}
