//! Formulas: a workflow template in TOML (steps that need each other) and
//! its rules — parsing with line numbers, validation (ids, `needs`, cycles,
//! variables), and rendering with variables into the steps of a molecule.
//! No I/O: the services read the files and create the beads.
//!
//! ```toml
//! description = "three steps in a row"
//! [vars.topic]
//! required = true            # also: default = "…", description = "…"
//! [[step]]
//! id = "design"
//! title = "Design {{topic}}"
//! [[step]]
//! id = "build"
//! title = "Build {{topic}}"
//! needs = ["design"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::bead::{validate_title, BeadType};
use crate::error::{Error, Result};

/// The most steps a formula may have.
pub const MAX_STEPS: usize = 200;

/// A variable a formula takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Var {
    pub name: String,
    pub required: bool,
    pub default: Option<String>,
    pub description: Option<String>,
}

/// One step: a bead of the molecule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// The agent runtime for this step (default: the run's, then the rig's).
    pub agent: Option<String>,
    #[serde(rename = "type")]
    pub bead_type: Option<BeadType>,
    pub priority: Option<u8>,
    pub labels: Vec<String>,
    pub acceptance: Option<String>,
    /// Steps that must be landed before this one starts.
    pub needs: Vec<String>,
}

/// A parsed, valid formula.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Formula {
    pub name: String,
    pub description: String,
    pub vars: Vec<Var>,
    pub steps: Vec<Step>,
}

/// What is wrong with a formula file: where, and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormulaError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl From<FormulaError> for Error {
    fn from(e: FormulaError) -> Error {
        Error::invalid(e.to_string())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormula {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vars: BTreeMap<Spanned<String>, RawVar>,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    #[serde(default)]
    required: bool,
    default: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    title: String,
    description: Option<String>,
    agent: Option<String>,
    #[serde(rename = "type")]
    bead_type: Option<String>,
    priority: Option<u8>,
    #[serde(default)]
    labels: Vec<String>,
    acceptance: Option<String>,
    #[serde(default)]
    needs: Vec<Spanned<String>>,
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// A name of a step or variable: lower-case letters, digits, `_` and `-`,
/// starting with a letter, at most 40 characters.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} '{}' must be lower-case letters, digits, '_' or '-', starting with a letter (at most 40)",
            name.escape_debug()
        )))
    }
}

/// The `{{name}}` references of a template, in order; an unclosed `{{` is
/// an error.
fn references(template: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("'{{' without a closing '}}'".into());
        };
        out.push(after[..j].trim().to_string());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Parses and validates formula `name` from `text` (`file` names it in
/// messages).
pub fn parse(name: &str, file: &str, text: &str) -> std::result::Result<Formula, FormulaError> {
    let err = |at: usize, message: String| FormulaError {
        file: file.to_string(),
        line: line_of(text, at),
        message,
    };
    let raw: RawFormula = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        err(at, e.message().trim().replace('\n', " "))
    })?;
    if let Err(e) = validate_name("formula name", name) {
        return Err(err(0, e.to_string()));
    }
    let mut vars = Vec::new();
    for (k, v) in &raw.vars {
        validate_name("variable", k.get_ref()).map_err(|e| err(k.span().start, e.to_string()))?;
        if v.required && v.default.is_some() {
            return Err(err(
                k.span().start,
                format!(
                    "variable '{}' is required and has a default: choose one",
                    k.get_ref()
                ),
            ));
        }
        vars.push(Var {
            name: k.get_ref().clone(),
            required: v.required,
            default: v.default.clone(),
            description: v.description.clone(),
        });
    }
    let declared: BTreeSet<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    if raw.steps.is_empty() {
        return Err(err(0, "a formula needs at least one [[step]]".into()));
    }
    if raw.steps.len() > MAX_STEPS {
        return Err(err(
            0,
            format!("{} steps; the limit is {MAX_STEPS}", raw.steps.len()),
        ));
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut at_of: BTreeMap<String, usize> = BTreeMap::new();
    for s in &raw.steps {
        let at = s.span().start;
        let r = s.get_ref();
        let id = r.id.get_ref();
        validate_name("step id", id).map_err(|e| err(r.id.span().start, e.to_string()))?;
        if at_of.contains_key(id) {
            return Err(err(r.id.span().start, format!("duplicate step id '{id}'")));
        }
        at_of.insert(id.clone(), at);
        for (field, t) in [
            ("title", Some(&r.title)),
            ("description", r.description.as_ref()),
            ("acceptance", r.acceptance.as_ref()),
        ] {
            let Some(t) = t else { continue };
            for v in references(t).map_err(|m| err(at, format!("step '{id}' {field}: {m}")))? {
                if !declared.contains(v.as_str()) {
                    return Err(err(
                        at,
                        format!("step '{id}' {field} uses {{{{{v}}}}}, which is not a declared variable ([vars.{v}])"),
                    ));
                }
            }
        }
        let bead_type = match &r.bead_type {
            Some(t) => {
                Some(BeadType::from_str(t).map_err(|e| err(at, format!("step '{id}': {e}")))?)
            }
            None => None,
        };
        if let Some(p) = r.priority {
            if p > 4 {
                return Err(err(at, format!("step '{id}': priority {p} is not 0 to 4")));
            }
        }
        if let Some(a) = &r.agent {
            if a.trim().is_empty() || a.chars().any(char::is_control) {
                return Err(err(at, format!("step '{id}': agent must be a name")));
            }
        }
        steps.push(Step {
            id: id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            agent: r.agent.clone(),
            bead_type,
            priority: r.priority,
            labels: r.labels.clone(),
            acceptance: r.acceptance.clone(),
            needs: r.needs.iter().map(|n| n.get_ref().clone()).collect(),
        });
    }
    for (s, raw_step) in steps.iter().zip(&raw.steps) {
        for n in &raw_step.get_ref().needs {
            let need = n.get_ref();
            if need == &s.id {
                return Err(err(n.span().start, format!("step '{}' needs itself", s.id)));
            }
            if !at_of.contains_key(need) {
                return Err(err(
                    n.span().start,
                    format!(
                        "step '{}' needs '{need}', which is not a step of this formula",
                        s.id
                    ),
                ));
            }
        }
    }
    let f = Formula {
        name: name.to_string(),
        description: raw.description.unwrap_or_default(),
        vars,
        steps,
    };
    if let Some(cycle) = f.cycle() {
        return Err(err(
            at_of[&cycle[0]],
            format!(
                "the steps' needs go round in a circle: {}",
                cycle.join(" → ")
            ),
        ));
    }
    Ok(f)
}

impl Formula {
    /// A cycle of `needs` (its ids, the first repeated at the end), if any.
    fn cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let index: BTreeMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut mark = vec![Mark::New; self.steps.len()];
        fn visit(
            f: &Formula,
            index: &BTreeMap<&str, usize>,
            mark: &mut Vec<Mark>,
            path: &mut Vec<usize>,
            i: usize,
        ) -> Option<Vec<String>> {
            mark[i] = Mark::Open;
            path.push(i);
            for n in &f.steps[i].needs {
                let j = index[n.as_str()];
                match mark[j] {
                    Mark::Open => {
                        let from = path.iter().position(|&p| p == j).unwrap_or(0);
                        let mut c: Vec<String> = path[from..]
                            .iter()
                            .map(|&p| f.steps[p].id.clone())
                            .collect();
                        c.push(f.steps[j].id.clone());
                        return Some(c);
                    }
                    Mark::New => {
                        if let Some(c) = visit(f, index, mark, path, j) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            path.pop();
            mark[i] = Mark::Done;
            None
        }
        for i in 0..self.steps.len() {
            if mark[i] == Mark::New {
                if let Some(c) = visit(self, &index, &mut mark, &mut Vec::new(), i) {
                    return Some(c);
                }
            }
        }
        None
    }

    /// The step indexes in an order where every step comes after what it
    /// needs (file order where free).
    pub fn order(&self) -> Vec<usize> {
        let index: BTreeMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut placed = vec![false; self.steps.len()];
        let mut out = Vec::with_capacity(self.steps.len());
        while out.len() < self.steps.len() {
            let before = out.len();
            for (i, s) in self.steps.iter().enumerate() {
                if !placed[i] && s.needs.iter().all(|n| placed[index[n.as_str()]]) {
                    placed[i] = true;
                    out.push(i);
                }
            }
            if out.len() == before {
                break; // a cycle: parse refuses those
            }
        }
        out
    }

    /// The values of every variable: `given`, else defaults. Refuses a
    /// variable the formula does not take, a required one not given, and
    /// values with control characters.
    pub fn values(&self, given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for k in given.keys() {
            if !self.vars.iter().any(|v| &v.name == k) {
                let known: Vec<&str> = self.vars.iter().map(|v| v.name.as_str()).collect();
                return Err(Error::invalid(format!(
                    "formula {} has no variable '{}' (its variables: {})",
                    self.name,
                    k.escape_debug(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        for v in &self.vars {
            let value = match (given.get(&v.name), &v.default) {
                (Some(x), _) => x.clone(),
                (None, Some(d)) => d.clone(),
                (None, None) if v.required => {
                    return Err(Error::invalid(format!(
                        "formula {} needs --var {}=VALUE",
                        self.name, v.name
                    )))
                }
                (None, None) => String::new(),
            };
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(Error::invalid(format!(
                    "variable {} must be one line without control characters",
                    v.name
                )));
            }
            out.insert(v.name.clone(), value);
        }
        Ok(out)
    }

    /// The steps with every `{{variable}}` replaced (titles checked as bead
    /// titles).
    pub fn render(&self, given: &BTreeMap<String, String>) -> Result<Vec<Step>> {
        let values = self.values(given)?;
        let fill = |t: &str| -> String {
            let mut s = t.to_string();
            for (k, v) in &values {
                s = s.replace(&format!("{{{{{k}}}}}"), v);
                s = s.replace(&format!("{{{{ {k} }}}}"), v);
            }
            s
        };
        self.steps
            .iter()
            .map(|s| {
                let title = fill(&s.title);
                validate_title(&title)
                    .map_err(|e| Error::invalid(format!("step {}: {e}", s.id)))?;
                Ok(Step {
                    title,
                    description: s.description.as_deref().map(fill),
                    acceptance: s.acceptance.as_deref().map(fill),
                    ..s.clone()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = r#"
description = "three steps in a row"
[vars.topic]
required = true
[[step]]
id = "design"
title = "Design {{topic}}"
[[step]]
id = "build"
title = "Build {{topic}}"
needs = ["design"]
[[step]]
id = "review"
title = "Review {{ topic }}"
needs = ["build"]
"#;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_chain_parses_orders_and_renders() {
        let f = parse("chain", "chain.toml", CHAIN).unwrap();
        assert_eq!(f.steps.len(), 3);
        assert_eq!(f.order(), vec![0, 1, 2]);
        let steps = f.render(&given(&[("topic", "the parser")])).unwrap();
        assert_eq!(steps[0].title, "Design the parser");
        assert_eq!(steps[2].title, "Review the parser");
        assert!(f
            .render(&given(&[]))
            .unwrap_err()
            .to_string()
            .contains("--var topic"));
        assert!(f
            .render(&given(&[("topic", "x"), ("nope", "y")]))
            .unwrap_err()
            .to_string()
            .contains("no variable 'nope'"));
        assert!(f.render(&given(&[("topic", "a\nb")])).is_err());
    }

    #[test]
    fn later_steps_may_be_needed_and_order_follows_needs() {
        let text = "[[step]]\nid = \"b\"\ntitle = \"B\"\nneeds = [\"a\"]\n[[step]]\nid = \"a\"\ntitle = \"A\"\n";
        let f = parse("x", "x.toml", text).unwrap();
        assert_eq!(f.order(), vec![1, 0]);
    }

    fn error_of(text: &str) -> FormulaError {
        parse("bad", "bad.toml", text).unwrap_err()
    }

    #[test]
    fn refusals_name_the_file_and_line() {
        let e =
            error_of("[[step]]\nid = \"a\"\ntitle = \"A\"\n[[step]]\nid = \"a\"\ntitle = \"B\"\n");
        assert_eq!((e.line, e.message.as_str()), (5, "duplicate step id 'a'"));
        assert_eq!(e.to_string(), "bad.toml:5: duplicate step id 'a'");
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"zz\"]\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("needs 'zz'"), "{e}");
        let e = error_of(
            "[[step]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"b\"]\n[[step]]\nid = \"b\"\ntitle = \"B\"\nneeds = [\"a\"]\n",
        );
        assert!(e.message.contains("a → b → a"), "{e}");
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"Do {{what}}\"\n");
        assert!(e.message.contains("{{what}}"), "{e}");
        assert_eq!(e.line, 1);
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"Do {{what\"\n");
        assert!(e.message.contains("closing"), "{e}");
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"a\"]\n");
        assert!(e.message.contains("needs itself"), "{e}");
        let e = error_of("description = \"x\"\n");
        assert!(e.message.contains("at least one"), "{e}");
        let e = error_of("[[step]]\nid = \"A b\"\ntitle = \"A\"\n");
        assert_eq!(e.line, 2);
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"A\"\ncolour = \"red\"\n");
        assert!(e.message.contains("colour"), "{e}");
        let e = error_of("[[step]]\nid = \"a\"\ntitle = \"A\"\ntype = \"saga\"\n");
        assert!(e.message.contains("saga"), "{e}");
        let e = error_of(
            "[vars.t]\nrequired = true\ndefault = \"x\"\n[[step]]\nid = \"a\"\ntitle = \"A\"\n",
        );
        assert!(e.message.contains("choose one"), "{e}");
        let e = error_of("not toml at all = = =");
        assert_eq!(e.line, 1);
    }
}
