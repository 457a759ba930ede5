//! Deadlines on the Taiwan working-day calendar (DESIGN §6, rules §10,
//! §12-2, §13-2), with the hub's clock set to chosen dates: the sender's
//! paper resend list, the receiver's overdue list, immediate confirmation,
//! calendar uploads and typhoon closures.

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::{Backend, TestHub, json, problem, send_doc, send_plain};
use gwx::client::package::SendOptions;
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, IT_BUREAU, SOCIAL_WELFARE};
use serde_json::{Value, json};

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
    let v = json(send_plain(hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, serial, to, &[]).await, 201)
        .await;
    v["document_id"].as_str().unwrap().to_owned()
}

/// The recipients of a sent document, as the sender sees them.
async fn recipients(hub: &TestHub, doc: &str) -> Vec<Value> {
    let v =
        json(hub.client(CIVIL_AFFAIRS).get(hub.url(&format!("/api/v1/documents/{doc}"))).send().await.unwrap(), 200)
            .await;
    v["recipients"].as_array().unwrap().clone()
}

fn delivery_to<'a>(rs: &'a [Value], code: &str) -> &'a Value {
    rs.iter().find(|r| r["recipient"] == code).unwrap()
}

/// Declares a closure as `who`.
async fn close(hub: &TestHub, who: &str, date: &str, part: &str, reason: &str) -> reqwest::Response {
    common::post(hub, who, "/api/v1/calendar/closures", json!({"date": date, "part": part, "reason": reason})).await
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

async fn deadlines_skip_holidays_and_count_make_up_saturdays(backend: Backend) {
    let hub = start(backend).await;
    // Friday 2027-10-08, 16:00; Monday 10-11 is the National Day holiday
    // (observed) in the shipped 2027 calendar.
    hub.clock.set(local("2027-10-08T16:00:00"));
    let doc = send(&hub, "2001", &[EDUCATION]).await;
    let rs = recipients(&hub, &doc).await;
    let d = delivery_to(&rs, EDUCATION);
    assert_eq!(time(&d["sender_deadline"]), local("2027-10-12T14:00:00"), "sender: Tuesday 14:00");
    assert_eq!(time(&d["receiver_deadline"]), local("2027-10-12T10:00:00"), "receiver: Tuesday 10:00");
    assert!(d["immediate_deadline"].is_null());

    // A year with a make-up Saturday (補行上班), loaded by the IT bureau.
    let csv = dgpa_csv(2028, &["2028-01-15"], &["2028-01-17"]);
    let v =
        json(hub.client(IT_BUREAU).put(hub.url("/api/v1/calendar/2028")).body(csv.clone()).send().await.unwrap(), 200)
            .await;
    assert_eq!(v["year"], 2028);
    assert_eq!(v["source"], "uploaded");
    assert_eq!(v["loaded_by"], IT_BUREAU);
    hub.clock.set(local("2028-01-14T16:00:00"));
    let doc = send(&hub, "2002", &[EDUCATION]).await;
    let d = delivery_to(&recipients(&hub, &doc).await, EDUCATION).clone();
    assert_eq!(time(&d["receiver_deadline"]), local("2028-01-15T10:00:00"), "the make-up Saturday is a working day");
    // Sent on that Saturday: Sunday is off and Monday 01-17 is a holiday.
    hub.clock.set(local("2028-01-15T11:00:00"));
    let doc = send(&hub, "2003", &[EDUCATION]).await;
    let d = delivery_to(&recipients(&hub, &doc).await, EDUCATION).clone();
    assert_eq!(time(&d["sender_deadline"]), local("2028-01-18T14:00:00"));

    // Everyone can read the calendar; the CSV round-trips.
    let back = hub.client(EDUCATION).get(hub.url("/api/v1/calendar/2028?format=csv")).send().await.unwrap();
    assert_eq!(back.status(), 200);
    let text = back.text().await.unwrap();
    assert!(text.contains("20280115,六,0,補行上班"), "{}", &text[..200]);
    let days = json(hub.client(EDUCATION).get(hub.url("/api/v1/calendar/2028")).send().await.unwrap(), 200).await;
    assert_eq!(days.as_array().unwrap().len(), 366);
    let overview = json(hub.client(EDUCATION).get(hub.url("/api/v1/calendar")).send().await.unwrap(), 200).await;
    let years: Vec<i64> = overview["years"].as_array().unwrap().iter().map(|y| y["year"].as_i64().unwrap()).collect();
    assert_eq!(years, [2025, 2026, 2027, 2028], "the shipped years and the upload");
    hub.stop().await;
}

async fn calendar_upload_is_validated_and_for_the_it_bureau_only(backend: Backend) {
    let hub = start(backend).await;
    let admin = hub.client(IT_BUREAU);
    let put = |body: String| admin.put(hub.url("/api/v1/calendar/2028")).body(body).send();

    // A day missing, a day twice, a wrong weekday, a bad flag, a bad header.
    let full = dgpa_csv(2028, &[], &[]);
    let lines: Vec<&str> = full.lines().collect();
    let without_last = lines[..lines.len() - 1].join("\n");
    let v = problem(put(without_last).await.unwrap(), 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("2028-12-31"), "{v}");
    let twice = format!("{full}20280105,三,0,\r\n");
    let v = problem(put(twice).await.unwrap(), 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("appears twice"), "{v}");
    let v = problem(put(full.replace("20280103,一,0", "20280103,二,0")).await.unwrap(), 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("星期一"), "{v}");
    let v = problem(put(full.replace("20280103,一,0", "20280103,一,1")).await.unwrap(), 422, "invalid-field").await;
    assert!(v["detail"].as_str().unwrap().contains("0 or 2"), "{v}");
    problem(put(full.replace("西元日期", "date")).await.unwrap(), 422, "invalid-field").await;
    // A file for another year.
    problem(admin.put(hub.url("/api/v1/calendar/2029")).body(full.clone()).send().await.unwrap(), 422, "invalid-field")
        .await;
    assert!(hub.store().calendar_year(2028).await.unwrap().is_none(), "nothing stored from refused uploads");

    // A clerk may read but not load.
    problem(
        hub.client(EDUCATION).put(hub.url("/api/v1/calendar/2028")).body(full.clone()).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    problem(close(&hub, EDUCATION, "2028-01-03", "day", "颱風").await, 403, "forbidden").await;
    json(put(full).await.unwrap(), 200).await;
    let loaded = common::wait_for_log(hub.store(), "calendar.loaded", "calendar 2028 loaded").await;
    assert_eq!(loaded.participant.as_deref(), Some(IT_BUREAU));
    hub.stop().await;
}

async fn returned_and_unconfirmed_deliveries_are_on_the_paper_resend_list(backend: Backend) {
    let hub = start(backend).await;
    hub.clock.set(local("2027-11-01T09:00:00")); // a Monday
    let doc = send(&hub, "3001", &[EDUCATION, SOCIAL_WELFARE]).await;
    let rs = recipients(&hub, &doc).await;
    let (to_edu, to_sw) =
        (delivery_to(&rs, EDUCATION)["id"].as_str().unwrap(), delivery_to(&rs, SOCIAL_WELFARE)["id"].as_str().unwrap());
    let sender = hub.client(CIVIL_AFFAIRS);
    let list = |c: reqwest::Client, path: &'static str| {
        let url = hub.url(path);
        async move { json(c.get(url).send().await.unwrap(), 200).await["items"].as_array().unwrap().clone() }
    };
    let ids = |items: &[Value]| items.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    // Education returns it at once; Social Welfare does nothing.
    hub.clock.set(local("2027-11-01T10:00:00"));
    json(
        common::post(&hub, EDUCATION, &format!("/api/v1/deliveries/{to_edu}/return"), json!({"reason": "非本局業務"}))
            .await,
        200,
    )
    .await;
    // Before the deadline the returned delivery is already on the list.
    assert_eq!(ids(&list(sender.clone(), "/api/v1/deadlines/sender").await), [to_edu]);
    assert!(list(hub.client(SOCIAL_WELFARE), "/api/v1/deadlines/receiver").await.is_empty());

    // Tuesday 10:00: Social Welfare is overdue as a receiver...
    hub.clock.set(local("2027-11-02T10:00:00"));
    assert_eq!(ids(&list(hub.client(SOCIAL_WELFARE), "/api/v1/deadlines/receiver").await), [to_sw]);
    // ...but the sender's deadline is 14:00.
    assert_eq!(ids(&list(sender.clone(), "/api/v1/deadlines/sender").await), [to_edu]);
    hub.clock.set(local("2027-11-02T14:00:00"));
    let mut expected = vec![to_edu.to_owned(), to_sw.to_owned()];
    expected.sort();
    assert_eq!(ids(&list(sender.clone(), "/api/v1/deadlines/sender").await), expected);
    // Other participants do not see the sender's list or its deliveries.
    assert!(list(hub.client(EDUCATION), "/api/v1/deadlines/sender").await.is_empty());

    // CSV and printable page of the same list.
    let csv = sender.get(hub.url("/api/v1/deadlines/sender?format=csv")).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}發文字號,主旨,受文者"), "{csv}");
    assert!(csv.contains("已退文") && csv.contains("非本局業務") && csv.contains("2027-11-02 14:00"), "{csv}");
    let page = sender.get(hub.url("/api/v1/deadlines/sender?format=html")).send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("受文者未確認及被退文清單") && page.contains("@media print") && page.contains(SOCIAL_WELFARE)
    );

    // A paper resend takes a delivery off the list.
    json(
        sender
            .post(hub.url(&format!("/api/v1/deliveries/{to_edu}/paper-resend")))
            .json(&json!({"note": "紙本已寄"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ids(&list(sender.clone(), "/api/v1/deadlines/sender").await), [to_sw]);
    // A late confirmation also does (no paper needed once it is confirmed).
    common::fetch_and_confirm(&hub, SOCIAL_WELFARE, to_sw).await;
    assert!(list(sender.clone(), "/api/v1/deadlines/sender").await.is_empty());
    assert!(list(hub.client(SOCIAL_WELFARE), "/api/v1/deadlines/receiver").await.is_empty());
    // Lists need the role: the receiver list is for receivers.
    hub.register_clerk(CIVIL_AFFAIRS, "civil-sender-only", &["sender"]).await;
    problem(
        hub.client("civil-sender-only").get(hub.url("/api/v1/deadlines/receiver")).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    hub.stop().await;
}

async fn immediate_confirmation_counts_office_hours(backend: Backend) {
    let hub = start(backend).await;
    // Friday 17:00 before the Monday holiday: 30 minutes that day, 30 on Tuesday.
    hub.clock.set(local("2027-10-08T17:00:00"));
    let opts = SendOptions { to: vec![EDUCATION.into()], immediate_confirmation: true, ..Default::default() };
    let v =
        json(send_doc(&hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, "4001", &opts, None).await, 201)
            .await;
    let doc = v["document_id"].as_str().unwrap();
    let d = delivery_to(&recipients(&hub, doc).await, EDUCATION).clone();
    assert_eq!(time(&d["immediate_deadline"]), local("2027-10-12T09:00:00"));
    assert_eq!(time(&d["receiver_deadline"]), local("2027-10-12T10:00:00"));

    let overdue = |at: &str| {
        hub.clock.set(local(at));
        async {
            json(hub.client(EDUCATION).get(hub.url("/api/v1/deadlines/receiver")).send().await.unwrap(), 200).await
                ["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(overdue("2027-10-12T08:59:00").await, 0);
    assert_eq!(overdue("2027-10-12T09:00:00").await, 1, "overdue at the immediate deadline, before 10:00");
    // The inbox shows the deadline to the clerk.
    let inbox = json(hub.client(EDUCATION).get(hub.url("/api/v1/inbox")).send().await.unwrap(), 200).await;
    assert_eq!(time(&inbox["items"][0]["immediate_deadline"]), local("2027-10-12T09:00:00"));
    hub.stop().await;
}

async fn a_typhoon_closure_moves_deadlines_not_yet_passed(backend: Backend) {
    let hub = start(backend).await;
    hub.clock.set(local("2027-11-01T09:00:00")); // Monday
    let early = send(&hub, "5001", &[EDUCATION]).await;
    hub.clock.set(local("2027-11-02T09:00:00")); // Tuesday
    let late = send(&hub, "5002", &[EDUCATION]).await;
    // Tuesday 11:00: the first document's receiver deadline (Tue 10:00) has
    // passed; its sender deadline (Tue 14:00) has not.
    hub.clock.set(local("2027-11-02T11:00:00"));
    let v = json(close(&hub, IT_BUREAU, "2027-11-03", "day", "颱風停班").await, 201).await;
    assert_eq!(v["closure"]["part"], "day");
    assert_eq!(v["recomputed"]["deliveries"], 1, "only the second document's deadlines move: {v}");

    let e = delivery_to(&recipients(&hub, &early).await, EDUCATION).clone();
    assert_eq!(time(&e["receiver_deadline"]), local("2027-11-02T10:00:00"), "passed: unchanged");
    assert_eq!(time(&e["sender_deadline"]), local("2027-11-02T14:00:00"));
    let l = delivery_to(&recipients(&hub, &late).await, EDUCATION).clone();
    assert_eq!(time(&l["receiver_deadline"]), local("2027-11-04T10:00:00"), "Wednesday closed: Thursday");
    assert_eq!(time(&l["sender_deadline"]), local("2027-11-04T14:00:00"));

    // An afternoon closure on Thursday moves the 14:00 deadline, not the 10:00 one.
    let v = json(close(&hub, IT_BUREAU, "2027-11-04", "afternoon", "颱風下午停班").await, 201).await;
    assert_eq!(v["recomputed"]["deliveries"], 1);
    let l = delivery_to(&recipients(&hub, &late).await, EDUCATION).clone();
    assert_eq!(time(&l["receiver_deadline"]), local("2027-11-04T10:00:00"));
    assert_eq!(time(&l["sender_deadline"]), local("2027-11-05T14:00:00"));

    // Both the closure and the recomputation are in the log.
    let c = common::wait_for_log(hub.store(), "calendar.closure", "2027-11-03 全日停班").await;
    assert_eq!(c.participant.as_deref(), Some(IT_BUREAU));
    common::wait_for_log(hub.store(), "deadlines.recomputed", "1 deliveries").await;
    // New documents use the closure at once; a past day cannot be closed.
    problem(close(&hub, IT_BUREAU, "2027-11-01", "day", "太遲").await, 422, "invalid-field").await;
    // An explicit recomputation needs the IT bureau and a reason.
    problem(
        common::post(&hub, EDUCATION, "/api/v1/deadlines/recompute", json!({"reason": "x"})).await,
        403,
        "forbidden",
    )
    .await;
    let v = json(
        common::post(&hub, IT_BUREAU, "/api/v1/deadlines/recompute", json!({"reason": "2027 行事曆更正"})).await,
        200,
    )
    .await;
    assert_eq!(v["deliveries"], 0, "nothing changed since: {v}");
    hub.stop().await;
}

both_databases!(
    deadlines_skip_holidays_and_count_make_up_saturdays,
    calendar_upload_is_validated_and_for_the_it_bureau_only,
    returned_and_unconfirmed_deliveries_are_on_the_paper_resend_list,
    immediate_confirmation_counts_office_hours,
    a_typhoon_closure_moves_deadlines_not_yet_passed,
);

/// `gwx deadlines`: the lists from the command line, as a summary or the
/// hub's CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gwx_client_prints_the_deadline_lists() {
    let hub = start(Backend::Sqlite).await;
    let doc = send(&hub, "1001", &[EDUCATION]).await;
    let id = delivery_to(&recipients(&hub, &doc).await, EDUCATION)["id"].as_str().unwrap().to_owned();
    json(
        common::post(&hub, EDUCATION, &format!("/api/v1/deliveries/{id}/return"), json!({"reason": "附件缺漏"})).await,
        200,
    )
    .await;
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
    assert!(text.contains(&id) && text.contains("returned") && text.contains("退文原因: 附件缺漏"), "{text}");
    let both = gwx(CIVIL_AFFAIRS, &["deadlines"]).await;
    assert!(both.contains("應補發紙本") && both.contains("逾期未處理"), "{both}");
    let csv = gwx(EDUCATION, &["deadlines", "receiver", "--format", "csv"]).await;
    assert!(csv.starts_with("\u{feff}發文字號,主旨,發文者,速別"), "{csv}");
    hub.stop().await;
}
