//! [[ r.Names ]]: the type, its validation, its port and its use cases.
//!
//! Written by `cargo xtask generate resource`, then yours to change. Every
//! method of [`[[ r.Name ]]Repository`] runs inside a tenant transaction
//! (`TenantTx` requires the trait), so no call reaches storage without a tenant;
//! every change records its event in the same transaction (the outbox).

use crate::error::Result;
use crate::events::{Event, EventType, Subject};
use crate::ids::{[[ r.Name ]]Id, TenantId};
use crate::page::{Cursor, Keyed, Page, PageQuery, SortValue};
use crate::ports::{Created, Tenancy, TxMode};
use crate::tenancy::TenantContext;
use crate::validate::{AllValid, AtField};
use crate::values::{IdempotencyKey, SearchTerm, [% for f in r.texts %][[ f.value ]], [% endfor %]};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct [[ r.Name ]] {
    pub id: [[ r.Name ]]Id,
    pub tenant_id: TenantId,
[% for f in r.fields %]
    pub [[ f.name ]]: [[ f.domain_type ]],
[% endfor %]
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1 and grows by one with every change (optimistic concurrency).
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct New[[ r.Name ]] {
[% for f in r.fields %]
    pub [[ f.name ]]: [[ f.domain_type ]],
[% endfor %]
}

impl New[[ r.Name ]] {
    /// Every input field in a stable form, so a reused idempotency key with
    /// different input is told apart from a retry.
    pub fn fingerprint(&self) -> String {
        format!(
            "[[ r.name ]][% for f in r.fields %]|{}[% endfor %]",
[% for f in r.fields %]
            self.[[ f.name ]],
[% endfor %]
        )
    }
}

/// Raw input of `create[[ r.Name ]]`.
#[derive(Debug, Clone, Default)]
pub struct [[ r.Name ]]Input {
[% for f in r.fields %]
    pub [[ f.name ]]: [[ f.input_type ]],
[% endfor %]
}

impl New[[ r.Name ]] {
    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field.
    pub fn parse(input: &[[ r.Name ]]Input) -> Result<Self> {
        let ([% for f in r.texts %][[ f.name ]], [% endfor %]) = (
[% for f in r.texts %]
[% if f.required %]
            [[ f.value ]]::parse(&input.[[ f.name ]]).at("[[ f.camel ]]"),
[% else %]
            [[ f.value ]]::parse(input.[[ f.name ]].as_deref().unwrap_or("")).at("[[ f.camel ]]"),
[% endif %]
[% endfor %]
        )
            .all_valid()?;
        Ok(Self {
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
            [[ f.name ]],
[% elif f.required %]
            [[ f.name ]]: input.[[ f.name ]],
[% else %]
            [[ f.name ]]: input.[[ f.name ]].unwrap_or_default(),
[% endif %]
[% endfor %]
        })
    }
}

/// Only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct [[ r.Name ]]Patch {
[% for f in r.fields %]
    pub [[ f.name ]]: Option<[[ f.domain_type ]]>,
[% endfor %]
}

/// Raw input of `update[[ r.Name ]]`: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct [[ r.Name ]]PatchInput {
[% for f in r.fields %]
    pub [[ f.name ]]: Option<[[ f.rust ]]>,
[% endfor %]
}

impl [[ r.Name ]]Patch {
    pub fn is_empty(&self) -> bool {
        [% for f in r.fields %][% if not loop.first %] && [% endif %]self.[[ f.name ]].is_none()[% endfor %]

    }

    /// # Errors
    /// [`crate::Error::Invalid`] naming each bad field, or `input` when nothing would change.
    pub fn parse(input: &[[ r.Name ]]PatchInput) -> Result<Self> {
        let ([% for f in r.texts %][[ f.name ]], [% endfor %]) = (
[% for f in r.texts %]
            input
                .[[ f.name ]]
                .as_deref()
                .map([[ f.value ]]::parse)
                .transpose()
                .at("[[ f.camel ]]"),
[% endfor %]
        )
            .all_valid()?;
        let patch = Self {
[% for f in r.fields %]
[% if f.kind == "string" or f.kind == "text" %]
            [[ f.name ]],
[% else %]
            [[ f.name ]]: input.[[ f.name ]],
[% endif %]
[% endfor %]
        };
        if patch.is_empty() {
            return Err(crate::Error::invalid(
                "input",
                "give at least one field to change",
            ));
        }
        Ok(patch)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct [[ r.Name ]]Filter {
    /// Case-insensitive substring of [% for f in r.texts %][% if not loop.first %][% if loop.last %] or [% else %], [% endif %][% endif %]`[[ f.name ]]`[% endfor %].
    pub search: Option<SearchTerm>,
[% for f in r.bools %]
    /// Only rows whose `[[ f.name ]]` is this.
    pub [[ f.name ]]: Option<bool>,
[% endfor %]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum [[ r.Name ]]OrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
[% for f in r.sortables %]
    [[ f.Pascal ]],
[% endfor %]
}

impl Keyed<[[ r.Name ]]OrderField> for [[ r.Name ]] {
    fn cursor(&self, field: [[ r.Name ]]OrderField) -> Cursor {
        let value = match field {
            [[ r.Name ]]OrderField::CreatedAt => SortValue::Time(self.created_at),
            [[ r.Name ]]OrderField::UpdatedAt => SortValue::Time(self.updated_at),
[% for f in r.sortables %]
[% if f.kind == "int" %]
            [[ r.Name ]]OrderField::[[ f.Pascal ]] => SortValue::Int(i64::from(self.[[ f.name ]])),
[% else %]
            [[ r.Name ]]OrderField::[[ f.Pascal ]] => SortValue::Text(self.[[ f.name ]].as_str().to_owned()),
[% endif %]
[% endfor %]
        };
        Cursor {
            value,
            id: self.id.as_uuid(),
        }
    }
}

/// [[ r.Names ]] of the transaction's tenant.
///
/// # Errors (every method)
/// [`crate::Error::NotFound`] for an id that is not a [[ r.human ]] of this
/// tenant; [`crate::Error::Unexpected`] for storage failures.
#[async_trait]
pub trait [[ r.Name ]]Repository {
    /// Inserts a [[ r.human ]]. With a key already used for the same input, returns
    /// the [[ r.human ]] created then; with different input, [`crate::Error::Conflict`].
    async fn create_[[ r.name ]](
        &self,
        new: &New[[ r.Name ]],
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<[[ r.Name ]]>>;
    async fn [[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<[[ r.Name ]]>;
    async fn list_[[ r.names ]](
        &self,
        filter: &[[ r.Name ]]Filter,
        page: &PageQuery<[[ r.Name ]]OrderField>,
    ) -> Result<Page<[[ r.Name ]]>>;
    async fn count_[[ r.names ]](&self, filter: &[[ r.Name ]]Filter) -> Result<u64>;
    /// # Errors
    /// [`crate::Error::Conflict`] when `expected_version` is not the current version.
    async fn update_[[ r.name ]](
        &self,
        id: [[ r.Name ]]Id,
        patch: &[[ r.Name ]]Patch,
        expected_version: i32,
    ) -> Result<[[ r.Name ]]>;
    async fn delete_[[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<()>;
}

impl Event {
    pub fn [[ r.name ]](event_type: EventType, [[ r.name ]]: &[[ r.Name ]]) -> Self {
        Self::new(
            event_type,
            [[ r.name ]].tenant_id,
            Subject::[[ r.Name ]]([[ r.name ]].clone()),
        )
    }
}

/// [[ r.Name ]] use cases, bound to the caller's tenant.
pub struct [[ r.Names ]]<'a> {
    pub tenancy: &'a dyn Tenancy,
    pub ctx: &'a TenantContext,
}

impl [[ r.Names ]]<'_> {
    pub async fn create_[[ r.name ]](
        &self,
        input: &[[ r.Name ]]Input,
        key: Option<&str>,
    ) -> Result<[[ r.Name ]]> {
        let new = New[[ r.Name ]]::parse(input)?;
        let key = IdempotencyKey::parse_optional(key)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let [[ r.name ]] = match tx.create_[[ r.name ]](&new, key.as_ref()).await? {
            Created::New(x) => {
                tx.record_event(&Event::[[ r.name ]](EventType::[[ r.Name ]]Created, &x))
                    .await?;
                x
            }
            // Announced by the first attempt.
            Created::Replayed(x) => x,
        };
        tx.commit().await?;
        Ok([[ r.name ]])
    }

    pub async fn update_[[ r.name ]](
        &self,
        id: [[ r.Name ]]Id,
        input: &[[ r.Name ]]PatchInput,
        expected_version: i32,
    ) -> Result<[[ r.Name ]]> {
        let patch = [[ r.Name ]]Patch::parse(input)?;
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let [[ r.name ]] = tx.update_[[ r.name ]](id, &patch, expected_version).await?;
        tx.record_event(&Event::[[ r.name ]](EventType::[[ r.Name ]]Updated, &[[ r.name ]]))
            .await?;
        tx.commit().await?;
        Ok([[ r.name ]])
    }

    /// Deletes for good; the event carries the [[ r.human ]] as it was.
    pub async fn delete_[[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<()> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Write).await?;
        let [[ r.name ]] = tx.[[ r.name ]](id).await?;
        tx.delete_[[ r.name ]](id).await?;
        tx.record_event(&Event::[[ r.name ]](EventType::[[ r.Name ]]Deleted, &[[ r.name ]]))
            .await?;
        tx.commit().await
    }

    pub async fn [[ r.name ]](&self, id: [[ r.Name ]]Id) -> Result<[[ r.Name ]]> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.[[ r.name ]](id).await
    }

    pub async fn list_[[ r.names ]](
        &self,
        filter: &[[ r.Name ]]Filter,
        page: &PageQuery<[[ r.Name ]]OrderField>,
    ) -> Result<Page<[[ r.Name ]]>> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.list_[[ r.names ]](filter, page).await
    }

    pub async fn count_[[ r.names ]](&self, filter: &[[ r.Name ]]Filter) -> Result<u64> {
        let tx = self.tenancy.begin(self.ctx, TxMode::Read).await?;
        tx.count_[[ r.names ]](filter).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> [[ r.Name ]]Input {
        [[ r.Name ]]Input {
[% for f in r.fields %]
            [[ f.name ]]: [[ f.rust_sample ]],
[% endfor %]
        }
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut input = valid();
[% for f in r.texts %]
        input.[[ f.name ]] = [% if f.required %]"\u{7}".to_owned()[% else %]Some("\u{7}".to_owned())[% endif %];
[% endfor %]
        let crate::Error::Invalid(errors) = New[[ r.Name ]]::parse(&input).unwrap_err() else {
            panic!("expected Invalid");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, [[ r.text_camels ]]);
    }

    #[test]
    fn the_fingerprint_tells_other_input_apart() {
        let a = New[[ r.Name ]]::parse(&valid()).unwrap();
        let mut other = valid();
        other.[[ r.key.name ]] = format!("{} 2", other.[[ r.key.name ]]);
        let b = New[[ r.Name ]]::parse(&other).unwrap();
        assert_eq!(a.fingerprint(), New[[ r.Name ]]::parse(&valid()).unwrap().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn an_empty_patch_is_refused() {
        assert!([[ r.Name ]]Patch::parse(&[[ r.Name ]]PatchInput::default()).is_err());
    }
}
