//! The store test suite, run against SQLite and PostgreSQL alike, and the
//! parity of the two migration sets.

use crate::helpers::{Backend, drop_postgres_database, fresh_database};
use chrono::{Duration, Utc};
use gwx::domain::log::{ChainBreak, LogAction, NewLogEntry};
use gwx::domain::{Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, Role, Roles};
use gwx::pki::CertInfo;
use gwx::pki::demo::{Profile, issue_new};
use gwx::store::{Db, LogFilter, NewCredential, NewParticipant, Page, ParticipantUpdate, Store, StoreError};

struct Fixture {
    store: Store,
    backend: Backend,
    url: String,
    _dir: tempfile::TempDir,
}

async fn open(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&backend, dir.path()).await;
    let store = Store::open(&url).await.unwrap();
    Fixture { store, backend, url, _dir: dir }
}

impl Fixture {
    async fn close(self) {
        self.store.close().await;
        if let Backend::Postgres(server) = &self.backend {
            drop_postgres_database(server, &self.url).await;
        }
    }

    /// Runs raw SQL, as an intruder with database access would.
    async fn raw(&self, sql: &'static str) -> Result<(), sqlx::Error> {
        match &self.store.db {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
    }
}

fn agency(code: &str, name: &str) -> NewParticipant {
    NewParticipant {
        code: ParticipantCode::parse(code).unwrap(),
        kind: ParticipantKind::Agency,
        name: name.into(),
        unified_business_number: None,
        status: ParticipantStatus::Active,
        capabilities: Capabilities { receive: true, send: true },
        supervisor: None,
        email: None,
    }
}

fn log(detail: &str) -> NewLogEntry {
    NewLogEntry::new(LogAction::ParticipantCreated, detail)
}

async fn log_count(store: &Store) -> usize {
    store.log_entries(&LogFilter { limit: 10_000, ..Default::default() }).await.unwrap().len()
}

fn certificate(cn: &str) -> CertInfo {
    let now = Utc::now();
    let kp = issue_new(
        &[("C", "TW"), ("CN", cn)],
        Profile::Client { ubn: Some("10450009") },
        now,
        now + Duration::days(30),
        None,
    )
    .unwrap();
    CertInfo::from_pem(&kp.cert_pem()).unwrap()
}

async fn a_participant_is_created_once_and_logged_in_the_same_transaction(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let now = Utc::now();
    let p = s.create_participant(&agency("379010000Q", "臺北市政府民政局"), now, &log("create")).await.unwrap();
    assert_eq!(p.name, "臺北市政府民政局");
    assert_eq!(p.status, ParticipantStatus::Active);
    assert!(matches!(
        s.create_participant(&agency("379010000Q", "again"), now, &log("dup")).await,
        Err(StoreError::Conflict(_))
    ));
    // The failed creation wrote no log entry: the log is in the same transaction.
    assert_eq!(log_count(s).await, 1);
    f.close().await;
}

async fn participants_are_listed_by_code_in_pages(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let now = Utc::now();
    for (i, code) in ["379010000Q", "379020000A", "379030000W", "379040000N"].into_iter().enumerate() {
        s.create_participant(&agency(code, &format!("機關{i}")), now, &log("create")).await.unwrap();
    }
    let first = s.participants(&Page { after: None, limit: 2 }).await.unwrap();
    assert_eq!(first.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(), ["379010000Q", "379020000A"]);
    let rest = s.participants(&Page { after: Some("379020000A".into()), limit: 10 }).await.unwrap();
    assert_eq!(rest.len(), 2);
    f.close().await;
}

async fn a_participants_fields_change_and_an_unknown_one_is_not_found(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let now = Utc::now();
    let code = s.create_participant(&agency("379010000Q", "臺北市政府民政局"), now, &log("create")).await.unwrap().code;
    let upd = ParticipantUpdate {
        name: Some("臺北市政府民政局（新）".into()),
        capabilities: Some(Capabilities { receive: true, send: false }),
        ..Default::default()
    };
    let p = s.update_participant(&code, &upd, now, &log("update")).await.unwrap();
    assert_eq!(p.name, "臺北市政府民政局（新）");
    assert!(!p.capabilities.send);
    assert!(matches!(
        s.update_participant(&ParticipantCode::parse("379999999Z").unwrap(), &upd, now, &log("x")).await,
        Err(StoreError::NotFound)
    ));
    f.close().await;
}

async fn a_suspension_keeps_its_reason_and_a_termination_is_final(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let now = Utc::now();
    let code = s.create_participant(&agency("379010000Q", "臺北市政府民政局"), now, &log("create")).await.unwrap().code;
    let p = s
        .set_participant_status(&code, ParticipantStatus::Suspended, Some("調查中"), now, &log("suspend"))
        .await
        .unwrap();
    assert_eq!((p.status, p.status_reason.as_deref()), (ParticipantStatus::Suspended, Some("調查中")));
    s.set_participant_status(&code, ParticipantStatus::Terminated, Some("裁撤"), now, &log("terminate")).await.unwrap();
    assert!(matches!(
        s.set_participant_status(&code, ParticipantStatus::Active, None, now, &log("revive")).await,
        Err(StoreError::Conflict(_))
    ));
    f.close().await;
}

async fn allowlist_entries_are_added_once_listed_and_removed(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let now = Utc::now();
    let code = s.create_participant(&agency("379010000Q", "臺北市政府民政局"), now, &log("create")).await.unwrap().code;
    let v4 = s
        .add_allowlist_entry(&code, IpRange::parse("10.0.0.0/24").unwrap(), Some("機房"), now, &log("allow"))
        .await
        .unwrap();
    s.add_allowlist_entry(&code, IpRange::parse("2001:db8::/48").unwrap(), None, now, &log("allow")).await.unwrap();
    assert!(matches!(
        s.add_allowlist_entry(&code, IpRange::parse("10.0.0.9/24").unwrap(), None, now, &log("dup")).await,
        Err(StoreError::Conflict(_))
    ));
    let list = s.allowlist(code.as_str()).await.unwrap();
    assert_eq!(list.iter().map(|e| e.ip_range.to_string()).collect::<Vec<_>>(), ["10.0.0.0/24", "2001:db8::/48"]);
    assert!(list[1].ip_range.contains("2001:db8:0:1::5".parse().unwrap()));
    s.remove_allowlist_entry(&code, v4.id, now, &log("remove")).await.unwrap();
    assert!(matches!(s.remove_allowlist_entry(&code, v4.id, now, &log("again")).await, Err(StoreError::NotFound)));
    assert_eq!(s.allowlist(code.as_str()).await.unwrap().len(), 1);
    f.close().await;
}

/// Two cards (王小明, 陳代理) of 民政局, registered at `t0`.
async fn two_cards(
    s: &Store,
    t0: chrono::DateTime<Utc>,
) -> (NewCredential, gwx::store::Credential, gwx::store::Credential) {
    let code = ParticipantCode::parse("379010000Q").unwrap();
    s.create_participant(&agency(code.as_str(), "民政局"), t0, &log("create")).await.unwrap();
    let new = NewCredential {
        participant: code.clone(),
        cert: certificate("王小明"),
        card_number: Some("TP03000001".into()),
        holder: "王小明".into(),
        roles: Roles::new([Role::Sender, Role::Receiver]),
    };
    let c = s.register_credential(&new, t0, &log("register")).await.unwrap();
    let other = NewCredential { cert: certificate("陳代理"), holder: "陳代理".into(), ..new.clone() };
    let c2 = s.register_credential(&other, t0, &log("register")).await.unwrap();
    (new, c, c2)
}

async fn a_credential_is_registered_once_and_found_by_fingerprint(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let (new, c, _) = two_cards(s, Utc::now()).await;
    assert_eq!(c.fingerprint, new.cert.fingerprint);
    assert_eq!(c.unified_business_number.as_deref(), Some("10450009"));
    assert_eq!(c.roles, Roles::new([Role::Receiver, Role::Sender]));
    assert!(matches!(s.register_credential(&new, Utc::now(), &log("dup")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.credential_by_fingerprint(&new.cert.fingerprint).await.unwrap().unwrap().id, c.id);
    assert!(s.credential_by_fingerprint("00").await.unwrap().is_none());
    f.close().await;
}

async fn credentials_are_listed_by_participant_in_pages(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let (new, c, _) = two_cards(s, Utc::now()).await;
    let code = new.participant.as_str();
    assert_eq!(s.credentials(Some(code), None, &Page { after: None, limit: 10 }).await.unwrap().len(), 2);
    assert_eq!(s.credentials(Some(code), None, &Page { after: Some(c.id), limit: 10 }).await.unwrap().len(), 1);
    assert!(s.credentials(Some("379999999Z"), None, &Page { after: None, limit: 10 }).await.unwrap().is_empty());
    f.close().await;
}

async fn the_renewal_list_holds_the_cards_expiring_within_its_window(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let t0 = Utc::now();
    two_cards(s, t0).await;
    // Both certificates expire in 30 days: on the renewal list for 31, not for 29.
    let soon = |days| s.credentials(None, Some(t0 + Duration::days(days)), &Page { after: None, limit: 10 });
    assert_eq!(soon(31).await.unwrap().len(), 2);
    assert!(soon(29).await.unwrap().is_empty());
    f.close().await;
}

async fn a_credential_is_disabled_with_its_reason_and_enabled_again(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let t0 = Utc::now();
    let (_, c, _) = two_cards(s, t0).await;
    let d = s.set_credential_disabled(c.id, Some("卡片遺失"), t0, &log("disable")).await.unwrap();
    assert!(d.is_disabled());
    assert_eq!(d.disabled_reason.as_deref(), Some("卡片遺失"));
    let e = s.set_credential_disabled(c.id, None, t0, &log("enable")).await.unwrap();
    assert!(!e.is_disabled());
    f.close().await;
}

async fn credential_use_is_recorded_at_most_once_an_interval(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let t0 = Utc::now();
    let (_, _, c2) = two_cards(s, t0).await;
    let t1 = t0 + Duration::days(10);
    s.touch_credential(c2.id, t1, t1 - Duration::hours(1)).await.unwrap();
    s.touch_credential(c2.id, t1 + Duration::minutes(5), t1 + Duration::minutes(5) - Duration::hours(1)).await.unwrap();
    let used = s.credential(c2.id).await.unwrap().unwrap().last_used_at.unwrap();
    assert_eq!(used.timestamp(), t1.timestamp());
    f.close().await;
}

async fn unused_credentials_are_disabled_once_and_logged(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let t0 = Utc::now();
    let (_, c, c2) = two_cards(s, t0).await;
    // c is re-enabled at t0 (counts as use); c2 used at t1.
    s.set_credential_disabled(c.id, Some("卡片遺失"), t0, &log("disable")).await.unwrap();
    s.set_credential_disabled(c.id, None, t0, &log("enable")).await.unwrap();
    let t1 = t0 + Duration::days(10);
    s.touch_credential(c2.id, t1, t1 - Duration::hours(1)).await.unwrap();
    let before = log_count(s).await;
    let gone = s.disable_inactive_credentials(t0 + Duration::days(5), t0 + Duration::days(95)).await.unwrap();
    assert_eq!(gone.iter().map(|c| c.id).collect::<Vec<_>>(), [c.id]);
    assert_eq!(log_count(s).await, before + 1);
    assert!(s.disable_inactive_credentials(t0 + Duration::days(5), t0 + Duration::days(95)).await.unwrap().is_empty());
    f.close().await;
}

async fn log_chain_verifies_and_detects_tampering(backend: Backend) {
    let f = open(backend).await;
    let s = f.store.clone();
    // Concurrent appenders still form one unbroken chain.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let e = NewLogEntry::new(LogAction::AuthRefused, format!("attempt {i}")).source_ip("192.0.2.1");
                s.append_log(Utc::now(), &e).await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let report = s.verify_log().await.unwrap().unwrap();
    assert_eq!(report.checked, 40);
    assert_eq!(report.head_seq, 40);

    // The database itself refuses updates.
    assert!(f.raw("UPDATE exchange_log SET detail = 'x' WHERE seq = 7").await.is_err());

    // An intruder who removes the guard and edits a row is still caught.
    match &f.store.db {
        Db::Sqlite(_) => f.raw("DROP TRIGGER exchange_log_append_only").await.unwrap(),
        Db::Postgres(_) => f.raw("DROP TRIGGER exchange_log_append_only ON exchange_log").await.unwrap(),
    }
    f.raw("UPDATE exchange_log SET detail = 'nothing happened' WHERE seq = 7").await.unwrap();
    assert_eq!(s.verify_log().await.unwrap(), Err(ChainBreak::Altered { seq: 7 }));
    f.close().await;
}

async fn log_removal_is_detected(backend: Backend) {
    let f = open(backend).await;
    for i in 0..5 {
        f.store.append_log(Utc::now(), &NewLogEntry::new(LogAction::AuthRefused, format!("e{i}"))).await.unwrap();
    }
    f.raw("DELETE FROM exchange_log WHERE seq = 5").await.unwrap();
    assert_eq!(f.store.verify_log().await.unwrap(), Err(ChainBreak::Gap { seq: 5, prev: 4 }));
    f.raw("DELETE FROM exchange_log WHERE seq = 3").await.unwrap();
    assert_eq!(f.store.verify_log().await.unwrap(), Err(ChainBreak::Gap { seq: 4, prev: 2 }));
    f.close().await;
}

async fn log_filters(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    s.append_log(Utc::now(), &NewLogEntry::new(LogAction::AuthRefused, "a").participant("379010000Q")).await.unwrap();
    s.append_log(
        Utc::now(),
        &NewLogEntry::new(LogAction::ParticipantSuspended, "b").participant("379130000C").counterpart("379010000Q"),
    )
    .await
    .unwrap();
    s.append_log(Utc::now(), &NewLogEntry::new(LogAction::AuthRefused, "c").participant("379130000C")).await.unwrap();
    let mine = s
        .log_entries(&LogFilter { participant: Some("379010000Q".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let refused = s
        .log_entries(&LogFilter { actions: vec!["auth.refused".into()], limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(refused.len(), 2);
    let after = s.log_entries(&LogFilter { after_seq: Some(2), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    f.close().await;
}

crate::both_databases!(
    a_participant_is_created_once_and_logged_in_the_same_transaction,
    participants_are_listed_by_code_in_pages,
    a_participants_fields_change_and_an_unknown_one_is_not_found,
    a_suspension_keeps_its_reason_and_a_termination_is_final,
    allowlist_entries_are_added_once_listed_and_removed,
    a_credential_is_registered_once_and_found_by_fingerprint,
    credentials_are_listed_by_participant_in_pages,
    the_renewal_list_holds_the_cards_expiring_within_its_window,
    a_credential_is_disabled_with_its_reason_and_enabled_again,
    credential_use_is_recorded_at_most_once_an_interval,
    unused_credentials_are_disabled_once_and_logged,
    log_chain_verifies_and_detects_tampering,
    log_removal_is_detected,
    log_filters,
);

/// The SQLite and PostgreSQL migrations give the same tables, columns,
/// nullability, primary keys and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_sets_give_the_same_schema() {
    let Some(pg) = Backend::postgres() else { return };
    let sqlite = open(Backend::Sqlite).await;
    let postgres = open(pg).await;
    let (a, b) = (sqlite.store.schema().await.unwrap(), postgres.store.schema().await.unwrap());
    assert!(a.len() > 10, "the hub's tables: {:?}", a.keys());
    for table in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
        assert_eq!(a.get(table), b.get(table), "table {table}: SQLite (left) and PostgreSQL (right) differ");
    }
    sqlite.close().await;
    postgres.close().await;
}

/// Nodes started at the same moment on one new database: every one
/// migrates and seeds the shipped calendars without error, and each year
/// is stored (and logged) once.
async fn nodes_starting_together_on_a_new_database_all_start(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&backend, dir.path()).await;
    let at = Utc::now();
    let nodes = futures_util::future::join_all((0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let store = Store::open(&url).await.map_err(|e| format!("open: {e}"))?;
            let added = gwx::service::deadlines::seed_shipped(&store, at).await.map_err(|e| format!("seed: {e:#}"))?;
            Ok::<_, String>((store, added))
        })
    }))
    .await;
    let mut stores = Vec::new();
    let mut years = Vec::new();
    for n in nodes {
        let (store, added) = n.unwrap().unwrap_or_else(|e| panic!("a node failed to start: {e}"));
        years.extend(added);
        stores.push(store);
    }
    let shipped: Vec<i32> = gwx::service::deadlines::SHIPPED_YEARS.iter().map(|(y, _)| *y).collect();
    years.sort();
    assert_eq!(years, shipped, "each shipped year stored by exactly one node");
    let loaded = stores[0]
        .log_entries(&LogFilter {
            actions: vec![LogAction::CalendarLoaded.as_str().to_owned()],
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(loaded.len(), shipped.len(), "each year logged once");
    for s in stores {
        s.close().await;
    }
    if let Backend::Postgres(server) = &backend {
        drop_postgres_database(server, &url).await;
    }
}

crate::both_databases!(nodes_starting_together_on_a_new_database_all_start);
