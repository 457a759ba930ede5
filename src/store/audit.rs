//! The timeliness audit (研考會, DESIGN §8), aggregated in the database:
//! a year of deliveries is never loaded into memory to be counted.

use chrono::{DateTime, Utc};

use super::{Result, Store, stored_time, with_pool};

/// One participant's figures over a period (or the totals, `code` = `*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Timeliness {
    pub code: String,
    pub name: String,
    /// Deliveries received in the period.
    pub received: i64,
    /// Confirmed by the receiver deadline.
    pub confirmed_on_time: i64,
    /// Confirmed after it.
    pub confirmed_late: i64,
    pub returned: i64,
    /// Neither confirmed nor returned, deadline passed.
    pub overdue: i64,
    /// Neither confirmed nor returned, deadline still ahead.
    pub pending: i64,
    /// Median office minutes from delivery to confirmation (nearest rank).
    pub median_minutes_to_confirm: Option<i64>,
    /// 90th percentile of the same (nearest rank).
    pub p90_minutes_to_confirm: Option<i64>,
    /// Documents sent in the period.
    pub sent: i64,
    /// Sent documents with a recipient unconfirmed at the sender deadline.
    pub sent_unconfirmed_past_deadline: i64,
    /// Paper resends recorded for deliveries of documents sent in the period.
    pub paper_resends: i64,
}

impl Timeliness {
    /// The column titles of [`Timeliness::cells`], for reports.
    pub const COLUMNS: [&'static str; 13] = [
        "代碼",
        "名稱",
        "收文數",
        "如期確認",
        "逾期確認",
        "退文",
        "逾期未處理",
        "處理中",
        "確認中位數（工時）",
        "確認第 90 百分位（工時）",
        "發文數",
        "逾檢核期限未確認發文數",
        "補發紙本",
    ];

    /// The figures as report cells (office hours to one decimal).
    pub fn cells(&self) -> Vec<String> {
        let hours = |m: Option<i64>| m.map(|m| format!("{:.1}", m as f64 / 60.0)).unwrap_or_default();
        vec![
            self.code.clone(),
            self.name.clone(),
            self.received.to_string(),
            self.confirmed_on_time.to_string(),
            self.confirmed_late.to_string(),
            self.returned.to_string(),
            self.overdue.to_string(),
            self.pending.to_string(),
            hours(self.median_minutes_to_confirm),
            hours(self.p90_minutes_to_confirm),
            self.sent.to_string(),
            self.sent_unconfirmed_past_deadline.to_string(),
            self.paper_resends.to_string(),
        ]
    }
}

/// `{key_r}` / `{key_s}`: what rows are grouped by (a column, or `'*'` for
/// the totals). Parameters: $1 from, $2 to, $3 now, $4 participant or NULL.
const TIMELINESS_SQL: &str = "
WITH r AS (
    SELECT {key_r} AS code,
        COUNT(*) AS received,
        SUM(CASE WHEN d.state = 'confirmed' AND d.confirmed_at <= d.receiver_deadline THEN 1 ELSE 0 END) AS on_time,
        SUM(CASE WHEN d.state = 'confirmed' AND d.confirmed_at > d.receiver_deadline THEN 1 ELSE 0 END) AS late,
        SUM(CASE WHEN d.state = 'returned' THEN 1 ELSE 0 END) AS returned,
        SUM(CASE WHEN d.state IN ('delivered', 'fetched') AND d.receiver_deadline <= $3 THEN 1 ELSE 0 END) AS overdue,
        SUM(CASE WHEN d.state IN ('delivered', 'fetched') AND d.receiver_deadline > $3 THEN 1 ELSE 0 END) AS pending
    FROM deliveries d
    WHERE d.delivered_at >= $1 AND d.delivered_at < $2 AND ($4 IS NULL OR d.recipient_code = $4)
    GROUP BY 1
), ranked AS (
    SELECT {key_r} AS code, d.confirm_minutes AS minutes,
        ROW_NUMBER() OVER (PARTITION BY {key_r} ORDER BY d.confirm_minutes) AS rn,
        COUNT(*) OVER (PARTITION BY {key_r}) AS n
    FROM deliveries d
    WHERE d.delivered_at >= $1 AND d.delivered_at < $2 AND ($4 IS NULL OR d.recipient_code = $4)
      AND d.state = 'confirmed' AND d.confirm_minutes IS NOT NULL
), pct AS (
    SELECT code,
        MAX(CASE WHEN rn = (n + 1) / 2 THEN minutes END) AS median,
        MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN minutes END) AS p90
    FROM ranked GROUP BY code
), s AS (
    SELECT {key_s} AS code,
        COUNT(DISTINCT doc.id) AS sent,
        COUNT(DISTINCT CASE WHEN d.sender_deadline <= $3
            AND (d.confirmed_at IS NULL OR d.confirmed_at > d.sender_deadline) THEN doc.id END) AS unconfirmed,
        SUM(CASE WHEN d.paper_resend_at IS NOT NULL THEN 1 ELSE 0 END) AS paper
    FROM documents doc JOIN deliveries d ON d.document_id = doc.id
    WHERE doc.accepted_at >= $1 AND doc.accepted_at < $2 AND ($4 IS NULL OR doc.sender_code = $4)
    GROUP BY 1
), codes AS (
    SELECT code FROM r UNION SELECT code FROM s
)
SELECT c.code AS code, COALESCE(p.name, '') AS name,
    COALESCE(r.received, 0) AS received, COALESCE(r.on_time, 0) AS confirmed_on_time,
    COALESCE(r.late, 0) AS confirmed_late, COALESCE(r.returned, 0) AS returned,
    COALESCE(r.overdue, 0) AS overdue, COALESCE(r.pending, 0) AS pending,
    pct.median AS median_minutes_to_confirm, pct.p90 AS p90_minutes_to_confirm,
    COALESCE(s.sent, 0) AS sent, COALESCE(s.unconfirmed, 0) AS sent_unconfirmed_past_deadline,
    COALESCE(s.paper, 0) AS paper_resends
FROM codes c
LEFT JOIN participants p ON p.code = c.code
LEFT JOIN r ON r.code = c.code
LEFT JOIN pct ON pct.code = c.code
LEFT JOIN s ON s.code = c.code
ORDER BY c.code";

impl Store {
    /// Per-participant figures for deliveries made (and documents sent) in
    /// `[from, to)`, judged at `now`; with `totals`, one row `*` for all.
    pub async fn timeliness(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        participant: Option<&str>,
        totals: bool,
    ) -> Result<Vec<Timeliness>> {
        let (key_r, key_s) =
            if totals { ("CAST('*' AS TEXT)", "CAST('*' AS TEXT)") } else { ("d.recipient_code", "doc.sender_code") };
        let sql = TIMELINESS_SQL.replace("{key_r}", key_r).replace("{key_s}", key_s);
        let rows: Vec<Timeliness> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(stored_time(from))
                .bind(stored_time(to))
                .bind(stored_time(now))
                .bind(participant)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }
}
