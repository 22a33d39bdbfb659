//! The behaviour every backend must have; run against SQLite here and against Redis by the
//! host's Redis tests.

use super::KvBackend;

pub fn values_and_namespaces(store: &dyn KvBackend, prefix: &str) {
    let (a, b, c) = (format!("{prefix}-a"), format!("{prefix}-b"), format!("{prefix}-c"));
    store.set(&a, "", "token", b"secret-a").unwrap();
    store.set(&b, "", "token", b"secret-b").unwrap();
    assert_eq!(store.get(&a, "", "token").unwrap().as_deref(), Some(&b"secret-a"[..]));
    assert_eq!(store.get(&b, "", "token").unwrap().as_deref(), Some(&b"secret-b"[..]));
    assert_eq!(store.get(&c, "", "token").unwrap(), None);
    assert_eq!(store.get(&a, "other", "token").unwrap(), None, "buckets are apart too");
    assert_eq!(store.increment(&a, "", "n", 5).unwrap(), 5);
    assert_eq!(store.increment(&a, "", "n", 2).unwrap(), 7);
    assert_eq!(store.get(&a, "", "n").unwrap().as_deref(), Some(&b"7"[..]));
    assert_eq!(store.keys(&a, "").unwrap(), vec!["n".to_string(), "token".to_string()]);
    store.delete(&a, "", "token").unwrap();
    assert_eq!(store.get(&a, "", "token").unwrap(), None);
    assert!(store.increment(&b, "", "token", 1).is_err(), "a non-counter cannot be incremented");
}

pub fn increments_lose_nothing(store: std::sync::Arc<dyn KvBackend>, namespace: &str) {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let namespace = namespace.to_string();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    store.increment(&namespace, "", "c", 1).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(store.get(namespace, "", "c").unwrap().as_deref(), Some(&b"800"[..]));
}
