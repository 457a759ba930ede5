//! Deadlines on the Taiwan working-day calendar (DESIGN §6, rules §10,
//! §12-2, §13-2), with the hub's clock set to chosen dates: the sender's
//! paper resend list, the receiver's overdue list, immediate confirmation,
//! calendar uploads and typhoon closures.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use gwx::client::package::SendOptions;
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, IT_BUREAU, SOCIAL_WELFARE};
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestHub, detail};

/// A hub whose clock may jump months ahead without its credentials lapsing
/// for inactivity.
async fn start(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| c.auth.inactivity_days = 3650).await
}

/// A Taipei local time.
fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00")).unwrap().with_timezone(&Utc)
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap().with_timezone(&Utc)
}

/// Sends a plain document from CIVIL_AFFAIRS to `to` and returns its id.
async fn send(hub: &TestHub, serial: &str, to: &[&str]) -> String {
    let v = hub.send_plain(CIVIL_AFFAIRS, serial, to, &[]).await.created();
    v["document_id"].as_str().unwrap().to_owned()
}

/// The delivery to `code` of a sent document, as the sender sees it.
async fn delivery_to(hub: &TestHub, doc: &str, code: &str) -> Value {
    let v = hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{doc}")).await.ok();
    v["recipients"].as_array().unwrap().iter().find(|r| r["recipient"] == code).unwrap().clone()
}

/// Declares a closure as `who`.
async fn close(hub: &TestHub, who: &str, date: &str, part: &str, reason: &str) -> Reply {
    hub.as_(who).post("/api/v1/calendar/closures", json!({"date": date, "part": part, "reason": reason})).await
}

/// A DGPA CSV for `year`: weekends off, except `working` days; `off` days off.
fn dgpa_csv(year: i32, working: &[&str], off: &[&str]) -> String {
    let mut out = String::from("\u{feff}西元日期,星期,是否放假,備註\r\n");
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    while d.year() == year {
        let iso = d.to_string();
        let weekend = d.weekday().number_from_monday() >= 6;
        let (flag, note) = if working.contains(&iso.as_str()) {
            (0, "補行上班")
        } else if off.contains(&iso.as_str()) {
            (2, "放假")
        } else {
            (if weekend { 2 } else { 0 }, "")
        };
        let wd = ["一", "二", "三", "四", "五", "六", "日"][d.weekday().num_days_from_monday() as usize];
        out.push_str(&format!("{},{wd},{flag},{note}\r\n", d.format("%Y%m%d")));
        d += Duration::days(1);
    }
    out
}

/// PUTs a calendar year as `who`.
async fn load(hub: &TestHub, who: &str, year: i32, csv: String) -> Reply {
    let c = hub.as_(who);
    c.send(c.request(reqwest::Method::PUT, &format!("/api/v1/calendar/{year}")).body(csv)).await
}

/// 2028 with a make-up Saturday (01-15) and a holiday Monday (01-17).
fn year_2028() -> String {
    dgpa_csv(2028, &["2028-01-15"], &["2028-01-17"])
}

async fn deadlines_skip_holidays(backend: Backend) {
    let hub = start(backend).await;
    // Friday 2027-10-08, 16:00; Monday 10-11 is the National Day holiday
    // (observed) in the shipped 2027 calendar.
    hub.clock.set(local("2027-10-08T16:00:00"));
    let doc = send(&hub, "2001", &[EDUCATION]).await;
    let d = delivery_to(&hub, &doc, EDUCATION).await;
    assert_eq!(time(&d["sender_deadline"]), local("2027-10-12T14:00:00"), "sender: Tuesday 14:00");
    assert_eq!(time(&d["receiver_deadline"]), local("2027-10-12T10:00:00"), "receiver: Tuesday 10:00");
    assert!(d["immediate_deadline"].is_null());
    hub.stop().await;
}

async fn a_loaded_year_counts_its_make_up_saturdays_as_working_days(backend: Backend) {
    let hub = start(backend).await;
    let v = load(&hub, IT_BUREAU, 2028, year_2028()).await.ok();
    assert_eq!(v["year"], 2028);
    assert_eq!(v["source"], "uploaded");
    assert_eq!(v["loaded_by"], IT_BUREAU);
    hub.clock.set(local("2028-01-14T16:00:00"));
    let doc = send(&hub, "2002", &[EDUCATION]).await;
    let d = delivery_to(&hub, &doc, EDUCATION).await;
    assert_eq!(time(&d["receiver_deadline"]), local("2028-01-15T10:00:00"), "the make-up Saturday is a working day");
    // Sent on that Saturday: Sunday is off and Monday 01-17 is a holiday.
    hub.clock.set(local("2028-01-15T11:00:00"));
    let doc = send(&hub, "2003", &[EDUCATION]).await;
    let d = delivery_to(&hub, &doc, EDUCATION).await;
    assert_eq!(time(&d["sender_deadline"]), local("2028-01-18T14:00:00"));
    hub.stop().await;
}

async fn everyone_reads_the_calendar_and_its_csv_round_trips(backend: Backend) {
    let hub = start(backend).await;
    load(&hub, IT_BUREAU, 2028, year_2028()).await.ok();
    let back = hub.as_(EDUCATION).get("/api/v1/calendar/2028?format=csv").await;
    assert_eq!(back.status, 200);
    assert!(back.text().contains("20280115,六,0,補行上班"), "{}", &back.text()[..200]);
    let days = hub.as_(EDUCATION).get("/api/v1/calendar/2028").await.ok();
    assert_eq!(days.as_array().unwrap().len(), 366);
    let overview = hub.as_(EDUCATION).get("/api/v1/calendar").await.ok();
    let years: Vec<i64> = overview["years"].as_array().unwrap().iter().map(|y| y["year"].as_i64().unwrap()).collect();
    assert_eq!(years, [2025, 2026, 2027, 2028], "the shipped years and the upload");
    hub.stop().await;
}

async fn a_calendar_year_is_loaded_only_with_every_day_once_and_rightly(backend: Backend) {
    let hub = start(backend).await;
    // A day missing, a day twice, a wrong weekday, a bad flag, a bad header.
    let full = dgpa_csv(2028, &[], &[]);
    let lines: Vec<&str> = full.lines().collect();
    let without_last = lines[..lines.len() - 1].join("\n");
    let v = load(&hub, IT_BUREAU, 2028, without_last).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("2028-12-31"), "{v}");
    let v = load(&hub, IT_BUREAU, 2028, format!("{full}20280105,三,0,\r\n")).await.refused(422, "invalid-field");
    assert!(detail(&v).contains("appears twice"), "{v}");
    let v = load(&hub, IT_BUREAU, 2028, full.replace("20280103,一,0", "20280103,二,0")).await;
    assert!(detail(&v.refused(422, "invalid-field")).contains("星期一"));
    let v = load(&hub, IT_BUREAU, 2028, full.replace("20280103,一,0", "20280103,一,1")).await;
    assert!(detail(&v.refused(422, "invalid-field")).contains("0 or 2"));
    load(&hub, IT_BUREAU, 2028, full.replace("西元日期", "date")).await.refused(422, "invalid-field");
    // A file for another year.
    load(&hub, IT_BUREAU, 2029, full).await.refused(422, "invalid-field");
    assert!(hub.store().calendar_year(2028).await.unwrap().is_none(), "nothing stored from refused uploads");
    hub.stop().await;
}

async fn only_the_it_bureau_loads_a_calendar_or_declares_a_closure(backend: Backend) {
    let hub = start(backend).await;
    let full = dgpa_csv(2028, &[], &[]);
    load(&hub, EDUCATION, 2028, full.clone()).await.refused(403, "forbidden");
    close(&hub, EDUCATION, "2028-01-03", "day", "颱風").await.refused(403, "forbidden");
    load(&hub, IT_BUREAU, 2028, full).await.ok();
    let loaded = hub.logged("calendar.loaded", "calendar 2028 loaded").await;
    assert_eq!(loaded.participant.as_deref(), Some(IT_BUREAU));
    hub.stop().await;
}

/// The delivery ids of a list's items.
fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

/// Monday 2027-11-01 09:00, CIVIL_AFFAIRS sends to EDUCATION and
/// SOCIAL_WELFARE; at 10:00 EDUCATION returns it. (to EDUCATION, to SOCIAL_WELFARE).
async fn returned_by_one_ignored_by_the_other(hub: &TestHub) -> (String, String) {
    hub.clock.set(local("2027-11-01T09:00:00"));
    let doc = send(hub, "3001", &[EDUCATION, SOCIAL_WELFARE]).await;
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let (to_edu, to_sw) =
        (id(delivery_to(hub, &doc, EDUCATION).await), id(delivery_to(hub, &doc, SOCIAL_WELFARE).await));
    hub.clock.set(local("2027-11-01T10:00:00"));
    let url = format!("/api/v1/deliveries/{to_edu}/return");
    hub.as_(EDUCATION).post(&url, json!({"reason": "非本局業務"})).await.ok();
    (to_edu, to_sw)
}

async fn a_returned_delivery_is_on_the_paper_resend_list_at_once(backend: Backend) {
    let hub = start(backend).await;
    let (to_edu, _) = returned_by_one_ignored_by_the_other(&hub).await;
    assert_eq!(ids(&hub.as_(CIVIL_AFFAIRS).get("/api/v1/deadlines/sender").await.ok()), [to_edu]);
    assert!(ids(&hub.as_(SOCIAL_WELFARE).get("/api/v1/deadlines/receiver").await.ok()).is_empty());
    hub.stop().await;
}

async fn an_unchecked_delivery_is_overdue_at_10_and_to_resend_at_14_the_next_working_day(backend: Backend) {
    let hub = start(backend).await;
    let (to_edu, to_sw) = returned_by_one_ignored_by_the_other(&hub).await;
    // Tuesday 10:00: Social Welfare is overdue as a receiver...
    hub.clock.set(local("2027-11-02T10:00:00"));
    assert_eq!(ids(&hub.as_(SOCIAL_WELFARE).get("/api/v1/deadlines/receiver").await.ok()), [to_sw.as_str()]);
    // ...but the sender's deadline is 14:00.
    assert_eq!(ids(&hub.as_(CIVIL_AFFAIRS).get("/api/v1/deadlines/sender").await.ok()), [to_edu.as_str()]);
    hub.clock.set(local("2027-11-02T14:00:00"));
    let mut expected = vec![to_edu, to_sw];
    expected.sort();
    assert_eq!(ids(&hub.as_(CIVIL_AFFAIRS).get("/api/v1/deadlines/sender").await.ok()), expected);
    // Other participants do not see the sender's list or its deliveries.
    assert!(ids(&hub.as_(EDUCATION).get("/api/v1/deadlines/sender").await.ok()).is_empty());
    hub.stop().await;
}

async fn the_paper_resend_list_prints_and_exports_as_csv(backend: Backend) {
    let hub = start(backend).await;
    returned_by_one_ignored_by_the_other(&hub).await;
    hub.clock.set(local("2027-11-02T14:00:00"));
    let sender = hub.as_(CIVIL_AFFAIRS);
    let csv = sender.get("/api/v1/deadlines/sender?format=csv").await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    let csv = csv.text();
    assert!(csv.starts_with("\u{feff}發文字號,主旨,受文者"), "{csv}");
    assert!(csv.contains("已退文") && csv.contains("非本局業務") && csv.contains("2027-11-02 14:00"), "{csv}");
    let page = sender.get("/api/v1/deadlines/sender?format=html").await;
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    let page = page.text();
    assert!(
        page.contains("受文者未確認及被退文清單") && page.contains("@media print") && page.contains(SOCIAL_WELFARE)
    );
    hub.stop().await;
}

async fn a_paper_resend_or_a_late_confirmation_takes_a_delivery_off_the_lists(backend: Backend) {
    let hub = start(backend).await;
    let (to_edu, to_sw) = returned_by_one_ignored_by_the_other(&hub).await;
    hub.clock.set(local("2027-11-02T14:00:00"));
    let sender = hub.as_(CIVIL_AFFAIRS);
    sender.post(&format!("/api/v1/deliveries/{to_edu}/paper-resend"), json!({"note": "紙本已寄"})).await.ok();
    assert_eq!(ids(&sender.get("/api/v1/deadlines/sender").await.ok()), [to_sw.as_str()]);
    // A late confirmation also does (no paper needed once it is confirmed).
    hub.fetch_and_confirm(SOCIAL_WELFARE, &to_sw).await;
    assert!(ids(&sender.get("/api/v1/deadlines/sender").await.ok()).is_empty());
    assert!(ids(&hub.as_(SOCIAL_WELFARE).get("/api/v1/deadlines/receiver").await.ok()).is_empty());
    hub.stop().await;
}

async fn the_overdue_list_is_for_receiving_clerks(backend: Backend) {
    let hub = start(backend).await;
    hub.register_clerk(CIVIL_AFFAIRS, "civil-sender-only", &["sender"]).await;
    hub.as_("civil-sender-only").get("/api/v1/deadlines/receiver").await.refused(403, "forbidden");
    hub.stop().await;
}

async fn immediate_confirmation_counts_office_hours(backend: Backend) {
    let hub = start(backend).await;
    // Friday 17:00 before the Monday holiday: 30 minutes that day, 30 on Tuesday.
    hub.clock.set(local("2027-10-08T17:00:00"));
    let opts = SendOptions { to: vec![EDUCATION.into()], immediate_confirmation: true, ..Default::default() };
    let v = hub.send_doc(&hub.as_(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, "4001", &opts, None).await.created();
    let d = delivery_to(&hub, v["document_id"].as_str().unwrap(), EDUCATION).await;
    assert_eq!(time(&d["immediate_deadline"]), local("2027-10-12T09:00:00"));
    assert_eq!(time(&d["receiver_deadline"]), local("2027-10-12T10:00:00"));
    let overdue = |at: &str| {
        hub.clock.set(local(at));
        async { ids(&hub.as_(EDUCATION).get("/api/v1/deadlines/receiver").await.ok()).len() }
    };
    assert_eq!(overdue("2027-10-12T08:59:00").await, 0);
    assert_eq!(overdue("2027-10-12T09:00:00").await, 1, "overdue at the immediate deadline, before 10:00");
    // The inbox shows the deadline to the clerk.
    let inbox = hub.as_(EDUCATION).get("/api/v1/inbox").await.ok();
    assert_eq!(time(&inbox["items"][0]["immediate_deadline"]), local("2027-10-12T09:00:00"));
    // Overdue, it shows the deadline it missed, in Taipei time: on the
    // console, in the overdue list, and in `gwx inbox` and `gwx deadlines`.
    let page = hub.as_(EDUCATION).get("/console/inbox").await.text().to_owned();
    assert!(page.contains("2027-10-12 09:00") && page.contains("逾期"), "{page}");
    let list = hub.as_(EDUCATION).get("/console/deadlines/receiver").await.text().to_owned();
    assert!(list.contains("立即確認期限") && list.contains("2027-10-12 09:00"), "{list}");
    for args in [&["deadlines", "receiver"][..], &["inbox", "--state", "delivered"]] {
        let out = gwx_as(&hub, EDUCATION, args).await;
        assert!(out.contains("立即確認期限 2027-10-12 09:00（臺北）") && out.contains("未讀取"), "{args:?}: {out}");
    }
    hub.stop().await;
}

/// What `gwx ARGS` prints as participant `code`.
async fn gwx_as(hub: &TestHub, code: &str, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"));
    cmd.args(args)
        .args(["--hub", &hub.url("")])
        .env("GWX_CERT", hub.path(&format!("clients/{code}.pem")))
        .env("GWX_KEY", hub.path(&format!("clients/{code}.key")))
        .env("GWX_CA", hub.path("certs/ca.pem"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Monday and Tuesday documents to EDUCATION; the clock at Tuesday 11:00,
/// when the first's receiver deadline (Tue 10:00) has passed and its
/// sender deadline (Tue 14:00) has not. (early, late).
async fn monday_and_tuesday_documents(hub: &TestHub) -> (String, String) {
    hub.clock.set(local("2027-11-01T09:00:00")); // Monday
    let early = send(hub, "5001", &[EDUCATION]).await;
    hub.clock.set(local("2027-11-02T09:00:00")); // Tuesday
    let late = send(hub, "5002", &[EDUCATION]).await;
    hub.clock.set(local("2027-11-02T11:00:00"));
    (early, late)
}

async fn a_typhoon_closure_moves_only_the_deadlines_not_yet_passed(backend: Backend) {
    let hub = start(backend).await;
    let (early, late) = monday_and_tuesday_documents(&hub).await;
    let v = close(&hub, IT_BUREAU, "2027-11-03", "day", "颱風停班").await.created();
    assert_eq!(v["closure"]["part"], "day");
    assert_eq!(v["recomputed"]["deliveries"], 1, "only the second document's deadlines move: {v}");
    let e = delivery_to(&hub, &early, EDUCATION).await;
    assert_eq!(time(&e["receiver_deadline"]), local("2027-11-02T10:00:00"), "passed: unchanged");
    assert_eq!(time(&e["sender_deadline"]), local("2027-11-02T14:00:00"));
    let l = delivery_to(&hub, &late, EDUCATION).await;
    assert_eq!(time(&l["receiver_deadline"]), local("2027-11-04T10:00:00"), "Wednesday closed: Thursday");
    assert_eq!(time(&l["sender_deadline"]), local("2027-11-04T14:00:00"));
    // Both the closure and the recomputation are in the log.
    let c = hub.logged("calendar.closure", "2027-11-03 全日停班").await;
    assert_eq!(c.participant.as_deref(), Some(IT_BUREAU));
    hub.logged("deadlines.recomputed", "1 deliveries").await;
    hub.stop().await;
}

async fn an_afternoon_closure_moves_the_14_00_deadline_not_the_10_00_one(backend: Backend) {
    let hub = start(backend).await;
    let (_, late) = monday_and_tuesday_documents(&hub).await;
    close(&hub, IT_BUREAU, "2027-11-03", "day", "颱風停班").await.created();
    let v = close(&hub, IT_BUREAU, "2027-11-04", "afternoon", "颱風下午停班").await.created();
    assert_eq!(v["recomputed"]["deliveries"], 1);
    let l = delivery_to(&hub, &late, EDUCATION).await;
    assert_eq!(time(&l["receiver_deadline"]), local("2027-11-04T10:00:00"));
    assert_eq!(time(&l["sender_deadline"]), local("2027-11-05T14:00:00"));
    hub.stop().await;
}

async fn a_past_day_cannot_be_closed(backend: Backend) {
    let hub = start(backend).await;
    hub.clock.set(local("2027-11-02T11:00:00"));
    close(&hub, IT_BUREAU, "2027-11-01", "day", "太遲").await.refused(422, "invalid-field");
    hub.stop().await;
}

async fn an_explicit_recomputation_needs_the_it_bureau_and_a_reason(backend: Backend) {
    let hub = start(backend).await;
    monday_and_tuesday_documents(&hub).await;
    hub.as_(EDUCATION).post("/api/v1/deadlines/recompute", json!({"reason": "x"})).await.refused(403, "forbidden");
    hub.as_(IT_BUREAU).post("/api/v1/deadlines/recompute", json!({"reason": " "})).await.refused(422, "invalid-field");
    let v = hub.as_(IT_BUREAU).post("/api/v1/deadlines/recompute", json!({"reason": "2027 行事曆更正"})).await.ok();
    assert_eq!(v["deliveries"], 0, "nothing changed since: {v}");
    hub.stop().await;
}

crate::both_databases!(
    deadlines_skip_holidays,
    a_loaded_year_counts_its_make_up_saturdays_as_working_days,
    everyone_reads_the_calendar_and_its_csv_round_trips,
    a_calendar_year_is_loaded_only_with_every_day_once_and_rightly,
    only_the_it_bureau_loads_a_calendar_or_declares_a_closure,
    a_returned_delivery_is_on_the_paper_resend_list_at_once,
    an_unchecked_delivery_is_overdue_at_10_and_to_resend_at_14_the_next_working_day,
    the_paper_resend_list_prints_and_exports_as_csv,
    a_paper_resend_or_a_late_confirmation_takes_a_delivery_off_the_lists,
    the_overdue_list_is_for_receiving_clerks,
    immediate_confirmation_counts_office_hours,
    a_typhoon_closure_moves_only_the_deadlines_not_yet_passed,
    an_afternoon_closure_moves_the_14_00_deadline_not_the_10_00_one,
    a_past_day_cannot_be_closed,
    an_explicit_recomputation_needs_the_it_bureau_and_a_reason,
);

/// `gwx deadlines`: the lists from the command line, as a summary or the
/// hub's CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gwx_client_prints_the_deadline_lists() {
    let hub = start(Backend::Sqlite).await;
    let doc = send(&hub, "1001", &[EDUCATION]).await;
    let id = delivery_to(&hub, &doc, EDUCATION).await["id"].as_str().unwrap().to_owned();
    hub.as_(EDUCATION).post(&format!("/api/v1/deliveries/{id}/return"), json!({"reason": "附件缺漏"})).await.ok();
    let gwx = |code: &str, args: &[&str]| {
        let hub_url = hub.url("");
        let (cert, key, ca) = (
            hub.path(&format!("clients/{code}.pem")),
            hub.path(&format!("clients/{code}.key")),
            hub.path("certs/ca.pem"),
        );
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
                    .args(&args)
                    .args(["--hub", &hub_url])
                    .env("GWX_CERT", cert)
                    .env("GWX_KEY", key)
                    .env("GWX_CA", ca)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
    };
    let text = gwx(CIVIL_AFFAIRS, &["deadlines", "sender"]).await;
    assert!(text.contains(&id) && text.contains("已退文") && text.contains("退文原因: 附件缺漏"), "{text}");
    // Its check deadline in Taipei time, labelled: 14:00 of the next working day.
    assert!(text.contains("檢核期限 ") && text.contains(" 14:00（臺北）"), "{text}");
    let both = gwx(CIVIL_AFFAIRS, &["deadlines"]).await;
    assert!(both.contains("應補發紙本") && both.contains("逾期未處理"), "{both}");
    let csv = gwx(EDUCATION, &["deadlines", "receiver", "--format", "csv"]).await;
    assert!(csv.starts_with("\u{feff}發文字號,主旨,發文者,速別"), "{csv}");
    hub.stop().await;
}
