//! 交換紀錄: the exchange log, append-only and hash-chained (DESIGN §9).
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so a
//! removed, inserted or altered row breaks the chain from that point on.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use super::Invalid;
use super::participant::named_enum;

/// The hash that precedes the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

named_enum!(
    /// What happened. Stable names: exports and audits filter on them.
    LogAction, "log action" {
        /// The TLS handshake refused a client certificate.
        TlsRefused = "tls.refused",
        /// A connection was refused: the hub, or its address, holds the
        /// most connections allowed.
        ConnectionRefused = "connection.refused",
        /// A connection was closed for stalling: a TLS handshake, request
        /// headers or the reading of a response that did not progress.
        ConnectionTimedOut = "connection.timed_out",
        /// A request was refused by authentication or authorisation.
        AuthRefused = "auth.refused",
        /// A request was refused for its content.
        RequestRefused = "request.refused",
        /// The hub failed to serve a request.
        ServerError = "error",
        ParticipantCreated = "participant.created",
        ParticipantUpdated = "participant.updated",
        ParticipantSuspended = "participant.suspended",
        ParticipantReinstated = "participant.reinstated",
        ParticipantTerminated = "participant.terminated",
        CredentialRegistered = "credential.registered",
        CredentialDisabled = "credential.disabled",
        CredentialEnabled = "credential.enabled",
        AllowlistAdded = "allowlist.added",
        AllowlistRemoved = "allowlist.removed",
        TrustReloaded = "trust.reloaded",
        /// The trust directory changed but could not be loaded; the
        /// previous trust store stays in force.
        TrustReloadFailed = "trust.reload_failed",
        /// A CRL's nextUpdate is near (`tls.crl_warning_hours`).
        CrlExpiring = "trust.crl_expiring",
        /// A CRL's nextUpdate has passed: the certificates it covers are
        /// refused until a newer one is installed.
        CrlExpired = "trust.crl_expired",
        /// A document was accepted (the sender's entry).
        DocumentAccepted = "document.accepted",
        /// A document was put in a recipient's inbox.
        DeliveryDelivered = "delivery.delivered",
        DeliveryFetched = "delivery.fetched",
        DeliveryConfirmed = "delivery.confirmed",
        DeliveryReturned = "delivery.returned",
        /// The sender recorded a paper resend (補發紙本).
        PaperResend = "delivery.paper_resend",
        GroupCreated = "group.created",
        GroupUpdated = "group.updated",
        GroupDeleted = "group.deleted",
        ApplicationSubmitted = "application.submitted",
        ApplicationAmended = "application.amended",
        ApplicationCorrectionRequested = "application.correction_requested",
        ApplicationApproved = "application.approved",
        ApplicationRejected = "application.rejected",
        ApplicationActivated = "application.activated",
        IpBlocked = "ip.blocked",
        IpUnblocked = "ip.unblocked",
        /// A DGPA calendar year was loaded (shipped or uploaded).
        CalendarLoaded = "calendar.loaded",
        /// An unplanned closure (typhoon 停班) was declared.
        ClosureDeclared = "calendar.closure",
        /// Deadlines not yet passed were recomputed.
        DeadlinesRecomputed = "deadlines.recomputed",
        /// The IT bureau imported a national address book into the roster.
        RosterImported = "roster.imported",
        /// The retention job purged old entries, documents and blobs.
        LogPurged = "log.purged",
    }
);

impl LogAction {
    /// The action as people read it in the log and the audit views.
    pub fn zh(self) -> &'static str {
        match self {
            LogAction::TlsRefused => "憑證驗證失敗（連線拒絕）",
            LogAction::ConnectionRefused => "連線數超過上限",
            LogAction::ConnectionTimedOut => "連線逾時中斷",
            LogAction::AuthRefused => "身分或權限驗證失敗",
            LogAction::RequestRefused => "請求被拒",
            LogAction::ServerError => "系統錯誤",
            LogAction::ParticipantCreated => "新增參與者",
            LogAction::ParticipantUpdated => "異動參與者資料",
            LogAction::ParticipantSuspended => "暫停使用",
            LogAction::ParticipantReinstated => "恢復使用",
            LogAction::ParticipantTerminated => "終止使用",
            LogAction::CredentialRegistered => "登錄憑證",
            LogAction::CredentialDisabled => "停用憑證",
            LogAction::CredentialEnabled => "啟用憑證",
            LogAction::AllowlistAdded => "新增固定 IP",
            LogAction::AllowlistRemoved => "移除固定 IP",
            LogAction::TrustReloaded => "更新信任憑證",
            LogAction::TrustReloadFailed => "信任憑證更新失敗",
            LogAction::CrlExpiring => "憑證廢止清冊即將到期",
            LogAction::CrlExpired => "憑證廢止清冊已過期",
            LogAction::DocumentAccepted => "發文",
            LogAction::DeliveryDelivered => "送達",
            LogAction::DeliveryFetched => "讀取",
            LogAction::DeliveryConfirmed => "確認收文",
            LogAction::DeliveryReturned => "退文",
            LogAction::PaperResend => "補發紙本",
            LogAction::GroupCreated => "新增行文群組",
            LogAction::GroupUpdated => "修改行文群組",
            LogAction::GroupDeleted => "刪除行文群組",
            LogAction::ApplicationSubmitted => "送出申請",
            LogAction::ApplicationAmended => "補正申請",
            LogAction::ApplicationCorrectionRequested => "退回補正",
            LogAction::ApplicationApproved => "核准申請",
            LogAction::ApplicationRejected => "駁回申請",
            LogAction::ApplicationActivated => "開通",
            LogAction::IpBlocked => "封鎖 IP",
            LogAction::IpUnblocked => "解除封鎖 IP",
            LogAction::CalendarLoaded => "載入行事曆",
            LogAction::ClosureDeclared => "宣布停班",
            LogAction::DeadlinesRecomputed => "重新計算期限",
            LogAction::RosterImported => "匯入機關通訊錄",
            LogAction::LogPurged => "清除逾保存期限紀錄",
        }
    }
}

/// An entry as a caller writes it; the store gives it its place in the chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewLogEntry {
    pub action: Option<LogAction>,
    pub participant: Option<String>,
    /// SHA-256 fingerprint of the certificate involved.
    pub credential: Option<String>,
    pub source_ip: Option<String>,
    pub document: Option<String>,
    pub counterpart: Option<String>,
    /// The problem type of a refusal (`urn:gwx:error:…`).
    pub problem: Option<String>,
    pub detail: String,
}

impl NewLogEntry {
    pub fn new(action: LogAction, detail: impl Into<String>) -> Self {
        NewLogEntry { action: Some(action), detail: detail.into(), ..Default::default() }
    }
    pub fn participant(mut self, code: impl Into<String>) -> Self {
        self.participant = Some(code.into());
        self
    }
    pub fn credential(mut self, fingerprint: impl Into<String>) -> Self {
        self.credential = Some(fingerprint.into());
        self
    }
    pub fn source_ip(mut self, ip: impl ToString) -> Self {
        self.source_ip = Some(ip.to_string());
        self
    }
    pub fn document(mut self, id: impl Into<String>) -> Self {
        self.document = Some(id.into());
        self
    }
    pub fn counterpart(mut self, code: impl Into<String>) -> Self {
        self.counterpart = Some(code.into());
        self
    }
    pub fn problem(mut self, problem_type: impl Into<String>) -> Self {
        self.problem = Some(problem_type.into());
        self
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub action: LogAction,
    pub participant: Option<String>,
    pub credential: Option<String>,
    pub source_ip: Option<String>,
    pub document: Option<String>,
    pub counterpart: Option<String>,
    pub problem: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The time as the log keeps it: microseconds, the precision both databases store.
pub fn log_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

impl LogEntry {
    /// Builds the stored form of `new`, chained after `prev_hash`.
    pub fn chain(seq: i64, at: DateTime<Utc>, new: &NewLogEntry, prev_hash: &str) -> Result<Self, Invalid> {
        let action = new.action.ok_or_else(|| Invalid::new("log entry", "no action"))?;
        let mut e = LogEntry {
            seq,
            at: log_time(at),
            action,
            participant: new.participant.clone(),
            credential: new.credential.clone(),
            source_ip: new.source_ip.clone(),
            document: new.document.clone(),
            counterpart: new.counterpart.clone(),
            problem: new.problem.clone(),
            detail: new.detail.clone(),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        Ok(e)
    }

    /// SHA-256 over the previous hash and a canonical JSON array of the fields.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::to_vec(&(
            &self.prev_hash,
            self.seq,
            self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.action.as_str(),
            &self.participant,
            &self.credential,
            &self.source_ip,
            &self.document,
            &self.counterpart,
            &self.problem,
            &self.detail,
        ))
        .expect("tuple of strings serialises");
        hex::encode(openssl::sha::sha256(&canonical))
    }
}

/// Where a chain check stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq}: its hash does not match its contents (changed row)")]
    Altered { seq: i64 },
    #[error("entry {seq}: previous hash does not match entry {prev} (row removed or inserted)")]
    Broken { seq: i64, prev: i64 },
    #[error("entry {seq}: sequence gap after {prev} (row removed)")]
    Gap { seq: i64, prev: i64 },
}

/// Checks entries in sequence order, one at a time, so a long log needs no memory.
pub struct ChainVerifier {
    prev: Option<(i64, String)>,
    pub checked: u64,
}

impl ChainVerifier {
    /// Starts at a known point: the genesis, or a checkpoint `(seq, hash)` left by a purge.
    pub fn new(start: Option<(i64, String)>) -> Self {
        ChainVerifier { prev: start, checked: 0 }
    }

    pub fn check(&mut self, e: &LogEntry) -> Result<(), ChainBreak> {
        if e.compute_hash() != e.hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        match &self.prev {
            None if e.prev_hash != GENESIS_HASH => return Err(ChainBreak::Broken { seq: e.seq, prev: 0 }),
            Some((seq, _)) if e.seq != seq + 1 => return Err(ChainBreak::Gap { seq: e.seq, prev: *seq }),
            Some((seq, hash)) if &e.prev_hash != hash => {
                return Err(ChainBreak::Broken { seq: e.seq, prev: *seq });
            }
            _ => {}
        }
        self.prev = Some((e.seq, e.hash.clone()));
        self.checked += 1;
        Ok(())
    }

    pub fn head(&self) -> Option<&(i64, String)> {
        self.prev.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: i64) -> Vec<LogEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let e = LogEntry::chain(
                    seq,
                    Utc::now(),
                    &NewLogEntry::new(LogAction::AuthRefused, format!("entry {seq}")).source_ip("127.0.0.1"),
                    &prev,
                )
                .unwrap();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(es: &[LogEntry]) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::new(None);
        for e in es {
            v.check(e)?;
        }
        Ok(v.checked)
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&entries(5)), Ok(5));
    }

    #[test]
    fn changed_removed_and_reordered_rows_are_detected() {
        let mut es = entries(5);
        es[2].detail = "something else".into();
        assert_eq!(verify(&es), Err(ChainBreak::Altered { seq: 3 }));

        let mut es = entries(5);
        es.remove(2);
        assert_eq!(verify(&es), Err(ChainBreak::Gap { seq: 4, prev: 2 }));

        // A rewritten row with a recomputed hash still breaks the next link.
        let mut es = entries(5);
        es[2].detail = "forged".into();
        es[2].hash = es[2].compute_hash();
        assert_eq!(verify(&es), Err(ChainBreak::Broken { seq: 4, prev: 3 }));
    }
}
