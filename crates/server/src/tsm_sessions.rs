//! The table of admin sessions running in this process, what both TSM roles' HTTP edges
//! share: in-process state by design (docs/architecture.md §7, docs/operations.md §7). A
//! session id from a restarted or other instance is `session_gone`, and the OTA client opens a
//! new session, which resumes by survey.

use std::collections::HashMap;
use std::sync::Mutex;

use provisio_types::Code;

use crate::ApiError;

/// Running sessions by id.
pub(crate) struct Sessions<T>(Mutex<HashMap<String, T>>);

impl<T> Default for Sessions<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T> Sessions<T> {
    /// Stores a session.
    pub(crate) fn put(&self, id: String, session: T) -> Result<(), ApiError> {
        self.0
            .lock()
            .map_err(|_| ApiError::internal(&"session table poisoned"))?
            .insert(id, session);
        Ok(())
    }

    /// Takes a session out while one response is processed, if `owned` says the caller may
    /// drive it; otherwise `session_gone` (without saying whether it exists).
    pub(crate) fn take(&self, id: &str, owned: impl Fn(&T) -> bool) -> Result<T, ApiError> {
        let mut table = self
            .0
            .lock()
            .map_err(|_| ApiError::internal(&"session table poisoned"))?;
        match table.get(id) {
            Some(s) if owned(s) => table.remove(id).ok_or_else(session_gone),
            _ => Err(session_gone()),
        }
    }
}

fn session_gone() -> ApiError {
    ApiError::new(
        Code::SessionGone,
        "no such session (it ended, or the server restarted): open a new one",
    )
}
