//! Profile templates (minijinja) and their resolution order.
//!
//! Layout under the templates directory (most specific wins):
//! 1. `device/<mac>.xml.j2` (MAC as 12 lowercase hex digits)
//! 2. `group/<group>.xml.j2`
//! 3. `model/<PN>.xml.j2`
//! 4. `default.xml.j2`
//!
//! and `bootstrap.xml.j2` for the key-delivery profile (a built-in one is
//! used when it is missing). Any template may `{% extends "default.xml.j2" %}`
//! or `{% include %}` another by its path. All `*.j2` files are read and
//! compiled at start and on reload: a broken template is reported at once
//! (file and line) and a reload that finds one keeps the old set.

use std::path::Path;
use std::sync::Arc;

use minijinja::Environment;

use crate::error::ServerError;

/// Name of the fallback template.
pub const DEFAULT_TEMPLATE: &str = "default.xml.j2";
/// Name of the bootstrap template.
pub const BOOTSTRAP_TEMPLATE: &str = "bootstrap.xml.j2";

/// Built-in bootstrap profile: sets the rule that carries the device key.
const BUILTIN_BOOTSTRAP: &str = "<flat-profile>\n  <Profile_Rule>{{ profile_rule }}</Profile_Rule>\n  <Resync_On_Reset>Yes</Resync_On_Reset>\n</flat-profile>\n";

/// A compiled, immutable set of templates with its generation number
/// (bumped on every successful reload; part of every cache key).
pub struct TemplateSet {
    env: Environment<'static>,
    generation: u64,
}

impl std::fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateSet")
            .field("generation", &self.generation)
            .field("templates", &self.env.templates().count())
            .finish()
    }
}

/// What a device is, for picking its template.
#[derive(Debug, Clone, Copy)]
pub struct Selector<'a> {
    /// `$MA`.
    pub mac: &'a str,
    /// Group, if any.
    pub group: Option<&'a str>,
    /// `$PN`, if known.
    pub model: Option<&'a str>,
}

impl TemplateSet {
    /// Reads and compiles every `*.j2` under `dir` (recursively).
    pub fn load(dir: &Path, generation: u64) -> Result<TemplateSet, ServerError> {
        Self::from_sources(read_sources(dir)?, generation)
    }

    /// Compiles `(name, source)` pairs.
    pub fn from_sources(
        files: Vec<(String, String)>,
        generation: u64,
    ) -> Result<TemplateSet, ServerError> {
        let mut env = Environment::new();
        // Profiles are XML: escape values so a variable holding `<` or `&`
        // cannot break the document (or inject elements). Not minijinja's
        // HTML escaping: that also escapes `/`, which would mangle URLs.
        env.set_formatter(xml_formatter);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        let has_bootstrap = files.iter().any(|(n, _)| n == BOOTSTRAP_TEMPLATE);
        for (name, source) in files {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| template_error(&name, &e))?;
        }
        if !has_bootstrap {
            env.add_template(BOOTSTRAP_TEMPLATE, BUILTIN_BOOTSTRAP)
                .expect("built-in bootstrap template compiles");
        }
        // `extends`/`include` are resolved at render time; check them now so
        // a missing parent is a start-up error, not a 500 later.
        let names: Vec<String> = env.templates().map(|(n, _)| n.to_string()).collect();
        for name in names {
            let t = env
                .get_template(&name)
                .map_err(|e| template_error(&name, &e))?;
            if let Err(e) = t.render(minijinja::context! {}) {
                if matches!(
                    e.kind(),
                    minijinja::ErrorKind::TemplateNotFound | minijinja::ErrorKind::SyntaxError
                ) {
                    return Err(template_error(&name, &e));
                }
            }
        }
        Ok(TemplateSet { env, generation })
    }

    /// The generation number.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The most specific template for a device, or `None` when not even
    /// `default.xml.j2` exists.
    pub fn resolve(&self, sel: Selector<'_>) -> Option<String> {
        let candidates = [
            Some(format!("device/{}.xml.j2", sel.mac)),
            sel.group.map(|g| format!("group/{g}.xml.j2")),
            sel.model.map(|m| format!("model/{m}.xml.j2")),
            Some(DEFAULT_TEMPLATE.to_string()),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|name| self.env.get_template(name).is_ok())
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| describe(&e))?;
        t.render(ctx).map_err(|e| describe(&e))
    }
}

/// Writes values XML-escaped (`&`, `<`, `>`, `"`, `'`; the workspace's one
/// escaper) unless marked safe.
fn xml_formatter(
    out: &mut minijinja::Output<'_>,
    _state: &mut minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(());
    }
    let text = value.to_string();
    if value.is_safe() {
        return out.write_str(&text).map_err(minijinja::Error::from);
    }
    let escaped = phoneprov_types::xml::escape(&text, phoneprov_types::xml::XmlContext::Text);
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

fn template_error(name: &str, e: &minijinja::Error) -> ServerError {
    ServerError::Template {
        name: name.to_string(),
        message: describe(e),
    }
}

/// One line: the error, and `(in FILE line N)` when minijinja knows it.
pub fn describe(e: &minijinja::Error) -> String {
    let mut s = format!("{}", e.kind());
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    if let (Some(n), Some(l)) = (e.name(), e.line()) {
        s.push_str(&format!(" (in {n} line {l})"));
    }
    s
}

/// Every `*.j2` under `dir` as `(name, source)`, names relative to `dir`
/// with `/` separators.
pub fn read_sources(dir: &Path) -> Result<Vec<(String, String)>, ServerError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files).map_err(|error| ServerError::TemplateDir {
        path: dir.to_path_buf(),
        error,
    })?;
    Ok(files)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "j2") {
            let name = path
                .strip_prefix(root)
                .expect("walk stays under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

/// Shared handle type.
pub type SharedTemplates = Arc<TemplateSet>;

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> TemplateSet {
        TemplateSet::from_sources(
            files
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            1,
        )
        .unwrap()
    }

    #[test]
    fn most_specific_template_wins() {
        let t = set(&[
            ("default.xml.j2", "d"),
            ("model/CP-8841-3PCC.xml.j2", "m"),
            ("group/lab.xml.j2", "g"),
            ("device/000e08abcdef.xml.j2", "x"),
        ]);
        let sel = |mac, group, model| Selector { mac, group, model };
        assert_eq!(
            t.resolve(sel("000e08abcdef", Some("lab"), Some("CP-8841-3PCC")))
                .unwrap(),
            "device/000e08abcdef.xml.j2"
        );
        assert_eq!(
            t.resolve(sel("000e08000000", Some("lab"), Some("CP-8841-3PCC")))
                .unwrap(),
            "group/lab.xml.j2"
        );
        assert_eq!(
            t.resolve(sel("000e08000000", Some("other"), Some("CP-8841-3PCC")))
                .unwrap(),
            "model/CP-8841-3PCC.xml.j2"
        );
        assert_eq!(
            t.resolve(sel("000e08000000", None, None)).unwrap(),
            "default.xml.j2"
        );
        let empty = set(&[]);
        assert_eq!(empty.resolve(sel("000e08000000", None, None)), None);
    }

    #[test]
    fn extends_inherits_and_overrides_blocks() {
        let t = set(&[
            ("default.xml.j2", "<a>{% block x %}base{% endblock %}</a>"),
            (
                "group/lab.xml.j2",
                "{% extends \"default.xml.j2\" %}{% block x %}lab {{ mac }}{% endblock %}",
            ),
        ]);
        let out = t
            .render(
                "group/lab.xml.j2",
                minijinja::context! { mac => "000e08abcdef" },
            )
            .unwrap();
        assert_eq!(out, "<a>lab 000e08abcdef</a>");
    }

    #[test]
    fn values_are_xml_escaped() {
        let t = set(&[("default.xml.j2", "<v>{{ x }}</v>")]);
        let out = t
            .render("default.xml.j2", minijinja::context! { x => "a<b>&" })
            .unwrap();
        assert_eq!(out, "<v>a&lt;b&gt;&amp;</v>");
    }

    #[test]
    fn broken_templates_are_start_up_errors_with_a_line() {
        let e =
            TemplateSet::from_sources(vec![("default.xml.j2".into(), "a\n{% if %}\n".into())], 1)
                .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("default.xml.j2"), "{s}");
        assert!(s.contains("line 2"), "{s}");
        let e = TemplateSet::from_sources(
            vec![("default.xml.j2".into(), "{% extends \"nope.j2\" %}".into())],
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nope.j2"), "{e}");
    }

    #[test]
    fn builtin_bootstrap_carries_the_rule() {
        let t = set(&[]);
        let out = t
            .render(
                BOOTSTRAP_TEMPLATE,
                minijinja::context! { profile_rule => "[--key k] http://h/$MA.cfg" },
            )
            .unwrap();
        assert!(
            out.contains("<Profile_Rule>[--key k] http://h/$MA.cfg</Profile_Rule>"),
            "{out}"
        );
    }
}
