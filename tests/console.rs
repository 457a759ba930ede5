//! The web console's access decisions, from the wrong side: no
//! certificate, the wrong role, someone else's delivery, a form without
//! its CSRF token or from another site; and the pages each role opens.

mod common;

use common::{Backend, TestHub, json, send_plain};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SOCIAL_WELFARE};

async fn page(hub: &TestHub, who: &str, path: &str) -> (u16, String) {
    let r = hub.client(who).get(hub.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The CSRF token in a page's forms.
fn token(html: &str) -> String {
    let at = html.find("csrf=").expect("a form with a token") + 5;
    html[at..at + 32].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_access_decisions() {
    let hub = TestHub::start(Backend::Sqlite).await;
    json(
        send_plain(&hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, "9901", &[EDUCATION], &[]).await,
        201,
    )
    .await;
    let (_, inbox) = page(&hub, EDUCATION, "/console/inbox").await;
    let at = inbox.find("data-delivery=\"").unwrap() + 15;
    let delivery = inbox[at..at + 36].to_owned();

    // Pages are HTML with a strict content security policy.
    let r = hub.client(EDUCATION).get(hub.url("/console/inbox")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(r.headers().contains_key("strict-transport-security"));

    // No certificate: refused, as an HTML page; the roster is public.
    let r = hub.anonymous().get(hub.url("/console/inbox")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("需要用戶端憑證"));
    assert_eq!(hub.anonymous().get(hub.url("/roster")).send().await.unwrap().status(), 200);

    // The wrong role: each page is for its role only, and the menu shows only those.
    for (who, path) in [
        (EDUCATION, "/console/admin"),
        (EDUCATION, "/console/audit"),
        (EDUCATION, "/console/security"),
        (RDEC, "/console/security"),
        (ETHICS, "/console/audit"),
        (CIVIL_AFFAIRS, "/console/applications"),
    ] {
        let (status, html) = page(&hub, who, path).await;
        assert_eq!(status, 403, "{who} {path}");
        assert!(html.contains("權限不足"), "{html}");
    }
    let (_, html) = page(&hub, CIVIL_AFFAIRS, "/console/inbox").await;
    assert!(!html.contains("/console/admin") && !html.contains("/console/audit"));
    let (_, html) = page(&hub, IT_BUREAU, "/console/admin").await;
    assert!(html.contains("系統管理") && html.contains(CIVIL_AFFAIRS) && html.contains("保存期間"));
    assert_eq!(page(&hub, RDEC, "/console/audit").await.0, 200);
    assert_eq!(page(&hub, ETHICS, "/console/security").await.0, 200);

    // Someone else's delivery: 403 for the page, its files and its actions.
    assert_eq!(page(&hub, SOCIAL_WELFARE, &format!("/console/deliveries/{delivery}")).await.0, 403);
    assert_eq!(page(&hub, SOCIAL_WELFARE, &format!("/console/deliveries/{delivery}/parts/2")).await.0, 403);
    let (_, own) = page(&hub, SOCIAL_WELFARE, "/console/send").await;
    let social_token = token(&own);
    let r = hub
        .client(SOCIAL_WELFARE)
        .post(hub.url(&format!("/console/deliveries/{delivery}/confirm?csrf={social_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "another agency's delivery cannot be confirmed");

    // A form without the token, with another certificate's token, or from another site.
    let (_, page_html) = page(&hub, EDUCATION, &format!("/console/deliveries/{delivery}")).await;
    let good = token(&page_html);
    assert_ne!(good, social_token, "tokens are bound to the certificate");
    let post = |query: String, origin: Option<&'static str>| {
        let mut rb = hub
            .client(EDUCATION)
            .post(hub.url(&format!("/console/deliveries/{delivery}/return{query}")))
            .form(&[("reason", "不明來文")]);
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb.send()
    };
    for (query, origin) in [
        (String::new(), None),
        (format!("?csrf={social_token}"), None),
        (format!("?csrf={good}"), Some("https://evil.example")),
    ] {
        let r = post(query.clone(), origin).await.unwrap();
        assert_eq!(r.status(), 403, "{query} {origin:?}");
        assert!(r.text().await.unwrap().contains("urn:gwx:error:csrf"));
    }
    let d = hub.store().delivery(&delivery).await.unwrap().unwrap();
    assert_eq!(d.state.as_str(), "fetched", "nothing was returned by the refused forms");
    common::wait_for_log(hub.store(), "request.refused", "the form did not come from this console").await;

    // With its token, from the console itself, the form works.
    let origin = hub.url("");
    let r = hub
        .client(EDUCATION)
        .post(hub.url(&format!("/console/deliveries/{delivery}/return?csrf={good}")))
        .header("origin", origin)
        .form(&[("reason", "不明來文")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "followed the redirect to the delivery page");
    assert!(r.url().as_str().ends_with("?msg=returned"));
    assert!(r.text().await.unwrap().contains("已退文"));
    hub.stop().await;
}

/// A form POST from the console itself, as `who`, with the token of `token_page`.
async fn submit(hub: &TestHub, who: &str, token_page: &str, action: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let (_, html) = page(hub, who, token_page).await;
    let sep = if action.contains('?') { '&' } else { '?' };
    hub.client(who)
        .post(hub.url(&format!("{action}{sep}csrf={}", token(&html))))
        .header("origin", hub.url(""))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_administration_and_sending_from_the_console() {
    let hub = TestHub::start(Backend::Sqlite).await;
    let secretariat = gwx::tools::demo::SECRETARIAT;

    // The secretariat creates a shared group, then edits its members; the history shows both.
    let r = submit(
        &hub,
        secretariat,
        "/console/groups",
        "/console/groups",
        &[("name", "社福相關機關"), ("scope", "shared"), ("members", &format!("{EDUCATION}\n{SOCIAL_WELFARE}"))],
    )
    .await;
    assert_eq!(r.status(), 200);
    let group_url = r.url().path().to_owned();
    let text = r.text().await.unwrap();
    assert!(text.contains("社福相關機關") && text.contains("共用") && text.contains("已儲存"), "{text}");
    let r = submit(
        &hub,
        secretariat,
        &group_url,
        &group_url,
        &[("name", "社福相關機關"), ("version", "1"), ("members", SOCIAL_WELFARE)],
    )
    .await;
    let text = r.text().await.unwrap();
    assert!(text.contains("<td>2</td>") && text.contains("<td>1</td>"), "two versions in the history: {text}");
    // A bad member code is refused with the domain's reason.
    let r = submit(&hub, secretariat, &group_url, &group_url, &[("name", "x"), ("members", "not-a-code")]).await;
    assert_eq!(r.status(), 422);
    // A plain clerk's credential cannot create a shared group.
    let r = submit(
        &hub,
        CIVIL_AFFAIRS,
        "/console/groups",
        "/console/groups",
        &[("name", "偷建"), ("scope", "shared"), ("members", EDUCATION)],
    )
    .await;
    assert_eq!(r.status(), 403);

    // The IT bureau suspends a participant, blocks an address, declares a closure.
    let r = submit(
        &hub,
        IT_BUREAU,
        "/console/admin",
        &format!("/console/admin/participants/{SOCIAL_WELFARE}/suspend"),
        &[("reason", "資安事件調查")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("已停止使用"));
    assert_eq!(hub.store().participant(SOCIAL_WELFARE).await.unwrap().unwrap().status.as_str(), "suspended");
    let r = submit(
        &hub,
        IT_BUREAU,
        "/console/admin",
        "/console/admin/blocks",
        &[("ip", "203.0.113.0/24"), ("reason", "掃描")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("203.0.113.0/24"));
    let r = submit(
        &hub,
        IT_BUREAU,
        "/console/admin",
        "/console/admin/closures",
        &[("date", "2030-09-02"), ("part", "afternoon"), ("reason", "颱風")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("2030-09-02 下午停班"));
    // …which a clerk cannot.
    let r = submit(
        &hub,
        EDUCATION,
        "/console/send",
        &format!("/console/admin/participants/{CIVIL_AFFAIRS}/suspend"),
        &[("reason", "x")],
    )
    .await;
    assert_eq!(r.status(), 403);

    // Sending from the browser: a package signed by `gwx sign`, uploaded as files.
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
    let (_, html) = page(&hub, IT_BUREAU, "/console/send").await;
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
        .post(hub.url(&format!("/console/send?csrf={}", token(&html))))
        .header("origin", hub.url(""))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.url().path().starts_with("/console/sent/"));
    let text = r.text().await.unwrap();
    assert!(text.contains("公文已送出") && text.contains(secretariat), "{text}");
    hub.stop().await;
}
