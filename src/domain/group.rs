//! 行文群組: send groups (§7, DESIGN §5). `shared` groups belong to the
//! secretariat and every agency may send to them; `private` groups belong to
//! one participant and only it may. Groups may contain groups; expansion
//! removes duplicates and refuses cycles.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::document::RecipientCode;
use super::participant::named_enum;
use super::{Invalid, ParticipantCode, ParticipantKind, Role, Roles};

named_enum!(
    /// Who a group belongs to.
    GroupScope, "group scope" {
        /// Owned by the secretariat, usable by every agency.
        Shared = "shared",
        /// Owned by one participant, usable only by it.
        Private = "private",
    }
);

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMember {
    /// An agency code, optionally with a unit code.
    Participant(#[serde(with = "recipient_code")] RecipientCode),
    /// Another group, by id.
    Group(String),
}

impl utoipa::PartialSchema for GroupMember {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let member = |name: &str, description: &str, pattern: Option<&str>| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    name,
                    ObjectBuilder::new().schema_type(Type::String).description(Some(description)).pattern(pattern),
                )
                .required(name)
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(member(
                "participant",
                "An agency code, optionally with a 7-character unit code.",
                Some("^[0-9A-Z]{10}([0-9A-Za-z]{7})?$"),
            ))
            .item(member("group", "Another send group, by id.", None))
            .description(Some("One member of a group: a participant or another group."))
            .into()
    }
}

impl utoipa::ToSchema for GroupMember {}

mod recipient_code {
    use super::RecipientCode;
    pub fn serialize<S: serde::Serializer>(c: &RecipientCode, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(c)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RecipientCode, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        RecipientCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    pub scope: GroupScope,
    pub owner: ParticipantCode,
    pub name: String,
    pub version: i64,
    pub members: Vec<GroupMember>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who is asking: enough to decide rights over groups.
pub struct Actor<'a> {
    pub participant: &'a ParticipantCode,
    pub kind: ParticipantKind,
    pub roles: &'a Roles,
}

impl Group {
    /// May `actor` send to this group (or list and read it)?
    pub fn usable_by(&self, actor: &Actor<'_>) -> bool {
        match self.scope {
            GroupScope::Shared => actor.kind == ParticipantKind::Agency,
            GroupScope::Private => &self.owner == actor.participant,
        }
    }

    /// May `actor` change this group?
    pub fn editable_by(&self, actor: &Actor<'_>) -> bool {
        can_own(self.scope, actor) && (self.scope == GroupScope::Shared || &self.owner == actor.participant)
    }
}

/// May `actor` create (own) a group of `scope`?
pub fn can_own(scope: GroupScope, actor: &Actor<'_>) -> bool {
    match scope {
        GroupScope::Shared => actor.roles.contains(Role::Secretariat),
        GroupScope::Private => actor.roles.contains(Role::AgencyAdmin),
    }
}

/// A group name: 1–100 printable characters.
pub fn check_name(name: &str) -> Result<String, Invalid> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(Invalid::new("group name", "must be 1 to 100 printable characters"));
    }
    Ok(n.to_owned())
}

/// Why a group cannot be used or saved as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// Missing, deleted, or not the caller's to use (deliberately the same).
    #[error("send group {0} is not usable by this participant")]
    NotUsable(String),
    #[error("send groups form a cycle: {0}")]
    Cycle(String),
    #[error("a group may contain at most {0} members in all")]
    TooLarge(usize),
}

/// Expands a group to its participants, depth first in member order,
/// without duplicates. `lookup` gives each group (None: missing or not
/// usable); a group met again on the current path is a cycle.
pub fn expand(
    id: &str,
    lookup: &impl Fn(&str) -> Option<Group>,
    limit: usize,
) -> Result<Vec<RecipientCode>, GroupError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cache: HashMap<String, Group> = HashMap::new();
    let mut path = Vec::new();
    walk(id, lookup, &mut cache, &mut path, &mut seen, &mut out, limit)?;
    Ok(out)
}

fn walk(
    id: &str,
    lookup: &impl Fn(&str) -> Option<Group>,
    cache: &mut HashMap<String, Group>,
    path: &mut Vec<String>,
    seen: &mut HashSet<ParticipantCode>,
    out: &mut Vec<RecipientCode>,
    limit: usize,
) -> Result<(), GroupError> {
    if path.iter().any(|p| p == id) {
        path.push(id.to_owned());
        return Err(GroupError::Cycle(path.join(" → ")));
    }
    let group = match cache.get(id) {
        Some(g) => g.clone(),
        None => {
            let g = lookup(id).ok_or_else(|| GroupError::NotUsable(id.to_owned()))?;
            cache.insert(id.to_owned(), g.clone());
            g
        }
    };
    path.push(id.to_owned());
    for m in &group.members {
        match m {
            GroupMember::Participant(code) => {
                if seen.insert(code.participant.clone()) {
                    out.push(code.clone());
                    if out.len() > limit {
                        return Err(GroupError::TooLarge(limit));
                    }
                }
            }
            GroupMember::Group(inner) => walk(inner, lookup, cache, path, seen, out, limit)?,
        }
    }
    path.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, scope: GroupScope, owner: &str, members: &[&str]) -> Group {
        Group {
            id: id.into(),
            scope,
            owner: ParticipantCode::parse(owner).unwrap(),
            name: id.into(),
            version: 1,
            members: members
                .iter()
                .map(|m| match m.strip_prefix("g:") {
                    Some(g) => GroupMember::Group(g.into()),
                    None => GroupMember::Participant(RecipientCode::parse(m).unwrap()),
                })
                .collect(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn nested_groups_expand_without_duplicates() {
        let groups = [
            group("A", GroupScope::Shared, "379100000G", &["379200000A", "g:B", "379190000E"]),
            group("B", GroupScope::Shared, "379100000G", &["379190000E", "379030000W0100000"]),
        ];
        let lookup = |id: &str| groups.iter().find(|g| g.id == id).cloned();
        let got: Vec<String> = expand("A", &lookup, 100).unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(got, ["379200000A", "379190000E", "379030000W0100000"]);
        assert_eq!(expand("Z", &lookup, 100), Err(GroupError::NotUsable("Z".into())));
        assert_eq!(expand("A", &lookup, 2), Err(GroupError::TooLarge(2)));
    }

    #[test]
    fn cycles_are_refused() {
        let groups = [
            group("A", GroupScope::Shared, "379100000G", &["g:B"]),
            group("B", GroupScope::Shared, "379100000G", &["g:C"]),
            group("C", GroupScope::Shared, "379100000G", &["379200000A", "g:A"]),
        ];
        let lookup = |id: &str| groups.iter().find(|g| g.id == id).cloned();
        assert_eq!(expand("A", &lookup, 100), Err(GroupError::Cycle("A → B → C → A".into())));
    }

    #[test]
    fn rights() {
        let secretariat = ParticipantCode::parse("379100000G").unwrap();
        let agency = ParticipantCode::parse("379010000Q").unwrap();
        let admin = Roles::new([Role::AgencyAdmin, Role::Sender]);
        let clerk = Roles::new([Role::Sender]);
        let sec_roles = Roles::new([Role::Secretariat]);
        let shared = group("S", GroupScope::Shared, "379100000G", &[]);
        let private = group("P", GroupScope::Private, "379010000Q", &[]);
        let a = |p, kind, roles| Actor { participant: p, kind, roles };
        assert!(shared.usable_by(&a(&agency, ParticipantKind::Agency, &clerk)));
        assert!(!shared.usable_by(&a(&agency, ParticipantKind::ConnectedUser, &clerk)));
        assert!(shared.editable_by(&a(&secretariat, ParticipantKind::Agency, &sec_roles)));
        assert!(!shared.editable_by(&a(&agency, ParticipantKind::Agency, &admin)));
        assert!(private.usable_by(&a(&agency, ParticipantKind::Agency, &clerk)));
        assert!(!private.usable_by(&a(&secretariat, ParticipantKind::Agency, &sec_roles)));
        assert!(private.editable_by(&a(&agency, ParticipantKind::Agency, &admin)));
        assert!(!private.editable_by(&a(&agency, ParticipantKind::Agency, &clerk)));
    }
}
