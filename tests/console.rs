//! The web console's access decisions, from the wrong side: no
//! certificate, the wrong role, someone else's delivery, a form without
//! its CSRF token or from another site; and the pages each role opens.

mod common;

use common::{Backend, TestHub, json, send_plain};
use gwx::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SOCIAL_WELFARE};

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
    assert_eq!(d.state, "fetched", "nothing was returned by the refused forms");
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
