//! The settings of a training cluster whose GPUs come and go: its [`Capacity`] over time
//! (steps, or autoscaled nodes) and how its jobs survive preemption ([`Elastic`]), with the
//! checks a run needs them to pass. The simulator that runs a cluster on them is the sim
//! layer's (`sim::cluster::elastic`), which documents the rules.

/// The GPUs the cluster has over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Capacity {
    /// `(time_s, gpus)` sorted by time, the first at 0 s; each holds until the next, the last
    /// forever.
    Steps(Vec<(f64, u32)>),
    /// Nodes of `gpus_per_node`, between `min_nodes` (held from the start) and `max_nodes`
    /// (held and on their way).
    Autoscaled {
        gpus_per_node: u32,
        min_nodes: u32,
        max_nodes: u32,
        /// From asking for a node to running jobs on it.
        provision_s: f64,
        /// How long a node's worth of GPUs stays free before the node goes back;
        /// `f64::INFINITY` keeps every node.
        idle_release_s: f64,
    },
}

/// How jobs survive being preempted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elastic {
    /// Progress between checkpoints, seconds; `f64::INFINITY` never checkpoints, so a preempted
    /// job starts over.
    pub checkpoint_interval_s: f64,
    /// GPU time a preempted job spends before it makes progress again (reload, warm-up).
    pub restart_s: f64,
}

/// A capacity or checkpoint setting `run` cannot use.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ElasticError {
    #[error("capacity steps are empty; give at least one, such as (0.0, 64)")]
    NoSteps,
    #[error("capacity step {index} is at {time_s} s; steps start at 0 s and increase strictly")]
    StepTime { index: usize, time_s: f64 },
    #[error("gpus_per_node is 0; a node has at least one GPU")]
    EmptyNode,
    #[error("nodes from {min} to {max}; need min_nodes <= max_nodes and max_nodes >= 1")]
    NodeRange { min: u32, max: u32 },
    #[error("{name} is {value}; it must be {want}")]
    Seconds {
        name: &'static str,
        value: f64,
        want: &'static str,
    },
}

impl Capacity {
    pub fn validate(&self) -> Result<(), ElasticError> {
        match self {
            Capacity::Steps(steps) => {
                if steps.is_empty() {
                    return Err(ElasticError::NoSteps);
                }
                for (index, &(time_s, _)) in steps.iter().enumerate() {
                    let ok = if index == 0 {
                        time_s == 0.0
                    } else {
                        time_s.is_finite() && time_s > steps[index - 1].0
                    };
                    if !ok {
                        return Err(ElasticError::StepTime { index, time_s });
                    }
                }
                Ok(())
            }
            &Capacity::Autoscaled {
                gpus_per_node,
                min_nodes,
                max_nodes,
                provision_s,
                idle_release_s,
            } => {
                if gpus_per_node == 0 {
                    return Err(ElasticError::EmptyNode);
                }
                if min_nodes > max_nodes || max_nodes == 0 {
                    return Err(ElasticError::NodeRange {
                        min: min_nodes,
                        max: max_nodes,
                    });
                }
                seconds("provision_s", provision_s, false)?;
                seconds("idle_release_s", idle_release_s, true)
            }
        }
    }

    /// The most GPUs the cluster can ever have; larger jobs are rejected on arrival.
    pub fn max_gpus(&self) -> u32 {
        match self {
            Capacity::Steps(steps) => steps.iter().map(|s| s.1).max().unwrap_or(0),
            Capacity::Autoscaled {
                gpus_per_node,
                max_nodes,
                ..
            } => gpus_per_node * max_nodes,
        }
    }
}

impl Elastic {
    pub fn validate(&self) -> Result<(), ElasticError> {
        if self.checkpoint_interval_s.is_nan() || self.checkpoint_interval_s <= 0.0 {
            return Err(ElasticError::Seconds {
                name: "checkpoint_interval_s",
                value: self.checkpoint_interval_s,
                want: "> 0 (or infinite for no checkpoints)",
            });
        }
        seconds("restart_s", self.restart_s, false)
    }
}

fn seconds(name: &'static str, value: f64, infinite_ok: bool) -> Result<(), ElasticError> {
    if value >= 0.0 && (infinite_ok || value.is_finite()) {
        Ok(())
    } else {
        Err(ElasticError::Seconds {
            name,
            value,
            want: if infinite_ok {
                ">= 0 (or infinite)"
            } else {
                "finite and >= 0"
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_named() {
        let e = Capacity::Steps(vec![(0.0, 8), (0.0, 4)]).validate();
        assert_eq!(
            e,
            Err(ElasticError::StepTime {
                index: 1,
                time_s: 0.0
            })
        );
        let e = Elastic {
            checkpoint_interval_s: 0.0,
            restart_s: 1.0,
        }
        .validate()
        .unwrap_err();
        assert!(
            e.to_string().starts_with("checkpoint_interval_s is 0"),
            "{e}"
        );
    }
}
