//! Who calls an operation, and the audit entry that records it (docs/FORMAT.md §5.4): the
//! local user, uid and process, or, for a door that serves remote callers, the access key,
//! its user and the source address.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::clock;
use super::session::{AuditInfo, Kms};
use crate::error::Error;

/// Who is calling (recorded in every audit entry).
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub(super) user: String,
    pub(super) uid: Option<u32>,
    pub(super) pid: u32,
    /// Set by a door that serves remote callers: who they are and where they called from.
    pub(super) remote: Option<Remote>,
}

/// A remote caller, as a door that serves them knows it.
#[derive(Debug, Clone)]
pub(super) struct Remote {
    /// An access key id, `unsigned` or `unauthenticated`.
    pub(super) principal: String,
    /// The network address.
    pub(super) source: Option<String>,
    /// The access key the request names (claimed, for a refused request), and its user.
    pub(super) access_key: Option<(String, Option<String>)>,
}

impl Caller {
    pub(super) fn current() -> Caller {
        let uid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|u| u.parse().ok())
            });
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                uid.map(|u| format!("uid {u}"))
                    .unwrap_or_else(|| "unknown".into())
            });
        Caller {
            user,
            uid,
            pid: std::process::id(),
            remote: None,
        }
    }
}

impl Kms {
    pub(super) fn entry(
        &self,
        now: OffsetDateTime,
        op: &str,
        params: Value,
        info: &AuditInfo,
        err: Option<&Error>,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("time".into(), Value::String(clock::format_time(now)));
        m.insert("operation".into(), Value::String(op.into()));
        m.insert(
            "key_id".into(),
            info.key_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "key_material_id".into(),
            info.material
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "encryption_context".into(),
            info.context
                .as_ref()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .unwrap_or(Value::Null),
        );
        let mut params = params;
        if let Value::Object(p) = &mut params {
            p.extend(info.extra.clone());
        }
        m.insert("parameters".into(), params);
        let caller = match &self.caller.remote {
            None => {
                json!({"user": self.caller.user, "uid": self.caller.uid, "pid": self.caller.pid})
            }
            Some(r) => json!({
                "principal": r.principal,
                "access_key_id": r.access_key.as_ref().map(|a| &a.0),
                "user": r.access_key.as_ref().and_then(|a| a.1.as_ref()),
                "source": r.source,
                "region": self.home_region.region(),
                "server_pid": self.caller.pid,
            }),
        };
        m.insert("caller".into(), caller);
        match err {
            None => {
                m.insert("result".into(), Value::String("success".into()));
            }
            Some(e) => {
                m.insert("result".into(), Value::String("failure".into()));
                let code = match e {
                    Error::Kms(k) => k.code(),
                    Error::Key(_) => "InvalidKeyUsageException",
                    Error::Rng => "KMSInternalException",
                    _ => "KMSInternalException",
                };
                m.insert("error_code".into(), Value::String(code.into()));
            }
        }
        m
    }
}
