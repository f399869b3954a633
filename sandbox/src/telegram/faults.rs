//! Injected failures: the next N matching calls fail with a 429 or a 5xx instead of being
//! delivered, and an injected 429 starts a flood wait like Telegram's, during which every send
//! of that token is refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::limits::whole_seconds;
use super::methods::ApiError;
use super::params;

/// The next `count` matching calls fail with `error` instead of being delivered.
///
/// Over HTTP (`POST /_sandbox/faults`) the same fields are one flat JSON object:
/// `{"count": 1, "error": "flood_wait", "retry_after": 5}` or
/// `{"count": 2, "error": "server", "code": 502, "method": "sendMessage", "chat_id": 42}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    pub count: u32,
    /// Only calls of this method (case-insensitive, any method); unset means any send method.
    #[serde(default)]
    pub method: Option<String>,
    /// Only calls to this chat.
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(flatten)]
    pub error: FaultError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum FaultError {
    /// 429 "Too Many Requests: retry after S", then S seconds during which every send call of the
    /// token gets 429 with the remaining time.
    FloodWait { retry_after: u64 },
    /// A failure on Telegram's side: 500, 502... with `description` (default: the status text).
    Server {
        code: u16,
        #[serde(default)]
        description: Option<String>,
    },
}

impl FaultSpec {
    /// The next `count` send calls get 429 with `retry_after` seconds, each starting a flood wait.
    pub fn flood_wait(count: u32, retry_after: u64) -> Self {
        Self {
            count,
            method: None,
            chat_id: None,
            error: FaultError::FloodWait { retry_after },
        }
    }

    /// The next `count` send calls get `code` (500, 502...) with the usual status text.
    pub fn server_error(count: u32, code: u16) -> Self {
        Self {
            count,
            method: None,
            chat_id: None,
            error: FaultError::Server {
                code,
                description: None,
            },
        }
    }

    pub fn only_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    pub fn only_chat(mut self, chat_id: i64) -> Self {
        self.chat_id = Some(chat_id);
        self
    }

    pub fn with_description(mut self, text: &str) -> Self {
        if let FaultError::Server { description, .. } = &mut self.error {
            *description = Some(text.to_owned());
        }
        self
    }

    /// A spec that could never fire, or would answer something Telegram never does, is refused.
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        match &self.error {
            FaultError::FloodWait { retry_after: 0 } => {
                Err("retry_after must be at least 1".into())
            }
            FaultError::Server { code, .. } if !(500..=599).contains(code) => {
                Err(format!("code {code} is not a 5xx status"))
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, method: &str, is_send: bool, params: &Value) -> bool {
        let method_ok = match &self.method {
            Some(m) => m.eq_ignore_ascii_case(method),
            None => is_send,
        };
        method_ok
            && self
                .chat_id
                .is_none_or(|id| params::int(params, "chat_id") == Some(id))
    }

    fn to_error(&self) -> ApiError {
        match &self.error {
            FaultError::FloodWait { retry_after } => ApiError::too_many_requests(*retry_after),
            FaultError::Server { code, description } => {
                let text = description
                    .clone()
                    .unwrap_or_else(|| status_text(*code).to_owned());
                ApiError::new(*code, text)
            }
        }
    }
}

fn status_text(code: u16) -> &'static str {
    match code {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    }
}

#[derive(Default)]
pub(crate) struct Faults {
    pending: Vec<FaultSpec>,
    /// Per token: when its flood wait ends.
    flood_until: HashMap<String, Instant>,
}

impl Faults {
    pub fn inject(&mut self, spec: FaultSpec) {
        self.pending.push(spec);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
        self.flood_until.clear();
    }

    /// Faults still waiting to fire, with their remaining counts.
    pub fn pending(&self) -> Vec<FaultSpec> {
        self.pending.clone()
    }

    /// The injected outcome of this call, if any. A running flood wait answers every send of the
    /// token without using up a fault, so `count: 2` means two flood waits one after the other.
    pub fn check(
        &mut self,
        token: &str,
        method: &str,
        is_send: bool,
        params: &Value,
        now: Instant,
    ) -> Result<(), ApiError> {
        if is_send && let Some(until) = self.flood_until.get(token) {
            if *until > now {
                return Err(ApiError::too_many_requests(whole_seconds(*until - now)));
            }
            self.flood_until.remove(token);
        }
        let Some(index) = self
            .pending
            .iter()
            .position(|f| f.matches(method, is_send, params))
        else {
            return Ok(());
        };
        let fault = &mut self.pending[index];
        let err = fault.to_error();
        if let FaultError::FloodWait { retry_after } = fault.error {
            let until = now + Duration::from_secs(retry_after);
            self.flood_until.insert(token.to_owned(), until);
        }
        fault.count -= 1;
        if fault.count == 0 {
            self.pending.remove(index);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_flood_wait_refuses_every_send_of_the_token_until_it_ends() {
        let mut f = Faults::default();
        f.inject(FaultSpec::flood_wait(1, 3));
        let t0 = Instant::now();
        let chat = |id: i64| json!({"chat_id": id});
        let first = f.check("t", "sendMessage", true, &chat(1), t0).unwrap_err();
        assert_eq!((first.code, first.retry_after), (429, Some(3)));
        assert_eq!(first.description, "Too Many Requests: retry after 3");
        let later = f.check("t", "copyMessage", true, &chat(2), t0 + SEC / 2);
        assert_eq!(
            later.unwrap_err().retry_after,
            Some(3),
            "2.5 s left, rounded up"
        );
        let last = f.check("t", "sendPhoto", true, &chat(3), t0 + SEC * 3 - SEC / 10);
        assert_eq!(last.unwrap_err().retry_after, Some(1));
        assert!(f.check("t", "getMe", false, &json!({}), t0 + SEC).is_ok());
        assert!(
            f.check("other", "sendMessage", true, &chat(1), t0 + SEC)
                .is_ok()
        );
        assert!(
            f.check("t", "sendMessage", true, &chat(1), t0 + SEC * 3)
                .is_ok()
        );
    }

    #[test]
    fn faults_match_method_and_chat_and_run_out() {
        let mut f = Faults::default();
        f.inject(
            FaultSpec::server_error(2, 502)
                .only_method("sendmessage")
                .only_chat(7),
        );
        let t0 = Instant::now();
        let seven = json!({"chat_id": "7"});
        assert!(
            f.check("t", "sendMessage", true, &json!({"chat_id": 8}), t0)
                .is_ok()
        );
        assert!(f.check("t", "sendPhoto", true, &seven, t0).is_ok());
        for _ in 0..2 {
            let err = f.check("t", "sendMessage", true, &seven, t0).unwrap_err();
            assert_eq!((err.code, err.description.as_str()), (502, "Bad Gateway"));
        }
        assert!(f.check("t", "sendMessage", true, &seven, t0).is_ok());
        assert!(f.pending().is_empty());
    }

    #[test]
    fn without_a_method_only_sends_fail() {
        let mut f = Faults::default();
        f.inject(FaultSpec::server_error(1, 500).with_description("Internal Server Error: oops"));
        let t0 = Instant::now();
        assert!(
            f.check("t", "editMessageText", false, &json!({}), t0)
                .is_ok()
        );
        let err = f.check("t", "sendVideo", true, &json!({}), t0).unwrap_err();
        assert_eq!(err.description, "Internal Server Error: oops");
    }

    #[test]
    fn the_http_form_is_one_flat_object() {
        let spec: FaultSpec = serde_json::from_value(
            json!({"count": 1, "error": "flood_wait", "retry_after": 5, "method": "sendMessage"}),
        )
        .unwrap();
        assert_eq!(spec, FaultSpec::flood_wait(1, 5).only_method("sendMessage"));
        let spec: FaultSpec =
            serde_json::from_value(json!({"count": 2, "error": "server", "code": 502})).unwrap();
        assert_eq!(spec, FaultSpec::server_error(2, 502));
        assert!(FaultSpec::server_error(1, 404).validate().is_err());
        assert!(FaultSpec::flood_wait(0, 5).validate().is_err());
        assert!(FaultSpec::flood_wait(1, 0).validate().is_err());
    }
}
