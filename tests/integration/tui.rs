//! The TUI without a terminal: `update` as a state machine, every view drawn through ratatui's
//! TestBackend (snapshots at 80x24 and 120x40), tiny terminals. Results are computed here with
//! the library, as the worker lanes would, and handed to `update` as the lanes' reports.

use std::path::Path;
use std::time::Duration;

use headroom::experiment::run::{self, RunOptions};
use headroom::tui::action::{Action, Tab};
use headroom::tui::app::{App, Effect, Overlay};
use headroom::tui::document::Document;
use headroom::tui::theme::Theme;
use headroom::tui::worker::{Report, Simulated, Span};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FILE: &str = "scenarios/chat-assistant.toml";

/// The default scenario, shortened to two hours so the tests run quickly.
fn text() -> String {
    std::fs::read_to_string(FILE)
        .unwrap()
        .replace("horizon = \"24h\"", "horizon = \"2h\"")
}

fn app_at(path: &Path, text: String) -> (App, Vec<Effect>) {
    let doc = Document::from_text(path, text);
    let scenario = doc.load(doc.text()).unwrap();
    let catalog = headroom::tui::app::catalog_of(&doc, &scenario);
    let (mut app, effects) = App::new(doc, scenario, catalog, 1);
    app.theme = Theme::plain();
    app.cache = None;
    (app, effects)
}

/// Runs what the lanes would for the simulate effects, writes what is saved as the run loop
/// would, and reports back.
fn settle(app: &mut App, effects: Vec<Effect>) {
    for e in effects {
        if let Effect::Save {
            path,
            text,
            revision,
            expect,
        } = e
        {
            let more = app.update(headroom::tui::save(
                &path,
                text,
                revision,
                expect.as_deref(),
            ));
            settle(app, more);
        } else if let Effect::Simulate {
            revision,
            scenario,
            replications,
        } = e
        {
            let outcome = run::run(&scenario, &RunOptions::new(&scenario, replications)).unwrap();
            let more = app.update(Action::Worker(Report::Simulated(Box::new(Simulated {
                revision,
                span: Span::Full,
                scenario: *scenario,
                outcome,
                // Fixed, so that snapshots do not depend on this machine's speed.
                wall: Duration::from_millis(123),
                since_submit: Duration::from_millis(123),
            }))));
            settle(app, more);
        }
    }
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    if w == 0 || h == 0 {
        // TestBackend cannot print an empty buffer; drawing it is the test.
        return String::new();
    }
    format!("{}", t.backend())
}

#[test]
fn edits_undo_redo_save_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.toml");
    let original = text();
    std::fs::write(&path, &original).unwrap();
    let (mut app, first) = app_at(&path, original.clone());
    assert_eq!(first.len(), 1, "the first run is asked for at once");
    settle(&mut app, first);
    assert!(!app.stale());

    // Fleet: the replicas of the first pool, up by one.
    app.update(Action::Tab(Tab::Fleet));
    app.update(Action::Right);
    app.update(Action::Right);
    let effects = app.update(Action::Increase);
    assert_eq!(effects.len(), 1, "an edit re-simulates");
    assert!(app.doc.dirty());
    assert!(app.stale(), "results of the old text are stale");
    assert_eq!(app.scenario.pools()[0].replicas, 4);
    assert!(app.doc.text().contains("replicas = 4"));
    settle(&mut app, effects);
    assert!(!app.stale());

    // A market change, then undo twice and redo once.
    app.update(Action::CycleMarket);
    assert_eq!(app.scenario.pools()[0].market.as_str(), "on-demand");
    app.update(Action::Undo);
    assert_eq!(app.scenario.pools()[0].market.as_str(), "reserved");
    app.update(Action::Undo);
    assert_eq!(app.scenario.pools()[0].replicas, 3);
    assert!(!app.doc.dirty(), "undone back to the file");
    app.update(Action::Redo);
    assert_eq!(app.scenario.pools()[0].replicas, 4);

    // A bad value is refused with a message, and changes nothing.
    let before = app.doc.text().to_string();
    app.update(Action::Command);
    for c in "pools.l40s-spot.market=moon".chars() {
        app.update(Action::Char(c));
    }
    let effects = app.update(Action::Enter);
    assert!(effects.is_empty());
    assert_eq!(app.doc.text(), before);
    assert!(app.status.as_ref().unwrap().error, "{:?}", app.status);
    // The line stays open with what was typed, to correct it; Esc closes it.
    assert!(
        matches!(&app.overlay, Overlay::Input(i) if i.text == "pools.l40s-spot.market=moon"),
        "{:?}",
        app.overlay
    );
    app.update(Action::Back);
    assert_eq!(app.overlay, Overlay::None);

    // Quitting with unsaved edits asks; n stays.
    app.update(Action::Quit);
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    app.update(Action::No);
    assert!(!app.quit);

    // Save shows the diff first; n writes nothing, y writes.
    app.update(Action::Save);
    assert!(matches!(app.overlay, Overlay::Save { .. }));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("- replicas = 3"), "{screen}");
    assert!(screen.contains("+ replicas = 4"), "{screen}");
    app.update(Action::No);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    app.update(Action::Save);
    let effects = app.update(Action::Yes);
    settle(&mut app, effects);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(saved, original.replace("replicas = 3", "replicas = 4"));
    assert!(
        saved.starts_with("# A chat assistant in production"),
        "comments kept"
    );
    assert!(!app.doc.dirty());
    assert!(headroom::scenario::load(&path, &[]).is_ok());

    // Nothing unsaved: q quits at once.
    app.update(Action::Quit);
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits_even_with_unsaved_edits() {
    let (mut app, _) = app_at(Path::new(FILE), text());
    app.update(Action::Tab(Tab::Fleet));
    app.update(Action::Right);
    app.update(Action::Right);
    app.update(Action::Increase);
    assert!(app.doc.dirty());
    app.update(Action::ForceQuit);
    assert!(app.quit);
}

#[test]
fn the_instance_picker_filters_and_sets_type_and_region() {
    let (mut app, _) = app_at(Path::new(FILE), text());
    app.update(Action::Tab(Tab::Fleet));
    app.update(Action::Enter);
    let Overlay::Picker(p) = &app.overlay else {
        panic!("Enter on the instance opens the picker: {:?}", app.overlay);
    };
    assert!(p.items.len() > 10);
    app.update(Action::Filter);
    for c in "g6e.2xlarge us-west-2".chars() {
        app.update(Action::Char(c));
    }
    let effects = app.update(Action::Enter); // ends the filter and picks
    assert_eq!(effects.len(), 1, "{:?}", app.status);
    assert_eq!(app.scenario.pools()[0].instance.name, "g6e.2xlarge");
    assert_eq!(app.scenario.pools()[0].instance.region, "us-west-2");
    // Picking the type it already has changes nothing and runs nothing.
    app.update(Action::Enter);
    assert!(app.update(Action::Enter).is_empty());
    // One edit, undone as one.
    app.update(Action::Undo);
    assert_eq!(app.scenario.pools()[0].instance.name, "g6e.xlarge");
    assert_eq!(app.scenario.pools()[0].instance.region, "us-east-1");
}

#[test]
fn every_view_at_80x24_and_120x40() {
    let (mut app, first) = app_at(Path::new(FILE), text());
    settle(&mut app, first);
    // A small sweep for the frontier, as the task lane would run it.
    let rows = headroom::sweep::run_text(
        app.doc.text(),
        Path::new(FILE),
        &[],
        &[headroom::sweep::Axis::parse("pools.l40s-spot.replicas=0,1,2,3,4").unwrap()],
        headroom::sweep::Shard::ALL,
        headroom::sweep::Settings {
            replications: 1,
            seed: None,
            allow_large: false,
        },
        &|| {},
    )
    .unwrap();
    app.fleet.row = 2;
    app.update(Action::Worker(Report::Swept {
        pool: "l40s-spot".into(),
        result: Ok(rows),
    }));
    for tab in Tab::ALL {
        app.update(Action::Tab(tab));
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(
                format!("tui_{}_{w}x{h}", tab.title().to_lowercase()),
                draw(&app, w, h)
            );
        }
    }
    app.update(Action::Help);
    insta::assert_snapshot!("tui_help_120x40", draw(&app, 120, 40));
}

#[test]
fn tiny_terminals_do_not_panic() {
    let (mut app, first) = app_at(Path::new(FILE), text());
    settle(&mut app, first);
    for tab in Tab::ALL {
        app.update(Action::Tab(tab));
        for (w, h) in [(0, 0), (20, 5), (1, 1), (59, 15), (60, 16)] {
            let screen = draw(&app, w, h);
            if (w, h) == (20, 5) {
                assert!(screen.contains("headroom needs"), "{screen}");
            }
        }
    }
}

/// One scenario, four front ends: the TUI's Bill tab and `simulate`'s table, JSON and CSV give
/// the same total for the period (the TUI once dropped training, storage, transfer and logging).
#[test]
fn the_bill_total_is_the_same_in_the_tui_and_every_report() {
    let path = Path::new("scenarios/full-bill.toml");
    let (mut app, first) = app_at(path, std::fs::read_to_string(path).unwrap());
    settle(&mut app, first);
    app.update(Action::Tab(Tab::Bill));
    let screen = draw(&app, 120, 50);
    let cli = |format: &str| {
        let out = crate::support::succeeds(crate::support::headroom().args([
            "simulate",
            "scenarios/full-bill.toml",
            "-f",
            format,
        ]));
        String::from_utf8(out).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&cli("json")).unwrap();
    let total = json["bill"]["total_usd"].as_f64().unwrap();
    let shown = headroom::report::format::usd(total);
    assert!(
        screen.contains(&format!("Bill: {shown} per 30 days")),
        "{shown}\n{screen}"
    );
    // The bill is the last section of both.
    let total_line = |text: &str| {
        text.lines()
            .rfind(|l| l.trim_start_matches(['"', '│']).starts_with("total "))
            .map(|l| {
                l.trim_matches(|c: char| c == '│' || c == '"' || c.is_whitespace())
                    .to_string()
            })
    };
    let table = cli("table");
    assert_eq!(total_line(&screen), total_line(&table), "{table}");
    assert!(total_line(&table).unwrap().contains(&shown));
    let csv = cli("csv");
    let row = csv
        .lines()
        .find(|l| l.starts_with("total,,"))
        .expect("the bill's total row");
    assert_eq!(
        row.split(',').nth(2).unwrap().parse::<f64>().unwrap(),
        total
    );
}

/// A scenario that only trains opens on the Bill tab with its jobs; the serving views say where
/// its results are instead of drawing empty charts.
#[test]
fn a_scenario_that_only_trains_opens_on_its_bill() {
    let path = Path::new("scenarios/train-spot.toml");
    let (mut app, first) = app_at(path, std::fs::read_to_string(path).unwrap());
    assert_eq!(app.tab, Tab::Bill);
    settle(&mut app, first);
    let screen = draw(&app, 100, 30);
    assert!(
        screen.contains("TRAINING JOB") && screen.contains("spot-young-daly"),
        "{screen}"
    );
    for tab in Tab::ALL {
        app.update(Action::Tab(tab));
        let screen = draw(&app, 100, 30);
        if matches!(tab, Tab::Overview | Tab::Latency | Tab::Cost) {
            assert!(screen.contains("serves no traffic"), "{tab:?}\n{screen}");
        }
    }
}

/// The text of line `y` of a drawn frame.
fn line_at(app: &App, w: u16, h: u16, y: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer();
    (0..w).map(|x| buf[(x, y)].symbol()).collect()
}

#[test]
fn clicks_land_on_what_the_frame_shows() {
    use headroom::tui::layout;
    use ratatui::layout::{Position, Rect};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.toml");
    std::fs::write(&path, text()).unwrap();
    let (mut app, first) = app_at(&path, text());
    settle(&mut app, first);
    app.update(Action::Tab(Tab::Fleet));
    for (w, h) in [(80, 24), (120, 40)] {
        let area = Rect::new(0, 0, w, h);
        let frame = layout::frame(area).unwrap();
        // Every tab drawn is clicked where its label is.
        for (tab, r, label) in layout::tabs(app.tab, frame.tabs) {
            let drawn = line_at(&app, w, h, r.y);
            assert!(
                drawn.contains(label.trim()),
                "{label} not drawn in {drawn:?}"
            );
            let at = Position::new(r.x + r.width / 2, r.y);
            assert!(matches!(layout::hit(&app, area, at), Some(Action::ClickTab(t)) if t == tab));
        }
        // Each pool's row, with the last one selected (scrolled into view on a small screen).
        app.fleet.row = app.scenario.pools().len() - 1;
        let rows = layout::table_rows(layout::fleet(frame.body)[0]);
        for y in rows.y..rows.y + rows.height.min(app.scenario.pools().len() as u16) {
            let Some(Action::ClickRow(i)) = layout::hit(&app, area, Position::new(rows.x + 2, y))
            else {
                panic!("no row at line {y}");
            };
            let Some(pool) = app.scenario.pools().get(i) else {
                continue;
            };
            let drawn = line_at(&app, w, h, y);
            assert!(
                drawn.contains(&pool.name),
                "row {i} ({}) is not at line {y}: {drawn:?}",
                pool.name
            );
        }
    }
}
