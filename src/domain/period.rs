//! 期間: a period of whole Taipei days, as clerks and auditors ask for
//! lists and reports (§8 查詢).

use chrono::{DateTime, NaiveDate, Utc};

use super::Invalid;
use super::calendar::{at_local, taipei};

/// A period of whole Taipei days, `from`..=`to`, as clerks ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Midnight starting `from`.
    pub start: DateTime<Utc>,
    /// Midnight ending `to`: the period is `[start, end)`.
    pub end: DateTime<Utc>,
}

impl Period {
    /// `from 至 to`, as printed.
    pub fn label(&self) -> String {
        format!("{} 至 {}", self.from, self.to)
    }
}

/// The period of local dates `from`..=`to` (both inclusive). Defaults: the
/// last 30 days up to today.
pub fn period(from: Option<NaiveDate>, to: Option<NaiveDate>, now: DateTime<Utc>) -> Result<Period, Invalid> {
    let today = now.with_timezone(&taipei()).date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    if from > to {
        return Err(Invalid::new("period", format!("the period starts ({from}) after it ends ({to})")));
    }
    if (to - from).num_days() > 3660 {
        return Err(Invalid::new("period", "the period is longer than ten years"));
    }
    let midnight = chrono::NaiveTime::MIN;
    Ok(Period { from, to, start: at_local(from, midnight), end: at_local(to + chrono::Duration::days(1), midnight) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_local_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").unwrap().with_timezone(&Utc);
        let p = period(NaiveDate::from_ymd_opt(2026, 11, 1), NaiveDate::from_ymd_opt(2026, 11, 30), now).unwrap();
        assert_eq!(p.start.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(p.label(), "2026-11-01 至 2026-11-30");
        assert!(period(NaiveDate::from_ymd_opt(2026, 12, 1), NaiveDate::from_ymd_opt(2026, 11, 1), now).is_err());
    }
}
