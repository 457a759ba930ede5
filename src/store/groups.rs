//! Send groups and their version history.

use chrono::{DateTime, Utc};

use super::log::append_log;
use super::{BeginWrite, Result, Store, StoreError, stored_time, with_pool};
use crate::domain::ParticipantCode;
use crate::domain::document::RecipientCode;
use crate::domain::group::{Group, GroupMember, GroupScope};
use crate::domain::log::NewLogEntry;

/// One version of a group, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct GroupVersion {
    pub version: i64,
    pub at: DateTime<Utc>,
    /// The participant whose credential made the change, and its holder.
    pub actor: String,
    pub actor_name: String,
    /// created, updated or deleted.
    pub change: String,
    pub name: String,
    pub members: Vec<GroupMember>,
}

/// Who changes a group, for its history.
pub struct GroupActor<'a> {
    pub participant: &'a str,
    pub holder: &'a str,
}

/// A group's new content and who writes it, when, with what log entry.
pub struct GroupEdit<'a> {
    pub name: &'a str,
    pub members: &'a [GroupMember],
    pub actor: GroupActor<'a>,
    pub at: DateTime<Utc>,
    pub log: &'a NewLogEntry,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    at: DateTime<Utc>,
    actor_code: String,
    actor_name: String,
    change: String,
    name: String,
    members: String,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    scope: String,
    owner_code: String,
    name: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn member_of(kind: &str, value: &str) -> Result<GroupMember> {
    Ok(match kind {
        "group" => GroupMember::Group(value.to_owned()),
        _ => GroupMember::Participant(RecipientCode::parse(value)?),
    })
}

fn member_columns(m: &GroupMember) -> (&'static str, String) {
    match m {
        GroupMember::Participant(c) => ("participant", c.to_string()),
        GroupMember::Group(g) => ("group", g.clone()),
    }
}

/// Writes the members and a version row of group `$id` inside `$tx`.
macro_rules! write_version {
    ($tx:expr, $id:expr, $version:expr, $at:expr, $actor:expr, $change:expr, $name:expr, $members:expr) => {{
        sqlx::query("DELETE FROM group_members WHERE group_id = $1").bind($id).execute(&mut **$tx).await?;
        for (i, m) in $members.iter().enumerate() {
            let (kind, value) = member_columns(m);
            sqlx::query("INSERT INTO group_members (group_id, position, member_kind, member) VALUES ($1, $2, $3, $4)")
                .bind($id)
                .bind(i as i64)
                .bind(kind)
                .bind(value)
                .execute(&mut **$tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO group_versions (group_id, version, at, actor_code, actor_name, change, name, members) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($id)
        .bind($version)
        .bind($at)
        .bind($actor.participant)
        .bind($actor.holder)
        .bind($change)
        .bind($name)
        .bind(serde_json::to_string($members).expect("members serialise"))
        .execute(&mut **$tx)
        .await?;
    }};
}

impl Store {
    async fn group_members(&self, id: &str) -> Result<Vec<GroupMember>> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT member_kind, member FROM group_members WHERE group_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        rows.iter().map(|(k, v)| member_of(k, v)).collect()
    }

    async fn group_from(&self, r: GroupRow) -> Result<Group> {
        Ok(Group {
            members: self.group_members(&r.id).await?,
            scope: r.scope.parse()?,
            owner: ParticipantCode::parse(&r.owner_code)?,
            id: r.id,
            name: r.name,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    /// A group that has not been deleted.
    pub async fn group(&self, id: &str) -> Result<Option<Group>> {
        let row: Option<GroupRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, scope, owner_code, name, version, created_at, updated_at FROM groups \
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        match row {
            Some(r) => Ok(Some(self.group_from(r).await?)),
            None => Ok(None),
        }
    }

    /// The shared groups (when `shared`) and `owner`'s private groups, by name.
    pub async fn groups_for(&self, owner: &str, shared: bool) -> Result<Vec<Group>> {
        let rows: Vec<GroupRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, scope, owner_code, name, version, created_at, updated_at FROM groups \
                 WHERE deleted_at IS NULL AND ((scope = 'private' AND owner_code = $1) OR (scope = 'shared' AND $2)) \
                 ORDER BY scope, name, id",
            )
            .bind(owner)
            .bind(shared)
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.group_from(r).await?);
        }
        Ok(out)
    }

    /// Live groups that contain group `id` as a member.
    pub async fn groups_containing(&self, id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT m.group_id FROM group_members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.member_kind = 'group' AND m.member = $1 AND g.deleted_at IS NULL ORDER BY m.group_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn create_group(
        &self,
        scope: GroupScope,
        owner: &ParticipantCode,
        edit: &GroupEdit<'_>,
    ) -> Result<Group> {
        let (name, members, actor, at, log) = (edit.name, edit.members, &edit.actor, stored_time(edit.at), edit.log);
        let mut raw = [0u8; 5];
        openssl::rand::rand_bytes(&mut raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = format!("G{}", hex::encode(raw).to_uppercase());
        let mut log = log.clone();
        log.detail = format!("{} {id}", log.detail);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            sqlx::query(
                "INSERT INTO groups (id, scope, owner_code, name, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $5)",
            )
            .bind(&id)
            .bind(scope.as_str())
            .bind(owner.as_str())
            .bind(name)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            write_version!(tx, &id, 1i64, at, actor, "created", name, members);
            append_log!(tx, at, &log);
            tx.commit().await?;
        });
        self.group(&id).await?.ok_or(StoreError::NotFound)
    }

    /// Replaces name and members, as version `version + 1` (refused with a
    /// conflict if someone changed the group since `version`).
    pub async fn update_group(&self, id: &str, version: i64, edit: &GroupEdit<'_>) -> Result<Group> {
        let (name, members, actor, at, log) = (edit.name, edit.members, &edit.actor, stored_time(edit.at), edit.log);
        let next = version + 1;
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query(
                "UPDATE groups SET name = $2, version = $3, updated_at = $4 WHERE id = $1 AND version = $5 AND deleted_at IS NULL",
            )
            .bind(id)
            .bind(name)
            .bind(next)
            .bind(at)
            .bind(version)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict(format!("group {id} was changed meanwhile; load it again")));
            }
            write_version!(tx, id, next, at, actor, "updated", name, members);
            append_log!(tx, at, log);
            tx.commit().await?;
        });
        self.group(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn delete_group(
        &self,
        g: &Group,
        actor: &GroupActor<'_>,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<()> {
        let at = stored_time(at);
        let next = g.version + 1;
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query("UPDATE groups SET version = $2, updated_at = $3, deleted_at = $3 WHERE id = $1 AND version = $4 AND deleted_at IS NULL")
                .bind(&g.id)
                .bind(next)
                .bind(at)
                .bind(g.version)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict(format!("group {} was changed meanwhile", g.id)));
            }
            sqlx::query(
                "INSERT INTO group_versions (group_id, version, at, actor_code, actor_name, change, name, members) \
                 VALUES ($1, $2, $3, $4, $5, 'deleted', $6, $7)",
            )
            .bind(&g.id)
            .bind(next)
            .bind(at)
            .bind(actor.participant)
            .bind(actor.holder)
            .bind(&g.name)
            .bind(serde_json::to_string(&g.members).expect("members serialise"))
            .execute(&mut **tx)
            .await?;
            append_log!(tx, at, log);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn group_history(&self, id: &str) -> Result<Vec<GroupVersion>> {
        let rows: Vec<VersionRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT version, at, actor_code, actor_name, change, name, members FROM group_versions \
                 WHERE group_id = $1 ORDER BY version",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(GroupVersion {
                    version: r.version,
                    at: r.at,
                    actor: r.actor_code,
                    actor_name: r.actor_name,
                    change: r.change,
                    name: r.name,
                    members: serde_json::from_str(&r.members).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
