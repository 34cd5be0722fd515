//! Keyset pagination: a page is "the next N rows after this sort key", never an
//! offset, so it stays fast and stable while rows are inserted.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    Asc,
    #[default]
    Desc,
}

/// The value of the sort column at a row; `id` breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Time(DateTime<Utc>),
    Int(i64),
    /// Nullable: rows without a value sort after all rows with one, either direction.
    Date(Option<NaiveDate>),
    Text(String),
}

/// The position of a row in an ordering: what an opaque cursor carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub value: SortValue,
    pub id: Uuid,
}

/// One page request, already checked: `limit` is within the cap, and only one
/// of forward (first/after) or backward (last/before) was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery<F> {
    pub field: F,
    pub direction: Direction,
    pub limit: u64,
    /// Rows strictly after (forward) or before (backward) this position.
    pub cursor: Option<Cursor>,
    pub backward: bool,
}

/// Rows in the requested order, and whether more exist beyond them in the
/// direction of travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

/// Implemented by entities that can be listed: their sort key for a field.
pub trait Keyed<F> {
    fn cursor(&self, field: F) -> Cursor;
}
