use std::time::{Duration, Instant};

/// A deadline for retrying one action.
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    pub fn new(limit: Duration) -> Self {
        Budget {
            deadline: Instant::now() + limit,
        }
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Full-jitter exponential backoff: random in [0, min(10 s, 200 ms * 2^attempt)].
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(200)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(10));
    let millis = cap.as_millis() as u64;
    Duration::from_millis(fastrand::u64(millis / 4..=millis.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            assert!(d <= Duration::from_secs(10));
        }
        assert!(backoff(1) <= Duration::from_millis(400));
    }
}
