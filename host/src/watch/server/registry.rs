//! The connections being served: counted per client address and in all, marked busy inside a
//! request, and which one is closed to make room for a new one.

use super::{Counts, Limits};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A client address as the caps count it: an IPv4 address, or an IPv6 /64 (what one
/// subscriber is usually given, so a client cannot multiply itself by its own addresses).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Client {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl Client {
    pub(super) fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&octets[..8]);
                    Client::V6(prefix)
                }
            },
        }
    }
}

impl Conn {
    /// Waiting for a request, and past the time given to send one.
    fn idle(&self, now: Instant, settle: Duration) -> bool {
        !self.busy && now.saturating_duration_since(self.since) >= settle
    }
}

pub(super) struct Conn {
    client: Client,
    /// Inside a request (its headers read, its answer not yet given).
    busy: bool,
    /// When the connection last started or finished a request, or was accepted.
    since: Instant,
    close: Arc<Notify>,
}

/// The connections being served, to cap them and choose which to close.
#[derive(Default)]
pub(super) struct Registry {
    next: u64,
    conns: HashMap<u64, Conn>,
    per_client: HashMap<Client, usize>,
}

impl Registry {
    /// Registers a new connection, first closing others to make room. A client at its cap
    /// loses its connections idle longest (never one inside a request, nor one still
    /// settling: a burst of deliveries from one address is served whole). At the server's cap
    /// one connection is closed: the one idle longest, else the one whose request began first
    /// (the slowest), else the oldest still settling. The newest connection is always served:
    /// an attacker holding sockets open loses them to new arrivals instead of starving them.
    pub(super) fn admit(&mut self, client: Client, limits: &Limits, counts: &Counts) -> (u64, Arc<Notify>) {
        let now = Instant::now();
        while self.per_client.get(&client).copied().unwrap_or(0) >= limits.per_client.max(1) {
            if !self.evict(|c| c.client == client && c.idle(now, limits.settle), now, limits.settle, counts) {
                break;
            }
        }
        while self.conns.len() >= limits.connections.max(1) {
            if !self.evict(|_| true, now, limits.settle, counts) {
                break;
            }
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        self.conns.insert(id, Conn { client, busy: false, since: Instant::now(), close: close.clone() });
        *self.per_client.entry(client).or_insert(0) += 1;
        (id, close)
    }

    /// Closes the first of `among` in eviction order; false when there is none.
    fn evict(&mut self, among: impl Fn(&Conn) -> bool, now: Instant, settle: Duration, counts: &Counts) -> bool {
        let rank = |c: &Conn| match (c.idle(now, settle), c.busy) {
            (true, _) => 0u8,
            (false, true) => 1,
            (false, false) => 2,
        };
        let victim = self.conns.iter().filter(|(_, c)| among(c)).min_by_key(|(id, c)| (rank(c), c.since, **id)).map(|(id, _)| *id);
        let Some(conn) = victim.and_then(|id| self.leave(id)) else { return false };
        conn.close.notify_one();
        counts.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub(super) fn leave(&mut self, id: u64) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&conn.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&conn.client);
            }
        }
        Some(conn)
    }

    /// How long an idle connection has been silent; `None` inside a request (or once gone).
    pub(super) fn silent_for(&self, id: u64) -> Option<Duration> {
        self.conns.get(&id).filter(|c| !c.busy).map(|c| c.since.elapsed())
    }

    /// Closes every connection, as the server stops.
    pub(super) fn close_all(&mut self) {
        for (_, conn) in self.conns.drain() {
            conn.close.notify_one();
        }
        self.per_client.clear();
    }

    fn mark(&mut self, id: u64, busy: bool) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.busy = busy;
            conn.since = Instant::now();
        }
    }
}

/// Marks a connection busy for the life of one request.
pub(super) struct Busy<'a> {
    registry: &'a Mutex<Registry>,
    id: u64,
}

impl<'a> Busy<'a> {
    pub(super) fn start(registry: &'a Mutex<Registry>, id: u64) -> Busy<'a> {
        if let Ok(mut r) = registry.lock() {
            r.mark(id, true);
        }
        Busy { registry, id }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.registry.lock() {
            r.mark(self.id, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::of(a), Client::of(b));
        assert_ne!(Client::of(a), Client::of(c));
        assert_eq!(Client::of("::ffff:10.0.0.7".parse().unwrap()), Client::of("10.0.0.7".parse().unwrap()));
    }
}
