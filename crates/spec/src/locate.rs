//! Where each field of a loaded document was written, so that any later stage can point at it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Diagnostic, Location, path};

/// Field path → position of its key (for mapping entries) or of the item (for sequence items).
/// The empty path is the document itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocationIndex {
    positions: HashMap<String, Location>,
}

impl LocationIndex {
    pub(crate) fn insert(&mut self, path: String, location: Location) {
        // The first writer wins: a merged (`<<`) entry must not move a key written explicitly.
        self.positions.entry(path).or_insert(location);
    }

    /// The position recorded for exactly this path.
    pub fn get(&self, path: &str) -> Option<Location> {
        self.positions.get(path).copied()
    }

    /// The position of `path`, or of its nearest ancestor that was written in the file
    /// (a field a later stage added, or a missing one, is reported at its parent).
    pub fn nearest(&self, path: &str) -> Option<Location> {
        let mut current = Some(path);
        while let Some(p) = current {
            if let Some(loc) = self.get(p) {
                return Some(loc);
            }
            current = path::parent(p);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// Where a document came from: the file name and the positions of its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub file: Arc<str>,
    pub locations: Arc<LocationIndex>,
}

impl Source {
    /// A diagnostic about the field at `path`, placed at its line (or its nearest ancestor's).
    pub fn diagnostic(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.to_string(),
            location: self.locations.nearest(path),
            path: path.to_owned(),
            message: message.into(),
            expected: None,
            suggestion: None,
        }
    }
}
