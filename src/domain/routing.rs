//! Routing (DESIGN §4): from the envelope's recipient entries to one
//! delivery per participant. Groups are expanded at acceptance and the
//! expansion is recorded; a participant named twice gets one delivery, as
//! 正本 if either entry was.

use std::collections::HashMap;

use super::ParticipantCode;
use super::document::{RecipientCode, RecipientKind};

/// One recipient after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub participant: ParticipantCode,
    pub unit: Option<String>,
    pub kind: RecipientKind,
    /// The send group that brought this recipient (the first one, if several).
    pub via_group: Option<String>,
}

/// Adds `code` (brought by `via_group`) to `out`, merging duplicates.
pub fn add(
    out: &mut Vec<Resolved>,
    index: &mut HashMap<ParticipantCode, usize>,
    code: &RecipientCode,
    kind: RecipientKind,
    via_group: Option<&str>,
) {
    match index.get(&code.participant) {
        Some(&i) => {
            let r = &mut out[i];
            if kind == RecipientKind::Original && r.kind == RecipientKind::Copy {
                r.kind = RecipientKind::Original;
                r.via_group = via_group.map(str::to_owned);
                r.unit = code.unit.clone().or(r.unit.take());
            }
        }
        None => {
            index.insert(code.participant.clone(), out.len());
            out.push(Resolved {
                participant: code.participant.clone(),
                unit: code.unit.clone(),
                kind,
                via_group: via_group.map(str::to_owned),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_and_original_wins() {
        let mut out = Vec::new();
        let mut idx = HashMap::new();
        let a = RecipientCode::parse("379100000G").unwrap();
        let a_unit = RecipientCode::parse("379100000G0100000").unwrap();
        let b = RecipientCode::parse("379200000A").unwrap();
        add(&mut out, &mut idx, &a, RecipientKind::Copy, Some("G1"));
        add(&mut out, &mut idx, &b, RecipientKind::Copy, None);
        add(&mut out, &mut idx, &a_unit, RecipientKind::Original, None);
        add(&mut out, &mut idx, &b, RecipientKind::Original, Some("G2"));
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].kind, out[0].via_group.as_deref(), out[0].unit.as_deref()),
            (RecipientKind::Original, None, Some("0100000"))
        );
        assert_eq!((out[1].kind, out[1].via_group.as_deref()), (RecipientKind::Original, Some("G2")));
    }
}
