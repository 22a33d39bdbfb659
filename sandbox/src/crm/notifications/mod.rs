//! Instant notifications: the watch API that keeps channels, and the deliveries it makes.

pub mod deliveries;
pub mod watch;
