//! A list to pick one item from, narrowed by a filter as the user types: instance types from the
//! price catalog, or the file's models.

use crate::pricing::InstanceType;

/// What the picker sets when an item is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The instance type (and region, cloud) of pool `p`.
    Instance { pool: usize },
    /// The model of the workload at this dotted path.
    Model { path: String },
}

/// One choice: its cells (for the table and the filter) and the values it sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub cells: Vec<String>,
    /// Dotted path and TOML value pairs to set.
    pub sets: Vec<(String, String)>,
    /// On-demand price per hour, for `<` and `>` filters.
    pub price: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    pub title: String,
    pub header: Vec<&'static str>,
    pub items: Vec<Item>,
    pub target: Target,
    pub filter: String,
    /// Typing goes to the filter.
    pub filtering: bool,
    /// Index into `visible()`.
    pub selected: usize,
}

impl Picker {
    /// A picker of instance types for pool `pool`, `current` selected.
    pub fn instances(
        pool: usize,
        pool_key: &str,
        rows: &[InstanceType],
        current: &InstanceType,
    ) -> Picker {
        let mut rows: Vec<&InstanceType> = rows.iter().collect();
        rows.sort_by(|a, b| {
            (&a.gpu_model, a.gpu_count, &a.cloud, &a.region, &a.name).cmp(&(
                &b.gpu_model,
                b.gpu_count,
                &b.cloud,
                &b.region,
                &b.name,
            ))
        });
        let money = |p: Option<f64>| p.map_or("—".to_string(), |p| format!("${p:.2}"));
        let items: Vec<Item> = rows
            .iter()
            .map(|r| Item {
                cells: vec![
                    r.name.clone(),
                    format!("{}×{}", r.gpu_count, r.gpu_model),
                    r.cloud.clone(),
                    r.region.clone(),
                    money(r.on_demand_usd_per_hour),
                    money(r.spot_usd_per_hour),
                ],
                sets: vec![
                    (
                        format!("{pool_key}.instance_type"),
                        toml_edit::Value::from(r.name.as_str()).to_string(),
                    ),
                    (
                        format!("{pool_key}.region"),
                        toml_edit::Value::from(r.region.as_str()).to_string(),
                    ),
                ],
                price: r.on_demand_usd_per_hour,
            })
            .collect();
        let selected = rows
            .iter()
            .position(|r| r.name == current.name && r.region == current.region)
            .unwrap_or(0);
        Picker {
            title: "instance type".into(),
            header: vec![
                "instance",
                "GPUs",
                "cloud",
                "region",
                "on-demand/h",
                "spot/h",
            ],
            items,
            target: Target::Instance { pool },
            filter: String::new(),
            filtering: false,
            selected,
        }
    }

    /// A picker of the file's models for the workload whose model is at `path`.
    pub fn models(path: String, models: &[(String, String)], current: &str) -> Picker {
        let items = models
            .iter()
            .map(|(name, what)| Item {
                cells: vec![name.clone(), what.clone()],
                sets: vec![(
                    path.clone(),
                    toml_edit::Value::from(name.as_str()).to_string(),
                )],
                price: None,
            })
            .collect();
        Picker {
            title: "model".into(),
            header: vec!["model", "description"],
            items,
            selected: models.iter().position(|(n, _)| n == current).unwrap_or(0),
            target: Target::Model { path },
            filter: String::new(),
            filtering: false,
        }
    }

    /// Indices of the items the filter keeps: every word must match. A word is a substring of
    /// some cell (any case), or `<N` / `>N` on the on-demand price per hour.
    pub fn visible(&self) -> Vec<usize> {
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        (0..self.items.len())
            .filter(|&i| {
                let item = &self.items[i];
                words.iter().all(|w| matches(item, w))
            })
            .collect()
    }

    /// The chosen item, if the filter left any.
    pub fn chosen(&self) -> Option<&Item> {
        self.visible().get(self.selected).map(|&i| &self.items[i])
    }

    /// Moves the selection by `by` rows, staying in the list.
    pub fn step(&mut self, by: isize) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = (self.selected as isize + by).clamp(0, n as isize - 1) as usize;
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.selected = 0;
    }
}

fn matches(item: &Item, word: &str) -> bool {
    let bound = |rest: &str| rest.trim_start_matches('$').parse::<f64>().ok();
    if let Some(limit) = word.strip_prefix('<').and_then(bound) {
        return item.price.is_some_and(|p| p < limit);
    }
    if let Some(limit) = word.strip_prefix('>').and_then(bound) {
        return item.price.is_some_and(|p| p > limit);
    }
    item.cells.iter().any(|c| c.to_lowercase().contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::Catalog;

    #[test]
    fn the_filter_narrows_by_words_and_price() {
        let c = Catalog::bundled();
        let first = &c.rows()[0];
        let mut p = Picker::instances(0, "pools.a", c.rows(), first);
        let all = p.visible().len();
        assert_eq!(all, c.rows().len());
        p.set_filter("h100 aws".into());
        let h100 = p.visible();
        assert!(!h100.is_empty() && h100.len() < all);
        for &i in &h100 {
            assert!(
                p.items[i].cells[1].contains("H100"),
                "{:?}",
                p.items[i].cells
            );
            assert_eq!(p.items[i].cells[2], "aws");
        }
        p.set_filter("<1".into());
        for &i in &p.visible() {
            assert!(p.items[i].price.unwrap() < 1.0);
        }
        p.set_filter("no-such-gpu".into());
        assert!(p.chosen().is_none());
        p.step(3);
        assert_eq!(p.selected, 0);
    }
}
