//! Forwarding by who speaks: in a crowded channel the SFU forwards only the
//! few loudest current speakers, so a listener's bandwidth and decoding stay
//! bounded however many people talk at once.
//!
//! A speaker is *current* while its last voiced packet (not an Opus silence
//! frame) is recent. Current speakers rank by priority (PRIORITY_SPEAKER
//! first), then by loudness (the client's audio level from the RTP header
//! extension, smoothed; a steady middle level for clients that send none),
//! then by who started talking first, so that a speaker holding a place keeps
//! it against an equally loud newcomer.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

/// At most this many speakers of one channel are forwarded at a time: three
/// voices at once is already more than a listener follows, and it bounds
/// what a listener receives to three Opus streams whatever the channel's size.
pub const MAX_FORWARDED_SPEAKERS: usize = 3;

/// How long after its last voiced packet a speaker is still current: long
/// enough to bridge a lost packet or two, short enough that a place frees
/// soon after someone stops.
pub const SPEAKING_WINDOW: Duration = Duration::from_millis(300);

/// The loudness given to speakers whose packets carry no audio level: that
/// of ordinary speech (-40 dBov, on the 0..=127 scale where 127 is loudest).
const DEFAULT_LOUDNESS: f32 = 87.0;

/// How much a new level moves the smoothed loudness.
const SMOOTHING: f32 = 0.3;

/// What the SFU knows of one connection's talking.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    last_voiced: Option<Instant>,
    /// When the current talk spurt started.
    spurt_start: Option<Instant>,
    /// Smoothed, 0 (silence) ..= 127 (loudest).
    loudness: f32,
}

impl Activity {
    /// Notes a packet: `level` is its RFC 6464 audio level (0 loudest, 127
    /// silence) if it carried one, `silent` whether it was a silence frame.
    pub fn heard(&mut self, now: Instant, level: Option<u8>, silent: bool) {
        let loudness = level.map_or(DEFAULT_LOUDNESS, |level| f32::from(127 - level.min(127)));
        if silent || loudness <= 0.0 {
            return;
        }
        if self.is_current(now) {
            self.loudness += SMOOTHING * (loudness - self.loudness);
        } else {
            self.loudness = loudness;
            self.spurt_start = Some(now);
        }
        self.last_voiced = Some(now);
    }

    pub fn is_current(&self, now: Instant) -> bool {
        self.voiced_within(now, SPEAKING_WINDOW)
    }

    /// Whether its last voiced packet came at most `window` before `now`.
    pub fn voiced_within(&self, now: Instant, window: Duration) -> bool {
        self.last_voiced
            .is_some_and(|at| now.saturating_duration_since(at) <= window)
    }
}

/// One speaker as selection sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Tells candidates apart when all else is equal.
    pub id: u64,
    pub priority: bool,
    pub activity: &'a Activity,
}

impl Candidate<'_> {
    /// Higher ranks first.
    fn rank(&self) -> (bool, u8, Reverse<Option<Instant>>, Reverse<u64>) {
        (
            self.priority,
            self.activity.loudness.round().clamp(0.0, 127.0) as u8,
            Reverse(self.activity.spurt_start),
            Reverse(self.id),
        )
    }
}

/// Whether `speaker`'s packet goes out: it is current and fewer than
/// [`MAX_FORWARDED_SPEAKERS`] current `others` rank above it.
pub fn forwarded<'a>(
    speaker: Candidate<'a>,
    others: impl IntoIterator<Item = Candidate<'a>>,
    now: Instant,
) -> bool {
    if !speaker.activity.is_current(now) {
        return false;
    }
    let rank = speaker.rank();
    others
        .into_iter()
        .filter(|other| other.id != speaker.id && other.activity.is_current(now))
        .filter(|other| other.rank() > rank)
        .take(MAX_FORWARDED_SPEAKERS)
        .count()
        < MAX_FORWARDED_SPEAKERS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talking(now: Instant, level: u8) -> Activity {
        let mut activity = Activity::default();
        activity.heard(now, Some(level), false);
        activity
    }

    #[test]
    fn the_loudest_are_forwarded_and_priority_goes_first() {
        let now = Instant::now();
        // Levels: lower is louder.
        let levels = [10u8, 20, 30, 40, 50];
        let activities: Vec<Activity> = levels.iter().map(|&l| talking(now, l)).collect();
        let candidates = |priority_of: Option<u64>| -> Vec<Candidate<'_>> {
            activities
                .iter()
                .enumerate()
                .map(|(i, activity)| Candidate {
                    id: i as u64,
                    priority: priority_of == Some(i as u64),
                    activity,
                })
                .collect()
        };
        let chosen = |priority_of| -> Vec<u64> {
            let all = candidates(priority_of);
            all.iter()
                .filter(|c| forwarded(**c, all.iter().copied(), now))
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(chosen(None), [0, 1, 2]);
        assert_eq!(chosen(Some(4)), [0, 1, 4]);
    }

    #[test]
    fn silence_and_old_packets_are_not_current() {
        let now = Instant::now();
        let mut activity = Activity::default();
        activity.heard(now, None, true);
        assert!(!activity.is_current(now));
        activity.heard(now, Some(127), false);
        assert!(!activity.is_current(now));
        activity.heard(now, None, false);
        assert!(activity.is_current(now));
        assert!(!activity.is_current(now + SPEAKING_WINDOW + Duration::from_millis(1)));
        let lone = Candidate {
            id: 1,
            priority: false,
            activity: &activity,
        };
        assert!(forwarded(lone, [], now));
        assert!(!forwarded(lone, [], now + Duration::from_secs(1)));
    }

    #[test]
    fn the_first_to_speak_keeps_a_place_among_equals() {
        let start = Instant::now();
        let later = start + Duration::from_millis(100);
        let early: Vec<Activity> = (0..3).map(|_| talking(start, 30)).collect();
        let late = talking(later, 30);
        let mut all: Vec<Candidate<'_>> = early
            .iter()
            .enumerate()
            .map(|(i, activity)| Candidate {
                id: 10 + i as u64,
                priority: false,
                activity,
            })
            .collect();
        let newcomer = Candidate {
            id: 1,
            priority: false,
            activity: &late,
        };
        all.push(newcomer);
        assert!(!forwarded(newcomer, all.iter().copied(), later));
        assert!(forwarded(all[0], all.iter().copied(), later));
    }
}
