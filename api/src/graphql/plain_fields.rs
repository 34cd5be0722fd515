//! Objects whose plain fields are answered without a future per field.
//!
//! async-graphql resolves each field of an object as a boxed future, run
//! beside its siblings and merged into the response by key. On a page of 50
//! tasks that is hundreds of futures whose answer is a copy of a value
//! already in memory, and profiled it was the largest share of a list's CPU
//! (docs/benchmarks.md). [`Plain`] wraps such an object: its plain fields
//! (no arguments, no guard, no I/O: [`PlainFields::plain`]) are written
//! straight into the response, in the selection's order; every other field
//! (a relation, a guarded field) goes through the object's own resolver, as
//! before, and its error is reported the same way. A selection set the fast
//! path does not cover (a fragment, a directive, a response key given twice)
//! takes the engine's own path, whole. The schema has no extensions: one
//! with a per-field hook (tracing each field, say) would not see the plain
//! fields, as async-graphql does not say whether any are installed.

use async_graphql::futures_util::future::join_all;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};
use std::borrow::Cow;

/// An object whose plain fields [`Plain`] can answer in place.
pub trait PlainFields: ContainerType {
    /// The value of field `name` if it is plain (exactly what the field's
    /// resolver returns; it takes no arguments and has no guard); `None`
    /// for any other field, which its resolver then answers.
    fn plain(&self, name: &str) -> Option<Value>;
}

/// `T` in the schema (the same type, name and fields), resolved faster.
pub struct Plain<T>(pub T);

impl<T: PlainFields> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match fields_in_place(ctx) {
            Some(fields) => resolve_in_place(&self.0, ctx, &fields).await,
            None => OutputType::resolve(&self.0, ctx, field).await,
        }
    }
}

/// The selection's fields, if the fast path covers it.
fn fields_in_place<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    let items = &ctx.item.node.items;
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        let key = &f.node.response_key().node;
        // A key given twice is merged by the engine (sub-selections and all).
        if !f.node.directives.is_empty()
            || fields.iter().any(|g| g.node.response_key().node == *key)
        {
            return None;
        }
        fields.push(f);
    }
    Some(fields)
}

async fn resolve_in_place<T: PlainFields>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
) -> ServerResult<Value> {
    let mut map: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    let mut others = Vec::new();
    for f in fields {
        let key = f.node.response_key().node.clone();
        let name = f.node.name.node.as_str();
        let value = if name == "__typename" {
            Some(Value::String(root.introspection_type_name().into_owned()))
        } else {
            root.plain(name)
        };
        match value {
            Some(v) => {
                map.insert(key, v);
            }
            None => {
                // Holds the field's place in the response's order.
                map.insert(key, Value::Null);
                others.push(*f);
            }
        }
    }
    if !others.is_empty() {
        let resolved = join_all(
            others
                .iter()
                .map(|f| async move { root.resolve_field(&ctx.with_field(f)).await }),
        )
        .await;
        for (f, result) in others.iter().zip(resolved) {
            let key = &f.node.response_key().node;
            match result {
                Ok(v) => {
                    map.insert(key.clone(), v.unwrap_or_default());
                }
                // As the engine does: the error is reported, the field left out.
                Err(e) => {
                    ctx.add_error(e);
                    map.shift_remove(key);
                }
            }
        }
    }
    Ok(if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    })
}
