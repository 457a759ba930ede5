//! Receiving packages within bounds: a part's headers and the number of
//! parts are limited, and all uploads in flight share one memory budget,
//! beyond which parts wait on disk — and are stored and delivered intact.

use gwx::client::package::SendOptions;
use gwx::tools::demo::{EDUCATION, SECRETARIAT};

use crate::helpers::{Backend, TestHub, detail};
use crate::packages::{package_from, parts, post};

/// A package from SECRETARIAT to EDUCATION with `count` attachments of `size` bytes.
fn with_attachments(hub: &TestHub, serial: &str, count: usize, size: usize) -> gwx::client::package::Outgoing {
    let names: Vec<String> = (1..=count).map(|i| format!("{serial}_ATTCH{i}.pdf")).collect();
    let di = gwx::tools::bench::bench_di(SECRETARIAT, serial, &names);
    let files: Vec<(&str, Vec<u8>)> =
        names.iter().map(|n| (n.as_str(), gwx::tools::bench::pdf_of(size, n).to_vec())).collect();
    package_from(hub, SECRETARIAT, &di, &files, SendOptions { to: vec![EDUCATION.into()], ..Default::default() })
}

async fn a_part_header_over_the_limit_is_an_invalid_package(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| c.limits.max_part_header_bytes = 16 * 1024).await;
    let c = hub.as_(SECRETARIAT);
    let mut body = b"--XX\r\nContent-Disposition: form-data; name=\"envelope\"; x=\"".to_vec();
    body.resize(body.len() + (1 << 20), b'y');
    body.extend(b"\"\r\n\r\n<e/>\r\n--XX--\r\n");
    let req = c
        .request(reqwest::Method::POST, "/api/v1/documents")
        .header("content-type", "multipart/form-data; boundary=XX")
        .body(body);
    let v = c.send(req).await.refused(400, "invalid-package");
    assert!(detail(&v).contains("a part's headers exceed 16384 bytes"), "{v}");
    hub.logged("request.refused", "headers exceed 16384 bytes").await;
    assert_eq!(hub.hub.app.intake_memory.in_use(), 0);
    hub.stop().await;
}

async fn a_package_of_more_parts_than_allowed_is_an_invalid_package(backend: Backend) {
    let hub = TestHub::start_with(backend, |c| c.limits.max_parts = 5).await;
    // Envelope, signature, document and three attachments: six parts.
    let v = post(&hub, SECRETARIAT, parts(&with_attachments(&hub, "1150000501", 3, 100))).await;
    assert!(detail(&v.refused(400, "invalid-package")).contains("more than 5 parts"));
    let ok = post(&hub, SECRETARIAT, parts(&with_attachments(&hub, "1150000502", 2, 100))).await;
    ok.created();
    hub.stop().await;
}

async fn parts_beyond_the_memory_budget_wait_on_disk_and_arrive_intact(backend: Backend) {
    // 150 attachments of 60 KiB (each small enough to keep in memory) are
    // more than the 8 MiB all uploads may hold: the later ones spill.
    let hub = TestHub::start_with(backend, |c| c.limits.intake_memory_bytes = 8 << 20).await;
    let out = with_attachments(&hub, "1150000503", 150, 60 * 1024);
    let sent = parts(&out);
    post(&hub, SECRETARIAT, sent.clone()).await.created();
    assert_eq!(hub.hub.app.intake_memory.in_use(), 0, "the budget is given back");
    // Attachments above the inline size are files, whether they waited in
    // memory or on disk: their bytes never pass through the database (nor
    // do those of the envelope, which lists 150 files).
    if crate::helpers::test_blobs().is_none() {
        assert_eq!(crate::packages::files_in(&hub.path("data/blobs")), 151);
    }
    let (blobs, inline) = hub.hub.app.store.blob_counts().await.unwrap();
    assert_eq!((blobs, inline), (153, 2), "the signature and the DI inline");

    let delivery = hub.inbox(EDUCATION).await[0]["id"].as_str().unwrap().to_owned();
    let client = gwx::client::Client::new(&hub.identity(EDUCATION)).unwrap();
    let out_dir = hub.path("fetched");
    let files = client.fetch(&delivery, &out_dir).await.unwrap();
    assert_eq!(files.len(), 2 + 1 + 150);
    for (_, name, bytes) in sent.iter().filter(|(part, _, _)| *part == "attachment") {
        assert_eq!(&std::fs::read(out_dir.join(name)).unwrap(), bytes, "{name}");
    }
    hub.stop().await;
}

crate::both_databases!(
    a_part_header_over_the_limit_is_an_invalid_package,
    a_package_of_more_parts_than_allowed_is_an_invalid_package,
);

crate::every_store!(parts_beyond_the_memory_budget_wait_on_disk_and_arrive_intact);
