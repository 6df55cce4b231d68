//! From the decision to add a replica until it serves: the instance starts, the serving
//! container starts, the model's weights load. Each stage has a documented default (sources in
//! `docs/provisioning.md`); a warm pool of prepared instances shortens the wait.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, LogNormal};

use crate::units::SimTime;

/// How long a new replica of a pool takes to serve, and what can shorten it.
#[derive(Clone, Debug, PartialEq)]
pub struct Provisioning {
    /// Median time from the request to a booted, ready node.
    pub instance_start: SimTime,
    /// Spread of the instance start: the coefficient of variation of a lognormal with that
    /// median (0: always the median).
    pub instance_start_cv: f64,
    /// Pulling and starting the serving container.
    pub container_start: SimTime,
    /// Loading the weights onto the GPUs from their source, and from a node-local cache.
    pub model_load: SimTime,
    pub cached_load: SimTime,
    /// Share of new replicas whose weights are already in a node-local cache.
    pub cache_hit_ratio: f64,
    /// Prepared instances kept aside for scale-ups.
    pub warm_pool: Option<WarmPool>,
}

/// A warm pool (AWS EC2 Auto Scaling warm pools): `size` instances already through boot and
/// model preparation, kept `Stopped` (paying only their disk) or `Running` (paying full price,
/// idle, weights loaded). A scale-up takes one if there is one, and serves after `start`; the
/// pool then prepares a replacement, which takes a full provisioning and is paid meanwhile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmPool {
    pub size: u32,
    pub state: WarmState,
    /// From taking a warm instance until it serves.
    pub start: SimTime,
    /// What one stopped instance costs an hour (its volumes); running ones cost the pool's price.
    pub stopped_usd_per_hour: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmState {
    Stopped,
    Running,
}

impl WarmState {
    pub fn name(self) -> &'static str {
        match self {
            WarmState::Stopped => "stopped",
            WarmState::Running => "running",
        }
    }
}

/// Where a new replica's weights come from, and how fast they load (bytes per second, end to
/// end onto the GPUs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSource {
    /// S3, GCS or Azure Blob, fetched with parallel range requests.
    ObjectStorage,
    /// The node's local NVMe disk.
    LocalCache,
    /// Another node's memory over the network (or a peer GPU).
    Peer,
}

impl WeightSource {
    pub fn parse(name: &str) -> Option<WeightSource> {
        match name {
            "object-storage" => Some(WeightSource::ObjectStorage),
            "local-cache" => Some(WeightSource::LocalCache),
            "peer" => Some(WeightSource::Peer),
            _ => None,
        }
    }

    /// Load bandwidth, bytes per second (docs/provisioning.md gives the sources).
    pub fn bytes_per_second(self) -> f64 {
        match self {
            WeightSource::ObjectStorage => 1.5e9,
            WeightSource::LocalCache => 2.0e9,
            WeightSource::Peer => 20.0e9,
        }
    }
}

/// Median instance start and its spread, by cloud and instance family (docs/provisioning.md;
/// estimates from reported boot and node-ready times): small GPU VMs are ready in two minutes
/// or less, the big multi-GPU machines (p4d, p5, a3, ND) in five or six; p90 is about twice
/// the median (cv 0.6).
pub fn instance_start_for(cloud: &str, instance_type: &str) -> (SimTime, f64) {
    let family = instance_type
        .split(['.', '-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let secs = match (cloud, family.as_str()) {
        ("aws", "p4d" | "p4de" | "p5" | "p5e" | "p5en") => 300,
        ("aws", _) => 120,
        ("gcp", "a3" | "a4") => 300,
        ("gcp", "a2") => 180,
        ("gcp", _) => 90,
        ("azure", _) if instance_type.to_ascii_lowercase().contains("_nd") => 360,
        ("azure", _) => 180,
        _ => 180,
    };
    (SimTime::from_secs(secs), 0.6)
}

/// A serving container's start: an 8 GB image pulled with lazy loading or image streaming
/// (20-40 s) and the engine's own start (about 30 s). A plain cold pull takes 200 s or more; an
/// image already on the node, 5 s.
pub const DEFAULT_CONTAINER_START: SimTime = SimTime::from_secs(60);
/// The load of weights of unknown size.
pub const DEFAULT_MODEL_LOAD: SimTime = SimTime::from_secs(60);
/// A warm instance kept stopped resumes in about 0.8 of a cold start (the platform's part
/// barely shrinks; bootstrap is skipped), then the engine starts (30 s) and loads the weights
/// from its disk; a running one only joins the load balancer.
pub const WARM_RESUME_SHARE: f64 = 0.8;
pub const ENGINE_START: SimTime = SimTime::from_secs(30);
pub const WARM_RUNNING_START: SimTime = SimTime::from_secs(10);
/// gp3 storage at $0.08 per GB-month, a 200 GB volume: what a stopped instance costs an hour.
pub const STOPPED_USD_PER_HOUR: f64 = 200.0 * 0.08 / 730.0;

impl Provisioning {
    /// The time a typical new replica takes: median start, container, and weights from their
    /// source (what a schedule must lead by).
    pub fn typical(&self) -> SimTime {
        SimTime(self.instance_start.0 + self.container_start.0 + self.model_load.0)
    }

    /// One new replica's provisioning time, drawn.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> SimTime {
        let start = if self.instance_start_cv > 0.0 {
            // Lognormal with this median and cv: sigma^2 = ln(1 + cv^2), mu = ln(median).
            let sigma = (1.0 + self.instance_start_cv.powi(2)).ln().sqrt();
            let d = LogNormal::new(self.instance_start.as_secs_f64().ln(), sigma)
                .expect("a valid lognormal");
            SimTime::from_secs_f64(d.sample(rng))
        } else {
            self.instance_start
        };
        let load = if self.cache_hit_ratio > 0.0 && rng.random::<f64>() < self.cache_hit_ratio {
            self.cached_load
        } else {
            self.model_load
        };
        SimTime(start.0 + self.container_start.0 + load.0)
    }
}

/// Time to load `bytes` of weights at `source`'s bandwidth.
pub fn load_time(bytes: f64, source: WeightSource) -> SimTime {
    SimTime::from_secs_f64(bytes / source.bytes_per_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn big_machines_start_slower() {
        assert!(
            instance_start_for("aws", "p5.48xlarge").0 > instance_start_for("aws", "g6e.xlarge").0
        );
        assert!(
            instance_start_for("gcp", "a3-highgpu-8g").0
                > instance_start_for("gcp", "g2-standard-4").0
        );
    }

    #[test]
    fn draws_have_the_stated_median_and_hit_ratio() {
        let p = Provisioning {
            instance_start: SimTime::from_secs(100),
            instance_start_cv: 0.3,
            container_start: SimTime::ZERO,
            model_load: SimTime::from_secs(1000),
            cached_load: SimTime::ZERO,
            cache_hit_ratio: 0.25,
            warm_pool: None,
        };
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let mut starts = Vec::new();
        let mut hits = 0;
        for _ in 0..20_000 {
            let t = p.draw(&mut rng).as_secs_f64();
            if t < 1000.0 {
                hits += 1;
                starts.push(t);
            }
        }
        let share = hits as f64 / 20_000.0;
        assert!((share - 0.25).abs() < 0.015, "{share}");
        starts.sort_by(f64::total_cmp);
        let median = starts[starts.len() / 2];
        assert!((median - 100.0).abs() < 3.0, "{median}");
        // 15 GB of weights from object storage at 1.5 GB/s: 10 s.
        assert_eq!(
            load_time(15e9, WeightSource::ObjectStorage),
            SimTime::from_secs(10)
        );
    }
}
