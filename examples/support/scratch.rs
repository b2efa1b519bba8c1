//! A scratch folder for the examples (shared through `#[path]`; not an example itself).

use std::fs;
use std::io;
use std::path::PathBuf;

/// A folder under the system temporary folder, removed when dropped (also on error).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("angou-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
