//! Custom roles and member management, with the rules that stop escalation:
//! nobody grants, edits or takes away more than they hold themselves, the
//! default roles are fixed, and a tenant always keeps an owner.

use crate::audit::{AuditAction, AuditEntry, AuditRecord, state};
use crate::authz::{Permission, Role, RoleBook};
use crate::error::{Entity, Error, Result};
use crate::identity::RoleName;
use crate::ids::UserId;
use crate::ports::{AccessStore, Member, MemberChange, MemberState};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField, Invalid};

pub struct Access<'a> {
    pub store: &'a dyn AccessStore,
    pub ctx: &'a TenantContext,
}

const LAST_OWNER: &str = "the last owner cannot be demoted or removed";

fn parse_permissions(raw: &[String]) -> Result<Vec<Permission>, Invalid> {
    if raw.is_empty() {
        return Err(Invalid::new("give at least one permission"));
    }
    let unknown: Vec<&str> = raw
        .iter()
        .filter(|p| Permission::parse(p).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        return Err(Invalid::new(format!(
            "unknown permission {}; known: {}",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    Ok(raw.iter().filter_map(|p| Permission::parse(p)).collect())
}

fn role_target(name: &RoleName) -> String {
    format!("role:{name}")
}

fn user_target(user: UserId) -> String {
    format!("user:{user}")
}

impl Access<'_> {
    /// The tenant's roles: the four defaults, then custom ones by name.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn book(&self) -> Result<RoleBook> {
        Ok(RoleBook::new(self.store.custom_roles(self.ctx).await?))
    }

    /// # Errors
    /// [`Error::Invalid`] on `name` or `permissions`; [`Error::Forbidden`] for
    /// a permission the caller lacks; [`Error::Conflict`] on `name` if taken.
    pub async fn create_role(&self, name: &str, permissions: &[String]) -> Result<Role> {
        let (name, permissions) = (
            RoleName::parse_custom(name).at("name"),
            parse_permissions(permissions).at("permissions"),
        )
            .all_valid()?;
        let role = Role::new(name, permissions);
        let book = self.book().await?;
        if !role.within(book.permissions_of(self.ctx)) {
            return Err(Error::Forbidden);
        }
        let audit = AuditRecord {
            action: AuditAction::RoleCreated,
            target: role_target(&role.name),
            before: None,
            after: Some(role.audit_state()),
        };
        self.store.create_role(self.ctx, &role, &audit).await?;
        Ok(role)
    }

    /// # Errors
    /// As [`Self::create_role`]; [`Error::Invalid`] on `name` for a default
    /// role; [`Error::NotFound`] for an unknown one.
    pub async fn update_role(&self, name: &str, permissions: &[String]) -> Result<Role> {
        let permissions = parse_permissions(permissions)
            .at("permissions")
            .map_err(|e| Error::Invalid(vec![e]))?;
        let book = self.book().await?;
        let old = self.custom(&book, name, "the default roles cannot be changed")?;
        let role = Role::new(old.name.clone(), permissions);
        let mine = book.permissions_of(self.ctx);
        if !old.within(mine) || !role.within(mine) {
            return Err(Error::Forbidden);
        }
        let audit = AuditRecord {
            action: AuditAction::RoleUpdated,
            target: role_target(&role.name),
            before: Some(old.audit_state()),
            after: Some(role.audit_state()),
        };
        self.store.update_role(self.ctx, &role, &audit).await?;
        Ok(role)
    }

    /// # Errors
    /// [`Error::Invalid`] for a default role; [`Error::NotFound`];
    /// [`Error::Forbidden`] for a role holding more than the caller;
    /// [`Error::Conflict`] while members hold it.
    pub async fn delete_role(&self, name: &str) -> Result<()> {
        let book = self.book().await?;
        let old = self.custom(&book, name, "the default roles cannot be deleted")?;
        if !old.within(book.permissions_of(self.ctx)) {
            return Err(Error::Forbidden);
        }
        let audit = AuditRecord {
            action: AuditAction::RoleDeleted,
            target: role_target(&old.name),
            before: Some(old.audit_state()),
            after: None,
        };
        self.store.delete_role(self.ctx, &old.name, &audit).await
    }

    fn custom<'b>(&self, book: &'b RoleBook, name: &str, builtin: &str) -> Result<&'b Role> {
        if RoleName::new(name).is_builtin() {
            return Err(Error::invalid("name", builtin));
        }
        book.get(name).ok_or(Error::NotFound(Entity::Role))
    }

    /// # Errors
    /// When the store fails.
    pub async fn members(&self, after: Option<UserId>, first: u64) -> Result<Vec<Member>> {
        self.store.members(self.ctx, after, first).await
    }

    /// Gives a member another role of this tenant.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `role` for a role this tenant lacks;
    /// [`Error::Forbidden`] when the new or the current role holds more than
    /// the caller; [`Error::Conflict`] on `userId` for the last owner;
    /// [`Error::NotFound`] for a user who is not a member.
    pub async fn update_member_role(&self, user: UserId, role: &str) -> Result<Member> {
        let book = self.book().await?;
        let new = book
            .get(role)
            .ok_or_else(|| Error::invalid("role", "no such role in this tenant"))?;
        let mine = book.permissions_of(self.ctx);
        if !new.within(mine) {
            return Err(Error::Forbidden);
        }
        let decide = |s: &MemberState| {
            self.may_change(&book, s)?;
            if s.role.as_str() == RoleName::OWNER
                && new.name.as_str() != RoleName::OWNER
                && s.owners <= 1
            {
                return Err(Error::conflict("userId", LAST_OWNER));
            }
            Ok(AuditRecord {
                action: AuditAction::MemberRoleChanged,
                target: user_target(user),
                before: Some(state("role", s.role.as_str())),
                after: Some(state("role", new.name.as_str())),
            })
        };
        self.store
            .change_member(
                self.ctx,
                user,
                &MemberChange::SetRole(new.name.clone()),
                &decide,
            )
            .await?
            .ok_or(Error::NotFound(Entity::Membership))
    }

    /// # Errors
    /// As [`Self::update_member_role`].
    pub async fn remove_member(&self, user: UserId) -> Result<()> {
        let book = self.book().await?;
        let decide = |s: &MemberState| {
            self.may_change(&book, s)?;
            if s.role.as_str() == RoleName::OWNER && s.owners <= 1 {
                return Err(Error::conflict("userId", LAST_OWNER));
            }
            Ok(AuditRecord {
                action: AuditAction::MemberRemoved,
                target: user_target(user),
                before: Some(state("role", s.role.as_str())),
                after: None,
            })
        };
        self.store
            .change_member(self.ctx, user, &MemberChange::Remove, &decide)
            .await
            .map(|_| ())
    }

    /// Only someone holding every permission of a member's role may change it.
    fn may_change(&self, book: &RoleBook, s: &MemberState) -> Result<()> {
        let mine = book.permissions_of(self.ctx);
        let theirs = book.get(s.role.as_str());
        if theirs.is_none_or(|r| r.within(mine)) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// # Errors
    /// When the store fails.
    pub async fn audit_log(
        &self,
        before: Option<uuid::Uuid>,
        first: u64,
    ) -> Result<Vec<AuditEntry>> {
        self.store.audit_log(self.ctx, before, first).await
    }
}
