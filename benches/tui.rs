//! The TUI's speed: one frame of each view at 200x50 (target under 5 ms), and the time from an
//! edit (one replica more or fewer) to the preview result and to the full result on the default
//! scenario, through the real worker lanes.
//!
//! `cargo bench --bench tui -- --warm-up-time 1 --measurement-time 5`.

use std::path::Path;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use headroom::tui::action::{Action, Tab};
use headroom::tui::app::{App, Effect};
use headroom::tui::document::Document;
use headroom::tui::worker::{Report, Span, Worker};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FILE: &str = "scenarios/chat-assistant.toml";

fn open() -> App {
    let (doc, scenario) = Document::open(Path::new(FILE)).expect("the default scenario loads");
    let catalog = headroom::tui::app::catalog_of(&doc, &scenario);
    App::new(doc, scenario, catalog, 1).0
}

/// Hands the effects to the lanes and feeds reports back until a full result of the newest
/// revision arrives; returns (edit to preview, edit to full).
fn settle(
    app: &mut App,
    worker: &Worker,
    rx: &std::sync::mpsc::Receiver<Report>,
    effects: Vec<Effect>,
) -> (Option<Duration>, Duration) {
    let t0 = Instant::now();
    for e in effects {
        if let Effect::Simulate {
            revision,
            scenario,
            replications,
        } = e
        {
            worker.simulate(revision, *scenario, replications);
        }
    }
    let mut preview = None;
    loop {
        let r = rx.recv().expect("the lanes run");
        let (done, is_preview) = match &r {
            Report::Simulated(s) if s.revision == app.doc.revision() => {
                (s.span == Span::Full, s.span != Span::Full)
            }
            _ => (false, false),
        };
        app.update(Action::Worker(r));
        if is_preview {
            preview = Some(t0.elapsed());
        }
        if done {
            return (preview, t0.elapsed());
        }
    }
}

fn frames(c: &mut Criterion) {
    let (tx, rx) = channel();
    let worker = Worker::start(tx);
    let mut app = open();
    let first = vec![Effect::Simulate {
        revision: app.doc.revision(),
        scenario: Box::new(app.scenario.clone()),
        replications: 1,
    }];
    settle(&mut app, &worker, &rx, first);
    let mut g = c.benchmark_group("tui/frame_200x50");
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a test terminal");
    for tab in Tab::ALL {
        app.update(Action::Tab(tab));
        g.bench_function(tab.title(), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| f.render_widget(&app, f.area()))
                    .map(|_| ())
                    .expect("draws")
            })
        });
    }
    g.finish();

    // Edits: the first pool's replicas, alternately up and down.
    app.update(Action::Tab(Tab::Fleet));
    app.update(Action::Right);
    app.update(Action::Right);
    let mut up = true;
    let mut g = c.benchmark_group("tui/edit_to_result");
    g.sample_size(20);
    for which in ["preview", "full"] {
        g.bench_function(which, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let effects = app.update(if up {
                        Action::Increase
                    } else {
                        Action::Decrease
                    });
                    up = !up;
                    let (preview, full) = settle(&mut app, &worker, &rx, effects);
                    total += if which == "preview" {
                        preview.unwrap_or(full)
                    } else {
                        full
                    };
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
