//! 研考會's timeliness audit on a crafted data set (figures checked by
//! hand), 政風處's security view, and who sees which exchange-log entries.

mod common;

use chrono::{DateTime, Utc};
use common::{Backend, TestHub, fetch_and_confirm, json, problem, send_plain};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SOCIAL_WELFARE};
use serde_json::{Value, json};

async fn start(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| c.auth.inactivity_days = 3650).await
}

fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00")).unwrap().with_timezone(&Utc)
}

/// Sends from CIVIL_AFFAIRS at local time `at`; returns the delivery id per recipient.
async fn send_at(hub: &TestHub, at: &str, serial: &str, to: &[&str]) -> Vec<String> {
    hub.clock.set(local(at));
    let v = json(send_plain(hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, serial, to, &[]).await, 201)
        .await;
    let doc = v["document_id"].as_str().unwrap();
    let status =
        json(hub.client(CIVIL_AFFAIRS).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200)
            .await;
    to.iter()
        .map(|code| {
            let r = status["recipients"].as_array().unwrap().iter().find(|r| r["recipient"] == *code).unwrap();
            r["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn confirm_at(hub: &TestHub, at: &str, who: &str, delivery: &str) {
    hub.clock.set(local(at));
    fetch_and_confirm(hub, who, delivery).await;
}

fn row<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["participants"].as_array().unwrap().iter().find(|r| r["code"] == code).unwrap_or_else(|| panic!("{code}"))
}

/// The figures of one row, in the order of the report's columns.
fn figures(r: &Value) -> Vec<Value> {
    [
        "received",
        "confirmed_on_time",
        "confirmed_late",
        "returned",
        "overdue",
        "pending",
        "median_minutes_to_confirm",
        "p90_minutes_to_confirm",
        "sent",
        "sent_unconfirmed_past_deadline",
        "paper_resends",
    ]
    .iter()
    .map(|k| r[*k].clone())
    .collect()
}

async fn timeliness_figures_match_a_hand_computed_data_set(backend: Backend) {
    let hub = start(backend).await;
    // Monday 2027-11-01 09:00: A and B to Education and Social Welfare, C to Education.
    let a = send_at(&hub, "2027-11-01T09:00:00", "6001", &[EDUCATION, SOCIAL_WELFARE]).await;
    let b = send_at(&hub, "2027-11-01T09:00:00", "6002", &[EDUCATION, SOCIAL_WELFARE]).await;
    let _c = send_at(&hub, "2027-11-01T09:00:00", "6003", &[EDUCATION]).await;
    // Education confirms A after 60 office minutes; Social Welfare late, on
    // Tuesday 11:00 (210 + 240 + 150 = 600 minutes, deadline Tue 10:00).
    confirm_at(&hub, "2027-11-01T10:00:00", EDUCATION, &a[0]).await;
    confirm_at(&hub, "2027-11-02T11:00:00", SOCIAL_WELFARE, &a[1]).await;
    // Education returns B; Social Welfare confirms it Monday 14:30 (270 minutes).
    hub.clock.set(local("2027-11-01T11:00:00"));
    json(
        common::post(&hub, EDUCATION, &format!("/api/v1/deliveries/{}/return", b[0]), json!({"reason": "非本局業務"}))
            .await,
        200,
    )
    .await;
    confirm_at(&hub, "2027-11-01T14:30:00", SOCIAL_WELFARE, &b[1]).await;
    // Tuesday 09:00: D to Education, confirmed after 30 minutes.
    let d = send_at(&hub, "2027-11-02T09:00:00", "6004", &[EDUCATION]).await;
    confirm_at(&hub, "2027-11-02T09:30:00", EDUCATION, &d[0]).await;
    // The sender resends B on paper to Education.
    hub.clock.set(local("2027-11-03T11:00:00"));
    json(common::post(&hub, CIVIL_AFFAIRS, &format!("/api/v1/deliveries/{}/paper-resend", b[0]), json!({})).await, 200)
        .await;

    // Wednesday 12:00: C is overdue at Education; D's sender deadline (Wed
    // 14:00) is still ahead; B (returned) and C (never confirmed) were
    // unconfirmed at their sender deadline (Tue 14:00).
    hub.clock.set(local("2027-11-03T12:00:00"));
    let rdec = hub.client(RDEC);
    let url = hub.url("/api/v1/audit/timeliness?from=2027-11-01&to=2027-11-03");
    let r = json(rdec.get(&url).send().await.unwrap(), 200).await;
    assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some("2027-11-01"), Some("2027-11-03")));
    assert_eq!(
        figures(row(&r, EDUCATION)),
        [
            json!(4),
            json!(2),
            json!(0),
            json!(1),
            json!(1),
            json!(0),
            json!(30),
            json!(60),
            json!(0),
            json!(0),
            json!(0)
        ]
    );
    assert_eq!(
        figures(row(&r, SOCIAL_WELFARE)),
        [
            json!(2),
            json!(1),
            json!(1),
            json!(0),
            json!(0),
            json!(0),
            json!(270),
            json!(600),
            json!(0),
            json!(0),
            json!(0)
        ]
    );
    assert_eq!(
        figures(row(&r, CIVIL_AFFAIRS)),
        [
            json!(0),
            json!(0),
            json!(0),
            json!(0),
            json!(0),
            json!(0),
            Value::Null,
            Value::Null,
            json!(4),
            json!(2),
            json!(1)
        ]
    );
    assert_eq!(r["participants"].as_array().unwrap().len(), 3, "only participants with traffic");
    assert_eq!(
        figures(&r["totals"]),
        [
            json!(6),
            json!(3),
            json!(1),
            json!(1),
            json!(1),
            json!(0),
            json!(60),
            json!(600),
            json!(4),
            json!(2),
            json!(1)
        ]
    );
    assert_eq!(row(&r, EDUCATION)["name"], "臺北市政府教育局");

    // One participant; a period with nothing in it.
    let one = json(rdec.get(format!("{url}&participant={SOCIAL_WELFARE}")).send().await.unwrap(), 200).await;
    assert_eq!(one["participants"].as_array().unwrap().len(), 1);
    assert_eq!(one["totals"]["received"], 2);
    let none =
        json(rdec.get(hub.url("/api/v1/audit/timeliness?from=2027-12-01&to=2027-12-31")).send().await.unwrap(), 200)
            .await;
    assert_eq!(none["participants"], json!([]));
    assert_eq!(none["totals"]["received"], 0);

    // CSV with a totals row; printable page.
    let csv = rdec.get(format!("{url}&format=csv")).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("\u{feff}代碼,名稱,收文數,如期確認,逾期確認,退文,逾期未處理"), "{csv}");
    assert_eq!(lines.len(), 5, "header, three participants, totals: {csv}");
    assert_eq!(lines[4], "*,合計,6,3,1,1,1,0,1.0,10.0,4,2,1");
    let page = rdec.get(format!("{url}&format=html")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("公文電子交換時效稽核報表") && page.contains("2027-11-01 至 2027-11-03"));

    // Only 研考會; a bad period is refused.
    problem(hub.client(EDUCATION).get(&url).send().await.unwrap(), 403, "forbidden").await;
    problem(hub.client(ETHICS).get(&url).send().await.unwrap(), 403, "forbidden").await;
    problem(
        rdec.get(hub.url("/api/v1/audit/timeliness?from=2027-11-05&to=2027-11-01")).send().await.unwrap(),
        422,
        "invalid-field",
    )
    .await;
    problem(rdec.get(hub.url("/api/v1/audit/timeliness?from=yesterday")).send().await.unwrap(), 400, "invalid-request")
        .await;
    hub.stop().await;
}

fn entries(v: &Value) -> Vec<Value> {
    v["items"].as_array().unwrap().clone()
}

async fn log_entries_are_visible_to_those_they_concern(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc = json(
        send_plain(&hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, "7001", &[EDUCATION], &[]).await,
        201,
    )
    .await["document_id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(
        send_plain(&hub, &hub.client(SOCIAL_WELFARE), SOCIAL_WELFARE, SOCIAL_WELFARE, "7002", &[IT_BUREAU], &[]).await,
        201,
    )
    .await;
    // A refusal with no certificate, for the security view.
    let refused = hub.anonymous().get(hub.url("/api/v1/whoami")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    common::wait_for_log(hub.store(), "auth.refused", "").await;

    // Education sees its delivery (as counterpart of the sender's entries
    // too) but nothing of Social Welfare's document.
    let edu =
        entries(&json(hub.client(EDUCATION).get(hub.url("/api/v1/log?limit=1000")).send().await.unwrap(), 200).await);
    assert!(edu.iter().any(|e| e["action"] == "delivery.delivered" && e["document"] == doc.as_str()));
    assert!(
        edu.iter().all(|e| e["participant"] == EDUCATION || e["counterpart"] == EDUCATION),
        "only its own entries: {edu:?}"
    );
    // Asking for another participant changes nothing for a clerk.
    let other = entries(
        &json(
            hub.client(EDUCATION)
                .get(hub.url(&format!("/api/v1/log?participant={SOCIAL_WELFARE}")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await,
    );
    assert!(other.iter().all(|e| e["participant"] == EDUCATION || e["counterpart"] == EDUCATION));

    // The IT bureau, 政風處 and 研考會 see everything.
    for auditor in [IT_BUREAU, ETHICS, RDEC] {
        let all =
            entries(&json(hub.client(auditor).get(hub.url("/api/v1/log?limit=1000")).send().await.unwrap(), 200).await);
        assert!(all.iter().any(|e| e["participant"] == SOCIAL_WELFARE), "{auditor}");
        assert!(all.iter().any(|e| e["action"] == "auth.refused"), "{auditor}");
    }
    // Filters: one document; several actions; a period.
    let admin = hub.client(IT_BUREAU);
    let one =
        entries(&json(admin.get(hub.url(&format!("/api/v1/log?document={doc}"))).send().await.unwrap(), 200).await);
    assert!(!one.is_empty() && one.iter().all(|e| e["document"] == doc.as_str()));
    let two = entries(
        &json(admin.get(hub.url("/api/v1/log?action=document.accepted,auth.refused")).send().await.unwrap(), 200).await,
    );
    assert_eq!(two.iter().filter(|e| e["action"] == "document.accepted").count(), 2);
    assert!(two.iter().all(|e| e["action"] == "document.accepted" || e["action"] == "auth.refused"));
    let past = entries(
        &json(admin.get(hub.url("/api/v1/log?from=2020-01-01&to=2020-01-31")).send().await.unwrap(), 200).await,
    );
    assert!(past.is_empty());
    problem(admin.get(hub.url("/api/v1/log?action=no.such")).send().await.unwrap(), 422, "invalid-field").await;

    // CSV export and printable page.
    let csv = admin.get(hub.url("/api/v1/log?format=csv")).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"exchange-log-"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}序號,時間,動作,機關,對象,公文,來源 IP,憑證,錯誤類型,說明,雜湊\r\n"));
    assert!(csv.contains("document.accepted") && csv.contains("auth.refused"));
    let edu_csv =
        hub.client(EDUCATION).get(hub.url("/api/v1/log?format=csv")).send().await.unwrap().text().await.unwrap();
    assert!(!edu_csv.contains(SOCIAL_WELFARE), "a clerk's export holds only its own entries");
    let page = admin.get(hub.url("/api/v1/log?format=html")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("交換紀錄（全部）") && page.contains("<table>"));

    // 政風處's security view: refusals and sanctions only; for ethics alone.
    let sec =
        entries(&json(hub.client(ETHICS).get(hub.url("/api/v1/audit/security")).send().await.unwrap(), 200).await);
    assert!(sec.iter().any(|e| e["action"] == "auth.refused"));
    assert!(sec.iter().all(|e| e["action"] != "document.accepted" && e["action"] != "delivery.delivered"));
    problem(hub.client(EDUCATION).get(hub.url("/api/v1/audit/security")).send().await.unwrap(), 403, "forbidden").await;
    problem(hub.client(RDEC).get(hub.url("/api/v1/audit/security")).send().await.unwrap(), 403, "forbidden").await;
    problem(
        hub.client(ETHICS).get(hub.url("/api/v1/audit/security?action=document.accepted")).send().await.unwrap(),
        422,
        "invalid-field",
    )
    .await;
    let sec_csv = hub.client(ETHICS).get(hub.url("/api/v1/audit/security?format=csv")).send().await.unwrap();
    assert_eq!(sec_csv.status(), 200);
    assert!(sec_csv.text().await.unwrap().contains("auth.refused"));
    hub.stop().await;
}

both_databases!(timeliness_figures_match_a_hand_computed_data_set, log_entries_are_visible_to_those_they_concern);
