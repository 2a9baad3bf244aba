//! Password hashing off the request threads, on a fixed pool of threads.
//!
//! Each argon2 hash takes 19 MiB for a few tens of milliseconds. Running them
//! on a pool as small as the machine's cores bounds both the CPU and the
//! memory a storm of logins can take, and keeps the allocator from spreading
//! those 19 MiB blocks over every request thread.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::password;

enum Job {
    Hash(String, oneshot::Sender<Result<String, password::HashError>>),
    Verify(String, String, oneshot::Sender<bool>),
}

#[derive(Debug, thiserror::Error)]
#[error("the password hasher has stopped")]
pub struct HasherGone;

#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher(..)")
    }
}

impl Hasher {
    pub fn new(threads: usize) -> std::io::Result<Hasher> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hasher-{i}"))
                .spawn(move || {
                    let mut workspace = password::Workspace::new();
                    loop {
                        let job = {
                            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                            queue.recv()
                        };
                        match job {
                            Ok(Job::Hash(pw, reply)) => {
                                let _ = reply.send(workspace.hash(&pw));
                            }
                            Ok(Job::Verify(pw, stored, reply)) => {
                                let _ = reply.send(workspace.verify(&pw, &stored));
                            }
                            // Every sender is gone: the server is shutting down.
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Hasher { jobs })
    }

    pub async fn verify(&self, password: String, stored: String) -> Result<bool, HasherGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Verify(password, stored, reply))
            .map_err(|_| HasherGone)?;
        answer.await.map_err(|_| HasherGone)
    }

    pub async fn hash(
        &self,
        password: String,
    ) -> Result<Result<String, password::HashError>, HasherGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Hash(password, reply))
            .map_err(|_| HasherGone)?;
        answer.await.map_err(|_| HasherGone)
    }
}
