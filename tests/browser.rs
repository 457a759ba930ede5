//! The web console in a real browser: Debian's headless Chromium driven by
//! Playwright (`tests/browser/console.mjs`, playwright-core), presenting the
//! demo client certificates to the real hub over mTLS. Screenshots of the
//! main pages go to `target/browser-artifacts/` (test artifacts, not
//! committed).
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci --prefix tests/browser`;
//! without them the test is skipped, unless `GWX_REQUIRE_BROWSER=1` (as in
//! CI), where it fails.

#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;

use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SOCIAL_WELFARE, UNREGISTERED_UBN};
use helpers::{Backend, TestHub};
use serde_json::json;

fn browser_ready() -> bool {
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let ready = node
        && Path::new("/usr/bin/chromium").exists()
        && Path::new("tests/browser/node_modules/playwright-core").exists();
    if !ready {
        if std::env::var("GWX_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("GWX_REQUIRE_BROWSER=1 but node, /usr/bin/chromium or tests/browser/node_modules is missing");
        }
        eprintln!("skipped: the browser tests need node, Debian's chromium and `npm ci --prefix tests/browser`");
    }
    ready
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let hub = TestHub::start(Backend::Sqlite).await;
    // A new document for Education, from Civil Affairs.
    let sent = hub.send_plain(CIVIL_AFFAIRS, "8801", &[EDUCATION], &[]).await.created();
    let doc = sent["document_id"].as_str().unwrap().to_owned();
    let status = hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{doc}")).await.ok();
    let number = status["document_number"].as_str().unwrap().to_owned();
    // An application for Education (a supervising agency) to review.
    let application = hub
        .as_("unregistered")
        .post(
            "/api/v1/applications",
            json!({
                "kind": "new",
                "capabilities": {"receive": true, "send": true},
                "organisation_name": "社團法人臺北市瀏覽器測試協會",
                "unified_business_number": UNREGISTERED_UBN,
                "card_number": "XCA0000004321",
                "card_activation_date": "2026-11-01",
                "fixed_ips": ["127.0.0.9"],
                "contact_name": "林測試",
                "contact_phone": "02-2720-8889",
                "contact_email": "browser@example.org.tw",
                "supervisor": EDUCATION,
                "terms_accepted": true,
            }),
        )
        .await
        .created();
    let application = application["id"].as_str().unwrap().to_owned();
    // A 開會通知單 in Big5, as an agency system exports it, for 研考會 (副本 in its SW).
    let kp = gwx::pki::demo::KeyPair::read(&hub.path(&format!("clients/{IT_BUREAU}"))).unwrap();
    let out = gwx::client::package::from_di_file(
        Path::new("tests/fixtures/kinds/meeting-big5/1153100008.di"),
        &Default::default(),
        &gwx::domain::ParticipantCode::parse(IT_BUREAU).unwrap(),
        &kp.cert,
        &kp.key,
    )
    .unwrap();
    let mut form = reqwest::multipart::Form::new()
        .part("envelope", reqwest::multipart::Part::bytes(out.envelope_xml.clone()).file_name("envelope.xml"))
        .part("signature", reqwest::multipart::Part::bytes(out.signature.clone()).file_name("envelope.p7s"));
    for f in std::iter::once(&out.document).chain(&out.attachments) {
        let bytes = match &f.source {
            gwx::client::package::Source::Bytes(b) => b.to_vec(),
            gwx::client::package::Source::Path(p) => std::fs::read(p).unwrap(),
        };
        let part = if f.entry.role == gwx::formats::envelope::FileRole::Document { "document" } else { "attachment" };
        form = form.part(part, reqwest::multipart::Part::bytes(bytes).file_name(f.entry.name.to_string()));
    }
    let c = hub.as_(IT_BUREAU);
    c.send(c.request(reqwest::Method::POST, "/api/v1/documents").multipart(form)).await.created();
    let meeting =
        hub.inbox(RDEC).await.into_iter().find(|d| d["document_number"] == "北市資綜字第1153100008號").unwrap();
    let meeting = meeting["id"].as_str().unwrap().to_owned();

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let cert = |code: &str| {
        json!({
            "cert": hub.path(&format!("clients/{code}.pem")),
            "key": hub.path(&format!("clients/{code}.key")),
        })
    };
    let context = json!({
        "hub": hub.url(""),
        "number": number,
        "application": application,
        "meeting": meeting,
        "artifacts": artifacts,
        "certs": {
            // Education's browser imports the PKCS#12 file `gwx init` writes.
            "education": {"pfx": hub.path(&format!("clients/{EDUCATION}.p12")), "passphrase": gwx::tools::demo::DEMO_P12_PASSWORD},
            "civil": cert(CIVIL_AFFAIRS),
            "rdec": cert(RDEC),
            "social": cert(SOCIAL_WELFARE),
            "itBureau": cert(IT_BUREAU),
            "ethics": cert(ETHICS),
        },
    });
    let context_file = hub.path("browser-context.json");
    std::fs::write(&context_file, serde_json::to_vec_pretty(&context).unwrap()).unwrap();

    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node").arg("tests/browser/console.mjs").arg(context_file).output().unwrap()
    })
    .await
    .unwrap();
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{log}");
    assert!(out.status.success(), "the browser run failed:\n{log}");

    // What the browser did reached the hub.
    let after = hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{doc}")).await.ok();
    assert_eq!(after["recipients"][0]["state"], "returned");
    assert_eq!(after["recipients"][0]["return_reason"], "非本局業務，請改送民政局");
    let a = hub.store().application(&application).await.unwrap().unwrap();
    assert_eq!(a.state.as_str(), "approved");
    for shot in [
        "inbox",
        "delivery",
        "returned",
        "sent",
        "paper-resend",
        "applications",
        "audit",
        "forbidden",
        "roster",
        "meeting",
        "print",
    ] {
        assert!(artifacts.join(format!("{shot}.png")).exists(), "screenshot {shot}");
    }
    hub.logged("auth.refused", "is not addressed to").await;
    hub.stop().await;
}
