//! `headroom tui`: explore cost against latency live, edit the fleet, compare, save.
//!
//! Elm-style: [`app::App`] holds the state, [`action::Action`] says what happened,
//! `App::update` changes the state and returns effects (simulate, sweep, optimize) that the
//! loop hands to the [`worker`] lanes; the views draw `&App`. The UI thread only reads events,
//! updates and draws; simulation runs on the lanes and reports over a channel. The TUI computes
//! nothing the headless commands do not: it calls the same library.

pub mod action;
pub mod app;
pub mod document;
pub mod fields;
pub mod keymap;
pub mod layout;
pub mod picker;
pub mod theme;
pub mod view;
pub mod worker;

use std::io::stdout;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEvent, KeyEventKind,
    KeyModifiers, MouseButton, MouseEventKind,
};
use crossterm::execute;
use ratatui::DefaultTerminal;
use ratatui::layout::{Position, Rect};
use signal_hook::consts::{SIGHUP, SIGTERM};

use action::Action;
use app::{App, Effect, Overlay};
use document::Document;
use worker::{Report, Worker};

/// The scenario `headroom` opens with no arguments: the README's.
pub const DEFAULT_SCENARIO: &str = "scenarios/chat-assistant.toml";

/// What the TUI opens: a file, or a bundled scenario's text that is saved (when the user saves)
/// at `path`.
pub struct Source {
    pub path: std::path::PathBuf,
    pub bundled: Option<&'static str>,
}

/// The default scenario: the one in the source tree when run from a clone, else the file this
/// folder already has under its name, else the bundled copy (nothing is written until a save).
pub fn default_scenario() -> Source {
    let here = Path::new(DEFAULT_SCENARIO);
    let name = Path::new(crate::bundled::DEFAULT);
    let (path, bundled) = if here.is_file() {
        (here, None)
    } else if name.exists() {
        (name, None)
    } else {
        (name, crate::bundled::scenario(crate::bundled::DEFAULT))
    };
    Source {
        path: path.to_path_buf(),
        bundled,
    }
}

/// Opens the TUI on `path`; returns when the user quits. A file that does not load is an error
/// before the terminal is touched.
pub fn run(source: &Source, replications: u32, allow_large: bool) -> anyhow::Result<()> {
    let (doc, scenario) = match source.bundled {
        Some(text) => {
            let mut doc = Document::from_text(&source.path, text.to_string());
            doc.bundled = true;
            let scenario = doc.load(doc.text())?;
            (doc, scenario)
        }
        None => Document::open(&source.path)?,
    };
    crate::experiment::budget::check(&scenario, replications, allow_large)?;
    crate::scenario::check_traces(&scenario)?;
    let (tx, rx) = channel();
    let worker = Worker::start(tx);
    let catalog = app::catalog_of(&doc, &scenario);
    let (mut app, effects) = App::new(doc, scenario, catalog, replications);
    perform(&mut app, &worker, effects);
    let mut terminal = ratatui::init();
    // ratatui's hook restores the screen; mouse reporting must be switched off too.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        hook(info);
    }));
    let _ = execute!(stdout(), EnableMouseCapture);
    // SIGTERM and SIGHUP (a closed terminal) end the loop like `q` would, so the terminal is
    // restored; the process then ends with the signal's conventional status.
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [SIGTERM, SIGHUP] {
        let _ = signal_hook::flag::register_usize(sig, signal.clone(), sig as usize);
    }
    // crossterm's poll can spin on a terminal that has gone away without returning: if the
    // loop has not ended a second after a signal, this thread ends the process, keeping the
    // unsaved edits the loop last published.
    let unsaved: Arc<Mutex<Option<(PathBuf, String)>>> = Arc::default();
    {
        let (signal, unsaved) = (signal.clone(), unsaved.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let sig = signal.load(Ordering::Relaxed);
                if sig != 0 {
                    std::thread::sleep(Duration::from_secs(1));
                    let kept = unsaved.lock().ok().and_then(|u| u.clone());
                    keep_unsaved(kept.as_ref().map(|(p, t)| (p.as_path(), t.as_str())));
                    std::process::exit(128 + sig as i32);
                }
            }
        });
    }
    let result = event_loop(&mut terminal, &mut app, &worker, &rx, &signal, &unsaved);
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    let sig = signal.load(Ordering::Relaxed);
    if sig != 0 {
        let dirty = app.doc.dirty();
        keep_unsaved(dirty.then(|| (app.doc.path.as_path(), app.doc.text())));
        std::process::exit(128 + sig as i32);
    }
    result
}

/// After a signal: the unsaved edits, if any, beside the file (never over it).
fn keep_unsaved(edits: Option<(&Path, &str)>) {
    let Some((path, text)) = edits else {
        return;
    };
    let keep = path.with_extension("unsaved.toml");
    match crate::atomic_file::write_atomic(&keep, text.as_bytes()) {
        Ok(()) => eprintln!(
            "headroom: ended by a signal; unsaved edits are in {}",
            keep.display()
        ),
        Err(e) => eprintln!(
            "headroom: ended by a signal; unsaved edits could not be kept in {}: {e}",
            keep.display()
        ),
    }
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    worker: &Worker,
    rx: &Receiver<Report>,
    signal: &AtomicUsize,
    unsaved: &Mutex<Option<(PathBuf, String)>>,
) -> anyhow::Result<()> {
    let mut published = None;
    loop {
        if signal.load(Ordering::Relaxed) != 0 {
            return Ok(());
        }
        // What a signal's watchdog keeps if this loop is stuck: the edits, when they change.
        if published != Some((app.doc.revision(), app.doc.dirty())) {
            published = Some((app.doc.revision(), app.doc.dirty()));
            if let Ok(mut u) = unsaved.lock() {
                *u = app
                    .doc
                    .dirty()
                    .then(|| (app.doc.path.clone(), app.doc.text().to_string()));
            }
        }
        terminal.draw(|f| f.render_widget(&*app, f.area()))?;
        if app.quit {
            return Ok(());
        }
        let busy = app.running.is_some() || app.frontier.running || app.optimizing.running;
        let wait = Duration::from_millis(if busy { 40 } else { 250 });
        if event::poll(wait)? {
            // Everything queued, then one draw.
            loop {
                let ev = event::read()?;
                let size = terminal.size()?;
                let area = Rect::new(0, 0, size.width, size.height);
                if let Some(a) = translate(app, area, &ev) {
                    let effects = app.update(a);
                    perform(app, worker, effects);
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        while let Ok(report) = rx.try_recv() {
            let effects = app.update(Action::Worker(report));
            perform(app, worker, effects);
        }
    }
}

/// Carries out `effects`: simulations and tasks go to the lanes; files are written here, and
/// what came of it goes back to the app.
fn perform(app: &mut App, worker: &Worker, effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::Simulate {
                revision,
                scenario,
                replications,
            } => worker.simulate(revision, *scenario, replications),
            Effect::Task(task) => worker.run(task),
            Effect::Save {
                path,
                text,
                revision,
                expect,
            } => {
                let more = app.update(save(&path, text, revision, expect.as_deref()));
                perform(app, worker, more);
            }
        }
    }
}

/// Writes `text` (revision `revision` of the document) to `path`, whole or not at all, if the
/// file still holds `expect` (else nothing is written: someone else changed it); the action
/// says how it went.
pub fn save(path: &Path, text: String, revision: u64, expect: Option<&str>) -> Action {
    if let Some(expect) = expect {
        match std::fs::read(path) {
            Ok(bytes) if bytes != expect.as_bytes() => {
                return Action::SaveConflict {
                    on_disk: String::from_utf8_lossy(&bytes).into_owned(),
                };
            }
            // A file deleted since is written again.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Action::Saved {
                    path: path.to_path_buf(),
                    revision,
                    text,
                    result: Err(e.to_string()),
                };
            }
        }
    }
    let result = crate::atomic_file::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string());
    Action::Saved {
        path: path.to_path_buf(),
        revision,
        text,
        result,
    }
}

/// The action of a terminal event in the app's current state, on a terminal of `area`.
pub fn translate(app: &App, area: Rect, ev: &Event) -> Option<Action> {
    match ev {
        Event::Key(k) => key(app, k),
        Event::Mouse(m) => {
            let at = Position::new(m.column, m.row);
            match m.kind {
                MouseEventKind::Down(MouseButton::Left) => layout::hit(app, area, at),
                MouseEventKind::ScrollDown => Some(Action::ScrollDown),
                MouseEventKind::ScrollUp => Some(Action::ScrollUp),
                _ => None,
            }
        }
        Event::Resize(..) => Some(Action::Resize),
        _ => None,
    }
}

fn key(app: &App, k: &KeyEvent) -> Option<Action> {
    if k.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && k.code == KeyCode::Char('c') {
        return Some(Action::ForceQuit);
    }
    let typing = match &app.overlay {
        Overlay::Input(_)
        | Overlay::Conflict {
            save_as: Some(_), ..
        } => true,
        Overlay::Conflict { save_as: None, .. } => {
            return match k.code {
                KeyCode::Esc => Some(Action::Back),
                KeyCode::Char(c @ ('r' | 'o' | 'a' | 'n' | 'q')) if !ctrl => Some(Action::Char(c)),
                _ => None,
            };
        }
        Overlay::Picker(p) => p.filtering,
        _ => false,
    };
    if typing {
        return match k.code {
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Enter => Some(Action::Enter),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down => Some(Action::Down),
            KeyCode::Char(c) if !ctrl => Some(Action::Char(c)),
            _ => None,
        };
    }
    if matches!(app.overlay, Overlay::Save { .. } | Overlay::ConfirmQuit) {
        match k.code {
            KeyCode::Char('y') => return Some(Action::Yes),
            KeyCode::Char('n') => return Some(Action::No),
            _ => {}
        }
    }
    if matches!(app.overlay, Overlay::Picker(_)) && k.code == KeyCode::Enter {
        return Some(Action::Enter);
    }
    keymap::lookup(k, app.tab)
}
