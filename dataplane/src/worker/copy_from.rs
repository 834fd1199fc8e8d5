//! A worker copied whole, for the fuzz harness: building and syncing a worker costs far more
//! than one input (every FullNAT local-port pool is filled port by port), so the harness does
//! it once and resets one worker to it before every input. The copy shares nothing with the
//! original, so an input's outcome never depends on the inputs run before it.

use std::sync::Arc;

use super::Worker;

impl Worker {
    /// Make this worker a copy of `from` that shares nothing with it: its own tables, pools
    /// and counters (holding `from`'s counts). The fragment tables are copied into this
    /// worker's own, not reallocated; of the SYN proxy's held pool, only what can be read
    /// (`Held::copy_held_from`).
    ///
    /// # Panics
    /// When either has session sync attached: its rings join one worker to control and cannot
    /// be copied.
    pub fn copy_from(&mut self, from: &Worker) {
        // Every field by name, no `..`: a field added to `Worker` fails to compile here until
        // it is copied too.
        let Worker {
            cfg,
            tables,
            sched,
            generation,
            loads,
            lports,
            pools,
            claim,
            counters,
            sync,
            admit,
            frags,
            wall_s,
            held,
            auto,
        } = from;
        assert!(
            sync.is_none() && self.sync.is_none(),
            "a worker with session sync cannot be copied"
        );
        self.cfg.clone_from(cfg);
        self.tables.clone_from(tables);
        self.sched.clone_from(sched);
        self.generation = *generation;
        self.loads.clone_from(loads);
        self.lports.clone_from(lports);
        self.pools.clone_from(pools);
        self.claim.clone_from(claim);
        // Copied into a counters block of this worker's own (a new one if it was shared).
        Arc::make_mut(&mut self.counters).clone_from(counters);
        self.admit.clone_from(admit);
        self.frags.clone_from(frags);
        self.wall_s = *wall_s;
        self.held.copy_held_from(held);
        self.auto.clone_from(auto);
    }
}
