//! Formulas and molecules (issue 15): the formula files of a town
//! (`<town>/formulas/NAME.toml`, over the built-ins shipped with gt), and a
//! formula run: one molecule made in one transaction — an epic bead, one
//! queued bead per step with `blocks` dependencies as `needs` says, and a
//! convoy tracking the steps. The deacon's dispatch then starts each step
//! as soon as what it needs has landed (a blocked queued bead waits).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use crate::bead::{BeadType, DepType, NewBead, Status};
use crate::error::{Error, Result};
use crate::store::merge::MergeStore;
use crate::store::{BeadStore, RigStore};
use crate::workspace::Workspace;
pub use gt_core::formula::{Formula, FormulaError, Step, Var};

/// The formulas shipped with gt.
const BUILTIN: &[(&str, &str)] = &[
    ("bugfix", include_str!("../formulas/bugfix.toml")),
    ("feature", include_str!("../formulas/feature.toml")),
    ("review", include_str!("../formulas/review.toml")),
];

/// Bead metadata naming the formula of a molecule's epic and steps.
pub const META_FORMULA: &str = "formula";
/// Bead metadata of a step: its id in the formula.
pub const META_STEP: &str = "molecule_step";
/// Bead metadata of a step: its molecule (the epic bead).
pub const META_MOLECULE: &str = "molecule";

/// A formula as `gt formula list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FormulaInfo {
    pub name: String,
    pub description: String,
    /// `town` (a file under `<town>/formulas/`) or `builtin`.
    pub source: &'static str,
    /// The file, for a town formula.
    pub path: Option<PathBuf>,
    pub steps: usize,
}

fn town_dir(ws: &Workspace) -> PathBuf {
    ws.town.root().join("formulas")
}

/// The text of formula `name` and where it comes from (a town file wins
/// over a built-in of the same name).
fn source(ws: &Workspace, name: &str) -> Result<(String, String, Option<PathBuf>)> {
    gt_core::formula::validate_name("formula name", name)?;
    let path = town_dir(ws).join(format!("{name}.toml"));
    if let Some(text) = read_formula_file(&path)? {
        return Ok((text, path.display().to_string(), Some(path)));
    }
    match BUILTIN.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Ok((text.to_string(), format!("(built-in) {name}.toml"), None)),
        None => Err(Error::not_found("formula", name)),
    }
}

/// The most bytes a formula file may have.
const MAX_FILE: u64 = 1 << 20;

/// A town formula file's text; `None` when there is none.
fn read_formula_file(path: &std::path::Path) -> Result<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    if !meta.is_file() {
        return Err(Error::invalid(format!("{} is not a file", path.display())));
    }
    if meta.len() > MAX_FILE {
        return Err(Error::invalid(format!(
            "{} is {} bytes; a formula may have at most {MAX_FILE}",
            path.display(),
            meta.len()
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Error::invalid(format!("{} is not UTF-8 text", path.display())))
}

/// Formula `name`, parsed and validated.
pub fn load(ws: &Workspace, name: &str) -> Result<Formula> {
    let (text, file, _) = source(ws, name)?;
    Ok(gt_core::formula::parse(name, &file, &text)?)
}

/// Every formula: the town's, then the built-ins it does not override. A
/// town file that does not parse is listed with its error as description.
pub fn list(ws: &Workspace) -> Result<Vec<FormulaInfo>> {
    let mut out: BTreeMap<String, FormulaInfo> = BTreeMap::new();
    for (name, text) in BUILTIN {
        let f = gt_core::formula::parse(name, name, text)?;
        out.insert(
            name.to_string(),
            FormulaInfo {
                name: name.to_string(),
                description: f.description,
                source: "builtin",
                path: None,
                steps: f.steps.len(),
            },
        );
    }
    let dir = town_dir(ws);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let file = e.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".toml")) else {
                continue;
            };
            if gt_core::formula::validate_name("formula name", name).is_err() {
                continue;
            }
            let (description, steps) = match load(ws, name) {
                Ok(f) => (f.description, f.steps.len()),
                Err(e) => (format!("invalid: {e}"), 0),
            };
            out.insert(
                name.to_string(),
                FormulaInfo {
                    name: name.to_string(),
                    description,
                    source: "town",
                    path: Some(e.path()),
                    steps,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

/// One step of a run: its id in the formula and its bead.
#[derive(Debug, Clone, Serialize)]
pub struct RunStep {
    pub id: String,
    pub bead: String,
}

/// `gt formula run --json`.
#[derive(Debug, Clone, Serialize)]
pub struct MoleculeRun {
    pub molecule: String,
    pub convoy: i64,
    pub steps: Vec<RunStep>,
}

/// What a run is asked.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub formula: String,
    pub vars: BTreeMap<String, String>,
    /// The rig every step works in (default: the town's only rig).
    pub rig: Option<String>,
    /// The agent runtime of steps that name none.
    pub agent: Option<String>,
}

/// `gt formula run`: the molecule, in one transaction. Nothing is written
/// when the formula, a variable, the rig or an agent is refused.
pub fn run(ws: &Workspace, req: &RunRequest, actor: &str) -> Result<MoleculeRun> {
    let f = load(ws, &req.formula)?;
    let steps = f.render(&req.vars)?;
    let rig = match &req.rig {
        Some(r) => ws.store.get_rig(r)?.name,
        None => {
            let rigs = ws.store.list_rigs()?;
            match rigs.as_slice() {
                [only] => only.name.clone(),
                [] => return Err(Error::refused("the town has no rig: gt rig add NAME PATH")),
                _ => {
                    return Err(Error::invalid(
                        "the town has several rigs: say which with --rig",
                    ))
                }
            }
        }
    };
    // Every agent named must be one this town knows.
    for a in req
        .agent
        .iter()
        .chain(steps.iter().filter_map(|s| s.agent.as_ref()))
    {
        ws.town.config.runtime(a)?;
    }
    let values = f.values(&req.vars)?;
    let mut epic = NewBead::new(epic_title(&f, &values));
    epic.bead_type = Some(BeadType::Epic);
    epic.description = f.description.clone();
    epic.metadata.insert(META_FORMULA.into(), json!(f.name));
    epic.metadata.insert("vars".into(), json!(values));
    let order = f.order();
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(pos, &i)| (steps[i].id.as_str(), pos))
        .collect();
    let mut news = Vec::new();
    for &i in &order {
        let s = &steps[i];
        let mut n = NewBead::new(s.title.clone());
        n.description = match (&s.description, &s.acceptance) {
            (Some(d), Some(a)) => format!("{d}\n\nAcceptance: {a}"),
            (Some(d), None) => d.clone(),
            (None, Some(a)) => format!("Acceptance: {a}"),
            (None, None) => String::new(),
        };
        n.bead_type = s.bead_type;
        n.priority = s.priority;
        n.labels = s.labels.clone();
        n.status = Some(Status::Queued);
        n.metadata.insert(META_FORMULA.into(), json!(f.name));
        n.metadata.insert(META_STEP.into(), json!(s.id));
        n.metadata
            .insert(crate::scheduler::META_RIG.into(), json!(rig));
        n.metadata.insert(
            crate::scheduler::META_AGENT.into(),
            json!(s.agent.as_ref().or(req.agent.as_ref())),
        );
        n.metadata
            .insert(crate::scheduler::META_HOST.into(), serde_json::Value::Null);
        n.deps = s
            .needs
            .iter()
            .map(|need| (DepType::Blocks, format!("@{}", position[need.as_str()])))
            .collect();
        news.push(n);
    }
    let convoy = format!(
        "{}-{}",
        f.name,
        ws.town.clock().now().unix_timestamp_nanos() / 1_000_000
    );
    let m = ws
        .store
        .create_molecule(&f.name, &epic, &news, &convoy, actor)?;
    // Each step records its molecule (the epic's id is known only now;
    // the steps are children of the epic either way).
    Ok(MoleculeRun {
        molecule: m.epic.id.clone(),
        convoy: m.convoy.id,
        steps: order
            .iter()
            .zip(&m.steps)
            .map(|(&i, b)| RunStep {
                id: steps[i].id.clone(),
                bead: b.id.clone(),
            })
            .collect(),
    })
}

/// `NAME: value, value` (the epic's title), cut to a title's length.
fn epic_title(f: &Formula, values: &BTreeMap<String, String>) -> String {
    let vals: Vec<&str> = values
        .values()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    let t = if vals.is_empty() {
        f.name.clone()
    } else {
        format!("{}: {}", f.name, vals.join(", "))
    };
    t.chars().take(gt_core::bead::MAX_TITLE_CHARS).collect()
}

/// One step as `gt mol status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StepState {
    pub id: String,
    pub bead: String,
    pub title: String,
    pub status: Status,
    /// Bead ids of the steps it needs.
    pub needs: Vec<String>,
    /// Waiting for a step it needs to land.
    pub blocked: bool,
}

/// `gt mol status ID --json`.
#[derive(Debug, Clone, Serialize)]
pub struct MoleculeStatus {
    pub molecule: String,
    pub title: String,
    pub formula: String,
    /// `closed/total` steps.
    pub progress: String,
    pub steps: Vec<StepState>,
}

/// The molecule whose epic is `id`, step by step.
pub fn status(ws: &Workspace, id: &str) -> Result<MoleculeStatus> {
    let d = ws.store.bead_details(id)?;
    let formula = d
        .bead
        .metadata
        .get(META_FORMULA)
        .and_then(|v| v.as_str())
        .filter(|_| d.bead.bead_type == BeadType::Epic)
        .ok_or_else(|| Error::invalid(format!("{} is not a molecule", d.bead.id)))?
        .to_string();
    let mut steps = Vec::new();
    let mut closed = 0;
    for dep in d
        .dependents
        .iter()
        .filter(|x| x.dep_type == DepType::ParentChild)
    {
        let s = ws.store.bead_details(&dep.bead)?;
        let Some(step) = s.bead.metadata.get(META_STEP).and_then(|v| v.as_str()) else {
            continue;
        };
        if s.bead.status == Status::Closed {
            closed += 1;
        }
        steps.push(StepState {
            id: step.to_string(),
            bead: s.bead.id.clone(),
            title: s.bead.title.clone(),
            status: s.bead.status,
            needs: s
                .dependencies
                .iter()
                .filter(|x| x.dep_type == DepType::Blocks)
                .map(|x| x.depends_on.clone())
                .collect(),
            blocked: s.blocked,
        });
    }
    steps.sort_by(|a, b| a.bead.cmp(&b.bead));
    Ok(MoleculeStatus {
        molecule: d.bead.id.clone(),
        title: d.bead.title.clone(),
        formula,
        progress: format!("{closed}/{}", steps.len()),
        steps,
    })
}

/// The briefing's part for a step of a molecule: the molecule, and each
/// step it needs with how it closed and the commit that landed it.
pub fn prime_section(ws: &Workspace, d: &crate::bead::BeadDetails) -> Result<String> {
    let Some(step) = d.bead.metadata.get(META_STEP).and_then(|v| v.as_str()) else {
        return Ok(String::new());
    };
    let Some(parent) = d.bead.parent.as_deref() else {
        return Ok(String::new());
    };
    let epic = ws.store.get_bead(parent)?;
    let mut md = format!(
        "\n### Molecule {} — {}\nThis is step `{step}` of formula `{}`.\n",
        epic.id,
        epic.title,
        d.bead
            .metadata
            .get(META_FORMULA)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
    );
    let needs: Vec<&str> = d
        .dependencies
        .iter()
        .filter(|x| x.dep_type == DepType::Blocks)
        .map(|x| x.depends_on.as_str())
        .collect();
    if !needs.is_empty() {
        md.push_str("Before it (landed):\n");
        for n in needs {
            let b = ws.store.get_bead(n)?;
            let commit = ws
                .store
                .merge_entries_for_bead(&b.id)?
                .iter()
                .rev()
                .find(|m| m.mr.status == crate::store::merge::MergeStatus::Merged)
                .and_then(|m| m.merged_commit.as_deref())
                .map(|c| format!(", commit `{}`", &c[..c.len().min(12)]))
                .unwrap_or_default();
            let how = b
                .close_reason
                .as_deref()
                .map(|r| format!(": {}", r.trim()))
                .unwrap_or_default();
            md.push_str(&format!(
                "- {} — {} ({}{commit}){how}\n",
                b.id, b.title, b.status
            ));
        }
    }
    Ok(md)
}

/// Bead metadata of a step: `human` was told it holds its molecule.
pub const META_HELD_TOLD: &str = "molecule_held_told";

/// A step of a molecule failed (`why`: its merge request failed or
/// conflicted, or its agent escalated): the steps after it wait (they stay
/// blocked), and `human` is told once per step. Not a step, or already
/// told: nothing. A problem comes back as a warning, never an error.
pub fn held(ws: &Workspace, bead: &str, why: &str, actor: &str) -> Option<String> {
    let b = ws.store.bead_details(bead).ok()?;
    let step = b.bead.metadata.get(META_STEP)?.as_str()?.to_string();
    if b.bead.metadata.contains_key(META_HELD_TOLD) {
        return None;
    }
    let epic = b.bead.parent.clone()?;
    let waiting: Vec<String> = b
        .dependents
        .iter()
        .filter(|d| d.dep_type == DepType::Blocks)
        .map(|d| d.bead.clone())
        .collect();
    let mut patch = crate::bead::BeadPatch::default();
    patch.metadata.insert(META_HELD_TOLD.into(), json!(why));
    if let Err(e) = ws.store.update_bead(bead, &patch, actor) {
        return Some(format!("cannot mark {bead} held: {e}"));
    }
    let subject = format!("Molecule {epic} held: step {step} ({bead}) {why}");
    let body = format!(
        "Step {step} ({bead}, {title}) of molecule {epic} {why}.\n\n\
         The steps after it wait until it lands: {waiting}.\n\
         Fix it (gt mq retry, gt resume {bead}, or answer the escalation), or cancel the rest with gt mol cancel {epic}.",
        title = b.bead.title,
        waiting = if waiting.is_empty() { "none".to_string() } else { waiting.join(", ") },
    );
    crate::refinery::notify(ws, "deacon", &["human".to_string()], &subject, &body, actor)
}

/// What `gt mol cancel` did.
#[derive(Debug, Clone, Serialize)]
pub struct Cancelled {
    pub molecule: String,
    /// Steps that had not started, now closed as cancelled.
    pub cancelled: Vec<String>,
    /// Steps already started (or landed) that were left alone.
    pub left: Vec<String>,
}

/// `gt mol cancel ID`: every step that has not started (queued or open) is
/// closed as cancelled; started and landed steps are left as they are.
pub fn cancel(ws: &Workspace, id: &str, actor: &str) -> Result<Cancelled> {
    let st = status(ws, id)?;
    let mut out = Cancelled {
        molecule: st.molecule.clone(),
        cancelled: Vec::new(),
        left: Vec::new(),
    };
    let reason = format!("cancelled: molecule {} cancelled", st.molecule);
    for s in &st.steps {
        if matches!(s.status, Status::Queued | Status::Open) {
            ws.store.close_bead(&s.bead, Some(&reason), actor)?;
            out.cancelled.push(s.bead.clone());
        } else {
            out.left.push(s.bead.clone());
        }
    }
    Ok(out)
}
