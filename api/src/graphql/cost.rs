//! What a document will cost, measured before anything else looks at it.
//!
//! async-graphql's own depth, complexity and recursion checks walk every
//! fragment spread in place, so a document whose fragments each spread the
//! next one several times costs time exponential in its size before any limit
//! can refuse it. This walk measures each fragment once, memoised, and scales
//! it wherever it is spread: linear in the document. Only documents it admits
//! reach async-graphql, and those are small once expanded, so the engine's
//! walks are bounded too.
//!
//! One walk gives every figure a limit is set on:
//! - **fields**: selections once every fragment is in place: the engine's
//!   validation work, and the shape of the response;
//! - **flattened**: what the engine's "fields can be merged" rule visits
//!   (each selection set flattens the fragments it spreads directly);
//! - **depth**: nesting of fields, introspection excluded;
//! - **complexity**: fields times how many times each resolves (a list
//!   multiplies what it selects by its page size); a mutation field costs
//!   [`MUTATION_COST`];
//! - **round trips**: database queries: each list or connection field (and
//!   `totalCount`, and each mutation) is one, times the lists around it;
//! - **aliases**, and the nesting of type-expanding introspection fields
//!   (graphql-js's `MaxIntrospectionDepthRule`: fewer than three).
//!
//! Introspection (`__schema`, `__type`) touches no database and is judged by
//! its size and the introspection rule instead of depth and complexity, so
//! the standard `getIntrospectionQuery()` of graphql-js passes the defaults.

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Name, Positioned, Value, Variables};
use std::collections::HashMap;

/// What one mutation field costs against the complexity limit, so aliases
/// cannot pack hundreds of mutations into one request.
pub const MUTATION_COST: u64 = 500;

/// Nested `fields`, `inputFields`, `interfaces` or `possibleTypes` an
/// introspection query may hold: graphql-js's bound (it refuses three; its
/// standard query nests one).
const MAX_INTROSPECTION_NESTING: u32 = 2;

/// Selection sets and fragment spreads one walk may nest, whatever the
/// limits: keeps the walk's own recursion far from the stack's end.
const MAX_NESTING: u32 = 128;

/// The limits a document is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: u64,
    pub max_complexity: u64,
    pub max_round_trips: u64,
    pub max_fields: u64,
    pub max_aliases: u64,
    pub default_page_size: u64,
    pub max_page_size: u64,
}

/// A refusal, with the figure that passed its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooComplex(pub String);

/// The figures of a document: its worst operation's, and the fields of all
/// of them (the engine validates every operation in a document).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub fields: u64,
    pub flattened: u64,
    pub depth: u64,
    pub complexity: u64,
    pub round_trips: u64,
    pub aliases: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A scalar, enum or single object.
    Plain,
    /// A paged connection (`first`/`last`): one query, multiplying what it selects.
    Connection,
    /// A list of objects without paging: one query.
    List,
    /// The `edges`/`nodes` of a connection, or `totalCount`: part of the
    /// connection's page, or (`totalCount`) a query of its own.
    Page,
    Count,
}

#[derive(Debug, Clone)]
struct FieldShape {
    ty: String,
    kind: Kind,
}

/// Which fields of which types are lists, read from the schema's SDL once.
#[derive(Debug, Default)]
pub struct Shape {
    types: HashMap<String, HashMap<String, FieldShape>>,
    roots: [String; 3],
}

impl Shape {
    /// # Panics
    /// When `sdl` is not the SDL of a schema (it comes from our own schema).
    pub fn from_sdl(sdl: &str) -> Self {
        let doc = async_graphql::parser::parse_schema(sdl).expect("the schema's own SDL parses");
        let mut shape = Shape {
            roots: ["Query".into(), "Mutation".into(), "Subscription".into()],
            ..Default::default()
        };
        let mut objects: Vec<(String, Vec<(String, async_graphql::parser::types::Type)>)> =
            Vec::new();
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(s) => {
                    let s = s.node;
                    let names = [s.query, s.mutation, s.subscription];
                    for (root, name) in shape.roots.iter_mut().zip(names) {
                        if let Some(n) = name {
                            *root = n.node.to_string();
                        }
                    }
                }
                TypeSystemDefinition::Type(t) => {
                    let t = t.node;
                    let fields = match t.kind {
                        TypeKind::Object(o) => o.fields,
                        TypeKind::Interface(i) => i.fields,
                        _ => continue,
                    };
                    objects.push((
                        t.name.node.to_string(),
                        fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect(),
                    ));
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        let composite: std::collections::HashSet<String> =
            objects.iter().map(|(n, _)| n.clone()).collect();
        for (name, fields) in objects {
            let in_connection = is_connection(&name);
            let map = fields
                .into_iter()
                .map(|(field, ty)| {
                    let (named, list) = match &ty.base {
                        BaseType::Named(n) => (n.to_string(), false),
                        BaseType::List(inner) => (innermost(inner), true),
                    };
                    let object = composite.contains(&named);
                    let kind = if in_connection && field == "totalCount" {
                        Kind::Count
                    } else if in_connection && list {
                        Kind::Page
                    } else if object && is_connection(&named) {
                        Kind::Connection
                    } else if object && list {
                        Kind::List
                    } else {
                        Kind::Plain
                    };
                    (field, FieldShape { ty: named, kind })
                })
                .collect();
            shape.types.insert(name, map);
        }
        shape
    }

    fn field(&self, ty: &str, name: &str) -> Option<&FieldShape> {
        self.types.get(ty)?.get(name)
    }

    fn root(&self, op: OperationType) -> &str {
        match op {
            OperationType::Query => &self.roots[0],
            OperationType::Mutation => &self.roots[1],
            OperationType::Subscription => &self.roots[2],
        }
    }
}

/// Relay's naming: the page types of lists.
fn is_connection(type_name: &str) -> bool {
    type_name.ends_with("Connection")
}

fn innermost(t: &async_graphql::parser::types::Type) -> String {
    match &t.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => innermost(inner),
    }
}

/// Figures per one resolution of the selection set's parent.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    fields: u64,
    flattened: u64,
    depth: u64,
    complexity: u64,
    round_trips: u64,
    aliases: u64,
    introspection_nesting: u32,
}

impl Tally {
    /// Two selections side by side.
    fn beside(self, o: Tally) -> Tally {
        Tally {
            fields: self.fields.saturating_add(o.fields),
            flattened: self.flattened.saturating_add(o.flattened),
            depth: self.depth.max(o.depth),
            complexity: self.complexity.saturating_add(o.complexity),
            round_trips: self.round_trips.saturating_add(o.round_trips),
            aliases: self.aliases.saturating_add(o.aliases),
            introspection_nesting: self.introspection_nesting.max(o.introspection_nesting),
        }
    }
}

enum Memo {
    Walking,
    Done(Tally, u64),
}

struct Walk<'a> {
    shape: &'a Shape,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    /// Per fragment (and, on a connection type, the page it is spread in):
    /// its tally and the selections it flattens to.
    fragments: HashMap<(&'a str, u64), Memo>,
    /// Fragments some operation spreads.
    spread: std::collections::HashSet<&'a str>,
    nesting: u32,
}

impl<'a> Walk<'a> {
    fn deeper(&mut self) -> Result<(), TooComplex> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(TooComplex(format!(
                "Query nests selections and fragments more than {MAX_NESTING} deep"
            )));
        }
        Ok(())
    }

    /// The page size a list field resolves with.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> u64 {
        let arg = |name: &str| -> Option<u64> {
            let value = field
                .get_argument(name)?
                .node
                .clone()
                .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()));
            match value {
                Ok(Value::Number(n)) => Some(n.as_u64().unwrap_or(self.limits.max_page_size)),
                Ok(_) => None,
                // A variable left to its default is taken at the largest page.
                Err(()) => Some(self.limits.max_page_size),
            }
        };
        match (arg("first"), arg("last")) {
            (None, None) => self.limits.default_page_size,
            (a, b) => a.max(b).unwrap_or(0),
        }
        // Larger pages are refused by the resolver: they never run.
        .clamp(1, self.limits.max_page_size.max(1))
    }

    /// A selection set on `ty`; `introspection` inside `__schema`/`__type`;
    /// `page` the size of the connection it selects from, if it does.
    /// Returns its tally and the selections it flattens to.
    fn set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        ty: &str,
        introspection: bool,
        page: u64,
    ) -> Result<(Tally, u64), TooComplex> {
        self.deeper()?;
        let mut tally = Tally::default();
        // The selections the engine's merge rule visits for this set: its own,
        // and those of the fragments it spreads directly, flattened.
        let mut flat = 0u64;
        for item in &set.node.items {
            match &item.node {
                Selection::Field(f) => {
                    flat += 1;
                    let t = self.field(&f.node, ty, introspection, page)?;
                    tally = tally.beside(t);
                }
                Selection::InlineFragment(frag) => {
                    let on = frag
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(ty, |c| c.node.on.node.as_str());
                    let (t, f) = self.set(&frag.node.selection_set, on, introspection, page)?;
                    flat = flat.saturating_add(f);
                    tally = tally.beside(t);
                }
                Selection::FragmentSpread(spread) => {
                    let (t, f) = self.fragment(&spread.node.fragment_name.node, page)?;
                    flat = flat.saturating_add(f);
                    tally = tally.beside(t);
                }
            }
        }
        tally.flattened = tally.flattened.saturating_add(flat);
        self.nesting -= 1;
        Ok((tally, flat))
    }

    fn fragment(&mut self, name: &'a Name, page: u64) -> Result<(Tally, u64), TooComplex> {
        // Only a fragment on a connection depends on where it is spread.
        let page = match self.doc.fragments.get(name) {
            Some(def) if is_connection(&def.node.type_condition.node.on.node) => page,
            _ => 1,
        };
        let key = (name.as_str(), page);
        self.spread.insert(name.as_str());
        match self.fragments.get(&key) {
            Some(Memo::Done(t, flat)) => {
                // Its own sets were counted where it was measured; the merge
                // rule revisits its top level from every set that spreads it.
                let t = Tally { flattened: 0, ..*t };
                return Ok((t, *flat));
            }
            Some(Memo::Walking) => {
                return Err(TooComplex(format!("Fragment {name} spreads itself")));
            }
            None => {}
        }
        // An unknown fragment is the engine's error to report; it costs nothing here.
        let Some(def) = self.doc.fragments.get(name) else {
            return Ok((Tally::default(), 0));
        };
        self.fragments.insert(key, Memo::Walking);
        let on = def.node.type_condition.node.on.node.as_str();
        let introspection = on.starts_with("__");
        let (t, flat) = self.set(&def.node.selection_set, on, introspection, page)?;
        self.fragments.insert(key, Memo::Done(t, flat));
        Ok((t, flat))
    }

    fn field(
        &mut self,
        f: &'a async_graphql::parser::types::Field,
        parent: &str,
        introspection: bool,
        page: u64,
    ) -> Result<Tally, TooComplex> {
        let name = f.name.node.as_str();
        let alias = u64::from(f.alias.is_some());
        let enters_introspection = !introspection && (name == "__schema" || name == "__type");
        if introspection || enters_introspection {
            let ty = if enters_introspection { "__" } else { parent };
            let (child, _) = self.set(&f.selection_set, ty, true, 1)?;
            let expands = matches!(
                name,
                "fields" | "inputFields" | "interfaces" | "possibleTypes"
            );
            return Ok(Tally {
                fields: 1 + child.fields,
                flattened: child.flattened,
                depth: 0,
                complexity: 1 + child.complexity,
                round_trips: 0,
                aliases: alias + child.aliases,
                introspection_nesting: child.introspection_nesting + u32::from(expands),
            });
        }
        let shape = self.shape.field(parent, name);
        let (ty, kind) = shape.map_or(("", Kind::Plain), |s| (s.ty.as_str(), s.kind));
        // A connection is one query; its `edges`/`nodes` repeat what they
        // select once per row of its page, and `totalCount` is a query more.
        let (times, trips, inner_page) = match kind {
            Kind::Plain => (1, 0, 1),
            Kind::Page => (page, 0, 1),
            Kind::Count => (1, 1, 1),
            Kind::Connection => (1, 1, self.page_size(f)),
            Kind::List => (self.page_size(f), 1, 1),
        };
        let (child, _) = if f.selection_set.node.items.is_empty() {
            (Tally::default(), 0)
        } else {
            self.set(&f.selection_set, ty, false, inner_page)?
        };
        // A mutation is at least one transaction of its own.
        let mutation = parent == self.shape.root(OperationType::Mutation);
        let own = if mutation { MUTATION_COST } else { 1 };
        Ok(Tally {
            fields: 1 + child.fields,
            flattened: child.flattened,
            depth: 1 + child.depth,
            complexity: own.saturating_add(times.saturating_mul(child.complexity)),
            round_trips: (trips + u64::from(mutation))
                .saturating_add(times.saturating_mul(child.round_trips)),
            aliases: alias + child.aliases,
            introspection_nesting: child.introspection_nesting,
        })
    }
}

/// Measures every operation of `doc`, and refuses it when a figure passes its limit.
///
/// # Errors
/// [`TooComplex`] naming the first figure over its limit, or a fragment cycle.
pub fn check(
    shape: &Shape,
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<Figures, TooComplex> {
    let figures = measure(shape, doc, variables, limits)?;
    let over = |what: &str, n: u64, max: u64| -> Result<(), TooComplex> {
        if n > max {
            Err(TooComplex(format!(
                "Query {what} {n}; at most {max} are allowed"
            )))
        } else {
            Ok(())
        }
    };
    over("expands to fields:", figures.fields, limits.max_fields)?;
    over(
        "makes the validator visit fields:",
        figures.flattened,
        limits.max_fields,
    )?;
    over(
        "is nested too deep: levels",
        figures.depth,
        limits.max_depth,
    )?;
    over(
        "is too complex: cost",
        figures.complexity,
        limits.max_complexity,
    )?;
    over(
        "needs database round trips:",
        figures.round_trips,
        limits.max_round_trips,
    )?;
    over("has aliases:", figures.aliases, limits.max_aliases)?;
    Ok(figures)
}

/// The figures of `doc`, without judging them.
///
/// # Errors
/// A fragment cycle, or nesting past what any limit allows.
pub fn measure(
    shape: &Shape,
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<Figures, TooComplex> {
    let mut walk = Walk {
        shape,
        doc,
        variables,
        limits,
        fragments: HashMap::new(),
        spread: Default::default(),
        nesting: 0,
    };
    let mut figures = Figures::default();
    let mut introspection_nesting = 0;
    for (_, op) in doc.operations.iter() {
        let root = shape.root(op.node.ty);
        let (t, _) = walk.set(&op.node.selection_set, root, false, 1)?;
        figures.fields = figures.fields.saturating_add(t.fields);
        figures.flattened = figures.flattened.saturating_add(t.flattened);
        figures.depth = figures.depth.max(t.depth);
        figures.complexity = figures.complexity.max(t.complexity);
        figures.round_trips = figures.round_trips.max(t.round_trips);
        figures.aliases = figures.aliases.max(t.aliases);
        introspection_nesting = introspection_nesting.max(t.introspection_nesting);
    }
    // Fragments no operation spreads are still validated by the engine.
    for name in doc.fragments.keys() {
        if !walk.spread.contains(name.as_str()) {
            let (t, _) = walk.fragment(name, 1)?;
            figures.fields = figures.fields.saturating_add(t.fields);
            figures.flattened = figures.flattened.saturating_add(t.flattened);
        }
    }
    if introspection_nesting > MAX_INTROSPECTION_NESTING {
        return Err(TooComplex(format!(
            "Introspection nests fields, inputFields, interfaces or possibleTypes {introspection_nesting} deep; at most {MAX_INTROSPECTION_NESTING}"
        )));
    }
    Ok(figures)
}

/// The schema's shape and the configured limits: what every request, over
/// HTTP or a socket, passes before the engine sees it.
#[derive(Debug)]
pub struct Gate {
    shape: Shape,
    limits: Limits,
    max_document_bytes: usize,
}

impl Gate {
    pub fn new(sdl: &str, settings: &crate::config::GraphqlSettings) -> Self {
        Self {
            shape: Shape::from_sdl(sdl),
            limits: Limits {
                max_depth: settings.max_depth as u64,
                max_complexity: settings.max_complexity as u64,
                max_round_trips: settings.max_round_trips,
                max_fields: settings.max_fields,
                max_aliases: settings.max_aliases as u64,
                default_page_size: settings.default_page_size,
                max_page_size: settings.max_page_size,
            },
            max_document_bytes: settings.max_document_bytes,
        }
    }

    /// Parses the request's document (kept in the request for execution) and
    /// measures it. A document that does not parse passes: the engine reports it.
    ///
    /// # Errors
    /// `QUERY_TOO_COMPLEX` for a document over a limit, before any resolver runs.
    pub fn admit(
        &self,
        request: &mut async_graphql::Request,
    ) -> Result<Option<Figures>, async_graphql::ServerError> {
        let started = std::time::Instant::now();
        let bytes = request.query.len();
        let result = if bytes > self.max_document_bytes {
            Err(TooComplex(format!(
                "Query document is {bytes} bytes; at most {} are allowed",
                self.max_document_bytes
            )))
        } else {
            // Lent out while the parsed document borrows the request.
            let variables = std::mem::take(&mut request.variables);
            let checked = match request.parsed_query() {
                Ok(doc) => check(&self.shape, doc, &variables, &self.limits).map(Some),
                Err(_) => Ok(None),
            };
            request.variables = variables;
            checked
        };
        metrics::histogram!("tenantry_graphql_admission_seconds")
            .record(started.elapsed().as_secs_f64());
        result.map_err(|TooComplex(why)| {
            metrics::counter!("tenantry_graphql_refused_total", "reason" => "too_complex")
                .increment(1);
            let mut e = async_graphql::ServerError::new(why, None);
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", super::error::code::QUERY_TOO_COMPLEX);
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    const LIMITS: Limits = Limits {
        max_depth: 12,
        max_complexity: 5000,
        max_round_trips: 50,
        max_fields: 5000,
        max_aliases: 30,
        default_page_size: 20,
        max_page_size: 100,
    };

    fn shape() -> Shape {
        Shape::from_sdl(&crate::graphql::sdl())
    }

    fn figures(query: &str) -> Result<Figures, TooComplex> {
        figures_with(query, Variables::default())
    }

    fn figures_with(query: &str, vars: Variables) -> Result<Figures, TooComplex> {
        measure(&shape(), &parse_query(query).unwrap(), &vars, &LIMITS)
    }

    fn admitted(query: &str) -> Result<Figures, TooComplex> {
        check(
            &shape(),
            &parse_query(query).unwrap(),
            &Variables::default(),
            &LIMITS,
        )
    }

    /// Fragments `F0`..`F{levels-1}`, each spreading the next `fanout` times.
    fn fan_out(levels: usize, fanout: usize) -> String {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..levels {
            let spreads = if i + 1 == levels {
                "__typename".to_owned()
            } else {
                (0..fanout).map(|_| format!("...F{} ", i + 1)).collect()
            };
            q.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
        }
        q
    }

    #[test]
    fn graphql_js_standard_introspection_passes_the_default_limits() {
        let q = include_str!("../../tests/data/introspection.graphql");
        let f = admitted(q).expect("the standard introspection query is admitted");
        assert_eq!(f.depth, 0, "introspection does not count as depth");
        assert_eq!(f.round_trips, 0);
        assert!(f.fields > 100 && f.fields < 1000, "{f:?}");
    }

    #[test]
    fn introspection_nesting_types_three_times_is_refused() {
        let twice = "{ __schema { types { fields { type { fields { name } } } } } }";
        assert!(admitted(twice).is_ok());
        let thrice =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        let err = admitted(thrice).unwrap_err();
        assert!(err.0.contains("Introspection"), "{err:?}");
    }

    #[test]
    fn a_fan_out_of_fragments_is_measured_once_per_fragment_and_refused() {
        // 4^11 spreads in place, measured by visiting 12 fragments.
        let q = fan_out(12, 4);
        assert!(q.len() < 1000);
        let f = figures(&q).unwrap();
        assert_eq!(f.fields, 4u64.pow(11));
        let err = admitted(&q).unwrap_err();
        assert!(err.0.contains("expands to fields"), "{err:?}");
    }

    #[test]
    fn depth_counts_through_fragments() {
        let q = "{ ...A } fragment A on Query { projects { edges { node { ...B } } } } \
                 fragment B on Project { tasks { edges { node { project { name } } } } }";
        assert_eq!(figures(q).unwrap().depth, 8);
    }

    #[test]
    fn lists_are_round_trips_that_multiply_what_they_select() {
        let q = "{ projects(first: 100) { edges { node { tasks(first: 1) { totalCount } } } } }";
        let f = figures(q).unwrap();
        // The projects page, then per project its tasks page and its count.
        assert_eq!(f.round_trips, 1 + 100 * 2);
        // projects and edges; then per project its node, tasks and count.
        assert_eq!(f.complexity, 2 + 100 * 3);
        assert!(admitted(q).unwrap_err().0.contains("round trips"));
        // The default page when none is asked, and a variable's value when given.
        let default = figures("{ projects { edges { node { tasks { totalCount } } } } }").unwrap();
        assert_eq!(default.round_trips, 1 + 20 * 2);
        let vars = Variables::from_json(serde_json::json!({ "n": 3 }));
        let q = "query($n: Int) { projects(first: $n) { nodes { tasks { nodes { id } } } } }";
        assert_eq!(figures_with(q, vars).unwrap().round_trips, 1 + 3);
    }

    #[test]
    fn twelve_aliased_heavy_lists_are_refused() {
        let one = "projects(first: 100) { edges { node { tasks(first: 1) { totalCount } } } }";
        let q: String = (0..12).map(|i| format!("p{i}: {one} ")).collect();
        let err = admitted(&format!("{{ {q} }}")).unwrap_err();
        assert!(err.0.contains("round trips"), "{err:?}");
    }

    #[test]
    fn mutation_fields_cost_most_and_aliases_count_where_spread() {
        let ten: String = (0..10)
            .map(|i| format!("m{i}: deleteTask(id: \"x\") "))
            .collect();
        let f = figures(&format!("mutation {{ {ten} }}")).unwrap();
        assert_eq!((f.complexity, f.round_trips), (5000, 10));
        let eleven = format!("mutation {{ {ten} m10: deleteTask(id: \"x\") }}");
        assert!(admitted(&eleven).unwrap_err().0.contains("complex"));
        let q = "{ ...F ...F ...G } fragment F on Query { a: me { id } b: me { id } } \
                 fragment G on Query { ...F }";
        assert_eq!(figures(q).unwrap().aliases, 6);
    }

    #[test]
    fn a_fragment_cycle_is_refused() {
        let q = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(figures(q).unwrap_err().0.contains("spreads itself"));
    }

    #[test]
    fn unused_fragments_and_other_operations_are_measured_too() {
        let bomb = fan_out(12, 4).replacen("query { ...F0 }", "query A { me { id } }", 1);
        let err = admitted(&bomb).unwrap_err();
        assert!(err.0.contains("expands to fields"), "{err:?}");
    }

    #[test]
    fn the_merge_rules_flattening_is_bounded() {
        // A chain of fragments each spreading the next at the same level:
        // every selection set that spreads the head flattens the whole chain.
        let n = 40;
        let mut q = String::from("{ ");
        for _ in 0..200 {
            q.push_str("me { ...C0 } ");
        }
        q.push_str("}\n");
        for i in 0..n {
            let next = if i + 1 == n {
                String::new()
            } else {
                format!("...C{}", i + 1)
            };
            q.push_str(&format!("fragment C{i} on User {{ id {next} }}\n"));
        }
        let f = figures(&q).unwrap();
        assert!(f.flattened >= 200 * n as u64, "{f:?}");
    }

    #[test]
    fn nesting_past_the_walks_bound_is_refused_not_overflowed() {
        let mut chain = String::from("{ ...C0 }\n");
        for i in 0..200 {
            chain.push_str(&format!("fragment C{i} on Query {{ ...C{} }}\n", i + 1));
        }
        chain.push_str("fragment C200 on Query { __typename }\n");
        assert!(figures(&chain).unwrap_err().0.contains("nests"));
    }
}
