//! Where configuration files come from.
//!
//! The parser reads files only through [`FileSource`], so tests (and fuzzing)
//! run on an in-memory tree ([`MemFs`]) and the daemon on the real one
//! ([`OsFs`]). Paths are used as given, joined to the directory of the
//! including file for relative includes, exactly as keepalived does by
//! changing into that directory while it reads a file.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to a tree of configuration files.
pub trait FileSource {
    /// Whole contents of a regular file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether `path` is a regular file.
    fn is_file(&self, path: &Path) -> bool;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Names of the entries of a directory (any order).
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

impl FileSource for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            // Names that are not UTF-8 cannot be matched by a UTF-8 pattern.
            if let Ok(name) = entry.file_name().into_string() {
                out.push(name);
            }
        }
        Ok(out)
    }
}

/// An in-memory tree of files, for tests. Paths are normalised lexically
/// (`.` and `..` resolved), directories exist implicitly.
#[derive(Debug, Default, Clone)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    /// An empty tree.
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// Add (or replace) a file.
    pub fn add(&mut self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &mut MemFs {
        self.files
            .insert(normalize(path.as_ref()), contents.as_ref().to_vec());
        self
    }

    /// Builder form of [`MemFs::add`].
    pub fn with(mut self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> MemFs {
        self.add(path, contents);
        self
    }
}

impl FileSource for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }

    fn is_dir(&self, path: &Path) -> bool {
        let dir = normalize(path);
        self.files.keys().any(|p| p != &dir && p.starts_with(&dir))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(path);
        let mut names: Vec<String> = Vec::new();
        for p in self.files.keys() {
            if let Ok(rest) = p.strip_prefix(&dir)
                && let Some(Component::Normal(first)) = rest.components().next()
            {
                let name = first.to_string_lossy().into_owned();
                if names.last() != Some(&name) && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if names.is_empty() && !self.is_dir(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(names)
    }
}

/// Lexical normalisation: drop `.`, fold `..` into its parent.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.file_name().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
