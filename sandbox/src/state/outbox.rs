//! The deliveries the sandbox made to notify URLs, kept for tests to read, and the fault
//! switch that drops a share of them. Making them is `crm/notifications/deliveries.rs`.

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One delivery as the sandbox decided it: sent (status once answered) or dropped by the switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub channel_id: String,
    pub url: String,
    pub body: Value,
    pub dropped: bool,
    /// The notify URL's HTTP status; `None` until answered (or when it never answers).
    pub status: Option<u16>,
}

/// The deliveries made so far and the fault switch.
#[derive(Default)]
pub struct Outbox {
    pub(crate) log: Arc<Mutex<Vec<Delivery>>>,
    /// Share of deliveries dropped, 0.0 to 1.0.
    drop_share: Mutex<f64>,
    /// Deliveries decided so far (dropped or sent), for the deterministic drop.
    decided: Mutex<u64>,
    /// Deliveries refused because the notify URL is not a loopback address.
    pub(crate) refused: AtomicUsize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Outbox {
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.log).clone()
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Drops `share` of the deliveries from now on (clamped to 0..=1; NaN drops none).
    pub fn set_drop_share(&self, share: f64) {
        *lock(&self.drop_share) = if share.is_nan() { 0.0 } else { share.clamp(0.0, 1.0) };
        *lock(&self.decided) = 0;
    }

    /// Whether the next delivery is dropped: the n-th is when `n * share` crosses an integer,
    /// so 0.3 drops exactly the 4th, 7th and 10th of every ten.
    pub(crate) fn drops_next(&self) -> bool {
        let share = *lock(&self.drop_share);
        let mut decided = lock(&self.decided);
        let before = (*decided as f64 * share).floor();
        *decided += 1;
        (*decided as f64 * share).floor() > before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_three_tenths_drops_exactly_three_of_ten() {
        let outbox = Outbox::default();
        outbox.set_drop_share(0.3);
        let drops: Vec<bool> = (0..10).map(|_| outbox.drops_next()).collect();
        assert_eq!(drops.iter().filter(|d| **d).count(), 3);
        assert_eq!(drops, [false, false, false, true, false, false, true, false, false, true]);
        outbox.set_drop_share(f64::NAN);
        assert!(!(0..10).any(|_| outbox.drops_next()));
        outbox.set_drop_share(7.0);
        assert!((0..10).all(|_| outbox.drops_next()));
    }
}
