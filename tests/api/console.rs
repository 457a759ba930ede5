//! The web console's access decisions, from the wrong side: no
//! certificate, the wrong role, someone else's delivery, a form without
//! its CSRF token or from another site; and the pages each role opens.

use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SECRETARIAT, SOCIAL_WELFARE};

use crate::helpers::{Backend, Reply, TestHub};

async fn page(hub: &TestHub, who: &str, path: &str) -> Reply {
    hub.as_(who).get(path).await
}

/// The CSRF token in a page's forms.
fn token(html: &str) -> String {
    let at = html.find("csrf=").expect("a form with a token") + 5;
    html[at..at + 32].to_owned()
}

/// A hub where CIVIL_AFFAIRS sent EDUCATION a document; the delivery id,
/// as EDUCATION's inbox page shows it.
async fn with_a_delivery() -> (TestHub, String) {
    let hub = TestHub::start(Backend::Sqlite).await;
    hub.send_plain(CIVIL_AFFAIRS, "9901", &[EDUCATION], &[]).await.created();
    let inbox = page(&hub, EDUCATION, "/console/inbox").await;
    let at = inbox.text().find("data-delivery=\"").unwrap() + 15;
    let delivery = inbox.text()[at..at + 36].to_owned();
    (hub, delivery)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_are_html_under_a_strict_content_security_policy() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let r = page(&hub, EDUCATION, "/console/inbox").await;
    assert_eq!(r.content_type(), "text/html; charset=utf-8");
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(r.header("strict-transport-security").is_some());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_opening_the_hubs_address_lands_on_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let no_redirects = hub.client_builder(EDUCATION).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = hub.with(no_redirects).get("/").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/console/")));
    let landed = page(&hub, EDUCATION, "/").await;
    assert_eq!(landed.content_type(), "text/html; charset=utf-8");
    assert!(landed.text().contains("/console/inbox"), "the console's menu");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_the_console_refuses_and_the_roster_is_public() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let r = hub.anonymously().get("/console/inbox").await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("需要用戶端憑證"));
    assert_eq!(hub.anonymously().get("/roster").await.status, 200);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_console_page_is_for_its_role_and_the_menu_shows_only_those() {
    let hub = TestHub::start(Backend::Sqlite).await;
    for (who, path) in [
        (EDUCATION, "/console/admin"),
        (EDUCATION, "/console/audit"),
        (EDUCATION, "/console/security"),
        (RDEC, "/console/security"),
        (ETHICS, "/console/audit"),
        (CIVIL_AFFAIRS, "/console/applications"),
    ] {
        let r = page(&hub, who, path).await;
        assert_eq!(r.status, 403, "{who} {path}");
        assert!(r.text().contains("權限不足"), "{}", r.text());
    }
    let html = page(&hub, CIVIL_AFFAIRS, "/console/inbox").await;
    assert!(!html.text().contains("/console/admin") && !html.text().contains("/console/audit"));
    let html = page(&hub, IT_BUREAU, "/console/admin").await;
    assert!(
        html.text().contains("系統管理") && html.text().contains(CIVIL_AFFAIRS) && html.text().contains("保存期間")
    );
    assert_eq!(page(&hub, RDEC, "/console/audit").await.status, 200);
    assert_eq!(page(&hub, ETHICS, "/console/security").await.status, 200);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_delivery_is_forbidden_in_the_console() {
    let (hub, delivery) = with_a_delivery().await;
    assert_eq!(page(&hub, SOCIAL_WELFARE, &format!("/console/deliveries/{delivery}")).await.status, 403);
    assert_eq!(page(&hub, SOCIAL_WELFARE, &format!("/console/deliveries/{delivery}/parts/2")).await.status, 403);
    let social_token = token(page(&hub, SOCIAL_WELFARE, "/console/send").await.text());
    let c = hub.as_(SOCIAL_WELFARE);
    let confirm = format!("/console/deliveries/{delivery}/confirm?csrf={social_token}");
    assert_eq!(c.send(c.request(reqwest::Method::POST, &confirm)).await.status, 404, "another agency's delivery");
    hub.stop().await;
}

/// EDUCATION returns `delivery` through the console form, with `query` and `origin`.
async fn return_by_form(hub: &TestHub, delivery: &str, query: &str, origin: Option<&str>) -> Reply {
    let c = hub.as_(EDUCATION);
    let mut rb = c
        .request(reqwest::Method::POST, &format!("/console/deliveries/{delivery}/return{query}"))
        .form(&[("reason", "不明來文")]);
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    c.send(rb).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_form_without_its_token_or_from_another_site_is_refused() {
    let (hub, delivery) = with_a_delivery().await;
    let good = token(page(&hub, EDUCATION, &format!("/console/deliveries/{delivery}")).await.text());
    let social_token = token(page(&hub, SOCIAL_WELFARE, "/console/send").await.text());
    assert_ne!(good, social_token, "tokens are bound to the certificate");
    for (query, origin) in [
        (String::new(), None),
        (format!("?csrf={social_token}"), None),
        (format!("?csrf={good}"), Some("https://evil.example")),
    ] {
        let r = return_by_form(&hub, &delivery, &query, origin).await;
        assert_eq!(r.status, 403, "{query} {origin:?}");
        assert!(r.text().contains("urn:gwx:error:csrf"));
    }
    let d = hub.store().delivery(&delivery).await.unwrap().unwrap();
    assert_eq!(d.state.as_str(), "fetched", "nothing was returned by the refused forms");
    hub.logged("request.refused", "the form did not come from this console").await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_form_with_its_token_from_the_console_works() {
    let (hub, delivery) = with_a_delivery().await;
    let good = token(page(&hub, EDUCATION, &format!("/console/deliveries/{delivery}")).await.text());
    let c = hub.as_(EDUCATION);
    let rb = c
        .request(reqwest::Method::POST, &format!("/console/deliveries/{delivery}/return?csrf={good}"))
        .header("origin", hub.url(""))
        .form(&[("reason", "不明來文")]);
    // reqwest follows the redirect to the delivery page.
    let r = rb.send().await.unwrap();
    let status = r.status();
    let url = r.url().clone();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "followed the redirect to the delivery page: {text}");
    assert!(url.as_str().ends_with("?msg=returned"));
    assert!(text.contains("已退文"));
    hub.stop().await;
}

/// A form POST from the console itself, as `who`, with the token of
/// `token_page`; the response after the redirect, and where it led.
async fn submit(hub: &TestHub, who: &str, token_page: &str, action: &str, form: &[(&str, &str)]) -> (Reply, String) {
    let html = page(hub, who, token_page).await;
    let sep = if action.contains('?') { '&' } else { '?' };
    let resp = hub
        .client(who)
        .post(hub.url(&format!("{action}{sep}csrf={}", token(html.text()))))
        .header("origin", hub.url(""))
        .form(form)
        .send()
        .await
        .unwrap();
    let path = resp.url().path().to_owned();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (Reply { status, headers, body: resp.bytes().await.unwrap() }, path)
}

/// The secretariat creates the shared group 社福相關機關; its page's path.
async fn shared_group(hub: &TestHub) -> String {
    let members = format!("{EDUCATION}\n{SOCIAL_WELFARE}");
    let form = [("name", "社福相關機關"), ("scope", "shared"), ("members", members.as_str())];
    let (r, path) = submit(hub, SECRETARIAT, "/console/groups", "/console/groups", &form).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("社福相關機關") && text.contains("共用") && text.contains("已儲存"), "{text}");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_creates_and_edits_a_shared_group_in_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let group = shared_group(&hub).await;
    let form = [("name", "社福相關機關"), ("version", "1"), ("members", SOCIAL_WELFARE)];
    let (r, _) = submit(&hub, SECRETARIAT, &group, &group, &form).await;
    let text = r.text();
    assert!(text.contains("<td>2</td>") && text.contains("<td>1</td>"), "two versions in the history: {text}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_member_code_is_refused_in_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let group = shared_group(&hub).await;
    let (r, _) = submit(&hub, SECRETARIAT, &group, &group, &[("name", "x"), ("members", "not-a-code")]).await;
    assert_eq!(r.status, 422);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_cannot_create_a_shared_group_in_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let form = [("name", "偷建"), ("scope", "shared"), ("members", EDUCATION)];
    let (r, _) = submit(&hub, CIVIL_AFFAIRS, "/console/groups", "/console/groups", &form).await;
    assert_eq!(r.status, 403);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_it_bureau_suspends_blocks_and_declares_closures_in_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let suspend = format!("/console/admin/participants/{SOCIAL_WELFARE}/suspend");
    let (r, _) = submit(&hub, IT_BUREAU, "/console/admin", &suspend, &[("reason", "資安事件調查")]).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("已停止使用"));
    assert_eq!(hub.store().participant(SOCIAL_WELFARE).await.unwrap().unwrap().status.as_str(), "suspended");
    let block = [("ip", "203.0.113.0/24"), ("reason", "掃描")];
    let (r, _) = submit(&hub, IT_BUREAU, "/console/admin", "/console/admin/blocks", &block).await;
    assert!(r.text().contains("203.0.113.0/24"));
    let closure = [("date", "2030-09-02"), ("part", "afternoon"), ("reason", "颱風")];
    let (r, _) = submit(&hub, IT_BUREAU, "/console/admin", "/console/admin/closures", &closure).await;
    assert!(r.text().contains("2030-09-02 下午停班"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_cannot_use_the_it_bureaus_forms() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let suspend = format!("/console/admin/participants/{CIVIL_AFFAIRS}/suspend");
    let (r, _) = submit(&hub, EDUCATION, "/console/send", &suspend, &[("reason", "x")]).await;
    assert_eq!(r.status, 403);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_signed_by_gwx_sign_is_sent_from_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let out = hub.path("signed");
    let gwx = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["sign", "tests/fixtures/letter/1153012345.di", "--hub", &hub.url(""), "--out"])
        .arg(&out)
        .env("GWX_CERT", hub.path(&format!("clients/{IT_BUREAU}.pem")))
        .env("GWX_KEY", hub.path(&format!("clients/{IT_BUREAU}.key")))
        .env("GWX_CA", hub.path("certs/ca.pem"))
        .output()
        .unwrap();
    assert!(gwx.status.success(), "{}", String::from_utf8_lossy(&gwx.stderr));
    let html = page(&hub, IT_BUREAU, "/console/send").await;
    let file =
        |name: &str| reqwest::multipart::Part::bytes(std::fs::read(out.join(name)).unwrap()).file_name(name.to_owned());
    let mut form = reqwest::multipart::Form::new()
        .part("envelope", file("envelope.xml"))
        .part("signature", file("envelope.p7s"))
        .part("document", file("1153012345.di"));
    for a in ["1153012345.sw", "1153012345_ATTCH1.pdf", "1153012345_ATTCH2.odt", "1153012345_ATTCH3.png"] {
        form = form.part("attachment", file(a));
    }
    let r = hub
        .client(IT_BUREAU)
        .post(hub.url(&format!("/console/send?csrf={}", token(html.text()))))
        .header("origin", hub.url(""))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.url().path().starts_with("/console/sent/"));
    let text = r.text().await.unwrap();
    assert!(text.contains("公文已送出") && text.contains(SECRETARIAT), "{text}");
    hub.stop().await;
}

/// 已發公文 lists the sender's documents newest first, each with its own
/// counts of recipients, confirmations, returns and open deliveries.
async fn the_sent_page_lists_the_newest_documents_first_with_their_counts(backend: Backend) {
    {
        let hub = TestHub::start(backend).await;
        hub.send_plain(CIVIL_AFFAIRS, "9901", &[EDUCATION, SOCIAL_WELFARE], &[]).await.created();
        hub.send_plain(CIVIL_AFFAIRS, "9902", &[EDUCATION, SOCIAL_WELFARE], &[]).await.created();
        hub.send_plain(CIVIL_AFFAIRS, "9903", &[EDUCATION], &[]).await.created();
        // The first document is confirmed by one recipient and returned by the other.
        for (who, verb, body) in [
            (EDUCATION, "confirm", serde_json::json!({})),
            (SOCIAL_WELFARE, "return", serde_json::json!({"reason": "非本機關業務"})),
        ] {
            let inbox = hub.as_(who).get("/api/v1/inbox").await.ok();
            let first = inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["document_number"].as_str().unwrap().contains("9901"))
                .unwrap_or_else(|| panic!("{inbox}"))["id"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(hub.as_(who).get(&format!("/api/v1/deliveries/{first}/package")).await.status, 200);
            hub.as_(who).post(&format!("/api/v1/deliveries/{first}/{verb}"), body).await.ok();
        }
        let html = page(&hub, CIVIL_AFFAIRS, "/console/sent").await;
        let rows: Vec<(String, Vec<String>)> = html
            .text()
            .split("<tr><td><a href=\"/console/sent/")
            .skip(1)
            .map(|row| {
                let number = row.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned();
                let counts = row
                    .split("<td class=\"num\">")
                    .skip(1)
                    .map(|c| {
                        c.split("</td>")
                            .next()
                            .unwrap()
                            .replace("<span class=\"badge bad\">", "")
                            .replace("</span>", "")
                    })
                    .collect();
                (number, counts)
            })
            .collect();
        let serials: Vec<&str> =
            rows.iter().map(|(n, _)| ["9901", "9902", "9903"].into_iter().find(|s| n.contains(s)).unwrap()).collect();
        assert_eq!(serials, ["9903", "9902", "9901"], "newest first: {rows:?}");
        // recipients, confirmed, returned, open
        assert_eq!(rows[0].1, ["1", "0", "0", "1"]);
        assert_eq!(rows[1].1, ["2", "0", "0", "2"]);
        assert_eq!(rows[2].1, ["2", "1", "1", "0"]);
        hub.stop().await;
    }
}

crate::both_databases!(the_sent_page_lists_the_newest_documents_first_with_their_counts);
