//! Writing key files: `keys import` into the key directory, `keys fetch` and `keys refresh`
//! into the discovered directory. A reader sees the old file or the new one, never half of
//! one; files are 0644 and directories 0755 whatever the umask (certificates are public,
//! and every user who sends mail must read them).

use std::io::Write;
use std::path::Path;

/// The mode of every file `keys import`, `keys fetch` and `keys refresh` write: certificates are public, and every user who
/// sends mail (sudo's alert goes out as the user who typed the wrong password) must read them.
pub const KEY_FILE_MODE: u32 = 0o644;
/// The mode of a key directory they make.
pub const KEY_DIR_MODE: u32 = 0o755;

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so
/// that a concurrent reader sees the old file or the new one, never half of one. The mode is
/// [`KEY_FILE_MODE`], set explicitly: our umask (077) would make it 0600.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(KEY_FILE_MODE)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(KEY_FILE_MODE))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Makes the directory `dir` and any missing parents, each with mode [`KEY_DIR_MODE`].
pub fn make_key_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_key_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(KEY_DIR_MODE)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}
