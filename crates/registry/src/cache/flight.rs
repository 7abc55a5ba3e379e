//! Single flight: concurrent lookups of the same image wait for one fetch and share its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) struct Flights<T> {
    in_flight: Mutex<HashMap<String, Arc<OnceLock<T>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Flights<T> {
    /// Runs `fetch` unless a flight for `key` is under way, in which case its result is waited
    /// for. Results are not kept once the flight lands: caching is the caller's.
    pub fn run(&self, key: &str, fetch: impl FnOnce() -> T) -> T {
        let cell = match self.in_flight.lock() {
            Ok(mut map) => map.entry(key.to_owned()).or_default().clone(),
            // A poisoned map only loses sharing, never the answer.
            Err(_) => Arc::new(OnceLock::new()),
        };
        // `get_or_init` blocks other callers on the same cell until the first one has finished.
        let value = cell.get_or_init(fetch).clone();
        if let Ok(mut map) = self.in_flight.lock()
            && map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell))
        {
            map.remove(key);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let flights = Arc::new(Flights::<usize>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (flights, calls, barrier) = (flights.clone(), calls.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    flights.run("k", || {
                        std::thread::sleep(Duration::from_millis(100));
                        calls.fetch_add(1, Ordering::SeqCst) + 41
                    })
                })
            })
            .collect();
        let results: Vec<usize> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        assert_eq!(results.len(), 16);
        assert!(results.iter().all(|r| *r == 41));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Landed flights are forgotten: the next call fetches again.
        assert_eq!(flights.run("k", || 7), 7);
    }
}
