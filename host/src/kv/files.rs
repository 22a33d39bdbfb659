//! The store's file modes: the database holds access tokens, so only the host's user may read
//! it; modes are set by path, never through a second descriptor on a file SQLite holds.

use anyhow::Context as _;
use std::path::Path;

/// Creates `dir` (and missing parents) usable by the host's user only (0700 on unix). An
/// existing directory is left as it is: it may be the operator's (`--kv /srv/kv.sqlite3`).
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if dir.is_dir() {
            return Ok(());
        }
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
    }
}

/// Makes a SQLite file readable and writable by the host's user only (0600 on unix), before
/// any secret is written to it: an absent file is created so, an existing one is narrowed by
/// path. No descriptor of an existing file is ever opened here: closing one would drop every
/// POSIX lock this process holds on the file (SQLite's own included), and another process would
/// then take the database, or its shared memory, for unused and reset it under our feet.
pub(super) fn private_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // create_new opens only a file it has just made, which nobody can hold locks on yet.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        // chmod(2) by path: narrows a file an older host left 0644 without opening it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(|| format!("making {} private", path.display()))
    }
    #[cfg(not(unix))]
    {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

/// Narrows an existing SQLite companion file (-wal, -shm) by path, never through a descriptor
/// (see [`private_file`]); an absent one is left to SQLite, which creates it with the
/// database file's mode.
pub(super) fn private_companion(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("making {} private", path.display())),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
