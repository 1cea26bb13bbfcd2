//! The error every input problem becomes.
use std::fmt;

use podwall_ir::Source;

/// A problem in the input: where (file and line), which object, which field, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    /// Where the object (or the syntax error) is.
    pub location: Source,
    /// `Kind ns/name` of the object, when known.
    pub object: Option<String>,
    /// The field path inside the object, e.g. `spec.ingress[0].ports[1].port`.
    pub field: Option<String>,
    /// What is wrong, in words the user can act on.
    pub message: String,
}

impl InputError {
    /// An error about the file or document itself (syntax, reading).
    pub fn at(source: Source, message: impl Into<String>) -> Self {
        InputError { location: source, object: None, field: None, message: message.into() }
    }

    /// An error about a field of an object.
    pub fn field(source: &Source, object: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            location: source.clone(),
            object: Some(object.to_string()),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file or folder as a whole.
        match self.location.line {
            0 => write!(f, "{}", self.location.file)?,
            _ => write!(f, "{}", self.location)?,
        }
        if let Some(o) = &self.object {
            write!(f, ": {o}")?;
        }
        if let Some(p) = &self.field {
            write!(f, ": {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}
