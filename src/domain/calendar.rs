//! 辦公日曆: the working-day calendar of Taiwan's government offices, and
//! the deadlines it sets (DESIGN §6, rules §10, §12-2, §13-2).
//!
//! Asia/Taipei is UTC+8 all year (no daylight saving since 1979), so local
//! times are a fixed offset. Saturdays and Sundays are off unless the DGPA
//! calendar makes one a make-up working day (補行上班); national holidays
//! come from the same calendar (the 政府行政機關辦公日曆表 open-data CSV).
//! A year the hub has no calendar for falls back to the weekend rule.
//! Unplanned closures (typhoon 停班) close a whole day or its afternoon.
//!
//! Office hours are 08:30–12:30 and 13:30–17:30; "working hours" between
//! two instants count only those.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};

use super::Invalid;
use super::participant::named_enum;

/// Asia/Taipei.
pub fn taipei() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// A time as people read it: Taipei local, to the minute (`2026-12-03 14:05`).
pub fn local_minute(t: DateTime<Utc>) -> String {
    // Written digit by digit: an export writes one per row, and chrono's
    // strftime parses its pattern each time.
    let l = t.with_timezone(&taipei());
    let (y, mo, d, h, mi) = (l.year(), l.month(), l.day(), l.hour(), l.minute());
    if !(0..=9999).contains(&y) {
        return l.format("%Y-%m-%d %H:%M").to_string();
    }
    let mut s = String::with_capacity(16);
    let mut two = |n: u32, then: Option<char>| {
        s.push(char::from(b'0' + (n / 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
        s.extend(then);
    };
    let y = y as u32;
    two(y / 100, None);
    two(y % 100, Some('-'));
    two(mo, Some('-'));
    two(d, Some(' '));
    two(h, Some(':'));
    two(mi, None);
    s
}

/// A time as a 公文 writes it: `中華民國115年12月3日 14:05`, Taipei.
pub fn roc_minute(t: DateTime<Utc>) -> String {
    let l = t.with_timezone(&taipei());
    format!("中華民國{}年{}月{}日 {}", l.year() - 1911, l.month(), l.day(), l.format("%H:%M"))
}

const fn hm(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => panic!("valid time"),
    }
}

/// Morning and afternoon office hours.
pub const MORNING: (NaiveTime, NaiveTime) = (hm(8, 30), hm(12, 30));
pub const AFTERNOON: (NaiveTime, NaiveTime) = (hm(13, 30), hm(17, 30));
/// The sender's check deadline: 14:00 (§12-2).
pub const SENDER_CHECK_AT: NaiveTime = hm(14, 0);
/// The receiver's check deadline: 10:00 (§13-2).
pub const RECEIVER_CHECK_AT: NaiveTime = hm(10, 0);

/// A calendar covers at most this many days ahead when looking for a working
/// day: a guard against a calendar with no working day at all.
const SEARCH_DAYS: i64 = 3660;

named_enum!(
    /// How much of a day an unplanned closure (停班) takes.
    ClosurePart, "closure part" {
        /// 全日停班
        Day = "day",
        /// 下午停班: the morning's office hours remain.
        Afternoon = "afternoon",
    }
);

/// One line of a DGPA calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    /// `是否放假` 0: a working day; 2: a day off.
    pub working: bool,
    /// 備註, e.g. 春節 or 補行上班.
    pub note: String,
}

/// A whole year of the DGPA calendar, every day exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    pub year: i32,
    pub days: Vec<CalendarDay>,
}

/// The CSV header of the DGPA open-data file.
pub const DGPA_HEADER: &str = "西元日期,星期,是否放假,備註";
const WEEKDAYS_ZH: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];

fn weekday_zh(d: NaiveDate) -> &'static str {
    WEEKDAYS_ZH[d.weekday().num_days_from_monday() as usize]
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl CalendarYear {
    /// Parses the DGPA office-calendar CSV for `year` (UTF-8, with or without
    /// a BOM): `西元日期,星期,是否放假,備註`, dates `YYYYMMDD`, flag `0`
    /// (working) or `2` (off). Every day of the year must appear exactly once,
    /// in any order, with the right weekday.
    pub fn parse_dgpa(year: i32, text: &str) -> Result<Self, Invalid> {
        let bad = |line: usize, reason: String| Invalid::new("calendar", format!("line {line}: {reason}"));
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        match lines.next() {
            Some((_, h)) if split_csv(h).join(",").trim() == DGPA_HEADER => {}
            Some((_, h)) => return Err(bad(1, format!("the header must be `{DGPA_HEADER}`, not `{h}`"))),
            None => return Err(Invalid::new("calendar", "the file is empty")),
        }
        let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| Invalid::new("calendar", "no such year"))?;
        let len = if NaiveDate::from_ymd_opt(year, 2, 29).is_some() { 366 } else { 365 };
        let mut seen: Vec<Option<CalendarDay>> = vec![None; len];
        for (n, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<String> = split_csv(line);
            if cols.len() < 3 || cols.len() > 4 {
                return Err(bad(n, format!("expected 4 columns, found {}", cols.len())));
            }
            let raw = cols[0].trim();
            let date = Some(raw)
                .filter(|r| r.len() == 8 && r.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|r| NaiveDate::parse_from_str(r, "%Y%m%d").ok())
                .ok_or_else(|| bad(n, format!("`{raw}` is not a date (YYYYMMDD)")))?;
            if date.year() != year {
                return Err(bad(n, format!("{date} is not in {year}")));
            }
            if cols[1].trim() != weekday_zh(date) {
                return Err(bad(n, format!("{date} is a 星期{}, not 星期{}", weekday_zh(date), cols[1].trim())));
            }
            let working = match cols[2].trim() {
                "0" => true,
                "2" => false,
                other => return Err(bad(n, format!("是否放假 must be 0 or 2, not `{other}`"))),
            };
            let note = cols.get(3).map(|s| s.trim().to_owned()).unwrap_or_default();
            if note.chars().count() > 200 {
                return Err(bad(n, "the note is longer than 200 characters".into()));
            }
            let slot = &mut seen[(date - first).num_days() as usize];
            if slot.is_some() {
                return Err(bad(n, format!("{date} appears twice")));
            }
            *slot = Some(CalendarDay { date, working, note });
        }
        let missing: Vec<String> = seen
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_none())
            .map(|(i, _)| (first + Duration::days(i as i64)).to_string())
            .collect();
        if !missing.is_empty() {
            let shown = missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            return Err(Invalid::new(
                "calendar",
                format!(
                    "{} days of {year} are missing: {shown}{}",
                    missing.len(),
                    if missing.len() > 5 { ", …" } else { "" }
                ),
            ));
        }
        let days: Vec<CalendarDay> = seen.into_iter().flatten().collect();
        if !days.iter().any(|d| d.working) {
            return Err(Invalid::new("calendar", format!("{year} has no working day")));
        }
        Ok(CalendarYear { year, days })
    }

    /// The year in the DGPA CSV layout (UTF-8, no BOM).
    pub fn to_dgpa_csv(&self) -> String {
        let mut out = String::with_capacity(self.days.len() * 24);
        out.push_str(DGPA_HEADER);
        out.push('\n');
        for d in &self.days {
            let note = if d.note.contains([',', '"']) {
                format!("\"{}\"", d.note.replace('"', "\"\""))
            } else {
                d.note.clone()
            };
            out.push_str(&format!(
                "{},{},{},{}\n",
                d.date.format("%Y%m%d"),
                weekday_zh(d.date),
                if d.working { 0 } else { 2 },
                note
            ));
        }
        out
    }

    /// Days that differ from the weekend rule: holidays on weekdays and
    /// make-up working days on weekends.
    pub fn exceptions(&self) -> impl Iterator<Item = &CalendarDay> {
        self.days.iter().filter(|d| d.working == is_weekend(d.date))
    }
}

/// Splits one CSV line, honouring double quotes (RFC 4180).
pub fn split_csv(line: &str) -> Vec<String> {
    let mut cols = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cols.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cols.push(cur);
    cols
}

/// The calendar the hub computes deadlines with.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// Whether each day of the loaded years is a working day.
    days: HashMap<NaiveDate, bool>,
    years: BTreeSet<i32>,
    closures: HashMap<NaiveDate, ClosurePart>,
}

impl Calendar {
    /// A calendar with no year loaded: weekends off, every weekday working.
    pub fn weekends_only() -> Self {
        Calendar::default()
    }

    pub fn add_year(&mut self, y: &CalendarYear) {
        self.days.extend(y.days.iter().map(|d| (d.date, d.working)));
        self.years.insert(y.year);
    }

    pub fn add_closure(&mut self, day: NaiveDate, part: ClosurePart) {
        self.closures.insert(day, part);
    }

    /// The years loaded from a DGPA calendar.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Whether `d` is a working day as planned (before closures).
    pub fn is_scheduled_working_day(&self, d: NaiveDate) -> bool {
        self.days.get(&d).copied().unwrap_or(!is_weekend(d))
    }

    /// Whether the offices open at all on `d`.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.is_scheduled_working_day(d) && self.closures.get(&d) != Some(&ClosurePart::Day)
    }

    /// The office hours of `d`: none on a day off, the morning only when the
    /// afternoon is closed.
    pub fn office_hours(&self, d: NaiveDate) -> &'static [(NaiveTime, NaiveTime)] {
        static FULL: [(NaiveTime, NaiveTime); 2] = [MORNING, AFTERNOON];
        if !self.is_working_day(d) {
            &[]
        } else if self.closures.get(&d) == Some(&ClosurePart::Afternoon) {
            &FULL[..1]
        } else {
            &FULL
        }
    }

    /// Whether the offices are open (scheduled, not closed) at local time `t` of `d`.
    fn open_at(&self, d: NaiveDate, t: NaiveTime) -> bool {
        self.is_working_day(d) && !(self.closures.get(&d) == Some(&ClosurePart::Afternoon) && t >= MORNING.1)
    }

    /// The first working day after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> NaiveDate {
        self.next_day_open_at(d, MORNING.0)
    }

    /// The first day after `d` whose offices are open at local time `t`.
    fn next_day_open_at(&self, d: NaiveDate, t: NaiveTime) -> NaiveDate {
        (1..=SEARCH_DAYS)
            .map(|i| d + Duration::days(i))
            .find(|&day| self.open_at(day, t))
            .unwrap_or(d + Duration::days(1))
    }

    /// Local time `t` on the first day after the local date of `after` on
    /// which the offices are open at `t`.
    pub fn deadline_after(&self, after: DateTime<Utc>, t: NaiveTime) -> DateTime<Utc> {
        let local = after.with_timezone(&taipei()).date_naive();
        at_local(self.next_day_open_at(local, t), t)
    }

    /// The sender's check deadline: 14:00 of the next working day after sending.
    pub fn sender_deadline(&self, sent_at: DateTime<Utc>) -> DateTime<Utc> {
        self.deadline_after(sent_at, SENDER_CHECK_AT)
    }

    /// The receiver's check deadline: 10:00 of the next working day after delivery.
    pub fn receiver_deadline(&self, delivered_at: DateTime<Utc>) -> DateTime<Utc> {
        self.deadline_after(delivered_at, RECEIVER_CHECK_AT)
    }

    /// Office time between two instants (zero if `to` is not after `from`).
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let tz = taipei();
        let (first, last) = (from.with_timezone(&tz).date_naive(), to.with_timezone(&tz).date_naive());
        let mut total = Duration::zero();
        let mut day = first;
        while day <= last {
            for &(open, close) in self.office_hours(day) {
                let (a, b) = (at_local(day, open).max(from), at_local(day, close).min(to));
                if b > a {
                    total += b - a;
                }
            }
            day += Duration::days(1);
        }
        total
    }

    /// Working hours between two instants, as a fraction.
    pub fn working_hours_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        self.working_time_between(from, to).num_seconds() as f64 / 3600.0
    }

    /// The instant `span` of office time after `from`: the immediate-
    /// confirmation deadline (§10) counts working hours only.
    pub fn add_working_time(&self, from: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
        let tz = taipei();
        let mut left = span;
        let mut day = from.with_timezone(&tz).date_naive();
        for _ in 0..SEARCH_DAYS {
            for &(open, close) in self.office_hours(day) {
                let (a, b) = (at_local(day, open).max(from), at_local(day, close));
                if b <= a {
                    continue;
                }
                if b - a >= left {
                    return a + left;
                }
                left -= b - a;
            }
            day += Duration::days(1);
        }
        from + span
    }
}

/// Local Taipei time `t` on `d`, as an instant.
pub fn at_local(d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    taipei().from_local_datetime(&d.and_time(t)).single().expect("fixed offset is unambiguous").with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn local(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+08:00")).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_minute_is_taipei_time_as_strftime_writes_it() {
        assert_eq!(local_minute(local("2026-12-03T14:05:59")), "2026-12-03 14:05");
        // Across midnight in Taipei, a year's end, a leap day, every minute of a day.
        assert_eq!(local_minute("2026-12-31T16:00:00Z".parse().unwrap()), "2027-01-01 00:00");
        assert_eq!(local_minute(local("2028-02-29T09:07:00")), "2028-02-29 09:07");
        let start: DateTime<Utc> = "2026-05-31T15:30:00Z".parse().unwrap();
        for m in 0..1500 {
            let t = start + Duration::minutes(m) + Duration::seconds(m % 60);
            assert_eq!(local_minute(t), t.with_timezone(&taipei()).format("%Y-%m-%d %H:%M").to_string());
        }
    }

    /// 2025 as the DGPA published it in part: 2/8 (Sat) make-up day, 1/27 (Mon) off.
    fn cal_2025() -> Calendar {
        let mut c = Calendar::weekends_only();
        let mut y = CalendarYear { year: 2025, days: Vec::new() };
        let mut day = d("2025-01-01");
        while day.year() == 2025 {
            let working = match day.to_string().as_str() {
                "2025-02-08" => true,
                "2025-01-01" | "2025-01-27" | "2025-01-28" | "2025-01-29" | "2025-01-30" | "2025-01-31" => false,
                "2025-04-03" | "2025-04-04" => false,
                _ => !is_weekend(day),
            };
            y.days.push(CalendarDay { date: day, working, note: String::new() });
            day += Duration::days(1);
        }
        c.add_year(&y);
        c
    }

    #[test]
    fn next_working_day_skips_weekends_and_holidays_and_counts_make_up_days() {
        let c = cal_2025();
        // Friday 4/2 → Monday 4/7 (Thu 4/3, Fri 4/4 off, weekend).
        assert_eq!(c.next_working_day(d("2025-04-02")), d("2025-04-07"));
        // Friday 2/7 → Saturday 2/8, a make-up working day.
        assert_eq!(c.next_working_day(d("2025-02-07")), d("2025-02-08"));
        assert_eq!(c.next_working_day(d("2025-02-08")), d("2025-02-10"));
        // Sunday 1/26 → the whole New Year week is off → Monday 2/3.
        assert_eq!(c.next_working_day(d("2025-01-24")), d("2025-02-03"));
    }

    #[test]
    fn sender_and_receiver_deadlines() {
        let c = cal_2025();
        // Sent Wednesday 4/2 at 16:00 before the Thu–Fri holidays: Monday 14:00.
        assert_eq!(c.sender_deadline(local("2025-04-02T16:00:00")), local("2025-04-07T14:00:00"));
        assert_eq!(c.receiver_deadline(local("2025-04-02T16:00:00")), local("2025-04-07T10:00:00"));
        // Sent at 23:30 local, which is still that day in Taipei (15:30 UTC).
        assert_eq!(c.sender_deadline(local("2025-06-10T23:30:00")), local("2025-06-11T14:00:00"));
        // Sent Saturday (no calendar year: weekend rule) → Monday.
        let w = Calendar::weekends_only();
        assert_eq!(w.receiver_deadline(local("2030-06-08T09:00:00")), local("2030-06-10T10:00:00"));
    }

    #[test]
    fn closures_move_deadlines() {
        let mut c = cal_2025();
        c.add_closure(d("2025-07-08"), ClosurePart::Afternoon);
        // Afternoon closed: the 10:00 deadline stands, the 14:00 one moves a day.
        assert_eq!(c.receiver_deadline(local("2025-07-07T11:00:00")), local("2025-07-08T10:00:00"));
        assert_eq!(c.sender_deadline(local("2025-07-07T11:00:00")), local("2025-07-09T14:00:00"));
        c.add_closure(d("2025-07-08"), ClosurePart::Day);
        assert_eq!(c.receiver_deadline(local("2025-07-07T11:00:00")), local("2025-07-09T10:00:00"));
        assert_eq!(c.next_working_day(d("2025-07-07")), d("2025-07-09"));
    }

    #[test]
    fn working_hours_count_office_hours_only() {
        let c = cal_2025();
        // Within one morning.
        assert_eq!(c.working_hours_between(local("2025-06-10T09:00:00"), local("2025-06-10T10:30:00")), 1.5);
        // Across lunch: 12:00–14:00 is one hour of office time.
        assert_eq!(c.working_hours_between(local("2025-06-10T12:00:00"), local("2025-06-10T14:00:00")), 1.0);
        // Friday 16:30 → Monday 09:30 over a weekend: 1 + 1 hours.
        assert_eq!(c.working_hours_between(local("2025-06-13T16:30:00"), local("2025-06-16T09:30:00")), 2.0);
        // Over the Thu–Fri holiday.
        assert_eq!(c.working_hours_between(local("2025-04-02T17:00:00"), local("2025-04-07T08:45:00")), 0.75);
        // A whole working day is eight hours; reversed intervals are zero.
        assert_eq!(c.working_hours_between(local("2025-06-10T00:00:00"), local("2025-06-11T00:00:00")), 8.0);
        assert_eq!(c.working_hours_between(local("2025-06-11T00:00:00"), local("2025-06-10T00:00:00")), 0.0);
    }

    #[test]
    fn immediate_confirmation_adds_office_time() {
        let c = cal_2025();
        let hour = Duration::minutes(60);
        assert_eq!(c.add_working_time(local("2025-06-10T09:00:00"), hour), local("2025-06-10T10:00:00"));
        // Over lunch.
        assert_eq!(c.add_working_time(local("2025-06-10T12:00:00"), hour), local("2025-06-10T14:00:00"));
        // Delivered in the evening: counts from the next morning.
        assert_eq!(c.add_working_time(local("2025-06-10T20:00:00"), hour), local("2025-06-11T09:30:00"));
        // Friday 17:00 before the weekend.
        assert_eq!(c.add_working_time(local("2025-06-13T17:00:00"), hour), local("2025-06-16T09:00:00"));
        // Saturday 2/8 is a make-up working day.
        assert_eq!(c.add_working_time(local("2025-02-07T17:00:00"), hour), local("2025-02-08T09:00:00"));
    }

    fn csv_for(year: i32, tweak: impl Fn(&mut Vec<String>)) -> String {
        let mut lines = vec![DGPA_HEADER.to_owned()];
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        while day.year() == year {
            lines.push(format!(
                "{},{},{},",
                day.format("%Y%m%d"),
                weekday_zh(day),
                if is_weekend(day) { 2 } else { 0 }
            ));
            day += Duration::days(1);
        }
        tweak(&mut lines);
        lines.join("\r\n")
    }

    #[test]
    fn dgpa_csv_round_trips_and_is_validated() {
        let text = format!("\u{feff}{}", csv_for(2028, |l| l[1] = "20280101,六,2,開國紀念日".into()));
        let y = CalendarYear::parse_dgpa(2028, &text).unwrap();
        assert_eq!(y.days.len(), 366);
        assert_eq!(y.days[0].note, "開國紀念日");
        assert_eq!(CalendarYear::parse_dgpa(2028, &y.to_dgpa_csv()).unwrap(), y);

        let err = |t: String| match CalendarYear::parse_dgpa(2028, &t) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.reason,
        };
        assert!(
            err(csv_for(2028, |l| {
                l.pop();
            }))
            .contains("1 days of 2028 are missing: 2028-12-31")
        );
        assert!(
            err(csv_for(2028, |l| {
                let x = l[5].clone();
                l.push(x);
            }))
            .contains("appears twice")
        );
        assert!(err(csv_for(2028, |l| l[3] = "20280103,五,0,".into())).contains("is a 星期一"));
        assert!(err(csv_for(2028, |l| l[3] = "20280103,一,1,".into())).contains("must be 0 or 2"));
        assert!(err(csv_for(2028, |l| l[3] = "20290103,三,0,".into())).contains("not in 2028"));
        assert!(err(csv_for(2028, |l| l[3] = "2028013,一,0,".into())).contains("is not a date"));
        assert!(err(csv_for(2028, |l| l[0] = "date,weekday,flag,note".into())).contains("header"));
        assert!(
            err(csv_for(2028, |l| {
                for line in l.iter_mut().skip(1) {
                    *line = line.replace(",0,", ",2,");
                }
            }))
            .contains("no working day")
        );
    }
}
