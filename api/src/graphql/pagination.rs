//! Relay pagination arguments → a checked [`PageQuery`], and opaque cursors.
//!
//! A cursor is base64url of `c1|<order field>|<row id>|<kind>|<sort value>`:
//! opaque to clients, self-checking on the way back (a cursor from another
//! ordering is `BAD_USER_INPUT`, not a wrong page).

use super::context::PageLimits;
use super::error::{ApiError, ApiResult};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{ObjectType, OutputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use domain::page::{Cursor, Direction, Keyed, Page, PageQuery, SortValue};
use uuid::Uuid;

/// A sort field's stable name inside cursors.
pub trait CursorField: Copy {
    fn key(self) -> &'static str;
}

impl CursorField for domain::project::ProjectOrderField {
    fn key(self) -> &'static str {
        use domain::project::ProjectOrderField as F;
        match self {
            F::CreatedAt => "created",
            F::UpdatedAt => "updated",
            F::Name => "name",
        }
    }
}

impl CursorField for domain::webhook::DeliveryOrder {
    fn key(self) -> &'static str {
        "delivery"
    }
}

impl CursorField for domain::task::TaskOrderField {
    fn key(self) -> &'static str {
        use domain::task::TaskOrderField as F;
        match self {
            F::CreatedAt => "created",
            F::UpdatedAt => "updated",
            F::Priority => "priority",
            F::DueDate => "due",
            F::Title => "title",
        }
    }
}

/// A row's place in its list, encoded only when a client asks for it (an
/// edge's `cursor`, `pageInfo`'s): a page of 50 rows whose query asks for
/// `endCursor` alone encodes one, not 50.
pub struct KeysetCursor {
    key: &'static str,
    cursor: Cursor,
}

impl async_graphql::connection::CursorType for KeysetCursor {
    type Error = &'static str;

    /// Cursors come back through [`page_query`], which checks them against
    /// the list's ordering; never through here.
    fn decode_cursor(_: &str) -> Result<Self, Self::Error> {
        Err("cursors are read by page_query")
    }

    fn encode_cursor(&self) -> String {
        encode_key(self.key, &self.cursor)
    }
}

#[cfg(test)]
fn encode(field: impl CursorField, c: &Cursor) -> String {
    encode_key(field.key(), c)
}

fn encode_key(key: &str, c: &Cursor) -> String {
    let (kind, value) = match &c.value {
        SortValue::Time(t) => ("t", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        SortValue::Int(i) => ("i", i.to_string()),
        SortValue::Date(Some(d)) => ("d", d.to_string()),
        SortValue::Date(None) => ("n", String::new()),
        SortValue::Text(s) => ("s", s.clone()),
    };
    URL_SAFE_NO_PAD.encode(format!("c1|{key}|{}|{kind}|{value}", c.id))
}

fn decode(field: impl CursorField, arg: &str, raw: &str) -> ApiResult<Cursor> {
    let bad = || ApiError::invalid(arg, "not a cursor of this list and ordering");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(5, '|');
    let (Some("c1"), Some(f), Some(id), Some(kind), Some(value)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    if f != field.key() {
        return Err(bad());
    }
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    let value = match kind {
        "t" => SortValue::Time(
            DateTime::parse_from_rfc3339(value)
                .map_err(|_| bad())?
                .with_timezone(&Utc),
        ),
        "i" => SortValue::Int(value.parse().map_err(|_| bad())?),
        "d" => SortValue::Date(Some(value.parse::<NaiveDate>().map_err(|_| bad())?)),
        "n" => SortValue::Date(None),
        "s" => SortValue::Text(value.to_owned()),
        _ => return Err(bad()),
    };
    Ok(Cursor { value, id })
}

/// The four Relay arguments as the client sent them.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Checks the arguments: at most one direction, sizes within `0..=max`.
pub fn page_query<F: CursorField>(
    args: PageArgs,
    field: F,
    direction: Direction,
    limits: PageLimits,
) -> ApiResult<PageQuery<F>> {
    let size = |name: &str, n: i32| -> ApiResult<u64> {
        u64::try_from(n)
            .ok()
            .filter(|n| *n <= limits.max)
            .ok_or_else(|| {
                ApiError::invalid(name, &format!("must be between 0 and {}", limits.max))
            })
    };
    let backward = args.last.is_some() || args.before.is_some();
    if backward && (args.first.is_some() || args.after.is_some()) {
        return Err(ApiError::invalid(
            "last",
            "use first/after or last/before, not both",
        ));
    }
    let (limit, cursor) = if backward {
        let limit = args.last.map_or(Ok(limits.default), |n| size("last", n))?;
        (
            limit,
            args.before
                .as_deref()
                .map(|c| decode(field, "before", c))
                .transpose()?,
        )
    } else {
        let limit = args
            .first
            .map_or(Ok(limits.default), |n| size("first", n))?;
        (
            limit,
            args.after
                .as_deref()
                .map(|c| decode(field, "after", c))
                .transpose()?,
        )
    };
    Ok(PageQuery {
        field,
        direction,
        limit,
        cursor,
        backward,
    })
}

/// A Relay connection from one page. Forward, a previous page exists when
/// there was a cursor; backward, mirrored.
pub fn connection<F, T, N, X>(
    query: &PageQuery<F>,
    page: Page<T>,
    extra: X,
    node: impl Fn(T) -> N,
) -> Connection<KeysetCursor, N, X>
where
    F: CursorField,
    T: Keyed<F>,
    N: OutputType,
    X: ObjectType,
{
    let (has_prev, has_next) = if query.backward {
        (page.has_more, query.cursor.is_some())
    } else {
        (query.cursor.is_some(), page.has_more)
    };
    let mut conn = Connection::with_additional_fields(has_prev, has_next, extra);
    conn.edges.extend(page.items.into_iter().map(|t| {
        let cursor = KeysetCursor {
            key: query.field.key(),
            cursor: t.cursor(query.field),
        };
        Edge::new(cursor, node(t))
    }));
    conn
}

/// A forward page over a list ordered by id (members, audit entries): the
/// checked page size and the id to continue after.
pub struct IdPage {
    pub first: u64,
    pub after: Option<Uuid>,
    list: &'static str,
}

impl IdPage {
    /// # Errors
    /// `BAD_USER_INPUT` for `first` out of range or a cursor of another list.
    pub fn new(
        list: &'static str,
        limits: PageLimits,
        first: Option<i32>,
        after: Option<&str>,
    ) -> ApiResult<Self> {
        let first = match first {
            None => limits.default,
            Some(n) if n >= 0 && (n as u64) <= limits.max => n as u64,
            Some(_) => {
                return Err(ApiError::invalid(
                    "first",
                    &format!("must be between 0 and {}", limits.max),
                ));
            }
        };
        let after = after
            .map(|raw| {
                let bad = || ApiError::invalid("after", "not a cursor of this list");
                let text = URL_SAFE_NO_PAD
                    .decode(raw)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(bad)?;
                let id = text
                    .strip_prefix(list)
                    .and_then(|t| t.strip_prefix('|'))
                    .ok_or_else(bad)?;
                Uuid::parse_str(id).map_err(|_| bad())
            })
            .transpose()?;
        Ok(Self { first, after, list })
    }

    /// How many rows to fetch: one more than asked, to learn if more follow.
    pub fn fetch(&self) -> u64 {
        self.first + 1
    }

    /// The connection over rows fetched with [`Self::fetch`].
    pub fn connection<T, N: OutputType>(
        &self,
        mut rows: Vec<T>,
        id: impl Fn(&T) -> Uuid,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N> {
        let has_next = rows.len() as u64 > self.first;
        rows.truncate(self.first as usize);
        let mut conn = Connection::new(self.after.is_some(), has_next);
        conn.edges.extend(rows.into_iter().map(|r| {
            let cursor = URL_SAFE_NO_PAD.encode(format!("{}|{}", self.list, id(&r)));
            Edge::new(cursor, node(r))
        }));
        conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::task::TaskOrderField;

    const LIMITS: PageLimits = PageLimits {
        max: 100,
        default: 20,
    };

    #[test]
    fn cursors_round_trip_every_kind() {
        use chrono::{DurationRound, TimeDelta};
        let id = Uuid::now_v7();
        // Stored timestamps have microsecond precision, and so do cursors.
        let now = Utc::now()
            .duration_trunc(TimeDelta::microseconds(1))
            .unwrap();
        for value in [
            SortValue::Time(now),
            SortValue::Int(3),
            SortValue::Date(NaiveDate::from_ymd_opt(2026, 12, 1)),
            SortValue::Date(None),
            SortValue::Text("a | b".into()),
        ] {
            let c = Cursor { value, id };
            let back = decode(
                TaskOrderField::Title,
                "after",
                &encode(TaskOrderField::Title, &c),
            )
            .unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn a_cursor_of_another_ordering_is_refused() {
        let c = Cursor {
            value: SortValue::Int(1),
            id: Uuid::now_v7(),
        };
        let raw = encode(TaskOrderField::Priority, &c);
        assert!(decode(TaskOrderField::Title, "after", &raw).is_err());
        assert!(decode(TaskOrderField::Title, "after", "garbage!").is_err());
    }

    #[test]
    fn page_size_is_capped_and_directions_exclusive() {
        let q = page_query(
            PageArgs::default(),
            TaskOrderField::CreatedAt,
            Direction::Desc,
            LIMITS,
        )
        .unwrap();
        assert_eq!((q.limit, q.backward), (20, false));
        let over = PageArgs {
            first: Some(101),
            ..Default::default()
        };
        assert!(page_query(over, TaskOrderField::CreatedAt, Direction::Desc, LIMITS).is_err());
        let negative = PageArgs {
            last: Some(-1),
            ..Default::default()
        };
        assert!(page_query(negative, TaskOrderField::CreatedAt, Direction::Desc, LIMITS).is_err());
        let both = PageArgs {
            first: Some(1),
            last: Some(1),
            ..Default::default()
        };
        assert!(page_query(both, TaskOrderField::CreatedAt, Direction::Desc, LIMITS).is_err());
    }
}
