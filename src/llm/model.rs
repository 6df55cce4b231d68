//! Model architectures and the variants a fleet serves (precision, sparsity, stated quality).
//!
//! From an architecture come the three numbers the roofline needs: bytes of weights, bytes of KV
//! cache per token, and floating-point operations per token. Parameter counts are derived from
//! the shape (embeddings, attention, MLP or experts, norms), so an architecture written from a
//! model's `config.json` needs no hand-counted totals.

use std::fmt;

/// The shape of a decoder-only transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    pub name: String,
    pub layers: u32,
    pub hidden: u32,
    /// MLP width (per expert for mixtures of experts).
    pub intermediate: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub vocab: u32,
    /// Experts per MLP layer (1: a dense model) and experts each token uses.
    pub experts: u32,
    pub experts_per_token: u32,
    /// Whether the output projection shares the embedding matrix.
    pub tied_embeddings: bool,
    /// Longest sequence the model accepts.
    pub max_context: u32,
    /// Where the numbers come from.
    pub source: String,
}

impl Architecture {
    fn attention_params_per_layer(&self) -> f64 {
        let (h, q, kv) = (
            f64::from(self.hidden),
            f64::from(self.heads * self.head_dim),
            f64::from(self.kv_heads * self.head_dim),
        );
        h * q + 2.0 * h * kv + q * h
    }

    /// One expert's MLP (gate, up and down projections).
    fn expert_params(&self) -> f64 {
        3.0 * f64::from(self.hidden) * f64::from(self.intermediate)
    }

    fn router_params_per_layer(&self) -> f64 {
        if self.experts > 1 {
            f64::from(self.hidden) * f64::from(self.experts)
        } else {
            0.0
        }
    }

    fn norm_params_per_layer(&self) -> f64 {
        2.0 * f64::from(self.hidden)
    }

    /// Embedding table (and output projection, if not tied).
    pub fn embedding_params(&self) -> f64 {
        let e = f64::from(self.vocab) * f64::from(self.hidden);
        if self.tied_embeddings { e } else { 2.0 * e }
    }

    /// Every parameter.
    pub fn total_params(&self) -> f64 {
        let per_layer = self.attention_params_per_layer()
            + f64::from(self.experts) * self.expert_params()
            + self.router_params_per_layer()
            + self.norm_params_per_layer();
        f64::from(self.layers) * per_layer + self.embedding_params() + f64::from(self.hidden)
    }

    /// Parameters one token's forward pass multiplies with, in the transformer layers.
    pub fn active_layer_params(&self) -> f64 {
        f64::from(self.layers)
            * (self.attention_params_per_layer()
                + f64::from(self.experts_per_token) * self.expert_params()
                + self.router_params_per_layer())
    }

    /// Parameters of the output projection (vocabulary logits), used once per generated token.
    pub fn head_params(&self) -> f64 {
        f64::from(self.vocab) * f64::from(self.hidden)
    }

    /// Parameters active per token, as model cards count them (layers, embeddings and head).
    pub fn active_params(&self) -> f64 {
        self.active_layer_params() + self.embedding_params()
    }

    /// Parameters of all experts of one layer's MLP.
    pub fn expert_params_per_layer(&self) -> f64 {
        f64::from(self.experts) * self.expert_params()
    }

    /// KV-cache elements per token (keys and values, every layer).
    pub fn kv_elements_per_token(&self) -> f64 {
        2.0 * f64::from(self.layers) * f64::from(self.kv_heads) * f64::from(self.head_dim)
    }

    /// Attention FLOPs per (query token, cached token) pair, over all layers: QK^T and PV.
    pub fn attention_flops_per_pair(&self) -> f64 {
        4.0 * f64::from(self.layers) * f64::from(self.heads) * f64::from(self.head_dim)
    }
}

/// Numeric format of weights or of the KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    Fp32,
    Bf16,
    Fp16,
    Fp8,
    Int8,
    /// Weight-only 4-bit (GPTQ, AWQ): weights stored in 4 bits, multiplied in 16.
    Int4,
}

impl Precision {
    pub const ALL: [Precision; 6] = [
        Precision::Fp32,
        Precision::Bf16,
        Precision::Fp16,
        Precision::Fp8,
        Precision::Int8,
        Precision::Int4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Bytes per element, including the per-group scales of quantized formats (one 16-bit scale
    /// per 128 weights for int4 and int8 groups; fp8 uses per-tensor scales).
    pub fn bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            Precision::Bf16 | Precision::Fp16 => 2.0,
            Precision::Fp8 => 1.0,
            Precision::Int8 => 1.0 + 2.0 / 128.0,
            Precision::Int4 => 0.5 + 2.0 / 128.0,
        }
    }

    /// Whether matrix multiplies run in this format (W8A8), not in 16-bit after dequantizing.
    pub fn computes_natively(self) -> bool {
        matches!(self, Precision::Fp8 | Precision::Int8)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quality figure the user states for a variant (for example an accuracy delta against the
/// reference model); reported beside cost and latency, never computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    pub metric: String,
    pub value: f64,
}

/// A model as served: an architecture in given precisions, maybe pruned.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub architecture: Architecture,
    pub weights: Precision,
    pub kv_cache: Precision,
    /// 2:4 structured sparsity in the layer weights (half the weights, sparse tensor cores).
    pub sparse_2_4: bool,
    pub quality: Option<Quality>,
}

impl Variant {
    fn layer_weight_bytes_per_param(&self) -> f64 {
        if self.sparse_2_4 {
            // Half the values, plus 2 bits of position metadata per kept value.
            self.weights.bytes() * 0.5 + 0.5 * 2.0 / 8.0
        } else {
            self.weights.bytes()
        }
    }

    /// Bytes of all weights in GPU memory. Embeddings and the output head stay in 16 bits, as
    /// serving engines keep them.
    pub fn weight_bytes(&self) -> f64 {
        let a = &self.architecture;
        let layers = a.total_params() - a.embedding_params() - f64::from(a.hidden);
        layers * self.layer_weight_bytes_per_param()
            + (a.embedding_params() + f64::from(a.hidden)) * 2.0
    }

    /// Bytes of layer weights one forward pass reads when `experts_touched` experts per layer are
    /// used (all of them for a dense model), plus the output head.
    pub fn weight_bytes_read(&self, experts_touched: f64) -> f64 {
        let a = &self.architecture;
        let per_layer_dense = a.attention_params_per_layer()
            + a.router_params_per_layer()
            + a.norm_params_per_layer();
        let expert = a.expert_params();
        f64::from(a.layers)
            * (per_layer_dense + experts_touched * expert)
            * self.layer_weight_bytes_per_param()
            + a.head_params() * 2.0
    }

    /// Experts per layer that a step over `tokens` tokens touches, in expectation, when each
    /// token picks `experts_per_token` of `experts` uniformly.
    pub fn experts_touched(&self, tokens: f64) -> f64 {
        let a = &self.architecture;
        if a.experts <= 1 {
            return 1.0;
        }
        let e = f64::from(a.experts);
        let miss = 1.0 - f64::from(a.experts_per_token) / e;
        e * (1.0 - miss.powf(tokens))
    }

    /// KV-cache bytes per token of context (KV formats carry per-token scales, negligible here).
    pub fn kv_bytes_per_token(&self) -> f64 {
        let element = match self.kv_cache {
            Precision::Fp32 => 4.0,
            Precision::Bf16 | Precision::Fp16 => 2.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            Precision::Int4 => 0.5,
        };
        self.architecture.kv_elements_per_token() * element
    }
}
