//! The bundled model architectures (`models/*.toml`), compiled in.

use serde::Deserialize;

use super::model::Architecture;

/// (name, file text) of every bundled model.
macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../models/", $name, ".toml")))),*]
    };
}

const FILES: &[(&str, &str)] = bundled!(
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "llama-2-7b",
    "llama-2-70b",
    "mistral-7b",
    "mixtral-8x7b",
    "qwen2.5-7b",
    "qwen3-0.6b",
    "qwen3-8b",
    "qwen3-14b",
);

/// An architecture as written in a file or inline in a scenario.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArchitecture {
    pub name: Option<String>,
    pub layers: u32,
    pub hidden: u32,
    pub intermediate: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: Option<u32>,
    pub vocab: u32,
    #[serde(default = "one")]
    pub experts: u32,
    #[serde(default = "one")]
    pub experts_per_token: u32,
    #[serde(default)]
    pub tied_embeddings: bool,
    pub max_context: u32,
    #[serde(default)]
    pub source: String,
}

fn one() -> u32 {
    1
}

impl RawArchitecture {
    /// Checks the shape; the message says what is wrong.
    pub fn build(self, default_name: &str) -> Result<Architecture, String> {
        for (field, v) in [
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("intermediate", self.intermediate),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("vocab", self.vocab),
            ("experts", self.experts),
            ("experts_per_token", self.experts_per_token),
            ("max_context", self.max_context),
        ] {
            if v == 0 {
                return Err(format!("`{field}` must be at least 1"));
            }
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return Err(format!(
                "heads ({}) must be a multiple of kv_heads ({})",
                self.heads, self.kv_heads
            ));
        }
        if self.experts_per_token > self.experts {
            return Err(format!(
                "experts_per_token ({}) cannot exceed experts ({})",
                self.experts_per_token, self.experts
            ));
        }
        let head_dim = match self.head_dim {
            Some(0) => return Err("`head_dim` must be at least 1".into()),
            Some(d) => d,
            None if self.hidden.is_multiple_of(self.heads) => self.hidden / self.heads,
            None => return Err("set `head_dim`: hidden is not a multiple of heads".into()),
        };
        Ok(Architecture {
            name: self.name.unwrap_or_else(|| default_name.to_string()),
            layers: self.layers,
            hidden: self.hidden,
            intermediate: self.intermediate,
            heads: self.heads,
            kv_heads: self.kv_heads,
            head_dim,
            vocab: self.vocab,
            experts: self.experts,
            experts_per_token: self.experts_per_token,
            tied_embeddings: self.tied_embeddings,
            max_context: self.max_context,
            source: self.source,
        })
    }
}

/// The names of the bundled architectures.
pub fn names() -> Vec<String> {
    FILES.iter().map(|(name, _)| name.to_string()).collect()
}

/// A bundled architecture by name (the file name without `.toml`).
pub fn find(name: &str) -> Option<Architecture> {
    let (file, text) = FILES.iter().find(|(n, _)| *n == name)?;
    let raw: RawArchitecture =
        toml::from_str(text).unwrap_or_else(|e| panic!("bundled models/{file} parses: {e}"));
    Some(
        raw.build(name)
            .unwrap_or_else(|e| panic!("bundled models/{file} is valid: {e}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_model_loads() {
        for name in names() {
            let a = find(&name).unwrap();
            assert_eq!(a.name, name);
        }
    }

    #[test]
    fn parameter_counts_match_the_model_cards() {
        // Meta: 8.03 B and 70.6 B parameters; Mistral: 46.7 B total, 12.9 B active.
        let p = |n: &str| find(n).unwrap();
        let close = |x: f64, y: f64| (x / y - 1.0).abs() < 0.01;
        assert!(
            close(p("llama-3.1-8b").total_params(), 8.03e9),
            "{}",
            p("llama-3.1-8b").total_params()
        );
        assert!(
            close(p("llama-3.1-70b").total_params(), 70.55e9),
            "{}",
            p("llama-3.1-70b").total_params()
        );
        let m = p("mixtral-8x7b");
        assert!(close(m.total_params(), 46.70e9), "{}", m.total_params());
        assert!(close(m.active_params(), 12.88e9), "{}", m.active_params());
        assert!(close(p("llama-3.1-405b").total_params(), 405.85e9));
        assert!(
            close(p("llama-3.2-1b").total_params(), 1.236e9),
            "{}",
            p("llama-3.2-1b").total_params()
        );
        assert!(close(p("llama-3.2-3b").total_params(), 3.213e9));
        assert!(close(p("mistral-7b").total_params(), 7.24e9));
        assert!(close(p("qwen2.5-7b").total_params(), 7.616e9));
        // Qwen's model cards: 0.6 B (0.44 B without the tied embeddings), 8.2 B and 14.8 B.
        assert!(close(p("qwen3-0.6b").total_params(), 0.596e9));
        assert!(close(p("qwen3-8b").total_params(), 8.19e9));
        assert!(close(p("qwen3-14b").total_params(), 14.77e9));
        assert!(
            close(p("llama-2-7b").total_params(), 6.738e9),
            "{}",
            p("llama-2-7b").total_params()
        );
        assert!(
            close(p("llama-2-70b").total_params(), 68.98e9),
            "{}",
            p("llama-2-70b").total_params()
        );
    }
}
