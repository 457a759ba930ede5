//! 研考會's timeliness audit on a crafted data set (figures checked by
//! hand), 政風處's security view, and who sees which exchange-log entries.

use chrono::{DateTime, Utc};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS, IT_BUREAU, RDEC, SOCIAL_WELFARE};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestHub};

async fn start(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| c.auth.inactivity_days = 3650).await
}

fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00")).unwrap().with_timezone(&Utc)
}

/// Sends from CIVIL_AFFAIRS at local time `at`; returns the delivery id per recipient.
async fn send_at(hub: &TestHub, at: &str, serial: &str, to: &[&str]) -> Vec<String> {
    hub.clock.set(local(at));
    let v = hub.send_plain(CIVIL_AFFAIRS, serial, to, &[]).await.created();
    let doc = v["document_id"].as_str().unwrap();
    let status = hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{doc}")).await.ok();
    to.iter()
        .map(|code| {
            let r = status["recipients"].as_array().unwrap().iter().find(|r| r["recipient"] == *code).unwrap();
            r["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn confirm_at(hub: &TestHub, at: &str, who: &str, delivery: &str) {
    hub.clock.set(local(at));
    hub.fetch_and_confirm(who, delivery).await;
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

const PERIOD: &str = "/api/v1/audit/timeliness?from=2027-11-01&to=2027-11-03";

/// The hand-computed data set; the clock left at Wednesday 2027-11-03 12:00.
async fn a_week_of_traffic(hub: &TestHub) {
    // Monday 2027-11-01 09:00: A and B to Education and Social Welfare, C to Education.
    let a = send_at(hub, "2027-11-01T09:00:00", "6001", &[EDUCATION, SOCIAL_WELFARE]).await;
    let b = send_at(hub, "2027-11-01T09:00:00", "6002", &[EDUCATION, SOCIAL_WELFARE]).await;
    let _c = send_at(hub, "2027-11-01T09:00:00", "6003", &[EDUCATION]).await;
    // Education confirms A after 60 office minutes; Social Welfare late, on
    // Tuesday 11:00 (210 + 240 + 150 = 600 minutes, deadline Tue 10:00).
    confirm_at(hub, "2027-11-01T10:00:00", EDUCATION, &a[0]).await;
    confirm_at(hub, "2027-11-02T11:00:00", SOCIAL_WELFARE, &a[1]).await;
    // Education returns B; Social Welfare confirms it Monday 14:30 (270 minutes).
    hub.clock.set(local("2027-11-01T11:00:00"));
    let ret = format!("/api/v1/deliveries/{}/return", b[0]);
    hub.as_(EDUCATION).post(&ret, json!({"reason": "非本局業務"})).await.ok();
    confirm_at(hub, "2027-11-01T14:30:00", SOCIAL_WELFARE, &b[1]).await;
    // Tuesday 09:00: D to Education, confirmed after 30 minutes.
    let d = send_at(hub, "2027-11-02T09:00:00", "6004", &[EDUCATION]).await;
    confirm_at(hub, "2027-11-02T09:30:00", EDUCATION, &d[0]).await;
    // The sender resends B on paper to Education.
    hub.clock.set(local("2027-11-03T11:00:00"));
    hub.as_(CIVIL_AFFAIRS).post(&format!("/api/v1/deliveries/{}/paper-resend", b[0]), json!({})).await.ok();
    // Wednesday 12:00: C is overdue at Education; D's sender deadline (Wed
    // 14:00) is still ahead; B (returned) and C (never confirmed) were
    // unconfirmed at their sender deadline (Tue 14:00).
    hub.clock.set(local("2027-11-03T12:00:00"));
}

async fn the_timeliness_figures_match_a_hand_computed_data_set(backend: Backend) {
    let hub = start(backend).await;
    a_week_of_traffic(&hub).await;
    let r = hub.as_(RDEC).get(PERIOD).await.ok();
    assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some("2027-11-01"), Some("2027-11-03")));
    let n = |v: &[i64]| v.iter().map(|x| json!(x)).collect::<Vec<_>>();
    assert_eq!(figures(row(&r, EDUCATION)), n(&[4, 2, 0, 1, 1, 0, 30, 60, 0, 0, 0]));
    assert_eq!(figures(row(&r, SOCIAL_WELFARE)), n(&[2, 1, 1, 0, 0, 0, 270, 600, 0, 0, 0]));
    let mut civil = n(&[0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 1]);
    (civil[6], civil[7]) = (Value::Null, Value::Null);
    assert_eq!(figures(row(&r, CIVIL_AFFAIRS)), civil);
    assert_eq!(r["participants"].as_array().unwrap().len(), 3, "only participants with traffic");
    assert_eq!(figures(&r["totals"]), n(&[6, 3, 1, 1, 1, 0, 60, 600, 4, 2, 1]));
    assert_eq!(row(&r, EDUCATION)["name"], "臺北市政府教育局");
    hub.stop().await;
}

async fn the_timeliness_report_is_for_one_participant_or_an_empty_period(backend: Backend) {
    let hub = start(backend).await;
    a_week_of_traffic(&hub).await;
    let one = hub.as_(RDEC).get(&format!("{PERIOD}&participant={SOCIAL_WELFARE}")).await.ok();
    assert_eq!(one["participants"].as_array().unwrap().len(), 1);
    assert_eq!(one["totals"]["received"], 2);
    let none = hub.as_(RDEC).get("/api/v1/audit/timeliness?from=2027-12-01&to=2027-12-31").await.ok();
    assert_eq!(none["participants"], json!([]));
    assert_eq!(none["totals"]["received"], 0);
    hub.stop().await;
}

async fn the_timeliness_report_exports_as_csv_and_prints(backend: Backend) {
    let hub = start(backend).await;
    a_week_of_traffic(&hub).await;
    let csv = hub.as_(RDEC).get(&format!("{PERIOD}&format=csv")).await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.text().lines().collect();
    assert!(lines[0].starts_with("\u{feff}代碼,名稱,收文數,如期確認,逾期確認,退文,逾期未處理"), "{}", csv.text());
    assert_eq!(lines.len(), 5, "header, three participants, totals: {}", csv.text());
    assert_eq!(lines[4], "*,合計,6,3,1,1,1,0,1.0,10.0,4,2,1");
    let page = hub.as_(RDEC).get(&format!("{PERIOD}&format=html")).await;
    assert!(page.text().contains("公文電子交換時效稽核報表") && page.text().contains("2027-11-01 至 2027-11-03"));
    hub.stop().await;
}

async fn the_timeliness_report_is_for_rdec_over_a_valid_period(backend: Backend) {
    let hub = start(backend).await;
    hub.as_(EDUCATION).get(PERIOD).await.refused(403, "forbidden");
    hub.as_(ETHICS).get(PERIOD).await.refused(403, "forbidden");
    hub.as_(RDEC).get("/api/v1/audit/timeliness?from=2027-11-05&to=2027-11-01").await.refused(422, "invalid-field");
    hub.as_(RDEC).get("/api/v1/audit/timeliness?from=yesterday").await.refused(400, "invalid-request");
    hub.stop().await;
}

fn entries(v: &Value) -> Vec<Value> {
    v["items"].as_array().unwrap().clone()
}

/// A document CIVIL_AFFAIRS → EDUCATION (its id), one SOCIAL_WELFARE →
/// IT_BUREAU, and a refusal without a certificate.
async fn some_traffic(hub: &TestHub) -> String {
    let doc = hub.send_plain(CIVIL_AFFAIRS, "7001", &[EDUCATION], &[]).await.created();
    hub.send_plain(SOCIAL_WELFARE, "7002", &[IT_BUREAU], &[]).await.created();
    assert_eq!(hub.anonymously().get("/api/v1/whoami").await.status, 401);
    hub.logged("auth.refused", "").await;
    doc["document_id"].as_str().unwrap().to_owned()
}

async fn a_clerk_sees_the_log_entries_that_concern_its_participant(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc = some_traffic(&hub).await;
    // Education sees its delivery (as counterpart of the sender's entries
    // too) but nothing of Social Welfare's document.
    let edu = entries(&hub.as_(EDUCATION).get("/api/v1/log?limit=1000").await.ok());
    assert!(edu.iter().any(|e| e["action"] == "delivery.delivered" && e["document"] == doc.as_str()));
    assert!(
        edu.iter().all(|e| e["participant"] == EDUCATION || e["counterpart"] == EDUCATION),
        "only its own entries: {edu:?}"
    );
    // Asking for another participant changes nothing for a clerk.
    let other = entries(&hub.as_(EDUCATION).get(&format!("/api/v1/log?participant={SOCIAL_WELFARE}")).await.ok());
    assert!(other.iter().all(|e| e["participant"] == EDUCATION || e["counterpart"] == EDUCATION));
    hub.stop().await;
}

async fn the_it_bureau_ethics_and_rdec_see_the_whole_log(backend: Backend) {
    let hub = TestHub::start(backend).await;
    some_traffic(&hub).await;
    for auditor in [IT_BUREAU, ETHICS, RDEC] {
        let all = entries(&hub.as_(auditor).get("/api/v1/log?limit=1000").await.ok());
        assert!(all.iter().any(|e| e["participant"] == SOCIAL_WELFARE), "{auditor}");
        assert!(all.iter().any(|e| e["action"] == "auth.refused"), "{auditor}");
    }
    hub.stop().await;
}

async fn the_log_filters_by_document_action_and_period(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let doc = some_traffic(&hub).await;
    let admin = hub.as_(IT_BUREAU);
    let one = entries(&admin.get(&format!("/api/v1/log?document={doc}")).await.ok());
    assert!(!one.is_empty() && one.iter().all(|e| e["document"] == doc.as_str()));
    let two = entries(&admin.get("/api/v1/log?action=document.accepted,auth.refused").await.ok());
    assert_eq!(two.iter().filter(|e| e["action"] == "document.accepted").count(), 2);
    assert!(two.iter().all(|e| e["action"] == "document.accepted" || e["action"] == "auth.refused"));
    assert!(entries(&admin.get("/api/v1/log?from=2020-01-01&to=2020-01-31").await.ok()).is_empty());
    admin.get("/api/v1/log?action=no.such").await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn the_log_exports_as_csv_and_prints_each_readers_own_share(backend: Backend) {
    let hub = TestHub::start(backend).await;
    some_traffic(&hub).await;
    let csv = hub.as_(IT_BUREAU).get("/api/v1/log?format=csv").await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    assert!(csv.header("content-disposition").unwrap().starts_with("attachment; filename=\"exchange-log-"));
    assert!(
        csv.text()
            .starts_with("\u{feff}序號,時間（臺北）,動作,動作代碼,機關,對象,公文,來源 IP,憑證,錯誤類型,說明,雜湊\r\n")
    );
    assert!(csv.text().contains("document.accepted") && csv.text().contains("auth.refused"));
    let edu_csv = hub.as_(EDUCATION).get("/api/v1/log?format=csv").await;
    assert!(!edu_csv.text().contains(SOCIAL_WELFARE), "a clerk's export holds only its own entries");
    let page = hub.as_(IT_BUREAU).get("/api/v1/log?format=html").await;
    assert!(page.text().contains("交換紀錄（全部）") && page.text().contains("<table>"));
    hub.stop().await;
}

async fn the_security_view_holds_refusals_and_sanctions_for_ethics_alone(backend: Backend) {
    let hub = TestHub::start(backend).await;
    some_traffic(&hub).await;
    let sec = entries(&hub.as_(ETHICS).get("/api/v1/audit/security").await.ok());
    assert!(sec.iter().any(|e| e["action"] == "auth.refused"));
    assert!(sec.iter().all(|e| e["action"] != "document.accepted" && e["action"] != "delivery.delivered"));
    hub.as_(EDUCATION).get("/api/v1/audit/security").await.refused(403, "forbidden");
    hub.as_(RDEC).get("/api/v1/audit/security").await.refused(403, "forbidden");
    hub.as_(ETHICS).get("/api/v1/audit/security?action=document.accepted").await.refused(422, "invalid-field");
    let sec_csv = hub.as_(ETHICS).get("/api/v1/audit/security?format=csv").await;
    assert_eq!(sec_csv.status, 200);
    assert!(sec_csv.text().contains("auth.refused"));
    hub.stop().await;
}

/// A period's CSV longer than an export batch (2,000 entries) holds each
/// entry once, in sequence order, batches read ahead of the sending.
async fn a_long_period_exports_as_csv_whole_and_in_order(backend: Backend) {
    use gwx::domain::log::{LogAction, NewLogEntry};
    use gwx::runtime::clock::Clock;
    let hub = TestHub::start(backend).await;
    let now = hub.clock.now();
    let appends = (0..4_500).map(|i| {
        let store = hub.store();
        async move {
            let e = NewLogEntry::new(LogAction::ParticipantCreated, format!("bulk entry {i}"));
            store.append_log(now, &e).await.unwrap()
        }
    });
    futures_util::future::join_all(appends).await;
    let day = |d: i64| (now + chrono::Duration::days(d)).format("%Y-%m-%d").to_string();
    let path = format!("/api/v1/log?format=csv&action=participant.created&from={}&to={}", day(-1), day(1));
    let csv = hub.as_(IT_BUREAU).get(&path).await;
    assert_eq!(csv.status, 200);
    let rows: Vec<(i64, &str)> = csv
        .text()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[10].strip_prefix("bulk entry ").map(|_| (cells[0].parse().unwrap(), cells[10]))
        })
        .collect();
    assert_eq!(rows.len(), 4_500, "every entry of the period");
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "in sequence order, none twice");
    let details: std::collections::HashSet<&str> = rows.iter().map(|r| r.1).collect();
    assert_eq!(details.len(), 4_500);
    hub.stop().await;
}

crate::both_databases!(
    a_long_period_exports_as_csv_whole_and_in_order,
    the_timeliness_figures_match_a_hand_computed_data_set,
    the_timeliness_report_is_for_one_participant_or_an_empty_period,
    the_timeliness_report_exports_as_csv_and_prints,
    the_timeliness_report_is_for_rdec_over_a_valid_period,
    a_clerk_sees_the_log_entries_that_concern_its_participant,
    the_it_bureau_ethics_and_rdec_see_the_whole_log,
    the_log_filters_by_document_action_and_period,
    the_log_exports_as_csv_and_prints_each_readers_own_share,
    the_security_view_holds_refusals_and_sanctions_for_ethics_alone,
);
