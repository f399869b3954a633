//! Dialog state per user (or chat): JSON on the master.
//!
//! On the master because the next message of a dialog must see the step the
//! previous one just stored; a lagging replica would replay an old step.

use std::time::Duration;

use fred::interfaces::KeysInterface;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Cache, px};
use crate::error::CacheError;

impl Cache {
    pub(crate) fn session_key(&self, scope: &str, id: i64) -> String {
        self.key(&format!("session:{scope}:{id}"))
    }

    /// The stored state, `None` when absent or expired.
    pub async fn session_get<T: DeserializeOwned>(
        &self,
        scope: &str,
        id: i64,
    ) -> Result<Option<T>, CacheError> {
        let key = self.session_key(scope, id);
        match self.inner.master.get(&key).await? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| CacheError::codec(&key, e)),
        }
    }

    /// Stores the state for `ttl` (each write restarts the expiry, so an
    /// active dialog never times out mid-way).
    pub async fn session_set<T: Serialize>(
        &self,
        scope: &str,
        id: i64,
        state: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let key = self.session_key(scope, id);
        let json = serde_json::to_string(state).map_err(|e| CacheError::codec(&key, e))?;
        let m = &self.inner.master;
        m.client()
            .set::<(), _, _>(key, json, Some(px(ttl)), None, false)
            .await
            .map_err(|e| m.err(e))
    }

    /// Ends the dialog.
    pub async fn session_clear(&self, scope: &str, id: i64) -> Result<(), CacheError> {
        let m = &self.inner.master;
        m.client()
            .del::<(), _>(self.session_key(scope, id))
            .await
            .map_err(|e| m.err(e))
    }
}
