//! The KV cache of one replica: blocks held by sequences, and prompt prefixes shared among them
//! (reference-counted, least recently used evicted first).

use super::*;

impl LlmReplica {
    /// Blocks holding live KV (of running sequences); idle cached blocks are not counted.
    pub fn used_blocks(&self) -> u64 {
        self.cfg.kv_blocks - self.free_blocks - self.idle.len() as u64 * self.blocks_per_unit
    }

    /// Blocks the running sequences' KV fills now: [`LlmReplica::used_blocks`] less what a
    /// decode run took ahead of need. This is what KV-cache utilization reports.
    pub fn filled_blocks(&self) -> u64 {
        let ahead: u64 = self
            .running
            .iter()
            .map(|&k| {
                let s = &self.seqs[k];
                s.own_blocks - self.own_blocks_needed(s, s.kv_tokens()).min(s.own_blocks)
            })
            .sum();
        self.used_blocks() - ahead
    }

    pub fn block_tokens(&self) -> u32 {
        self.cfg.block_tokens
    }

    /// Leading units of `prefix` this replica has cached (for prefix-aware routing).
    pub fn cached_units(&self, prefix: &[u64]) -> usize {
        prefix
            .iter()
            .take_while(|h| self.units.contains_key(h))
            .count()
    }

    /// Prompt tokens of `prefix` this replica would not have to prefill.
    pub fn cached_tokens(&self, prefix: &[u64]) -> u64 {
        self.cached_units(prefix) as u64 * u64::from(self.cfg.prefix_block_tokens)
    }

    pub(super) fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(u64::from(self.cfg.block_tokens))
    }

    /// Own blocks a sequence needs to hold `kv_tokens` tokens of KV.
    pub(super) fn own_blocks_needed(&self, seq: &Seq, kv_tokens: u64) -> u64 {
        let shared = u64::from(seq.shared_units) * u64::from(self.cfg.prefix_block_tokens);
        self.blocks_for(kv_tokens.saturating_sub(shared))
    }

    /// Frees at least `n` blocks by evicting idle cached units; whether it managed.
    pub(super) fn reserve(&mut self, n: u64) -> bool {
        while self.free_blocks < n {
            let Some((&stamp, &hash)) = self.idle.iter().next() else {
                return false;
            };
            self.idle.remove(&stamp);
            self.units.remove(&hash);
            self.free_blocks += self.blocks_per_unit;
        }
        true
    }

    /// Grows `seq`'s own blocks to hold `kv_tokens`; whether the memory was there.
    #[inline]
    pub(super) fn grow(&mut self, key: usize, kv_tokens: u64) -> bool {
        let seq = &self.seqs[key];
        let held = seq.own_blocks * u64::from(self.cfg.block_tokens)
            + u64::from(seq.shared_units) * u64::from(self.cfg.prefix_block_tokens);
        if kv_tokens <= held {
            return true; // the common case: room left in the last block
        }
        let need = self.own_blocks_needed(&self.seqs[key], kv_tokens);
        let have = self.seqs[key].own_blocks;
        if need <= have {
            return true;
        }
        if !self.reserve(need - have) {
            return false;
        }
        self.free_blocks -= need - have;
        self.seqs[key].own_blocks = need;
        true
    }

    /// Drops `key`'s KV: own blocks freed, shared units released to the idle list.
    pub(super) fn release(&mut self, key: usize) {
        let seq = &mut self.seqs[key];
        self.free_blocks += seq.own_blocks;
        seq.own_blocks = 0;
        let units = seq.shared_units as usize;
        seq.shared_units = 0;
        let hashes: Vec<u64> = seq
            .prefix
            .as_deref()
            .map(|p| p[..units].to_vec())
            .unwrap_or_default();
        for h in hashes {
            let unit = self.units.get_mut(&h).expect("a shared unit is cached");
            unit.refs -= 1;
            if unit.refs == 0 {
                unit.stamp = self.next_stamp;
                self.idle.insert(self.next_stamp, h);
                self.next_stamp += 1;
            }
        }
    }

    /// Looks the prompt's prefix up in the cache and references the leading units found.
    pub(super) fn attach_cached_prefix(&mut self, key: usize) -> u32 {
        let Some(prefix) = self.seqs[key].prefix.as_deref() else {
            return 0;
        };
        let unit_tokens = self.cfg.prefix_block_tokens;
        // Only whole units of the original prompt, and never the whole prompt: its last token
        // must run to produce the first output token.
        let usable = ((self.seqs[key].input - 1) / unit_tokens) as usize;
        let hits: Vec<u64> = prefix
            .iter()
            .take(usable)
            .take_while(|h| self.units.contains_key(h))
            .copied()
            .collect();
        for h in &hits {
            let unit = self.units.get_mut(h).expect("found above");
            if unit.refs == 0 {
                self.idle.remove(&unit.stamp);
            }
            unit.refs += 1;
        }
        let n = hits.len() as u32;
        let seq = &mut self.seqs[key];
        seq.shared_units = n;
        seq.prefilled = n * unit_tokens;
        n * unit_tokens
    }

    /// After a prompt is fully prefilled, its whole units become cached and shared. A unit another
    /// sequence cached meanwhile is referenced instead, and this sequence's copy is freed.
    pub(super) fn publish_prefix(&mut self, key: usize) {
        let unit_tokens = self.cfg.prefix_block_tokens;
        let Some(prefix) = self.seqs[key].prefix.clone() else {
            return;
        };
        let whole = ((self.seqs[key].input / unit_tokens) as usize).min(prefix.len());
        let from = self.seqs[key].shared_units as usize;
        if whole <= from {
            return;
        }
        let mut inserted = 0u64;
        for h in &prefix[from..whole] {
            match self.units.get_mut(h) {
                Some(unit) => {
                    if unit.refs == 0 {
                        self.idle.remove(&unit.stamp);
                    }
                    unit.refs += 1;
                }
                None => {
                    self.units.insert(*h, Unit { refs: 1, stamp: 0 });
                    inserted += 1;
                }
            }
        }
        let seq = &mut self.seqs[key];
        seq.shared_units = whole as u32;
        let before = seq.own_blocks;
        // A reserving engine keeps the room it took for the output.
        let keep = match self.cfg.admission {
            Admission::Reserve => {
                let s = &self.seqs[key];
                u64::from(s.prompt) + u64::from(s.output - s.generated.min(s.output))
            }
            _ => self.seqs[key].kv_tokens(),
        };
        let after = self
            .own_blocks_needed(&self.seqs[key], keep)
            .max(self.own_blocks_needed(&self.seqs[key], self.seqs[key].kv_tokens()));
        // Units are whole blocks (validation), so the inserted units' blocks move from own to
        // shared exactly, and the rest of the difference is freed.
        self.free_blocks += before - inserted * self.blocks_per_unit - after;
        self.seqs[key].own_blocks = after;
    }

    /// Undoes a prefix lookup for a request that could not be admitted after all.
    pub(super) fn release_lookup(&mut self, key: usize) {
        if self.seqs[key].shared_units > 0 {
            self.release(key);
            self.seqs[key].prefilled = 0;
        }
    }

    /// Checks the block accounting (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let own: u64 = self.seqs.iter().map(|(_, s)| s.own_blocks).sum();
        let shared =
            self.units.values().filter(|u| u.refs > 0).count() as u64 * self.blocks_per_unit;
        let idle = self.idle.len() as u64 * self.blocks_per_unit;
        assert_eq!(
            own + shared + idle + self.free_blocks,
            self.cfg.kv_blocks,
            "blocks are conserved"
        );
        assert!(
            own + shared <= self.cfg.kv_blocks,
            "KV use never exceeds capacity"
        );
        assert!(self.running.len() <= self.cfg.max_seqs as usize);
    }
}
