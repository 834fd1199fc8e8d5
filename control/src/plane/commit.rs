//! Putting a configuration in service: commit (admin changes, reloads), reload from the file,
//! publish a snapshot, confirm every worker took it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::Config;

use super::error::{CommitError, ReloadError};
use super::{Control, FrameIo};
use crate::topology;

impl<Io: FrameIo> Control<Io> {
    /// Build and publish the next snapshot generation from the running configuration and what
    /// control knows now (neighbours, health verdicts). Call it whenever one of those changed.
    pub fn publish(&mut self) {
        self.generation += 1;
        let health = &self.health;
        let not_owned = self.not_owned();
        let mut next = topology::build(
            &topology::Inputs {
                cfg: &self.cfg,
                macs: &self.macs,
                neighbours: &self.neighbours,
                ids: &self.ids,
                health: &|s, r| health.backend_health(s, r),
                not_owned: &not_owned,
            },
            self.generation,
        );
        next.carry_scheduler_state(&self.shared.load());
        self.shared.store(Arc::new(next));
        self.published.push(self.generation, Instant::now());
    }

    /// Wait until every worker runs generation `generation` (workers sync each loop).
    ///
    /// # Errors
    /// [`CommitError::Unconfirmed`] naming the workers behind after [`super::Limits::confirm_within`].
    pub fn confirm(&self, generation: u64) -> Result<(), CommitError> {
        let within = self.limits.confirm_within;
        let deadline = Instant::now() + within;
        loop {
            let behind: Vec<usize> = self
                .counters
                .iter()
                .enumerate()
                .filter(|(_, c)| c.generation.get() < generation)
                .map(|(w, _)| w)
                .collect();
            if behind.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CommitError::Unconfirmed {
                    behind,
                    generation,
                    within,
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Replace the running configuration with `new` (validated): refuse boot-only changes, bad
    /// timeouts, misplaced scheduler flags and id exhaustion with nothing changed; else publish,
    /// wait for every worker, announce new VIPs (those this gateway owns) and ask for new real
    /// servers' neighbours. Returns the new generation.
    ///
    /// # Errors
    /// See [`CommitError`].
    pub fn commit(&mut self, mut new: Config) -> Result<u64, CommitError> {
        let boot = self.cfg.boot_only_diff(&new);
        if !boot.is_empty() {
            return Err(CommitError::BootOnly(boot));
        }
        new.keep_port_order(&self.cfg);
        topology::timeouts(&new)?;
        topology::sched_flags(&new)?;
        self.ids.assign(&new)?;
        let added: Vec<IpAddr> = new
            .services
            .iter()
            .map(|s| s.vip)
            .filter(|v| !self.cfg.services.iter().any(|s| s.vip == *v))
            .collect();
        self.health.update(&new);
        match &mut self.sync {
            Some(s) => s.reconfigure(&new.sync, Instant::now()),
            None if new.sync.enabled => eprintln!(
                "ferrovs: sync: [sync] enabled by a reload takes effect at the next start (the \
                 workers' sync rings are made at start)"
            ),
            None => {}
        }
        self.cfg = new;
        // Director HA follows the new address list (the mode is boot-only).
        self.ha_reconfigure();
        // Announcements follow the new VIPs, weights and [announce] settings.
        self.announce_reconfigure();
        self.publish();
        self.confirm(self.generation)?;
        self.announce(&added);
        // Resolve new real servers now, not at the next periodic pass: until a backend's
        // neighbour is known its new flows wait in control.
        let snap = self.shared.load_full();
        self.resolve(&snap, Instant::now());
        Ok(self.generation)
    }

    /// Re-read the configuration file and commit it (SIGHUP, `ferrovsadm --reload`); log and
    /// count the outcome. Returns the new generation.
    ///
    /// # Errors
    /// See [`ReloadError`]; the running configuration stays.
    pub fn reload_file(&mut self) -> Result<u64, ReloadError> {
        let result = config::load(&self.path)
            .map_err(|errors| ReloadError::Invalid {
                path: self.path.clone(),
                errors,
            })
            .and_then(|new| {
                let n = new.services.len();
                Ok((self.commit(new)?, n))
            });
        match result {
            Ok((g, n)) => {
                self.reload_stats.record_success();
                println!(
                    "ferrovs: reload: {} ok: generation {g}, {n} services, every worker confirmed",
                    self.path.display()
                );
                Ok(g)
            }
            Err(e) => {
                self.reload_stats.record_failure();
                eprintln!("ferrovs: reload refused, running configuration kept: {e}");
                Err(e)
            }
        }
    }
}
