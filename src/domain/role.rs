//! The roles a credential can carry (DESIGN §1).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::Invalid;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 發文人員: submits documents, checks results, records paper resends.
    Sender,
    /// 收文人員: fetches, confirms or returns documents.
    Receiver,
    /// An agency's own administrator: private send groups, its clerks' certificates.
    AgencyAdmin,
    /// 秘書處: shared send groups, document-administration views.
    Secretariat,
    /// 資訊局: the hub operator.
    ItBureau,
    /// 研考會: timeliness audits.
    Rdec,
    /// 政風處: security audits.
    Ethics,
    /// 審核機關: reviews applications of the organisations it supervises.
    Supervisor,
}

impl Role {
    /// The role as people name it.
    pub fn zh(self) -> &'static str {
        match self {
            Role::Sender => "發文人員",
            Role::Receiver => "收文人員",
            Role::AgencyAdmin => "機關管理者",
            Role::Secretariat => "秘書處",
            Role::ItBureau => "資訊局",
            Role::Rdec => "研考會",
            Role::Ethics => "政風處",
            Role::Supervisor => "審核機關",
        }
    }

    pub const ALL: [Role; 8] = [
        Role::Sender,
        Role::Receiver,
        Role::AgencyAdmin,
        Role::Secretariat,
        Role::ItBureau,
        Role::Rdec,
        Role::Ethics,
        Role::Supervisor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
            Role::AgencyAdmin => "agency_admin",
            Role::Secretariat => "secretariat",
            Role::ItBureau => "it_bureau",
            Role::Rdec => "rdec",
            Role::Ethics => "ethics",
            Role::Supervisor => "supervisor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid::new("role", format!("unknown role '{s}'")))
    }
}

/// The set of roles of one credential; stored as space-separated names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Roles(roles.into_iter().collect())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The storage form: names separated by single spaces, in a fixed order.
    pub fn to_storage(&self) -> String {
        self.0.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn from_storage(s: &str) -> Result<Self, Invalid> {
        s.split_whitespace().map(Role::from_str).collect::<Result<_, _>>().map(Roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_round_trip_is_ordered_and_deduplicated() {
        let r = Roles::new([Role::Receiver, Role::Sender, Role::Receiver]);
        assert_eq!(r.to_storage(), "sender receiver");
        assert_eq!(Roles::from_storage("sender receiver").unwrap(), r);
        assert!(Roles::from_storage("sender admin").is_err());
    }
}
