//! Token buckets: each key (a user, an IP address, an email) holds up to `capacity` points that
//! come back at a steady rate; a request takes what it costs or is told how long to wait. Time
//! comes from the caller (the application's clock), so tests move it instead of sleeping.
//! Points are counted in thousandths, so slow rates (one login every six seconds) stay exact in
//! integers.
use std::collections::HashMap;
use std::sync::Mutex;

/// Keys kept before idle ones (refilled to full) are forgotten.
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// thousandths of a point
    level: i64,
    /// when `level` was last brought up to date, in ms
    at_ms: i64,
}

/// What is left after a take, or how long to wait for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// taken; this many whole points remain
    Taken { remaining: i64 },
    /// not enough points: this many milliseconds until there are
    Wait { ms: i64 },
}

#[derive(Debug)]
pub struct Buckets {
    /// thousandths of a point
    capacity: i64,
    /// thousandths of a point restored per second (= points per 1,000 s)
    restore_per_sec: i64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// `capacity` points restoring `restore_milli_per_sec` thousandths of a point per second
    /// (100 points/s is 100,000).
    pub fn new(capacity: i64, restore_milli_per_sec: i64) -> Self {
        Self {
            capacity: capacity.max(1).saturating_mul(1000),
            restore_per_sec: restore_milli_per_sec.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn capacity(&self) -> i64 {
        self.capacity / 1000
    }

    /// Points restored per second, rounded down.
    pub fn restore_rate(&self) -> i64 {
        self.restore_per_sec / 1000
    }

    fn refilled(&self, bucket: Bucket, now_ms: i64) -> i64 {
        let elapsed = now_ms.saturating_sub(bucket.at_ms).max(0);
        let restored = elapsed.saturating_mul(self.restore_per_sec) / 1000;
        bucket.level.saturating_add(restored).min(self.capacity)
    }

    /// Takes `cost` points from `key`'s bucket at `now_ms`, or says how long until it could.
    pub fn take(&self, key: &str, cost: i64, now_ms: i64) -> Take {
        let cost = cost.max(0).saturating_mul(1000).min(self.capacity);
        let Ok(mut buckets) = self.buckets.lock() else {
            // A panic elsewhere poisoned the map: let the request through rather than fail.
            return Take::Taken { remaining: 0 };
        };
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, b| self.refilled(*b, now_ms) < self.capacity);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            level: self.capacity,
            at_ms: now_ms,
        });
        let level = self.refilled(*bucket, now_ms);
        bucket.at_ms = now_ms.max(bucket.at_ms);
        if level >= cost {
            bucket.level = level - cost;
            Take::Taken {
                remaining: bucket.level / 1000,
            }
        } else {
            bucket.level = level;
            let missing = cost - level;
            Take::Wait {
                ms: (missing.saturating_mul(1000) + self.restore_per_sec - 1)
                    / self.restore_per_sec,
            }
        }
    }

    /// Returns `points` to `key`'s bucket (never above its capacity): what an operation was
    /// charged beyond what it turned out to cost. The whole points left afterwards.
    pub fn give_back(&self, key: &str, points: i64, now_ms: i64) -> i64 {
        let Ok(mut buckets) = self.buckets.lock() else {
            return 0;
        };
        let Some(bucket) = buckets.get_mut(key) else {
            return self.capacity / 1000;
        };
        let level = self.refilled(*bucket, now_ms);
        bucket.level = level
            .saturating_add(points.max(0).saturating_mul(1000))
            .min(self.capacity);
        bucket.at_ms = now_ms.max(bucket.at_ms);
        bucket.level / 1000
    }

    /// Whole points `key` has at `now_ms`, without taking any.
    pub fn available(&self, key: &str, now_ms: i64) -> i64 {
        let Ok(buckets) = self.buckets.lock() else {
            return 0;
        };
        buckets
            .get(key)
            .map_or(self.capacity, |b| self.refilled(*b, now_ms))
            / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_says_how_long_to_wait_and_refills_at_its_rate() {
        let b = Buckets::new(1000, 100_000);
        assert_eq!(b.take("u", 600, 0), Take::Taken { remaining: 400 });
        assert_eq!(b.take("u", 400, 0), Take::Taken { remaining: 0 });
        // 100 points a second: 250 points are 2.5 s away.
        assert_eq!(b.take("u", 250, 0), Take::Wait { ms: 2500 });
        assert_eq!(b.take("u", 250, 2499), Take::Wait { ms: 1 });
        assert_eq!(b.take("u", 250, 2500), Take::Taken { remaining: 0 });
        // Never above capacity, however long it rests; other keys are untouched.
        assert_eq!(b.available("u", 1_000_000), 1000);
        assert_eq!(b.take("v", 1000, 0), Take::Taken { remaining: 0 });
    }

    #[test]
    fn slow_rates_stay_exact() {
        // Ten logins, one back every six seconds.
        let b = Buckets::new(10, 167);
        for _ in 0..10 {
            assert!(matches!(b.take("ip", 1, 0), Take::Taken { .. }));
        }
        let Take::Wait { ms } = b.take("ip", 1, 0) else {
            panic!("the eleventh waits");
        };
        assert_eq!(ms, 5989);
        assert!(matches!(b.take("ip", 1, ms), Take::Taken { .. }));
    }

    #[test]
    fn a_clock_that_goes_back_takes_nothing_extra() {
        let b = Buckets::new(10, 1000);
        assert!(matches!(b.take("k", 10, 5000), Take::Taken { .. }));
        assert!(matches!(b.take("k", 1, 1000), Take::Wait { .. }));
    }
}
