//! Send groups (行文群組, §7): who may see, use and edit them, and what a
//! valid group is. Editing a group never changes documents already sent:
//! deliveries record the expansion at acceptance.

use std::collections::HashMap;

use crate::domain::document::RecipientCode;
use crate::domain::group::{self, Actor, Group, GroupError, GroupMember, GroupScope};
use crate::domain::log::LogAction;
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::ServiceError;
use crate::store::{GroupActor, GroupEdit, GroupVersion};

/// At most this many recipients from one group.
pub const MAX_EXPANSION: usize = 20_000;

fn actor(caller: &Caller) -> Actor<'_> {
    Actor { participant: &caller.participant.code, kind: caller.participant.kind, roles: &caller.credential.roles }
}

fn history_actor(caller: &Caller) -> GroupActor<'_> {
    GroupActor { participant: caller.participant.code.as_str(), holder: &caller.credential.holder }
}

/// Whether the caller may edit `g` (its owner's agency_admin, or the
/// secretariat for a shared group).
pub fn can_edit(caller: &Caller, g: &Group) -> bool {
    g.editable_by(&actor(caller))
}

/// A group the caller may see (use or edit); anything else is "not found",
/// the same for a group that does not exist.
pub async fn visible(app: &App, caller: &Caller, id: &str) -> Result<Group, ServiceError> {
    let a = actor(caller);
    match app.store.group(id).await? {
        Some(g) if g.usable_by(&a) || g.editable_by(&a) => Ok(g),
        _ => Err(ServiceError::NotFound(format!("no send group {id}"))),
    }
}

/// The groups the caller may use or edit.
pub async fn list(app: &App, caller: &Caller) -> Result<Vec<Group>, ServiceError> {
    let a = actor(caller);
    let shared =
        caller.participant.kind == crate::domain::ParticipantKind::Agency || group::can_own(GroupScope::Shared, &a);
    Ok(app.store.groups_for(caller.participant.code.as_str(), shared).await?)
}

/// Checks a group's proposed content: members exist, nested groups are
/// usable by the owner, no cycle, within the size limit.
async fn check(
    app: &App,
    caller: &Caller,
    scope: GroupScope,
    id: Option<&str>,
    members: &[GroupMember],
) -> Result<(), ServiceError> {
    if members.len() > MAX_EXPANSION {
        return Err(ServiceError::InvalidField(format!("a group has at most {MAX_EXPANSION} members")));
    }
    let codes: Vec<String> = members
        .iter()
        .filter_map(|m| match m {
            GroupMember::Participant(c) => Some(c.participant.to_string()),
            GroupMember::Group(_) => None,
        })
        .collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let known = app.store.reachability(&refs).await?;
    let unknown: Vec<&str> = refs.iter().copied().filter(|c| !known.contains_key(*c)).collect();
    if !unknown.is_empty() {
        return Err(ServiceError::InvalidField(format!("not participants of the exchange: {}", unknown.join(", "))));
    }
    // Nested groups: each must exist and be one this group's owner could send to.
    let owner_actor = actor(caller);
    for m in members {
        if let GroupMember::Group(g) = m {
            let Some(inner) = app.store.group(g).await? else {
                return Err(ServiceError::InvalidField(format!("no send group {g}")));
            };
            let allowed = match scope {
                GroupScope::Shared => inner.scope == GroupScope::Shared,
                GroupScope::Private => inner.usable_by(&owner_actor),
            };
            if !allowed {
                return Err(ServiceError::InvalidField(format!("group {g} cannot be part of a {scope} group")));
            }
        }
    }
    // Cycle check on the proposed content, the rest of the graph as stored.
    let this = id.unwrap_or("(new group)").to_owned();
    let proposed = Group {
        id: this.clone(),
        scope,
        owner: caller.participant.code.clone(),
        name: String::new(),
        version: 0,
        members: members.to_vec(),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    expand_graph(app, proposed).await.map(|_| ())
}

/// Expands `root` to its recipients, loading the groups below it first
/// (each once); `root` stands for itself wherever it appears below.
async fn expand_graph(app: &App, root: Group) -> Result<Vec<RecipientCode>, ServiceError> {
    let this = root.id.clone();
    let mut all: HashMap<String, Group> = HashMap::new();
    let mut frontier = vec![root.clone()];
    while let Some(g) = frontier.pop() {
        for m in &g.members {
            if let GroupMember::Group(inner) = m
                && *inner != this
                && !all.contains_key(inner)
                && let Some(found) = app.store.group(inner).await?
            {
                all.insert(inner.clone(), found.clone());
                frontier.push(found);
            }
        }
    }
    all.insert(this.clone(), root);
    group::expand(&this, &|gid| all.get(gid).cloned(), MAX_EXPANSION).map_err(|e| match e {
        GroupError::Cycle(path) => ServiceError::GroupCycle(format!("send groups would form a cycle: {path}")),
        GroupError::TooLarge(n) => {
            ServiceError::InvalidField(format!("the group would expand to more than {n} recipients"))
        }
        GroupError::NotUsable(g) => ServiceError::InvalidField(format!("no send group {g}")),
    })
}

/// The recipients a group the caller may use expands to now.
pub async fn recipients(app: &App, caller: &Caller, id: &str) -> Result<Vec<RecipientCode>, ServiceError> {
    let g = usable(app, caller, id).await?;
    expand_graph(app, g).await
}

pub async fn create(
    app: &App,
    caller: &Caller,
    scope: GroupScope,
    name: &str,
    members: &[GroupMember],
) -> Result<Group, ServiceError> {
    if !group::can_own(scope, &actor(caller)) {
        let role = if scope == GroupScope::Shared { "secretariat" } else { "agency_admin" };
        return Err(ServiceError::Forbidden(format!(
            "a {scope} group is created by a credential with the '{role}' role"
        )));
    }
    let name = group::check_name(name).map_err(|e| ServiceError::InvalidField(e.to_string()))?;
    check(app, caller, scope, None, members).await?;
    let entry =
        caller.log_entry(LogAction::GroupCreated, format!("{scope} group \"{name}\" with {} members:", members.len()));
    let edit = GroupEdit { name: &name, members, actor: history_actor(caller), at: app.now(), log: &entry };
    Ok(app.store.create_group(scope, &caller.participant.code, &edit).await?)
}

/// Replaces a group's name and members; `version` is the one the caller
/// last saw (a concurrent edit is refused rather than overwritten).
pub async fn update(
    app: &App,
    caller: &Caller,
    id: &str,
    version: Option<i64>,
    name: &str,
    members: &[GroupMember],
) -> Result<Group, ServiceError> {
    let g = editable(app, caller, id).await?;
    let name = group::check_name(name).map_err(|e| ServiceError::InvalidField(e.to_string()))?;
    check(app, caller, g.scope, Some(id), members).await?;
    let entry = caller.log_entry(
        LogAction::GroupUpdated,
        format!("group {id} \"{name}\" v{} with {} members", g.version + 1, members.len()),
    );
    let version = version.unwrap_or(g.version);
    let edit = GroupEdit { name: &name, members, actor: history_actor(caller), at: app.now(), log: &entry };
    app.store.update_group(id, version, &edit).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(m) => ServiceError::WrongState(m),
        other => other.into(),
    })
}

pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<(), ServiceError> {
    let g = editable(app, caller, id).await?;
    let users = app.store.groups_containing(id).await?;
    if !users.is_empty() {
        return Err(ServiceError::WrongState(format!(
            "group {id} is part of {}; remove it there first",
            users.join(", ")
        )));
    }
    let entry = caller.log_entry(LogAction::GroupDeleted, format!("group {id} \"{}\" deleted", g.name));
    app.store.delete_group(&g, &history_actor(caller), app.now(), &entry).await.map_err(ServiceError::from)
}

pub async fn history(app: &App, caller: &Caller, id: &str) -> Result<Vec<GroupVersion>, ServiceError> {
    visible(app, caller, id).await?;
    Ok(app.store.group_history(id).await?)
}

async fn editable(app: &App, caller: &Caller, id: &str) -> Result<Group, ServiceError> {
    let g = visible(app, caller, id).await?;
    if !g.editable_by(&actor(caller)) {
        let who = if g.scope == GroupScope::Shared { "the secretariat" } else { "its owner's agency_admin" };
        return Err(ServiceError::Forbidden(format!("group {id} is edited by {who}")));
    }
    Ok(g)
}

/// For sending: the group if `caller` may send to it. A group that does not
/// exist and one that is not the caller's give the same refusal.
pub async fn usable(app: &App, caller: &Caller, id: &str) -> Result<Group, ServiceError> {
    match app.store.group(id).await? {
        Some(g) if g.usable_by(&actor(caller)) => Ok(g),
        _ => Err(ServiceError::GroupNotUsable(format!("send group {id} is not usable by {}", caller.participant.code))),
    }
}
