//! Where a resource goes: the files it adds, and the lines it adds to the
//! house's lists at their `// generate: <anchor>` markers (each found exactly
//! once, or nothing is written).

use crate::resource::Resource;
use anyhow::{Context, Result, bail};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, context};
use std::fs;
use std::path::{Path, PathBuf};

/// A new file: its path from the workspace root, and its template.
const FILES: &[(&str, &str)] = &[
    (
        "migration/src/tenant/[[ migration ]].rs",
        include_str!("../templates/migration.rs"),
    ),
    (
        "infra/src/entities/[[ r.name ]].rs",
        include_str!("../templates/entity.rs"),
    ),
    (
        "domain/src/[[ r.name ]].rs",
        include_str!("../templates/domain.rs"),
    ),
    (
        "infra/src/tenancy/[[ r.names ]].rs",
        include_str!("../templates/repository.rs"),
    ),
    (
        "api/src/graphql/[[ r.names ]].rs",
        include_str!("../templates/graphql.rs"),
    ),
    (
        "tests/tests/api/[[ r.names ]].rs",
        include_str!("../templates/tests.rs"),
    ),
];

/// Lines added above a marker: the file, the marker's anchor, the lines.
const LINES: &[(&str, &str, &str)] = &[
    ("migration/src/tenant/mod.rs", "migrations", "pub mod [[ migration ]];"),
    (
        "migration/src/lib.rs",
        "migrations",
        "Box::new(tenant::[[ migration ]]::Migration),",
    ),
    ("migration/src/lib.rs", "tenant-tables", "\"[[ r.names ]]\","),
    ("infra/src/entities/mod.rs", "entities", "pub mod [[ r.name ]];"),
    (
        "infra/src/tenancy/registry.rs",
        "tenant-data",
        "[[ r.name ]] => Export::Rows,",
    ),
    ("infra/src/tenancy/mod.rs", "repositories", "mod [[ r.names ]];"),
    (
        "infra/src/tenancy/events.rs",
        "event-data",
        "Subject::[[ r.Name ]](x) => json!({ \"[[ r.nameCamel ]]\": super::[[ r.names ]]::[[ r.name ]]_json(x) }),",
    ),
    ("domain/src/lib.rs", "domain-modules", "pub mod [[ r.name ]];"),
    ("domain/src/ids.rs", "ids", "id_type!([[ r.Name ]]Id);"),
    (
        "domain/src/values.rs",
        "values",
        "[% for f in r.texts %]text_value!([[ f.value ]], [[ f.min ]], [[ f.max ]]);\n[% endfor %]",
    ),
    ("domain/src/error.rs", "entities", "[[ r.Name ]],"),
    (
        "domain/src/error.rs",
        "entity-names",
        "Entity::[[ r.Name ]] => \"[[ r.human ]]\",",
    ),
    (
        "domain/src/ports.rs",
        "repositories",
        "+ crate::[[ r.name ]]::[[ r.Name ]]Repository",
    ),
    (
        "domain/src/events.rs",
        "event-types",
        "[% for e in events %][[ r.Name ]][[ e[0] ]],\n[% endfor %]",
    ),
    (
        "domain/src/events.rs",
        "event-list",
        "[% for e in events %]EventType::[[ r.Name ]][[ e[0] ]],\n[% endfor %]",
    ),
    (
        "domain/src/events.rs",
        "event-names",
        "[% for e in events %]EventType::[[ r.Name ]][[ e[0] ]] => \"[[ r.name ]].[[ e[1] ]]\",\n[% endfor %]",
    ),
    (
        "domain/src/events.rs",
        "subjects",
        "[[ r.Name ]](crate::[[ r.name ]]::[[ r.Name ]]),",
    ),
    (
        "domain/src/authz.rs",
        "permissions",
        "[[ r.Name ]]Read,\n[[ r.Name ]]Write,",
    ),
    (
        "domain/src/authz.rs",
        "permission-list",
        "Permission::[[ r.Name ]]Read,\nPermission::[[ r.Name ]]Write,",
    ),
    (
        "domain/src/authz.rs",
        "permission-names",
        "Permission::[[ r.Name ]]Read => \"[[ r.name ]]:read\",\nPermission::[[ r.Name ]]Write => \"[[ r.name ]]:write\",",
    ),
    (
        "domain/src/authz.rs",
        "admin-permissions",
        "P::[[ r.Name ]]Read,\nP::[[ r.Name ]]Write,",
    ),
    (
        "domain/src/authz.rs",
        "member-permissions",
        "P::[[ r.Name ]]Read,\nP::[[ r.Name ]]Write,",
    ),
    ("domain/src/authz.rs", "viewer-permissions", "P::[[ r.Name ]]Read,"),
    ("api/src/graphql/mod.rs", "graphql-modules", "mod [[ r.names ]];"),
    (
        "api/src/graphql/mod.rs",
        "queries",
        "[[ r.names ]]::[[ r.Name ]]Query,",
    ),
    (
        "api/src/graphql/mod.rs",
        "mutations",
        "[[ r.names ]]::[[ r.Name ]]Mutation,",
    ),
    (
        "api/src/graphql/guard.rs",
        "access",
        "(\"[[ r.namesCamel ]]\", Needs(P::[[ r.Name ]]Read)),
(\"[[ r.nameCamel ]]\", Needs(P::[[ r.Name ]]Read)),
(\"create[[ r.Name ]]\", Needs(P::[[ r.Name ]]Write)),
(\"update[[ r.Name ]]\", Needs(P::[[ r.Name ]]Write)),
(\"delete[[ r.Name ]]\", Needs(P::[[ r.Name ]]Write)),",
    ),
    (
        "api/src/services.rs",
        "services",
        "/// [[ r.Name ]] use cases, bound to the caller's tenant.
pub fn [[ r.names ]]<'a>(&'a self, ctx: &'a TenantContext) -> domain::[[ r.name ]]::[[ r.Names ]]<'a> {
    domain::[[ r.name ]]::[[ r.Names ]] {
        tenancy: &*self.tenancy,
        ctx,
    }
}
",
    ),
    ("tests/tests/api/main.rs", "test-modules", "mod [[ r.names ]];"),
    (
        "tests/tests/api/permissions.rs",
        "permission-matrix",
        "(\"[[ r.namesCamel ]]\", \"{ [[ r.namesCamel ]] { totalCount } }\".into(), [true, true, true, true, false], Runs),
(\"[[ r.nameCamel ]]\", format!(\"{{ [[ r.nameCamel ]](id: \\\"{nobody}\\\") {{ id }} }}\"), [true, true, true, true, false], NotFound),
(\"create[[ r.Name ]]\", \"mutation { create[[ r.Name ]](input: {[[ r.gql_input ]]}) { id } }\".into(), [true, true, true, false, false], Runs),
(\"update[[ r.Name ]]\", format!(\"mutation {{ update[[ r.Name ]](id: \\\"{nobody}\\\", input: {{[[ r.key.camel ]]: \\\"x\\\"}}, expectedVersion: 1) {{ id }} }}\"), [true, true, true, false, false], NotFound),
(\"delete[[ r.Name ]]\", format!(\"mutation {{ delete[[ r.Name ]](id: \\\"{nobody}\\\") }}\"), [true, true, true, false, false], NotFound),",
    ),
    (
        "tests/tests/api/tenant_data.rs",
        "tenant-data-rows",
        "first
    .data(
        Some(&token),
        \"mutation { create[[ r.Name ]](input: {[[ r.gql_input ]]}) { id } }\",
        json!({}),
    )
    .await;",
    ),
];

const EVENTS: &[(&str, &str)] = &[
    ("Created", "created"),
    ("Updated", "updated"),
    ("Deleted", "deleted"),
];

/// Everything the generator will write, rendered and checked, nothing written yet.
pub struct Plan {
    pub new_files: Vec<(PathBuf, String)>,
    pub changed_files: Vec<(PathBuf, String)>,
}

fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // Rust is full of `{{` and `{%`-free braces; these delimiters never occur in it.
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    Ok(env)
}

/// `m<date>_<seq>_<table>`, sorting after every migration already there.
fn migration_name(root: &Path, r: &Resource) -> Result<String> {
    let dir = root.join("migration/src/tenant");
    let mut newest = String::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('m') && name.ends_with(".rs") && name > newest {
            newest = name;
        }
    }
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    // `m20261121_000004_…`: date and sequence of the newest.
    let (date, seq) = (
        newest.get(1..9).unwrap_or(""),
        newest.get(10..16).unwrap_or("0"),
    );
    let seq: u32 = seq.parse().unwrap_or(0);
    Ok(if today.as_str() > date {
        format!("m{today}_000001_{}", r.names)
    } else {
        format!("m{date}_{:06}_{}", seq + 1, r.names)
    })
}

/// Inserts `lines` above the line holding `// generate: <anchor>`, at its indentation.
fn insert_at_marker(text: &str, anchor: &str, lines: &str) -> Result<String> {
    let marker = format!("// generate: {anchor}");
    let hits: Vec<_> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == marker)
        .map(|(i, _)| i)
        .collect();
    let [at] = hits[..] else {
        bail!(
            "expected the marker `{marker}` once, found it {} times",
            hits.len()
        );
    };
    let all: Vec<&str> = text.lines().collect();
    let indent: String = all[at].chars().take_while(|c| c.is_whitespace()).collect();
    let mut out: Vec<String> = all[..at].iter().map(|l| (*l).to_owned()).collect();
    out.extend(lines.trim_end_matches('\n').lines().map(|l| {
        if l.is_empty() {
            String::new()
        } else {
            format!("{indent}{l}")
        }
    }));
    out.extend(all[at..].iter().map(|l| (*l).to_owned()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(joined)
}

impl Plan {
    /// # Errors
    /// A file already there, a marker missing or repeated, a template that
    /// does not render: before anything is written.
    pub fn new(root: &Path, r: &Resource) -> Result<Self> {
        let env = environment()?;
        let migration = migration_name(root, r)?;
        let ctx = context! { r => Serde(r), migration => migration, events => Serde(EVENTS) };
        let render = |name: &str, src: &str| {
            env.render_str(src, &ctx)
                .with_context(|| format!("rendering {name}"))
        };
        let mut new_files = Vec::new();
        for (path, template) in FILES {
            let path = root.join(render("a path", path)?);
            if path.exists() {
                bail!(
                    "{} exists: is the resource generated already? (git status shows what a run left)",
                    path.display()
                );
            }
            new_files.push((path.clone(), render(&path.display().to_string(), template)?));
        }
        let mut changed: Vec<(PathBuf, String)> = Vec::new();
        for (path, anchor, template) in LINES {
            let path = root.join(path);
            let lines = render(&format!("{} at {anchor}", path.display()), template)?;
            let i = match changed.iter().position(|(p, _)| *p == path) {
                Some(i) => i,
                None => {
                    let text = fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    changed.push((path.clone(), text));
                    changed.len() - 1
                }
            };
            changed[i].1 = insert_at_marker(&changed[i].1, anchor, &lines)
                .with_context(|| path.display().to_string())?;
        }
        Ok(Self {
            new_files,
            changed_files: changed,
        })
    }

    /// # Errors
    /// A file that cannot be written (those before it stay written: `git
    /// status` shows them, `git checkout . && git clean -fd` undoes a run).
    pub fn write(&self) -> Result<()> {
        for (path, text) in self.new_files.iter().chain(&self.changed_files) {
            fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_above_their_marker_at_its_indentation() {
        let text = "fn f() {\n    a,\n    // generate: here\n}\n";
        let out = insert_at_marker(text, "here", "b,\nc,\n").unwrap();
        assert_eq!(
            out,
            "fn f() {\n    a,\n    b,\n    c,\n    // generate: here\n}\n"
        );
    }

    /// Renders against this workspace (writing nothing): every template
    /// renders and every marker is where the plan expects it. Compiling and
    /// testing the output is `scripts/generator-check`'s.
    #[test]
    fn every_file_and_line_renders_against_this_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let fields: Vec<String> = ["title:string", "notes:text", "amount:int", "paid:bool"]
            .map(str::to_owned)
            .into();
        let r = Resource::new("LineItem", None, &fields).unwrap();
        let plan = Plan::new(root, &r).unwrap();
        assert_eq!(plan.new_files.len(), FILES.len());
        let domain = &plan.new_files[2].1;
        assert!(domain.contains("pub struct LineItem {"), "{domain}");
        assert!(!domain.contains("[[") && !domain.contains("[%"));
        let (_, authz) = plan
            .changed_files
            .iter()
            .find(|(p, _)| p.ends_with("domain/src/authz.rs"))
            .unwrap();
        assert!(authz.contains("Permission::LineItemWrite => \"line_item:write\","));
        // The markers stay, for the next resource.
        assert!(authz.contains("// generate: viewer-permissions"));
    }

    #[test]
    fn a_missing_or_repeated_marker_is_refused() {
        assert!(insert_at_marker("x\n", "here", "y").is_err());
        let twice = "// generate: here\n// generate: here\n";
        assert!(insert_at_marker(twice, "here", "y").is_err());
    }
}
