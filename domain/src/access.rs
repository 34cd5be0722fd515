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

/// The feature flag that lets a tenant make and change its own roles (its
/// plan's, or turned on by an operator). Roles made before it went off keep
/// working; only creating and changing them is refused.
pub const CUSTOM_ROLES: &str = "custom-roles";

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
        self.ctx.entitlements().require(CUSTOM_ROLES)?;
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
        self.ctx.entitlements().require(CUSTOM_ROLES)?;
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
        self.remove(user, AuditAction::MemberRemoved, |s| {
            self.may_change(&book, s)?;
            if s.role.as_str() == RoleName::OWNER && s.owners <= 1 {
                return Err(Error::conflict("userId", LAST_OWNER));
            }
            Ok(())
        })
        .await
    }

    /// Ends `user`'s membership if `check` allows it, audited as `action`.
    async fn remove(
        &self,
        user: UserId,
        action: AuditAction,
        check: impl Fn(&MemberState) -> Result<()> + Sync,
    ) -> Result<()> {
        let decide = |s: &MemberState| {
            check(s)?;
            Ok(AuditRecord {
                action,
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

    /// Hands the tenant over: `to` becomes an owner, then the caller an
    /// admin. Promotion comes first, so the tenant is never without an owner;
    /// should the second step fail, both are owners and the caller can step
    /// down again. Returns the new owner.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the caller is an owner (the guard asks for
    /// `tenant:manage`); [`Error::Invalid`] on `userId` for the caller
    /// themselves; [`Error::NotFound`] for a user who is not a member.
    pub async fn transfer_ownership(&self, to: UserId) -> Result<Member> {
        let me = self.ctx.user_id().ok_or(Error::Forbidden)?;
        if me == to {
            return Err(Error::invalid("userId", "you are an owner already"));
        }
        if self.ctx.role().map(RoleName::as_str) != Some(RoleName::OWNER) {
            return Err(Error::Forbidden);
        }
        let owner = self.update_member_role(to, RoleName::OWNER).await?;
        self.update_member_role(me, RoleName::ADMIN).await?;
        Ok(owner)
    }

    /// The caller leaves the tenant; anyone may, but its last owner (a
    /// tenant always keeps one: hand it over first, or delete the tenant).
    /// Their sessions in the tenant end with the membership.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a context without a member; [`Error::Conflict`]
    /// for the last owner.
    pub async fn leave(&self) -> Result<()> {
        let user = self.ctx.user_id().ok_or(Error::Forbidden)?;
        self.remove(user, AuditAction::MemberLeft, |s| {
            if s.role.as_str() == RoleName::OWNER && s.owners <= 1 {
                return Err(Error::conflict(
                    "tenant",
                    "the last owner cannot leave; make another member owner first",
                ));
            }
            Ok(())
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditEntry;
    use crate::identity::User;
    use crate::ports::MemberDecision;
    use crate::values::{DisplayName, Email};
    use async_trait::async_trait;
    use futures::executor::block_on;
    use std::sync::Mutex;

    /// A tenant with these custom roles, and a member in `state` (the one
    /// every change is about); records what the use cases ask it to write.
    struct Store {
        custom: Vec<Role>,
        state: MemberState,
        roles_written: Mutex<Vec<Role>>,
        changes: Mutex<Vec<(MemberChange, AuditRecord)>>,
    }

    impl Store {
        fn new(custom: Vec<Role>, role: &str, owners: u64) -> Self {
            Self {
                custom,
                state: MemberState {
                    role: RoleName::new(role),
                    owners,
                },
                roles_written: Mutex::default(),
                changes: Mutex::default(),
            }
        }

        fn wrote_nothing(&self) -> bool {
            self.roles_written.lock().unwrap().is_empty() && self.changes.lock().unwrap().is_empty()
        }
    }

    #[async_trait]
    impl AccessStore for Store {
        async fn custom_roles(&self, _: &TenantContext) -> Result<Vec<Role>> {
            Ok(self.custom.clone())
        }
        async fn create_role(&self, _: &TenantContext, role: &Role, _: &AuditRecord) -> Result<()> {
            self.roles_written.lock().unwrap().push(role.clone());
            Ok(())
        }
        async fn update_role(&self, _: &TenantContext, role: &Role, _: &AuditRecord) -> Result<()> {
            self.roles_written.lock().unwrap().push(role.clone());
            Ok(())
        }
        async fn delete_role(
            &self,
            _: &TenantContext,
            _: &RoleName,
            _: &AuditRecord,
        ) -> Result<()> {
            Ok(())
        }
        async fn members(
            &self,
            _: &TenantContext,
            _: Option<UserId>,
            _: u64,
        ) -> Result<Vec<Member>> {
            Ok(Vec::new())
        }
        async fn change_member(
            &self,
            _: &TenantContext,
            user: UserId,
            change: &MemberChange,
            decide: MemberDecision<'_>,
        ) -> Result<Option<Member>> {
            let record = decide(&self.state)?;
            self.changes.lock().unwrap().push((change.clone(), record));
            Ok(match change {
                MemberChange::Remove => None,
                MemberChange::SetRole(role) => Some(Member {
                    user: User {
                        id: user,
                        email: Email::parse("m@example.test").unwrap(),
                        display_name: DisplayName::parse("M").unwrap(),
                        created_at: chrono::Utc::now(),
                    },
                    role: role.clone(),
                    joined_at: chrono::Utc::now(),
                }),
            })
        }
        async fn audit_log(
            &self,
            _: &TenantContext,
            _: Option<uuid::Uuid>,
            _: u64,
        ) -> Result<Vec<AuditEntry>> {
            Ok(Vec::new())
        }
    }

    use crate::tenancy::member_context as as_role;

    fn strings(ps: &[&str]) -> Vec<String> {
        ps.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn nobody_makes_a_role_holding_more_than_they_hold() {
        // A role manager who cannot manage webhooks.
        let manager = Role::new(
            RoleName::new("role-manager"),
            [Permission::RoleManage, Permission::TaskRead],
        );
        let store = Store::new(vec![manager], "member", 2);
        let ctx = as_role("role-manager");
        let access = Access {
            store: &store,
            ctx: &ctx,
        };
        let wider = block_on(access.create_role("hooks", &strings(&["webhook:manage"])));
        assert!(matches!(wider, Err(Error::Forbidden)), "{wider:?}");
        assert!(store.wrote_nothing());

        let within = block_on(access.create_role("reader", &strings(&["task:read"]))).unwrap();
        assert_eq!(within.permissions, [Permission::TaskRead]);
        assert_eq!(store.roles_written.lock().unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_permission_is_refused_naming_the_known_ones() {
        let store = Store::new(Vec::new(), "member", 2);
        let ctx = as_role("owner");
        let access = Access {
            store: &store,
            ctx: &ctx,
        };
        let Err(Error::Invalid(fields)) =
            block_on(access.create_role("triage", &strings(&["task:read", "task:fly"])))
        else {
            panic!("an unknown permission must be invalid");
        };
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].field, "permissions");
        assert!(
            fields[0].message.contains("task:fly"),
            "{}",
            fields[0].message
        );
        assert!(
            fields[0].message.contains("webhook:manage"),
            "{}",
            fields[0].message
        );
        assert!(store.wrote_nothing());
    }

    #[test]
    fn an_admin_neither_makes_an_owner_nor_touches_one() {
        let ctx = as_role("admin");
        let member = UserId::generate();
        // Promoting a member to owner: the owner role holds more than an admin.
        let store = Store::new(Vec::new(), "member", 1);
        let access = Access {
            store: &store,
            ctx: &ctx,
        };
        let up = block_on(access.update_member_role(member, "owner"));
        assert!(matches!(up, Err(Error::Forbidden)), "{up:?}");
        // Demoting or removing an owner: theirs holds more than an admin's.
        let store = Store::new(Vec::new(), "owner", 2);
        let access = Access {
            store: &store,
            ctx: &ctx,
        };
        let down = block_on(access.update_member_role(member, "viewer"));
        assert!(matches!(down, Err(Error::Forbidden)), "{down:?}");
        let out = block_on(access.remove_member(member));
        assert!(matches!(out, Err(Error::Forbidden)), "{out:?}");
        assert!(store.wrote_nothing());
        // A member to viewer is within an admin's reach, and audited.
        let store = Store::new(Vec::new(), "member", 1);
        let access = Access {
            store: &store,
            ctx: &ctx,
        };
        let changed = block_on(access.update_member_role(member, "viewer")).unwrap();
        assert_eq!(changed.role.as_str(), "viewer");
        let changes = store.changes.lock().unwrap();
        assert_eq!(changes[0].1.action, AuditAction::MemberRoleChanged);
        assert_eq!(changes[0].1.before, Some(state("role", "member")));
        assert_eq!(changes[0].1.after, Some(state("role", "viewer")));
    }

    #[test]
    fn a_tenant_keeps_its_last_owner() {
        let ctx = as_role("owner");
        let owner = UserId::generate();
        let last = Store::new(Vec::new(), "owner", 1);
        let access = Access {
            store: &last,
            ctx: &ctx,
        };
        for refused in [
            block_on(access.update_member_role(owner, "admin")).map(|_| ()),
            block_on(access.remove_member(owner)),
        ] {
            assert!(
                matches!(&refused, Err(Error::Conflict { field: Some(f), .. }) if f == "userId"),
                "{refused:?}"
            );
        }
        assert!(last.wrote_nothing());
        // With a second owner, one may step down.
        let two = Store::new(Vec::new(), "owner", 2);
        let access = Access {
            store: &two,
            ctx: &ctx,
        };
        block_on(access.update_member_role(owner, "admin")).unwrap();
        assert_eq!(two.changes.lock().unwrap().len(), 1);
    }
}
