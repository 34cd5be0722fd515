//! Keyset pagination over any tenant-plane entity: order by a sort column then
//! the id, and continue strictly after (or before) a cursor's position.

use domain::page::{Cursor, Direction, Page, PageQuery, SortValue};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};

/// How to sort by one column.
pub(crate) struct SortColumn<C> {
    pub column: C,
    /// Nullable columns put rows without a value last, whichever the direction.
    pub nullable: bool,
}

fn value(v: &SortValue) -> Value {
    match v {
        SortValue::Time(t) => (*t).into(),
        SortValue::Int(i) => (*i).into(),
        SortValue::Date(d) => (*d).into(),
        SortValue::Text(s) => s.clone().into(),
    }
}

/// Applies order, cursor condition and limit (one extra row, to learn whether
/// more exist). For a backward page the order is reversed here; the caller
/// reverses the rows back.
pub(crate) fn apply<E, F>(
    query: Select<E>,
    sort: SortColumn<E::Column>,
    id: E::Column,
    page: &PageQuery<F>,
) -> Select<E>
where
    E: EntityTrait,
{
    // The order in which rows are read: the requested one, or its mirror image.
    let ascending = (page.direction == Direction::Asc) != page.backward;
    let order = if ascending { Order::Asc } else { Order::Desc };
    // Nulls are last in the requested order, so first when reading backwards.
    let nulls_last = !page.backward;

    let mut q = query;
    if let Some(cursor) = &page.cursor {
        q = q.filter(after(&sort, id, cursor, ascending, nulls_last));
    }
    if sort.nullable {
        let is_null: SimpleExpr = Expr::col(sort.column).is_null();
        q = q.order_by(is_null, if nulls_last { Order::Asc } else { Order::Desc });
    }
    q.order_by(sort.column, order.clone())
        .order_by(id, order)
        .limit(page.limit + 1)
}

/// The page out of rows read by [`apply`]: its extra row only says more
/// exist, and a backward page is turned back into the requested order.
pub(crate) fn page<F, M, T>(
    mut rows: Vec<M>,
    page: &PageQuery<F>,
    to_domain: impl FnMut(M) -> domain::Result<T>,
) -> domain::Result<Page<T>> {
    let has_more = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    if page.backward {
        rows.reverse();
    }
    Ok(Page {
        items: rows
            .into_iter()
            .map(to_domain)
            .collect::<domain::Result<_>>()?,
        has_more,
    })
}

/// Rows strictly after `cursor` in the reading order.
fn after<C: ColumnTrait>(
    sort: &SortColumn<C>,
    id: C,
    cursor: &Cursor,
    ascending: bool,
    nulls_last: bool,
) -> Condition {
    let beyond = |col: SimpleExpr, v: Value| if ascending { col.gt(v) } else { col.lt(v) };
    let id_beyond = beyond(Expr::col(id), cursor.id.into());
    let col = || -> SimpleExpr { Expr::col(sort.column) };
    match &cursor.value {
        SortValue::Date(None) if sort.nullable => {
            let null_after = Condition::all().add(col().is_null()).add(id_beyond);
            if nulls_last {
                // Only other nulls come after a null, ordered by id.
                null_after
            } else {
                // Reading nulls first: every non-null row still lies ahead.
                Condition::any().add(null_after).add(col().is_not_null())
            }
        }
        v => {
            let v = value(v);
            let same_then_id = Condition::all().add(col().eq(v.clone())).add(id_beyond);
            let mut any = Condition::any().add(beyond(col(), v)).add(same_then_id);
            if sort.nullable && nulls_last {
                any = any.add(col().is_null());
            }
            any
        }
    }
}
