//! Per-chat ordering inside one gateway process.
//!
//! Telegram already delivers one chat's updates strictly in order, waiting
//! for our answer before the next; this lock keeps that guarantee when
//! deliveries overlap anyway (a redelivery racing a slow first attempt), so
//! the bot never handles two updates of one chat at the same time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

#[derive(Clone, Default)]
pub struct ChatLocks {
    locks: Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>,
}

pub struct ChatGuard {
    chat_id: i64,
    locks: ChatLocks,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ChatLocks {
    pub async fn lock(&self, chat_id: i64) -> ChatGuard {
        let m = {
            let mut map = self.locks.lock().expect("chat lock map poisoned");
            map.entry(chat_id).or_default().clone()
        };
        let guard = m.lock_owned().await;
        ChatGuard {
            chat_id,
            locks: self.clone(),
            guard: Some(guard),
        }
    }

    pub fn len(&self) -> usize {
        self.locks.lock().expect("chat lock map poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for ChatGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Forget the chat's mutex when nobody else waits on it, so the map
        // does not grow with every chat ever seen.
        let mut map = self.locks.locks.lock().expect("chat lock map poisoned");
        if let Some(m) = map.get(&self.chat_id)
            && Arc::strong_count(m) == 1
        {
            map.remove(&self.chat_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_chat_is_serialised_and_the_map_is_emptied() {
        let locks = ChatLocks::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (locks, log) = (locks.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock(42).await;
                log.lock().unwrap().push(("in", i));
                tokio::time::sleep(Duration::from_millis(5)).await;
                log.lock().unwrap().push(("out", i));
            }));
            // Start them in order so the queue order is deterministic.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap();
        for pair in log.chunks(2) {
            assert_eq!(
                pair[0].1, pair[1].1,
                "two updates of one chat overlapped: {log:?}"
            );
        }
        assert!(locks.is_empty());
    }
}
