//! The full-screen dashboard (ratatui over crossterm). The model and the
//! drawing are separate from the terminal, so screens are tested with
//! ratatui's `TestBackend`.

use std::time::{Duration, Instant};

use gt_lib::feed::{Dashboard, FeedFilter, Follower};
use gt_lib::problems::{self, AgentActivity, Thresholds};
use gt_lib::town::Town;
use gt_lib::workspace::Workspace;
use gt_lib::Error;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::{Frame, Terminal};
use time::OffsetDateTime;

use crate::output::one_line;

/// How often agents, work and problems are checked (tmux is asked).
const REFRESH: Duration = Duration::from_secs(3);
/// How long a key wait lasts before new events are read.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Panel {
    Agents,
    Work,
    Events,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mode {
    Normal,
    Problems,
    Help,
    /// Typing a nudge for the agent.
    Nudge {
        agent: String,
        text: String,
    },
}

pub(super) struct App {
    pub town: String,
    pub dash: Dashboard,
    pub focus: Panel,
    /// Selected row per panel (agents, work, events; problems share agents').
    pub sel: [usize; 3],
    pub problem_sel: usize,
    pub mode: Mode,
    pub message: Option<String>,
}

/// What a key asks the event loop to do.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Action {
    None,
    Quit,
    Attach(String),
    Nudge(String, String),
}

impl App {
    pub fn new(town: &str) -> App {
        App {
            town: town.to_string(),
            dash: Dashboard::default(),
            focus: Panel::Agents,
            sel: [0; 3],
            problem_sel: 0,
            mode: Mode::Normal,
            message: None,
        }
    }

    fn len(&self, p: Panel) -> usize {
        match p {
            Panel::Agents => self.dash.agents().count(),
            Panel::Work => self.dash.in_flight.len(),
            Panel::Events => self.dash.events.len(),
        }
    }

    fn idx(p: Panel) -> usize {
        match p {
            Panel::Agents => 0,
            Panel::Work => 1,
            Panel::Events => 2,
        }
    }

    /// The agent under the cursor (agents panel, or problems view).
    pub fn selected_agent(&self) -> Option<String> {
        if self.mode == Mode::Problems {
            return self
                .dash
                .problems
                .get(self.problem_sel)
                .map(|p| p.agent.clone());
        }
        self.dash
            .agents()
            .nth(self.sel[0])
            .map(|a: &AgentActivity| a.agent.clone())
    }

    fn move_sel(&mut self, down: bool) {
        if self.mode == Mode::Problems {
            let n = self.dash.problems.len();
            self.problem_sel = step(self.problem_sel, n, down);
            return;
        }
        let n = self.len(self.focus);
        let i = Self::idx(self.focus);
        self.sel[i] = step(self.sel[i], n, down);
    }

    /// Keeps selections inside their lists after a refresh.
    pub fn clamp(&mut self) {
        for p in [Panel::Agents, Panel::Work, Panel::Events] {
            let n = self.len(p);
            let i = Self::idx(p);
            self.sel[i] = self.sel[i].min(n.saturating_sub(1));
        }
        self.problem_sel = self
            .problem_sel
            .min(self.dash.problems.len().saturating_sub(1));
    }

    pub fn key(&mut self, k: KeyEvent) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if let Mode::Nudge { agent, text } = &mut self.mode {
            match k.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter => {
                    let (agent, text) = (agent.clone(), text.trim().to_string());
                    self.mode = Mode::Normal;
                    if !text.is_empty() {
                        return Action::Nudge(agent, text);
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if !c.is_control() && text.chars().count() < 2000 => text.push(c),
                _ => {}
            }
            return Action::None;
        }
        self.message = None;
        match k.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc => {
                if self.mode == Mode::Normal {
                    return Action::Quit;
                }
                self.mode = Mode::Normal;
            }
            KeyCode::Char('?') => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                }
            }
            KeyCode::Char('p') => {
                self.mode = if self.mode == Mode::Problems {
                    Mode::Normal
                } else {
                    Mode::Problems
                }
            }
            KeyCode::Char('j') | KeyCode::Down => self.move_sel(true),
            KeyCode::Char('k') | KeyCode::Up => self.move_sel(false),
            KeyCode::Tab | KeyCode::BackTab => {
                let order = [Panel::Agents, Panel::Work, Panel::Events];
                let i = Self::idx(self.focus);
                let next = if k.code == KeyCode::Tab { i + 1 } else { i + 2 };
                self.focus = order[next % 3];
            }
            KeyCode::Char('n') => match self.selected_agent() {
                Some(agent) => {
                    self.mode = Mode::Nudge {
                        agent,
                        text: String::new(),
                    }
                }
                None => self.message = Some("select an agent first".into()),
            },
            KeyCode::Char('a') => match self.selected_agent() {
                Some(agent) => return Action::Attach(agent),
                None => self.message = Some("select an agent first".into()),
            },
            _ => {}
        }
        Action::None
    }
}

fn step(i: usize, n: usize, down: bool) -> usize {
    if n == 0 {
        0
    } else if down {
        (i + 1).min(n - 1)
    } else {
        i.saturating_sub(1)
    }
}

fn state_style(a: &AgentActivity) -> Style {
    if a.problem.is_some() {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else if gt_lib::feed::is_trouble(a.state) {
        Style::new().fg(Color::Yellow)
    } else if a.state == problems::AgentState::Working {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

fn panel<'a>(title: &'a str, focused: bool) -> Block<'a> {
    let b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b.border_style(Style::new().fg(Color::Cyan))
    } else {
        b
    }
}

fn time_of(ts: &str) -> &str {
    ts.get(11..19).unwrap_or(ts)
}

/// Draws the whole screen.
pub(super) fn draw(f: &mut Frame<'_>, app: &App, now: OffsetDateTime) {
    let [top, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let counts: Vec<String> = app
        .dash
        .state_counts()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let np = app.dash.problems.len();
    let header = Line::from(vec![
        Span::styled(
            format!(" gt feed · {} ", one_line(&app.town)),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " agents: {}  ",
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            }
        )),
        Span::styled(
            format!("problems: {np}"),
            if np > 0 {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Green)
            },
        ),
        Span::styled(
            format!("  checked {}", time_of(&app.dash.checked_at)),
            Style::new().fg(Color::DarkGray),
        ),
    ]);
    f.render_widget(Paragraph::new(header), top);

    match &app.mode {
        Mode::Problems => draw_problems(f, app, body, now),
        _ => draw_panels(f, app, body, now),
    }

    let footer = match &app.mode {
        Mode::Nudge { agent, text } => Line::from(vec![
            Span::styled(
                format!(" nudge {}: ", one_line(agent)),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(format!("{}▏", one_line(text))),
            Span::styled(
                "  (Enter send · Esc cancel)",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        _ => match &app.message {
            Some(m) => Line::from(Span::styled(
                format!(" {}", one_line(m)),
                Style::new().fg(Color::Yellow),
            )),
            None => Line::from(Span::styled(
                " j/k move · Tab panel · p problems · n nudge · a attach · ? help · q quit",
                Style::new().fg(Color::DarkGray),
            )),
        },
    };
    f.render_widget(Paragraph::new(footer), foot);

    if app.mode == Mode::Help {
        draw_help(f, body);
    }
}

fn draw_panels(f: &mut Frame<'_>, app: &App, area: Rect, now: OffsetDateTime) {
    let [upper, events] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let [agents, work] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(upper);

    // Agent tree: rig, then its polecats.
    let mut items = Vec::new();
    let mut selected_row = None;
    let mut n = 0;
    for r in &app.dash.rigs {
        items.push(ListItem::new(Line::from(Span::styled(
            format!("▾ {}", one_line(&r.name)),
            Style::new().add_modifier(Modifier::BOLD),
        ))));
        for a in &r.agents {
            if n == app.sel[0] {
                selected_row = Some(items.len());
            }
            n += 1;
            items.push(ListItem::new(Line::from(vec![
                Span::raw(format!("  {:<10} ", one_line(&a.polecat))),
                Span::styled(format!("{:<17} ", a.state.as_str()), state_style(a)),
                Span::raw(format!(
                    "{:<10} ",
                    one_line(a.bead.as_deref().unwrap_or("-"))
                )),
                Span::styled(
                    problems::ago(now, a.last_activity.as_deref()),
                    Style::new().fg(Color::DarkGray),
                ),
            ])));
        }
    }
    if items.is_empty() {
        items.push(ListItem::new("  no rigs yet: gt rig add NAME URL"));
    }
    let mut st = ListState::default().with_selected(selected_row);
    f.render_stateful_widget(
        List::new(items)
            .block(panel(" Agents ", app.focus == Panel::Agents))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        agents,
        &mut st,
    );

    // Work in flight.
    let items: Vec<ListItem> = if app.dash.in_flight.is_empty() {
        vec![ListItem::new("  nothing in flight")]
    } else {
        app.dash
            .in_flight
            .iter()
            .map(|w| {
                ListItem::new(Line::from(vec![
                    Span::raw(format!("{:<10} ", one_line(&w.id))),
                    Span::styled(
                        format!("{:<11} ", w.status.as_str()),
                        Style::new().fg(Color::Yellow),
                    ),
                    Span::raw(format!(
                        "{:<12} {}",
                        one_line(w.assignee.as_deref().unwrap_or("-")),
                        one_line(&w.title)
                    )),
                ]))
            })
            .collect()
    };
    let sel = (!app.dash.in_flight.is_empty() && app.focus == Panel::Work).then_some(app.sel[1]);
    let mut st = ListState::default().with_selected(sel);
    f.render_stateful_widget(
        List::new(items)
            .block(panel(" Work in flight ", app.focus == Panel::Work))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        work,
        &mut st,
    );

    // Event stream: newest at the bottom; follows the tail unless the
    // cursor is on an older event.
    let items: Vec<ListItem> = app
        .dash
        .events
        .iter()
        .map(|e| {
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!("{} ", time_of(&e.time)),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(
                    format!("{:<16} ", one_line(&e.kind)),
                    Style::new().fg(Color::Cyan),
                ),
                // In a town of several hosts: which one made the change.
                Span::styled(
                    e.host
                        .as_deref()
                        .map(|h| format!("{:<10} ", one_line(h)))
                        .unwrap_or_default(),
                    Style::new().fg(Color::Magenta),
                ),
                Span::raw(format!(
                    "{:<12} {}",
                    one_line(&e.actor),
                    one_line(&e.summary)
                )),
            ]))
        })
        .collect();
    let sel = if app.focus == Panel::Events {
        Some(app.sel[2])
    } else {
        app.dash.events.len().checked_sub(1)
    };
    let mut st = ListState::default().with_selected(sel);
    f.render_stateful_widget(
        List::new(items)
            .block(panel(" Events ", app.focus == Panel::Events))
            .highlight_style(if app.focus == Panel::Events {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            }),
        events,
        &mut st,
    );
}

fn draw_problems(f: &mut Frame<'_>, app: &App, area: Rect, now: OffsetDateTime) {
    let items: Vec<ListItem> = if app.dash.problems.is_empty() {
        vec![ListItem::new(
            "  No problems: every agent with work is alive and moving.",
        )]
    } else {
        app.dash
            .problems
            .iter()
            .map(|p| {
                ListItem::new(vec![
                    Line::from(vec![
                        Span::styled(
                            format!("{:<19}", p.kind.as_str()),
                            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                        ),
                        Span::raw(format!(
                            "{:<16} {:<10} since {:<8} {}",
                            one_line(&p.agent),
                            one_line(p.bead.as_deref().unwrap_or("-")),
                            problems::ago(now, p.since.as_deref()),
                            one_line(&p.detail)
                        )),
                    ]),
                    Line::from(Span::styled(
                        format!("{:<19}→ {}", "", one_line(&p.suggested_action)),
                        Style::new().fg(Color::Green),
                    )),
                ])
            })
            .collect()
    };
    let sel = (!app.dash.problems.is_empty()).then_some(app.problem_sel);
    let mut st = ListState::default().with_selected(sel);
    f.render_stateful_widget(
        List::new(items)
            .block(panel(" Problems (p to go back) ", true))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
        &mut st,
    );
}

fn draw_help(f: &mut Frame<'_>, area: Rect) {
    let text = vec![
        Line::from("j / k, ↓ / ↑   move in the panel"),
        Line::from("Tab            next panel (agents, work, events)"),
        Line::from("p              problems view (and back)"),
        Line::from("n              nudge the selected agent"),
        Line::from("a              attach to the selected agent (detach: C-b d)"),
        Line::from("?              this help"),
        Line::from("q, Esc         quit"),
    ];
    let w = 64.min(area.width);
    let h = (text.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Help ")),
        r,
    );
}

/// Puts the terminal back however the dashboard ends (also on panic).
struct TermGuard;

impl TermGuard {
    fn enter() -> std::io::Result<TermGuard> {
        terminal::enable_raw_mode()?;
        let guard = TermGuard;
        execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

fn term_err(e: std::io::Error) -> Error {
    Error::Environment(format!("terminal: {e}"))
}

pub fn run(
    town: Town,
    caller: gt_lib::caller::CallerEnv,
    filter: FeedFilter,
    since: Option<String>,
    th: Thresholds,
) -> Result<(), Error> {
    let ws = Workspace::open(town, caller)?;
    // Every committed change appends an event, and the follower compares
    // the newest event id with the last it read, so the workspace's own
    // connection serves (its writes, and other processes', are seen).
    // Screen samples recorded by refreshes append no event; the agents
    // panel shows them through `refresh`, not through the follower.
    let (mut follower, backlog) = Follower::start(&ws.store, filter, since.as_deref(), 200)?;
    let mut app = App::new(ws.town.name());
    app.dash.push_events(backlog);
    if let Err(e) = app.dash.refresh(&ws, &th) {
        app.message = Some(format!("refresh failed: {e}"));
    }

    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev_hook(info);
    }));
    let result = (|| {
        let mut guard = Some(TermGuard::enter().map_err(term_err)?);
        let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(term_err)?;
        let mut last_refresh = Instant::now();
        loop {
            let now = ws.town.clock().now();
            term.draw(|f| draw(f, &app, now)).map_err(term_err)?;
            if event::poll(TICK).map_err(term_err)? {
                let action = match event::read().map_err(term_err)? {
                    TermEvent::Key(k) => app.key(k),
                    _ => Action::None,
                };
                match action {
                    Action::None => {}
                    Action::Quit => return Ok(()),
                    Action::Attach(agent) => {
                        drop(guard.take());
                        let msg = attach(&ws, &agent);
                        guard = Some(TermGuard::enter().map_err(term_err)?);
                        term.clear().map_err(term_err)?;
                        app.message = msg.err().map(|e| e.to_string());
                    }
                    Action::Nudge(agent, text) => {
                        let actor =
                            gt_lib::actor::of(&ws.caller).unwrap_or_else(|_| "human".into());
                        app.message = Some(
                            match gt_lib::nudge::nudge(
                                &ws,
                                &agent,
                                &text,
                                gt_lib::nudge::Mode::Immediate,
                                &actor,
                            ) {
                                Ok(o) => format!("nudge to {agent}: {}", o.status),
                                Err(e) => format!("nudge failed: {e}"),
                            },
                        );
                    }
                }
            }
            match follower.poll(&ws.store) {
                Ok(new) => app.dash.push_events(new),
                Err(e) => app.message = Some(format!("reading events failed: {e}")),
            }
            if last_refresh.elapsed() >= REFRESH {
                last_refresh = Instant::now();
                if let Err(e) = app.dash.refresh(&ws, &th) {
                    app.message = Some(format!("refresh failed: {e}"));
                }
            }
            app.clamp();
        }
    })();
    restore();
    result
}

fn attach(ws: &Workspace, agent: &str) -> Result<(), Error> {
    crate::cmd::agents::tmux_attach(ws, agent)?
        .status()
        .map_err(|e| Error::Environment(format!("cannot run tmux: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gt_lib::bead::Status;
    use gt_lib::event::Event;
    use gt_lib::feed::{RigTree, WorkItem};
    use gt_lib::polecat::PolecatState;
    use gt_lib::problems::{AgentState, Liveness, Problem, ProblemKind};
    use ratatui::backend::TestBackend;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn agent(name: &str, state: AgentState, bead: Option<&str>, last: &str) -> AgentActivity {
        AgentActivity {
            agent: format!("web/{name}"),
            rig: "web".into(),
            polecat: name.into(),
            polecat_state: PolecatState::Working,
            state,
            bead: bead.map(String::from),
            bead_status: None,
            session: None,
            session_id: None,
            runtime: None,
            live: Liveness::Running,
            exit_code: None,
            last_activity: Some(last.into()),
            activity_source: Some("screen"),
            state_source: Some("screen"),
            problem: None,
            host: None,
        }
    }

    fn sample() -> App {
        let mut app = App::new("mytown");
        let zombie = Problem {
            reason: None,
            agent: "web/nux".into(),
            rig: "web".into(),
            polecat: "nux".into(),
            kind: ProblemKind::Zombie,
            bead: Some("web-4k2".into()),
            session: None,
            since: Some("2026-01-01T11:46:00.000000Z".into()),
            last_activity: Some("2026-01-01T11:46:00.000000Z".into()),
            detail: "tmux session gt-web-P-nux is gone".into(),
            suggested_action: "gt resume web-4k2".into(),
        };
        let mut nux = agent(
            "nux",
            AgentState::Zombie,
            Some("web-4k2"),
            "2026-01-01T11:46:00.000000Z",
        );
        nux.problem = Some(zombie.clone());
        app.dash.checked_at = "2026-01-01T12:00:00.000000Z".into();
        app.dash.rigs = vec![RigTree {
            name: "web".into(),
            agents: vec![
                nux,
                agent(
                    "slit",
                    AgentState::Working,
                    Some("web-9a1"),
                    "2026-01-01T11:59:50.000000Z",
                ),
                agent(
                    "toast",
                    AgentState::Idle,
                    None,
                    "2026-01-01T10:00:00.000000Z",
                ),
            ],
        }];
        app.dash.in_flight = vec![
            WorkItem {
                id: "web-4k2".into(),
                title: "Fix the login test".into(),
                status: Status::InProgress,
                assignee: Some("web/nux".into()),
            },
            WorkItem {
                id: "web-9a1".into(),
                title: "Add --verbose".into(),
                status: Status::InProgress,
                assignee: Some("web/slit".into()),
            },
        ];
        app.dash.problems = vec![zombie];
        let ev = |id: i64, kind: &str, actor: &str, summary: &str| Event {
            id,
            time: format!("2026-01-01T11:5{id}:00.000000Z"),
            kind: kind.into(),
            actor: actor.into(),
            rig: Some("web".into()),
            bead: None,
            summary: summary.into(),
            payload: serde_json::Value::Null,
            source: None,
            host: None,
        };
        app.dash.push_events([
            ev(1, "sling", "human", "slung web-9a1 to web/slit"),
            ev(2, "session.started", "human", "web/slit started on web-9a1"),
            ev(3, "bead.commented", "web/slit", "comment on web-9a1"),
        ]);
        app
    }

    fn screen(app: &App) -> String {
        let mut term = Terminal::new(TestBackend::new(100, 24)).unwrap();
        let now = gt_lib::clock::parse_ts("2026-01-01T12:00:00Z").unwrap();
        term.draw(|f| draw(f, app, now)).unwrap();
        format!("{}", term.backend())
    }

    #[test]
    fn tui_dashboard_snapshot() {
        insta::assert_snapshot!(screen(&sample()));
    }

    #[test]
    fn tui_problems_and_help_snapshots() {
        let mut app = sample();
        assert_eq!(app.key(key(KeyCode::Char('p'))), Action::None);
        insta::assert_snapshot!("tui_problems", screen(&app));
        app.key(key(KeyCode::Char('p')));
        app.key(key(KeyCode::Char('?')));
        insta::assert_snapshot!("tui_help", screen(&app));
    }

    #[test]
    fn tui_keys_move_nudge_attach_quit() {
        let mut app = sample();
        assert_eq!(app.selected_agent().as_deref(), Some("web/nux"));
        app.key(key(KeyCode::Char('j')));
        app.key(key(KeyCode::Down));
        app.key(key(KeyCode::Down));
        assert_eq!(
            app.selected_agent().as_deref(),
            Some("web/toast"),
            "stops at the end"
        );
        app.key(key(KeyCode::Char('k')));
        assert_eq!(
            app.key(key(KeyCode::Char('a'))),
            Action::Attach("web/slit".into())
        );
        app.key(key(KeyCode::Char('n')));
        for c in "go on; q".chars() {
            assert_eq!(
                app.key(key(KeyCode::Char(c))),
                Action::None,
                "typing is not a command"
            );
        }
        app.key(key(KeyCode::Backspace));
        insta::assert_snapshot!("tui_nudge", screen(&app));
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            Action::Nudge("web/slit".into(), "go on;".into())
        );
        app.key(key(KeyCode::Tab));
        assert_eq!(app.focus, Panel::Work);
        app.key(key(KeyCode::Tab));
        app.key(key(KeyCode::Tab));
        assert_eq!(app.focus, Panel::Agents);
        app.key(key(KeyCode::Char('p')));
        assert_eq!(
            app.selected_agent().as_deref(),
            Some("web/nux"),
            "problems view selects problems"
        );
        assert_eq!(app.key(key(KeyCode::Esc)), Action::None);
        assert_eq!(app.key(key(KeyCode::Char('q'))), Action::Quit);
        assert_eq!(
            app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
    }

    #[test]
    fn tui_empty_town_and_tiny_terminal_do_not_panic() {
        let mut app = App::new("empty");
        app.key(key(KeyCode::Char('j')));
        app.key(key(KeyCode::Char('n')));
        assert!(app.message.is_some());
        app.clamp();
        let now = gt_lib::clock::parse_ts("2026-01-01T12:00:00Z").unwrap();
        for (w, h) in [(1, 1), (10, 3), (30, 8), (200, 60)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            for m in [Mode::Normal, Mode::Problems, Mode::Help] {
                app.mode = m;
                term.draw(|f| draw(f, &app, now)).unwrap();
                let s = sample();
                term.draw(|f| draw(f, &s, now)).unwrap();
            }
        }
    }
}
