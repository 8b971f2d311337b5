//! What a command fails with, and how it is shown: one line on stderr
//! naming the API's error code, and the exit status scripts rely on (1 for
//! an API error, a "no" or not being signed in; 2 for a usage error).
//!
//! Invariant: no message here ever holds a token or a password. API
//! messages never repeat a request's values (SPEC §4), and the CLI's own
//! messages name arguments, not their values, when a value may be a secret.
use tron_client::ClientError;

#[derive(Debug)]
pub enum CliError {
    /// The server answered with an error, or could not be reached.
    Api(ClientError),
    /// A refusal decided before or without the server: `code` is in the
    /// API's style (`not_found`, `not_signed_in`, `validation_error`, …).
    Failed { code: &'static str, message: String },
    /// The command line cannot be acted on (exit 2, like clap's errors).
    Usage(String),
    /// `can-i` said no: exit 1, its answer already printed.
    No,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn failed(code: &'static str, message: impl Into<String>) -> Self {
        CliError::Failed {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    pub fn not_found(what: &str, name: &str) -> Self {
        CliError::failed("not_found", format!("no {what} named {name:?}"))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The line for stderr, `None` when there is nothing more to say.
    pub fn line(&self) -> Option<String> {
        match self {
            CliError::Api(ClientError::Api { code, message, .. }) => {
                Some(format!("error: {code}: {message}"))
            }
            CliError::Api(ClientError::Transport(e)) => {
                Some(format!("error: unreachable: {}", transport_message(e)))
            }
            CliError::Api(ClientError::Decode { status, message }) => Some(format!(
                "error: bad_response: the {status} answer is not what tron expects: {message}"
            )),
            CliError::Failed { code, message } => Some(format!("error: {code}: {message}")),
            CliError::Usage(m) => Some(format!("error: usage: {m}")),
            CliError::No => None,
        }
    }
}

/// The transport's message with its source chain ("error sending request
/// for url (…): … connection refused").
fn transport_message(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Api(e)
    }
}

impl From<tron_core::Error> for CliError {
    fn from(e: tron_core::Error) -> Self {
        match e {
            tron_core::Error::Validation { code, message, .. } => CliError::failed(code, message),
            other => CliError::failed("validation_error", other.to_string()),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::failed("io_error", e.to_string())
    }
}
