//! What `generate resource` was asked for, checked, and named every way the
//! templates spell it.

use anyhow::{Result, bail, ensure};
use heck::{ToLowerCamelCase, ToPascalCase, ToShoutySnakeCase, ToSnakeCase};
use serde::Serialize;

/// Columns every resource has; a field may not take their names.
const RESERVED: &[&str] = &[
    "id",
    "tenant_id",
    "created_at",
    "updated_at",
    "version",
    "search",
    "input",
];

/// Rust keywords (strict and reserved), which cannot name a field.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `all_valid` (domain/src/validate.rs) takes tuples of up to seven.
const MAX_TEXT_FIELDS: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Required, 1 to 200 characters; sortable and searched.
    String,
    /// Optional (empty when absent), up to 10,000 characters; searched.
    Text,
    /// Required 32-bit integer; sortable.
    Int,
    /// Optional (false when absent); a list filter.
    Bool,
}

impl Kind {
    fn parse(raw: &str) -> Result<Self> {
        Ok(match raw {
            "string" => Kind::String,
            "text" => Kind::Text,
            "int" => Kind::Int,
            "bool" => Kind::Bool,
            other => bail!("unknown field type {other:?}: use string, text, int or bool"),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    pub camel: String,
    #[serde(rename = "Pascal")]
    pub pascal: String,
    /// The GraphQL enum value of its ordering, e.g. `DUE_AT`.
    pub screaming: String,
    pub kind: Kind,
    pub required: bool,
    pub max: usize,
    pub min: usize,
    /// The value object for text kinds, e.g. `InvoiceTitle`.
    pub value: String,
    /// The stored (and GraphQL) Rust type.
    pub rust: &'static str,
    pub domain_type: String,
    /// The type of the create input's field.
    pub input_type: String,
    /// The SeaORM migration column.
    pub column: String,
    /// A valid value, as Rust (the create input) and as JSON.
    pub rust_sample: &'static str,
    pub json_sample: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)] // the templates read `r.Name` beside `r.name`
pub struct Resource {
    pub Name: String,
    pub Names: String,
    pub name: String,
    pub names: String,
    pub nameCamel: String,
    pub namesCamel: String,
    /// In prose: "line item".
    pub human: String,
    pub humans: String,
    pub fields: Vec<Field>,
    /// String and text fields: validated and searched.
    pub texts: Vec<Field>,
    /// String and int fields: each an ordering with its own keyset index.
    pub sortables: Vec<Field>,
    pub bools: Vec<Field>,
    /// The first string field: what lists show and tests sort by.
    pub key: Field,
    /// The fields of a GraphQL selection, e.g. `title notes amount`.
    pub selection: String,
    /// The camel names of the text fields as a Rust array, e.g. `["title", "notes"]`.
    pub text_camels: String,
    /// A valid create input as a GraphQL literal, escaped for a Rust string.
    pub gql_input: String,
}

fn field(resource: &str, spec: &str) -> Result<Field> {
    let Some((name, kind)) = spec.split_once(':') else {
        bail!("{spec:?}: a field is name:type, e.g. title:string");
    };
    let kind = Kind::parse(kind)?;
    ensure!(
        !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.to_snake_case() == name,
        "field {name:?}: use snake_case (lower-case letters, digits and _)"
    );
    ensure!(
        !RESERVED.contains(&name) && !KEYWORDS.contains(&name),
        "field {name:?}: the name is taken (every resource has {}; Rust keywords cannot be used)",
        RESERVED.join(", ")
    );
    let pascal = name.to_pascal_case();
    let (rust, min, max) = match kind {
        Kind::String => ("String", 1, 200),
        Kind::Text => ("String", 0, 10_000),
        Kind::Int => ("i32", 0, 0),
        Kind::Bool => ("bool", 0, 0),
    };
    let value = format!("{resource}{pascal}");
    let domain_type = match kind {
        Kind::String | Kind::Text => value.clone(),
        _ => rust.to_owned(),
    };
    let required = matches!(kind, Kind::String | Kind::Int);
    let input_type = if required {
        rust.to_owned()
    } else {
        format!("Option<{rust}>")
    };
    let column = match kind {
        Kind::String => format!("string_len(T::{pascal}, {max})"),
        Kind::Text => format!("text(T::{pascal})"),
        Kind::Int => format!("integer(T::{pascal})"),
        Kind::Bool => format!("boolean(T::{pascal})"),
    };
    let (rust_sample, json_sample) = match kind {
        Kind::String => ("\"Sample\".to_owned()", "\"Sample\""),
        Kind::Text => ("Some(\"Sample\".to_owned())", "\"Sample\""),
        Kind::Int => ("42", "42"),
        Kind::Bool => ("Some(true)", "true"),
    };
    Ok(Field {
        camel: name.to_lower_camel_case(),
        screaming: name.to_shouty_snake_case(),
        name: name.to_owned(),
        pascal,
        kind,
        required,
        max,
        min,
        value,
        rust,
        domain_type,
        input_type,
        column,
        rust_sample,
        json_sample,
    })
}

/// English plurals for the common cases; `--plural` for the rest.
pub fn plural(snake: &str) -> String {
    let consonant_y = snake.ends_with('y')
        && !snake.ends_with("ay")
        && !snake.ends_with("ey")
        && !snake.ends_with("oy")
        && !snake.ends_with("uy");
    if consonant_y {
        format!("{}ies", &snake[..snake.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| snake.ends_with(e))
    {
        format!("{snake}es")
    } else {
        format!("{snake}s")
    }
}

impl Resource {
    /// # Errors
    /// A name or field the generated code could not carry, saying why.
    pub fn new(name: &str, plural_name: Option<&str>, specs: &[String]) -> Result<Self> {
        ensure!(
            name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric())
                && name.to_pascal_case() == name,
            "{name:?}: name the resource in PascalCase and singular, e.g. Invoice or LineItem"
        );
        let snake = name.to_snake_case();
        // Event names (`line_item.created`) fit outbox_events.event_type, 32 characters.
        ensure!(
            snake.len() <= 24,
            "{name:?}: at most 24 characters in snake_case"
        );
        let names = match plural_name {
            Some(p) => {
                ensure!(
                    p.to_snake_case() == p && p != snake,
                    "--plural {p:?}: snake_case, and not the singular"
                );
                p.to_owned()
            }
            None => plural(&snake),
        };
        ensure!(
            !specs.is_empty(),
            "give at least one field, e.g. title:string"
        );
        let fields = specs
            .iter()
            .map(|s| field(name, s))
            .collect::<Result<Vec<_>>>()?;
        for (i, f) in fields.iter().enumerate() {
            ensure!(
                fields[..i].iter().all(|g| g.name != f.name),
                "field {:?} is given twice",
                f.name
            );
        }
        let Some(key) = fields.iter().find(|f| f.kind == Kind::String).cloned() else {
            bail!("give at least one string field: the first names a row in lists and tests");
        };
        let of = |keep: &dyn Fn(Kind) -> bool| -> Vec<Field> {
            fields.iter().filter(|f| keep(f.kind)).cloned().collect()
        };
        let texts = of(&|k| matches!(k, Kind::String | Kind::Text));
        ensure!(
            texts.len() <= MAX_TEXT_FIELDS,
            "at most {MAX_TEXT_FIELDS} string and text fields (validation reports them together)"
        );
        let quoted: Vec<_> = texts.iter().map(|f| format!("{:?}", f.camel)).collect();
        let gql_input = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| format!("{}: {}", f.camel, f.json_sample.replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            Name: name.to_owned(),
            Names: names.to_pascal_case(),
            nameCamel: snake.to_lower_camel_case(),
            namesCamel: names.to_lower_camel_case(),
            human: snake.replace('_', " "),
            humans: names.replace('_', " "),
            name: snake,
            names,
            texts,
            sortables: of(&|k| matches!(k, Kind::String | Kind::Int)),
            bools: of(&|k| k == Kind::Bool),
            key,
            selection: fields
                .iter()
                .map(|f| f.camel.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            text_camels: format!("[{}]", quoted.join(", ")),
            gql_input,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_are_spelt_every_way_the_code_needs() {
        let r = Resource::new("LineItem", None, &specs(&["title:string", "due_on:int"])).unwrap();
        assert_eq!(
            (r.name.as_str(), r.names.as_str(), r.Names.as_str()),
            ("line_item", "line_items", "LineItems")
        );
        assert_eq!(
            (r.nameCamel.as_str(), r.namesCamel.as_str()),
            ("lineItem", "lineItems")
        );
        assert_eq!(r.fields[1].camel, "dueOn");
        assert_eq!(r.fields[1].screaming, "DUE_ON");
        assert_eq!(r.key.name, "title");
        assert_eq!(r.gql_input, "title: \\\"Sample\\\", dueOn: 42");
        assert_eq!(r.sortables.len(), 2);
    }

    #[test]
    fn plurals_cover_the_common_endings() {
        for (one, many) in [
            ("invoice", "invoices"),
            ("category", "categories"),
            ("day", "days"),
            ("box", "boxes"),
            ("batch", "batches"),
        ] {
            assert_eq!(plural(one), many);
        }
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (name, fields, says) in [
            ("invoice", vec!["title:string"], "PascalCase"),
            ("Invoice", vec![], "at least one field"),
            ("Invoice", vec!["amount:int"], "string field"),
            ("Invoice", vec!["title:varchar"], "unknown field type"),
            ("Invoice", vec!["Title:string"], "snake_case"),
            ("Invoice", vec!["version:int", "t:string"], "taken"),
            ("Invoice", vec!["type:string"], "taken"),
            ("Invoice", vec!["t:string", "t:text"], "twice"),
        ] {
            let err = Resource::new(name, None, &specs(&fields)).unwrap_err();
            assert!(err.to_string().contains(says), "{name} {fields:?}: {err}");
        }
    }
}
