//! Zoho's instant notifications as the sandbox pushes them: every record created, edited or
//! deleted reaches each live channel watching its module and operation as one POST to the
//! channel's notify URL (ids batched per request, as Zoho does), only to loopback addresses,
//! asynchronously, with a fault switch that drops a given share of deliveries.

use crate::crm::notifications::watch;
use crate::state::channels::Channel;
use crate::state::outbox::{lock, Delivery};
use crate::state::Shared;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// What a record went through, in the words of a delivery's `operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    /// The event suffix a channel subscribes with (`Leads.create` watches inserts).
    pub fn event(self) -> &'static str {
        match self {
            Operation::Insert => "create",
            Operation::Update => "edit",
            Operation::Delete => "delete",
        }
    }
}

/// One record's change, before it is batched into a delivery.
#[derive(Debug, Clone)]
pub struct Change {
    pub module: String,
    pub operation: Operation,
    pub id: String,
    /// The fields an update wrote, with their new values.
    pub fields: Map<String, Value>,
}

tokio::task_local! {
    /// The changes of the request being answered, delivered together once it is answered.
    static PENDING: RefCell<Vec<Change>>;
}

/// Notes a record's change: batched with the rest of the request's changes when a request is
/// being answered (see [`batch`]), delivered at once otherwise (a test helper's change).
pub fn changed(shared: &Shared, module: &str, operation: Operation, id: &str, fields: Map<String, Value>) {
    let change = Change { module: module.to_string(), operation, id: id.to_string(), fields };
    if let Err(unbatched) = PENDING.try_with(|pending| pending.borrow_mut().push(change.clone())).map_err(|_| change) {
        deliver(shared, vec![unbatched]);
    }
}

/// How many changes the request being answered has noted so far (0 outside a request).
pub fn pending_count() -> usize {
    PENDING.try_with(|pending| pending.borrow().len()).unwrap_or(0)
}

/// Forgets the changes noted after the first `count`: a rolled-back composite request's
/// writes never happened, so no channel hears of them.
pub fn forget_pending_after(count: usize) {
    let _ = PENDING.try_with(|pending| pending.borrow_mut().truncate(count));
}

/// Middleware around every handler: one delivery per channel, module and operation for all the
/// records one request changed, as Zoho batches ids.
pub async fn batch(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (response, changes) = PENDING
        .scope(RefCell::new(Vec::new()), async move {
            let response = next.run(request).await;
            (response, PENDING.with(|pending| pending.take()))
        })
        .await;
    deliver(&shared, changes);
    response
}

/// Sends each live channel watching a change's module and operation one delivery per
/// (module, operation) of `changes`.
pub fn deliver(shared: &Shared, changes: Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let now = shared.clock.now();
    let channels = watch::live_channels(shared, now);
    if channels.is_empty() {
        return;
    }
    let mut groups: Vec<(String, Operation, Vec<Change>)> = Vec::new();
    for change in changes {
        match groups.iter_mut().find(|(m, o, _)| *m == change.module && *o == change.operation) {
            Some((_, _, group)) => group.push(change),
            None => groups.push((change.module.clone(), change.operation, vec![change])),
        }
    }
    for (module, operation, group) in &groups {
        for channel in channels.iter().filter(|c| c.watches(module, operation.event())) {
            send(shared, channel, module, *operation, group, now);
        }
    }
}

/// The body Zoho posts for `group` to `channel`.
fn body(channel: &Channel, module: &str, operation: Operation, group: &[Change], now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut ids: Vec<&str> = Vec::new();
    for change in group {
        if !ids.contains(&change.id.as_str()) {
            ids.push(&change.id);
        }
    }
    let affected: Vec<Value> = match operation {
        Operation::Update => group.iter().map(|c| json!({ c.id.clone(): c.fields.keys().collect::<Vec<_>>() })).collect(),
        _ => Vec::new(),
    };
    let mut body = json!({
        "server_time": now.timestamp_millis(),
        "query_params": query_params(&channel.notify_url),
        "module": module,
        "resource_uri": format!("{}/crm/v8/{module}", channel.api_base),
        "ids": ids,
        "affected_fields": affected,
        "operation": operation.as_str(),
        "channel_id": channel.channel_id,
        "token": channel.token,
    });
    if channel.return_affected_field_values && operation == Operation::Update {
        body["affected_values"] = group.iter().map(|c| json!({ "record_id": c.id, "values": c.fields })).collect();
    }
    body
}

/// The notify URL's query parameters, which Zoho echoes as `query_params`.
fn query_params(url: &str) -> Value {
    let query = url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or("")).unwrap_or("");
    Value::Object(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
}

fn send(shared: &Shared, channel: &Channel, module: &str, operation: Operation, group: &[Change], now: chrono::DateTime<chrono::Utc>) {
    let outbox = &shared.outbox;
    let Some(target) = loopback_target(&channel.notify_url) else {
        outbox.refused.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let body = body(channel, module, operation, group, now);
    let dropped = outbox.drops_next();
    let index = {
        let mut log = lock(&outbox.log);
        log.push(Delivery { channel_id: channel.channel_id.clone(), url: channel.notify_url.clone(), body: body.clone(), dropped, status: None });
        log.len() - 1
    };
    if dropped {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let log = outbox.log.clone();
    runtime.spawn(async move {
        let status = post(&target, &body).await;
        if let Some(entry) = lock(&log).get_mut(index) {
            entry.status = status;
        }
    });
}

/// Where a loopback `http://` notify URL points: (host:port to connect to, host header, path).
pub(crate) struct Target {
    connect: String,
    host: String,
    path: String,
}

/// The notify URL as a loopback target, or `None` for anything else (https cannot be spoken
/// without TLS, and a non-loopback address is never contacted by the sandbox).
pub(crate) fn loopback_target(url: &str) -> Option<Target> {
    let rest = url.strip_prefix("http://")?;
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.starts_with('/') { path.split('#').next().unwrap_or("/").to_string() } else { format!("/{}", path.split('#').next().unwrap_or("")) };
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port: u16 = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let connect = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    Some(Target { connect, host: authority.to_string(), path })
}

/// Longest a notify URL gets to take the delivery and answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 POST of `body` to `target`; the answer's status, if it answered in time.
pub(crate) async fn post(target: &Target, body: &Value) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&target.connect).await.ok()?;
        let text = body.to_string();
        let request = format!("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", target.path, target.host, text.len());
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, exchange).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_targets() {
        for ok in ["http://127.0.0.1:8080/hook?a=1", "http://localhost/x", "http://[::1]:9/", "http://127.9.9.9:1"] {
            assert!(loopback_target(ok).is_some(), "{ok}");
        }
        for bad in ["https://127.0.0.1/x", "http://10.0.0.1/x", "http://example.com/", "http://u:p@127.0.0.1/", "http://127.0.0.1:99999/", "ftp://127.0.0.1/"] {
            assert!(loopback_target(bad).is_none(), "{bad}");
        }
        let t = loopback_target("http://127.0.0.1:8080?x=1").unwrap();
        assert_eq!((t.connect.as_str(), t.path.as_str()), ("127.0.0.1:8080", "/?x=1"));
        assert_eq!(query_params("http://h/p?a=1&b=%20#f"), json!({ "a": "1", "b": " " }));
    }
}
