//! The AWS CLI's conventions that `angou kms` follows so its recipes run unchanged: blob
//! arguments (`fileb://`, base64 text), the encryption context shorthand (`a=1,b=2`) and
//! JSON, `--query` (JMESPath) with `--output json|text`, timestamps as the AWS CLI v2 prints
//! them, and errors worded `An error occurred (<Exception>) when calling the <Operation>
//! operation: …`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use angou::kms::EncryptionContext;
use angou::kms::ops::{ApiError, ErrorKind};
use base64ct::{Base64, Encoding};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::failure::{EXIT_USAGE, Failure};

/// `--output`: what the AWS CLI calls json and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Indented JSON (the AWS CLI's default).
    Json,
    /// Tab-separated values, the AWS CLI's text rules (a scalar alone on its line).
    Text,
}

/// How a command prints its answer.
pub struct Printer {
    format: OutputFormat,
    query: Option<jmespath::Expression<'static>>,
}

impl Printer {
    /// Compiles `--query` once, before any work is done.
    pub fn new(format: OutputFormat, query: Option<&str>) -> Result<Printer, Failure> {
        let query = match query {
            None => None,
            Some(q) => Some(jmespath::compile(q).map_err(|e| {
                Failure::usage(format!("--query is not a JMESPath expression: {}", e.reason))
                    .hint("e.g. --query CiphertextBlob, --query 'KeyMetadata.Arn', --query 'Keys[].KeyId'")
            })?),
        };
        Ok(Printer { format, query })
    }

    /// Prints a response: `--query` applied, then JSON or text. An empty response of an
    /// operation that answers nothing prints nothing, as the AWS CLI does.
    pub fn print(&self, response: Value) -> Result<(), Failure> {
        if self.query.is_none() && response == Value::Object(Default::default()) {
            return Ok(());
        }
        let value = match &self.query {
            None => response,
            Some(q) => {
                let found = q.search(&response).map_err(|e| {
                    Failure::usage(format!("--query cannot be applied: {}", e.reason)).hint(
                        "check the expression against the JSON the command prints without --query",
                    )
                })?;
                serde_json::to_value(&*found).unwrap_or(Value::Null)
            }
        };
        // The text may hold a plaintext or data key the user asked for: wiped after printing.
        let text = Zeroizing::new(match self.format {
            OutputFormat::Json => json(&value),
            OutputFormat::Text => {
                let mut out = String::new();
                text(&value, None, None, &mut out);
                out
            }
        });
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| Failure::new(format!("cannot write the answer: {e}")))
    }
}

/// JSON with four-space indents, non-ASCII kept (the AWS CLI's `json.dump(indent=4,
/// ensure_ascii=False)`).
fn json(v: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    if v.serialize(&mut ser).is_err() {
        return "null\n".into();
    }
    let mut s = String::from_utf8(out).unwrap_or_default();
    s.push('\n');
    s
}

/// Python's `str()` of a JSON scalar, as the AWS CLI's text output writes it.
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// The AWS CLI's text format (awscli/text.py): a dict's scalars on one tab-separated line in
/// key order (prefixed by the upper-cased name of the member holding it), then its lists and
/// dicts; a list of scalars on one line; a list of dicts one line each over the union of
/// their scalar keys.
fn text(v: &Value, id: Option<&str>, keys: Option<&[String]>, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut scalars = Vec::new();
            let mut rest: Vec<(&String, &Value)> = Vec::new();
            match keys {
                None => {
                    let sorted: BTreeMap<_, _> = m.iter().collect();
                    for (k, val) in sorted {
                        if is_scalar(val) {
                            scalars.push(scalar(val));
                        } else {
                            rest.push((k, val));
                        }
                    }
                }
                Some(keys) => {
                    for k in keys {
                        scalars.push(scalar(m.get(k).unwrap_or(&Value::Null)));
                    }
                    let sorted: BTreeMap<_, _> =
                        m.iter().filter(|(k, _)| !keys.contains(k)).collect();
                    rest.extend(sorted);
                }
            }
            if !scalars.is_empty() {
                if let Some(id) = id {
                    scalars.insert(0, id.to_uppercase());
                }
                let _ = writeln!(out, "{}", scalars.join("\t"));
            }
            for (k, val) in rest {
                text(val, Some(k), None, out);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                return;
            }
            if items.iter().any(Value::is_object) {
                let mut all = std::collections::BTreeSet::new();
                for item in items {
                    if let Value::Object(m) = item {
                        all.extend(
                            m.iter()
                                .filter(|(_, v)| is_scalar(v))
                                .map(|(k, _)| k.clone()),
                        );
                    }
                }
                let all: Vec<String> = all.into_iter().collect();
                for item in items {
                    text(item, id, Some(&all), out);
                }
            } else {
                let (scalars, nested): (Vec<&Value>, Vec<&Value>) =
                    items.iter().partition(|v| is_scalar(v));
                if !scalars.is_empty() {
                    match id {
                        Some(id) => {
                            for s in scalars {
                                let _ = writeln!(out, "{}\t{}", id.to_uppercase(), scalar(s));
                            }
                        }
                        None => {
                            let line: Vec<String> = scalars.into_iter().map(scalar).collect();
                            let _ = writeln!(out, "{}", line.join("\t"));
                        }
                    }
                }
                for n in nested {
                    text(n, id, None, out);
                }
            }
        }
        other => {
            let _ = writeln!(out, "{}", scalar(other));
        }
    }
}

/// The members that are timestamps: epoch seconds on the wire, printed as the AWS CLI v2
/// prints them (ISO 8601 with the offset, `2026-01-02T03:04:05.678000+00:00`).
const TIMESTAMPS: &[&str] = &[
    "CreationDate",
    "DeletionDate",
    "NextRotationDate",
    "ParametersValidTo",
    "RotationDate",
    "ValidTo",
];

/// Rewrites the wire's epoch-second timestamps the way the AWS CLI v2 shows them.
pub fn cli_timestamps(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if TIMESTAMPS.contains(&k.as_str())
                    && let Some(secs) = val.as_f64()
                {
                    *val = Value::String(iso8601(secs));
                } else {
                    cli_timestamps(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(cli_timestamps),
        _ => {}
    }
}

/// Python's `datetime.isoformat()` of a UTC time: microseconds only when not zero.
fn iso8601(secs: f64) -> String {
    let micros = (secs * 1e6).round() as i128;
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(micros * 1000) else {
        return secs.to_string();
    };
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    match t.microsecond() {
        0 => format!("{base}+00:00"),
        us => format!("{base}.{us:06}+00:00"),
    }
}

/// A blob argument as the AWS CLI v2 reads one: `fileb://PATH` (raw bytes), `file://PATH`
/// (a file holding base64 text), or base64 text; angou also takes `@PATH` for raw bytes and
/// `@-` for raw bytes on standard input.
pub fn blob(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let raw = |path: &str, prefix: &str| -> Result<Zeroizing<Vec<u8>>, Failure> {
        if path == "-" && prefix == "@" {
            let mut bytes = Zeroizing::new(Vec::new());
            return std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map(|_| bytes)
                .map_err(|e| Failure::new(format!("cannot read {what} from standard input: {e}")));
        }
        std::fs::read(path).map(Zeroizing::new).map_err(|e| {
            Failure::usage(format!("cannot read the {what} file: {}", e.kind()))
                .hint(format!("check the path after {prefix} (the name is not repeated here in case it is a secret)"))
        })
    };
    if let Some(path) = text.strip_prefix("fileb://") {
        return raw(path, "fileb://");
    }
    if let Some(path) = text.strip_prefix('@') {
        return raw(path, "@");
    }
    let from_file;
    let b64: &str = if let Some(path) = text.strip_prefix("file://") {
        from_file = Zeroizing::new(String::from_utf8(raw(path, "file://")?.to_vec()).map_err(
            |_| {
                Failure::usage(format!("the {what} file:// is not base64 text"))
                    .hint("file:// reads base64 text; use fileb://PATH for raw bytes")
            },
        )?);
        from_file.as_str()
    } else {
        text
    };
    Base64::decode_vec(b64.trim())
        .map(Zeroizing::new)
        .map_err(|_| {
            Failure::usage(format!("{what} is not base64"))
                .hint("pass base64 text (as AWS CLI v2 does), fileb://FILE for raw bytes, or @- for raw bytes on standard input")
        })
}

const CONTEXT_HINT: &str = r#"use the AWS shorthand k1=v1,k2=v2 (no commas, quotes or surrounding spaces in a value), or JSON: -c '{"k":"v,w"}'"#;

/// Encryption context arguments as the AWS CLI reads `--encryption-context`: the shorthand
/// `k1=v1,k2=v2` (two pairs) or a JSON object; `-c` may be repeated and the entries merge.
/// What the shorthand cannot say without guessing (a piece without `=`, a quote, spaces at
/// the edges, a key given twice) is refused, never read some other way.
pub fn context(values: &[String], flag: &str) -> Result<EncryptionContext, Failure> {
    let bad = |why: String| Failure::usage(format!("{flag}: {why}")).hint(CONTEXT_HINT);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for v in values {
        let pairs: Vec<(String, String)> = if v.trim_start().starts_with('{') {
            json_pairs(v).map_err(|why| bad(why.into()))?
        } else {
            shorthand(v).map_err(bad)?
        };
        for (k, val) in pairs {
            if seen.insert(k.clone(), val).is_some() {
                return Err(bad(format!("the key {k:?} is given twice")));
            }
        }
    }
    let mut ctx = EncryptionContext::new();
    for (k, v) in seen {
        ctx.insert(k, v);
    }
    Ok(ctx)
}

fn shorthand(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for piece in text.split(',') {
        let Some((k, v)) = piece.split_once('=') else {
            return Err(if text.contains(',') {
                format!("{piece:?} in {text:?} is not key=value (a value with a comma needs JSON)")
            } else {
                format!("{text:?} is not key=value")
            });
        };
        if k.is_empty() {
            return Err(format!("{piece:?} has an empty key"));
        }
        for part in [k, v] {
            if part.trim() != part {
                return Err(format!(
                    "{piece:?} has spaces around a key or value (the AWS CLI would drop them)"
                ));
            }
            if part.starts_with(['"', '\'']) {
                return Err(format!("{piece:?} is quoted (say it in JSON instead)"));
            }
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// A JSON object of strings, its members in order, duplicates kept (so they can be refused).
fn json_pairs(text: &str) -> Result<Vec<(String, String)>, &'static str> {
    struct Pairs(Vec<(String, String)>);
    impl<'de> serde::Deserialize<'de> for Pairs {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object of string values")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Pairs, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = m.next_entry::<String, String>()? {
                        out.push(kv);
                    }
                    Ok(Pairs(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Pairs>(text)
        .map(|p| p.0)
        .map_err(|_| "the JSON must be an object of string values")
}

/// A failed operation, worded as the AWS CLI words it so scripts can grep the exception,
/// with angou's exit codes (2: the command line was unusable; 1: the work failed) and hint.
pub fn failure(operation: &str, e: &ApiError) -> Failure {
    if e.kind == ErrorKind::Transport {
        // No AWS exception: the KMS was not reached or did not answer as a KMS.
        let hint = if e.message.starts_with("could not make a request") {
            "check the credentials the AWS SDK looks for (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, --profile / AWS_PROFILE, `aws sso login`)"
        } else {
            "check --endpoint-url (or AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL) and that the KMS is running; the SDK already retried (AWS_MAX_ATTEMPTS)"
        };
        return Failure::new(e.message.clone()).hint(hint);
    }
    // A local operator sees the store's own words (paths, integrity findings); the message
    // remote callers get is the fallback.
    let detail = e
        .source_error()
        .map_or_else(|| e.message.clone(), ToString::to_string);
    let mut f = match e.source_error() {
        Some(err) => Failure::of(err),
        None => Failure::new(String::new()),
    };
    f.message = format!(
        "An error occurred ({}) when calling the {operation} operation: {detail}",
        e.code()
    );
    if f.hint.is_none() {
        f.hint = Some(kind_hint(e.kind).into());
    }
    if matches!(
        e.kind,
        ErrorKind::Validation
            | ErrorKind::Serialization
            | ErrorKind::InvalidAliasName
            | ErrorKind::UnknownOperation
    ) {
        f.code = EXIT_USAGE;
    }
    f
}

fn kind_hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Validation => "check the value against the allowed range in --help",
        ErrorKind::Serialization => "check the arguments' form in --help",
        ErrorKind::InvalidMarker => "start the listing again without --marker",
        ErrorKind::DryRunOperation => "drop --dry-run to do it",
        ErrorKind::UnsupportedOperation => "see docs/DESIGN.md for what each key kind supports",
        ErrorKind::InvalidKeyUsage => {
            "use a symmetric key for data keys and blobs, an RSA key with --encryption-algorithm RSAES_OAEP_SHA_256"
        }
        ErrorKind::NotFound => {
            "check the key id or alias and the region (--region): keys of another region are not found"
        }
        ErrorKind::Disabled => "enable the key with `angou kms enable-key --key-id KEY`",
        ErrorKind::KmsInvalidState => "see `angou kms describe-key --key-id KEY`",
        ErrorKind::InvalidCiphertext => {
            "pass the same encryption context (-c) used when encrypting, and an unmodified blob"
        }
        ErrorKind::UnrecognizedClient
        | ErrorKind::InvalidSignature
        | ErrorKind::InvalidClientTokenId
        | ErrorKind::ExpiredToken
        | ErrorKind::IncompleteSignature
        | ErrorKind::MissingAuthenticationToken
        | ErrorKind::RequestExpired => {
            "check the credentials the AWS SDK found (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, --profile / AWS_PROFILE, an expired SSO session) and the clock"
        }
        ErrorKind::AccessDenied => {
            "the credentials' principal may not do this on this key: check the key policy and IAM policies"
        }
        ErrorKind::Throttling | ErrorKind::LimitExceeded => {
            "the KMS refused the request rate after the SDK's retries: try again later, or raise AWS_MAX_ATTEMPTS"
        }
        ErrorKind::DependencyTimeout
        | ErrorKind::KeyUnavailable
        | ErrorKind::ServiceUnavailable
        | ErrorKind::InternalFailure
        | ErrorKind::KmsInternal => "a fault on the KMS's side: try again later",
        _ => "see `angou kms --help`",
    }
}
