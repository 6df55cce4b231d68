//! Styles named for what they mean. With `NO_COLOR` set every style is plain or bold/dim only;
//! meaning is never carried by colour alone (a status also has a word and a symbol).

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theme {
    pub ok: Style,
    pub warn: Style,
    pub breach: Style,
    /// Results of an older text, while the new ones run.
    pub stale: Style,
    pub header: Style,
    pub selected: Style,
    /// The selected cell of the selected row.
    pub focused: Style,
    pub unfocused: Style,
    pub added: Style,
    pub removed: Style,
    pub accent: Style,
    /// Series colours for charts, in order.
    pub series: [Style; 6],
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set (to anything non-empty, per no-color.org).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color {
            Theme::plain()
        } else {
            Theme::colored()
        }
    }

    pub fn colored() -> Theme {
        let fg = |c| Style::new().fg(c);
        Theme {
            ok: fg(Color::Green),
            warn: fg(Color::Yellow),
            breach: fg(Color::Red).add_modifier(Modifier::BOLD),
            stale: Style::new().add_modifier(Modifier::DIM),
            header: Style::new().add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            focused: fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            unfocused: fg(Color::DarkGray),
            added: fg(Color::Green),
            removed: fg(Color::Red),
            accent: fg(Color::Cyan),
            series: [
                fg(Color::Cyan),
                fg(Color::Magenta),
                fg(Color::Yellow),
                fg(Color::Green),
                fg(Color::Blue),
                fg(Color::Red),
            ],
            color: true,
        }
    }

    pub fn plain() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            ok: Style::new(),
            warn: bold,
            breach: bold,
            stale: Style::new().add_modifier(Modifier::DIM),
            header: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            focused: bold.add_modifier(Modifier::UNDERLINED | Modifier::REVERSED),
            unfocused: Style::new(),
            added: Style::new(),
            removed: Style::new(),
            accent: bold,
            series: [Style::new(); 6],
            color: false,
        }
    }
}
