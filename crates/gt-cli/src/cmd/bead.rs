//! `gt bead ...` and the shortcuts `gt show`, `gt close`, `gt ready`.

use std::io::Read;

use clap::{Args, Subcommand};
use gt_lib::bead::{
    parse_dep_specs, parse_priority, Bead, BeadDetails, BeadFilter, BeadPatch, BeadType, DepType,
    NewBead, Status,
};
use gt_lib::store::{BeadStore, DepTreeNode, Store};
use gt_lib::Error;

use crate::output::{clean, one_line, Ctx};

#[derive(Debug, Subcommand)]
pub enum BeadCmd {
    /// Create a bead.
    Create(CreateArgs),
    /// List beads (open work by default).
    List(ListArgs),
    /// Show one bead with its dependencies and comments.
    Show(ShowArgs),
    /// Change fields of a bead, or claim it.
    Update(UpdateArgs),
    /// Close a bead.
    Close(CloseArgs),
    /// Reopen a closed bead.
    Reopen { id: String },
    /// Ready beads: open and unblocked, by priority then age.
    Ready(ReadyArgs),
    /// Blocked beads, with what blocks them.
    Blocked {
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Dependencies between beads.
    #[command(subcommand)]
    Dep(DepCmd),
    /// Add a comment to a bead.
    Comment { id: String, text: String },
    /// Add or remove a label.
    #[command(subcommand)]
    Label(LabelCmd),
    /// Import a Beads (bd) JSONL ledger: all or nothing.
    Import { file: std::path::PathBuf },
    /// Export every bead as Beads JSONL (stdout unless --output).
    Export {
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    title: String,
    /// Description text.
    #[arg(short, long, conflicts_with = "stdin")]
    description: Option<String>,
    /// Read the description from standard input.
    #[arg(long)]
    stdin: bool,
    /// Priority 0 (critical) to 4 (backlog); default 2.
    #[arg(short, long)]
    priority: Option<String>,
    /// task, bug, feature, epic, chore, convoy or decision.
    #[arg(short = 't', long = "type")]
    bead_type: Option<String>,
    /// Parent bead id.
    #[arg(long)]
    parent: Option<String>,
    /// A label; repeatable.
    #[arg(short, long = "label")]
    labels: Vec<String>,
    /// Dependencies `TYPE:ID,...` (a bare ID means blocks).
    #[arg(long)]
    deps: Option<String>,
    /// Assignee.
    #[arg(long)]
    assignee: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses; repeatable.
    #[arg(long)]
    status: Vec<String>,
    /// Include closed beads (still at most --limit).
    #[arg(long)]
    closed: bool,
    /// Every matching bead, closed ones included, without a limit (streamed).
    #[arg(long, conflicts_with = "limit")]
    all: bool,
    #[arg(short = 't', long = "type")]
    bead_type: Option<String>,
    #[arg(short, long)]
    label: Option<String>,
    #[arg(long)]
    assignee: Option<String>,
    #[arg(short, long)]
    priority: Option<String>,
    /// At most this many (default 50).
    #[arg(long)]
    limit: Option<usize>,
}

/// How many beads `gt bead list` shows without --limit or --all.
pub const DEFAULT_LIST_LIMIT: usize = 50;

#[derive(Debug, Args)]
pub struct ShowArgs {
    id: String,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    id: String,
    #[arg(long)]
    title: Option<String>,
    #[arg(short, long)]
    description: Option<String>,
    #[arg(long)]
    status: Option<String>,
    #[arg(short, long)]
    priority: Option<String>,
    /// Assignee ("" clears it).
    #[arg(long)]
    assignee: Option<String>,
    #[arg(long)]
    add_label: Vec<String>,
    #[arg(long)]
    remove_label: Vec<String>,
    /// Atomically assign an open, unassigned bead to yourself and start it.
    #[arg(long)]
    claim: bool,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    id: String,
    #[arg(short, long)]
    reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReadyArgs {
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum DepCmd {
    /// ID depends on DEPENDS_ON.
    Add {
        id: String,
        depends_on: String,
        /// blocks, parent-child, related or discovered-from.
        #[arg(short = 't', long = "type", default_value = "blocks")]
        dep_type: String,
    },
    /// Remove the dependency of ID on DEPENDS_ON (every type unless --type).
    Remove {
        id: String,
        depends_on: String,
        #[arg(short = 't', long = "type")]
        dep_type: Option<String>,
    },
    /// What ID depends on, as a tree (--reverse: what depends on ID).
    Tree {
        id: String,
        #[arg(long)]
        reverse: bool,
        #[arg(long, default_value_t = 10)]
        depth: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelCmd {
    Add { id: String, label: String },
    Remove { id: String, label: String },
}

fn open_store(ctx: &Ctx) -> Result<Box<dyn Store + Send>, Error> {
    ctx.town()?.store()
}

pub fn run(ctx: &Ctx, c: BeadCmd) -> Result<(), Error> {
    match c {
        BeadCmd::Create(a) => create(ctx, a),
        BeadCmd::List(a) => list(ctx, a),
        BeadCmd::Show(a) => show(ctx, a),
        BeadCmd::Update(a) => update(ctx, a),
        BeadCmd::Close(a) => close(ctx, a),
        BeadCmd::Reopen { id } => {
            let store = open_store(ctx)?;
            let b = store.reopen_bead(&id, &ctx.actor()?)?;
            print_changed(ctx, &b, "Reopened")
        }
        BeadCmd::Ready(a) => ready(ctx, a),
        BeadCmd::Blocked { limit } => blocked(ctx, limit),
        BeadCmd::Dep(d) => dep(ctx, d),
        BeadCmd::Comment { id, text } => {
            let store = open_store(ctx)?;
            let actor = ctx.actor()?;
            let c = store.add_comment(&id, &actor, &text, &actor)?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            ctx.say(&format!("Commented on {}", store.resolve_bead_id(&id)?));
            Ok(())
        }
        BeadCmd::Import { file } => import(ctx, &file),
        BeadCmd::Export { output } => export(ctx, output.as_deref()),
        BeadCmd::Label(l) => {
            let store = open_store(ctx)?;
            let (id, patch) = match l {
                LabelCmd::Add { id, label } => (
                    id,
                    BeadPatch {
                        add_labels: vec![label],
                        ..Default::default()
                    },
                ),
                LabelCmd::Remove { id, label } => (
                    id,
                    BeadPatch {
                        remove_labels: vec![label],
                        ..Default::default()
                    },
                ),
            };
            let b = store.update_bead(&id, &patch, &ctx.actor()?)?;
            print_changed(ctx, &b, "Labels of")
        }
    }
}

fn create(ctx: &Ctx, a: CreateArgs) -> Result<(), Error> {
    let description = if a.stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::invalid(format!("cannot read standard input: {e}")))?;
        s
    } else {
        a.description.unwrap_or_default()
    };
    let new = NewBead {
        title: a.title,
        description,
        priority: a.priority.as_deref().map(parse_priority).transpose()?,
        bead_type: a
            .bead_type
            .as_deref()
            .map(str::parse::<BeadType>)
            .transpose()?,
        assignee: a.assignee,
        labels: a.labels,
        parent: a.parent,
        deps: a
            .deps
            .as_deref()
            .map(parse_dep_specs)
            .transpose()?
            .unwrap_or_default(),
        ..Default::default()
    };
    // Validate before opening the town so bad input writes nothing anywhere.
    new.validate()?;
    let store = open_store(ctx)?;
    let bead = store.create_bead(&new, &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&bead);
    }
    if ctx.quiet {
        ctx.out(&bead.id);
    } else {
        ctx.out(&format!(
            "Created {}: {}",
            ctx.bold(&bead.id),
            one_line(&bead.title)
        ));
    }
    Ok(())
}

fn parse_statuses(raw: &[String]) -> Result<Vec<Status>, Error> {
    raw.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().parse::<Status>())
        .collect()
}

fn list(ctx: &Ctx, a: ListArgs) -> Result<(), Error> {
    let mut filter = BeadFilter {
        statuses: parse_statuses(&a.status)?,
        include_closed: a.closed || a.all,
        bead_type: a.bead_type.as_deref().map(str::parse).transpose()?,
        label: a.label,
        assignee: a.assignee,
        priority: a.priority.as_deref().map(parse_priority).transpose()?,
        limit: None,
    };
    let store = open_store(ctx)?;
    if a.all {
        return stream_beads(ctx, &*store, &filter);
    }
    let limit = a.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    // One more than shown says whether there is more.
    filter.limit = Some(limit.saturating_add(1));
    let mut beads = store.list_beads(&filter)?;
    let more = beads.len() > limit;
    beads.truncate(limit);
    print_beads(ctx, &beads)?;
    if more {
        // Counted exactly when the counts by status say it (no other filter).
        let exact = if filter.bead_type.is_none()
            && filter.label.is_none()
            && filter.assignee.is_none()
            && filter.priority.is_none()
        {
            let counts = store.count_by_status()?;
            let total: u64 = counts
                .iter()
                .filter(|(s, _)| {
                    if filter.statuses.is_empty() {
                        filter.include_closed || *s != gt_lib::bead::Status::Closed
                    } else {
                        filter.statuses.contains(s)
                    }
                })
                .map(|(_, n)| n)
                .sum();
            Some(total.saturating_sub(limit as u64))
        } else {
            None
        };
        let what = match exact {
            Some(n) => format!("{n} more"),
            None => "more beads match".to_string(),
        };
        eprintln!("note: showing the first {limit}; {what} (--limit N, or --all for every one)");
    }
    Ok(())
}

/// `gt bead list --all`: every bead as the store reads it, one at a time
/// (`--json`: one JSON array, a bead per line).
fn stream_beads(
    ctx: &Ctx,
    store: &dyn gt_lib::store::Store,
    filter: &BeadFilter,
) -> Result<(), Error> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut first = true;
    let closed_pipe = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::invalid("output closed")
        } else {
            Error::io("cannot write the list", e)
        }
    };
    if ctx.json {
        write!(out, "[").map_err(closed_pipe)?;
    }
    let r = store.each_bead(filter, &mut |b| {
        let line = if ctx.json {
            let json = serde_json::to_string(&b)
                .map_err(|e| Error::Internal(format!("cannot render JSON: {e}")))?;
            format!("{}\n{json}", if first { "" } else { "," })
        } else if ctx.quiet {
            format!("{}\n", b.id)
        } else {
            format!("{}\n", bead_line(ctx, &b))
        };
        first = false;
        out.write_all(line.as_bytes()).map_err(closed_pipe)
    });
    match r {
        // `gt bead list --all | head`: not an error.
        Err(Error::Invalid(m)) if m == "output closed" => return Ok(()),
        other => other?,
    }
    if ctx.json {
        writeln!(out, "\n]").map_err(closed_pipe)?;
    }
    out.flush().map_err(closed_pipe)
}

pub fn print_beads(ctx: &Ctx, beads: &[Bead]) -> Result<(), Error> {
    if ctx.json {
        return ctx.print_json(beads);
    }
    for b in beads {
        if ctx.quiet {
            ctx.out(&b.id);
        } else {
            ctx.out(&bead_line(ctx, b));
        }
    }
    Ok(())
}

fn bead_line(ctx: &Ctx, b: &Bead) -> String {
    let status = format!("{:<11}", b.status.as_str());
    let status = status.replace(b.status.as_str(), &ctx.status(b.status));
    let mut line = format!(
        "{:<14} P{} {} {:<8} {}",
        ctx.bold(&b.id),
        b.priority,
        status,
        b.bead_type.as_str(),
        one_line(&b.title)
    );
    if let Some(a) = &b.assignee {
        line.push_str(&ctx.dim(&format!("  @{}", one_line(a))));
    }
    line
}

pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<(), Error> {
    let store = open_store(ctx)?;
    let d = store.bead_details(&a.id)?;
    if ctx.json {
        return ctx.print_json(&d);
    }
    for line in render_details(ctx, &d) {
        ctx.out(&line);
    }
    Ok(())
}

pub fn render_details(ctx: &Ctx, d: &BeadDetails) -> Vec<String> {
    let b = &d.bead;
    let mut out = vec![format!("{}  {}", ctx.bold(&b.id), one_line(&b.title))];
    out.push(format!(
        "status: {}{}   priority: P{}   type: {}   assignee: {}",
        ctx.status(b.status),
        if d.blocked { " (blocked)" } else { "" },
        b.priority,
        b.bead_type,
        b.assignee
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| "-".into())
    ));
    if !b.labels.is_empty() {
        out.push(format!(
            "labels: {}",
            b.labels
                .iter()
                .map(|l| one_line(l))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = &b.parent {
        out.push(format!("parent: {p}"));
    }
    out.push(format!(
        "created: {} by {}   updated: {}",
        crate::output::ts(&b.created_at),
        b.created_by
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| "-".into()),
        crate::output::ts(&b.updated_at)
    ));
    if let Some(c) = &b.closed_at {
        out.push(format!(
            "closed: {}{}",
            crate::output::ts(c),
            b.close_reason
                .as_deref()
                .map(|r| format!("  reason: {}", one_line(r)))
                .unwrap_or_default()
        ));
    }
    if !d.blocked_by.is_empty() {
        out.push(format!("blocked by: {}", d.blocked_by.join(", ")));
    }
    if !b.description.trim().is_empty() {
        out.push(String::new());
        out.extend(clean(&b.description).lines().map(|l| format!("  {l}")));
    }
    if !d.dependencies.is_empty() {
        out.push(String::new());
        out.push("depends on:".into());
        for dep in &d.dependencies {
            out.push(format!(
                "  {:<16} {}",
                dep.dep_type.as_str(),
                dep.depends_on
            ));
        }
    }
    if !d.dependents.is_empty() {
        out.push(String::new());
        out.push("needed by:".into());
        for dep in &d.dependents {
            out.push(format!("  {:<16} {}", dep.dep_type.as_str(), dep.bead));
        }
    }
    if !d.comments.is_empty() {
        out.push(String::new());
        out.push("comments:".into());
        for c in &d.comments {
            out.push(format!(
                "  {} {}:",
                ctx.dim(&crate::output::ts(&c.created_at)),
                one_line(&c.author)
            ));
            out.extend(clean(&c.text).lines().map(|l| format!("    {l}")));
        }
    }
    out
}

fn update(ctx: &Ctx, a: UpdateArgs) -> Result<(), Error> {
    let patch = BeadPatch {
        title: a.title,
        description: a.description,
        status: a.status.as_deref().map(str::parse).transpose()?,
        priority: a.priority.as_deref().map(parse_priority).transpose()?,
        assignee: a
            .assignee
            .map(|s| if s.is_empty() { None } else { Some(s) }),
        add_labels: a.add_label,
        remove_labels: a.remove_label,
        metadata: Default::default(),
    };
    patch.validate()?;
    let actor = ctx.actor()?;
    if a.claim {
        if !patch.is_empty() {
            return Err(Error::invalid(
                "--claim cannot be combined with other changes; claim first, then update",
            ));
        }
        let store = open_store(ctx)?;
        let b = store.claim_bead(&a.id, &actor, &actor)?;
        return print_changed(ctx, &b, "Claimed");
    }
    let store = open_store(ctx)?;
    let b = store.update_bead(&a.id, &patch, &actor)?;
    print_changed(ctx, &b, "Updated")
}

pub fn close(ctx: &Ctx, a: CloseArgs) -> Result<(), Error> {
    let store = open_store(ctx)?;
    let b = store.close_bead(&a.id, a.reason.as_deref(), &ctx.actor()?)?;
    print_changed(ctx, &b, "Closed")
}

fn print_changed(ctx: &Ctx, b: &Bead, verb: &str) -> Result<(), Error> {
    if ctx.json {
        return ctx.print_json(b);
    }
    ctx.say(&format!(
        "{verb} {}: {}",
        ctx.bold(&b.id),
        one_line(&b.title)
    ));
    Ok(())
}

pub fn ready(ctx: &Ctx, a: ReadyArgs) -> Result<(), Error> {
    let store = open_store(ctx)?;
    let beads = store.ready_beads(a.limit)?;
    if !ctx.json && beads.is_empty() {
        ctx.say("No ready beads.");
        return Ok(());
    }
    print_beads(ctx, &beads)
}

fn blocked(ctx: &Ctx, limit: Option<usize>) -> Result<(), Error> {
    let store = open_store(ctx)?;
    let beads = store.blocked_beads(limit)?;
    if ctx.json {
        return ctx.print_json(&beads);
    }
    if beads.is_empty() {
        ctx.say("No blocked beads.");
    }
    for b in &beads {
        let mut why = Vec::new();
        if !b.blocked_by.is_empty() {
            why.push(format!("blocked by {}", b.blocked_by.join(", ")));
        }
        if let Some(p) = &b.blocked_parent {
            why.push(format!("parent {p} is blocked or deferred"));
        }
        ctx.out(&format!(
            "{}  {}",
            bead_line(ctx, &b.bead),
            ctx.dim(&format!("[{}]", why.join("; ")))
        ));
    }
    Ok(())
}

fn dep(ctx: &Ctx, d: DepCmd) -> Result<(), Error> {
    match d {
        DepCmd::Add {
            id,
            depends_on,
            dep_type,
        } => {
            let t: DepType = dep_type.parse()?;
            let store = open_store(ctx)?;
            let dep = store.add_dependency(&id, &depends_on, t, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&dep);
            }
            ctx.say(&format!(
                "{} now depends on {} ({})",
                dep.bead, dep.depends_on, dep.dep_type
            ));
            Ok(())
        }
        DepCmd::Remove {
            id,
            depends_on,
            dep_type,
        } => {
            let t: Option<DepType> = dep_type.as_deref().map(str::parse).transpose()?;
            let store = open_store(ctx)?;
            let n = store.remove_dependency(&id, &depends_on, t, &ctx.actor()?)?;
            if ctx.json {
                return ctx.print_json(&gt_lib::views::DependenciesRemoved { removed: n });
            }
            ctx.say(&format!("Removed {n} dependency edge(s)"));
            Ok(())
        }
        DepCmd::Tree { id, reverse, depth } => {
            let store = open_store(ctx)?;
            let tree = store.dep_tree(&id, !reverse, depth.min(100))?;
            if ctx.json {
                return ctx.print_json(&tree);
            }
            let mut lines = Vec::new();
            render_tree(ctx, &tree, "", true, true, &mut lines);
            for l in lines {
                ctx.out(&l);
            }
            Ok(())
        }
    }
}

fn render_tree(
    ctx: &Ctx,
    n: &DepTreeNode,
    prefix: &str,
    last: bool,
    root: bool,
    out: &mut Vec<String>,
) {
    let label = format!(
        "{}{} {} [{}]{}",
        n.dep_type.map(|t| format!("({t}) ")).unwrap_or_default(),
        ctx.bold(&n.id),
        one_line(&n.title),
        ctx.status(n.status),
        if n.repeated { " (see above)" } else { "" }
    );
    let (branch, next) = if root {
        ("", String::new())
    } else if last {
        ("└── ", format!("{prefix}    "))
    } else {
        ("├── ", format!("{prefix}│   "))
    };
    out.push(format!("{prefix}{branch}{label}"));
    for (i, c) in n.children.iter().enumerate() {
        render_tree(ctx, c, &next, i + 1 == n.children.len(), false, out);
    }
}

fn import(ctx: &Ctx, file: &std::path::Path) -> Result<(), Error> {
    let town = ctx.town()?;
    let store = town.store()?;
    let now = gt_lib::clock::format_ts(town.clock().now());
    let r = gt_lib::jsonl::import_file(&store, file, &now, &ctx.actor()?)?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    ctx.say(&format!(
        "Imported {} beads from {}: {} created, {} updated, {} dependencies, {} comments",
        r.report.records,
        one_line(&r.file),
        r.counts.created,
        r.counts.updated,
        r.counts.dependencies,
        r.counts.comments
    ));
    let mapped: Vec<String> = r
        .report
        .statuses_mapped
        .iter()
        .map(|(k, n)| format!("status {k} ×{n}"))
        .chain(
            r.report
                .types_mapped
                .iter()
                .map(|(k, n)| format!("type {k} ×{n}")),
        )
        .chain(
            r.report
                .dependency_types_mapped
                .iter()
                .map(|(k, n)| format!("dependency {k} ×{n}")),
        )
        .collect();
    if !mapped.is_empty() {
        ctx.say(&format!(
            "Mapped to the nearest of ours: {}",
            one_line(&mapped.join(", "))
        ));
    }
    if r.report.priorities_clamped > 0 {
        ctx.say(&format!(
            "Priorities clamped to 0-4: {}",
            r.report.priorities_clamped
        ));
    }
    if r.counts.dangling_dependencies > 0 {
        ctx.say(&format!(
            "Skipped {} dependencies on beads that are not in the file or the ledger",
            r.counts.dangling_dependencies
        ));
    }
    Ok(())
}

fn export(ctx: &Ctx, output: Option<&std::path::Path>) -> Result<(), Error> {
    let store = open_store(ctx)?;
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match gt_lib::jsonl::export_all(&store, &mut lock) {
                // A reader that stopped early (`| head`) is not an error.
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => {
                    other?;
                }
            }
        }
        Some(path) => {
            let mut buf = Vec::new();
            let n = gt_lib::jsonl::export_all(&store, &mut buf)?;
            gt_lib::fsutil::write_atomic(path, &buf).map_err(|e| match e {
                Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Error::invalid(format!(
                        "cannot write {}: no such directory",
                        path.display()
                    ))
                }
                other => other,
            })?;
            if ctx.json {
                return ctx.print_json(&gt_lib::views::Exported {
                    beads: n,
                    file: path.to_path_buf(),
                });
            }
            ctx.say(&format!("Exported {n} beads to {}", path.display()));
        }
    }
    Ok(())
}
