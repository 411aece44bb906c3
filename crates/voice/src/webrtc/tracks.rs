//! A browser's receiving tracks. The browser offers a fixed set of them up
//! front, audio and video, and each carries one source at a time: a
//! speaker's voice, or someone's camera or screen. A source takes a free
//! track of its kind when it first sends and keeps it while it goes on
//! sending, so no renegotiation is ever needed. The RTP time on a track goes
//! on smoothly when its holder changes, so the browser's jitter buffer never
//! sees time jump back.

use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid};

use crate::sfu::ConnId;

/// What a connection sends that others hear or see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Feed {
    Voice,
    Camera,
    Screen,
}

impl Feed {
    /// A video feed by the stream type Discord names it with.
    pub(crate) fn video(name: &str) -> Option<Feed> {
        match name {
            "video" => Some(Feed::Camera),
            "screen" => Some(Feed::Screen),
            _ => None,
        }
    }

    /// The stream type op 12 names it with.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Feed::Voice => "audio",
            Feed::Camera => "video",
            Feed::Screen => "screen",
        }
    }

    pub(crate) fn kind(self) -> MediaKind {
        match self {
            Feed::Voice => MediaKind::Audio,
            Feed::Camera | Feed::Screen => MediaKind::Video,
        }
    }

    pub(crate) fn codec(self) -> Codec {
        match self.kind() {
            MediaKind::Audio => Codec::Opus,
            MediaKind::Video => Codec::Vp8,
        }
    }

    fn clock(self) -> Clock {
        match self.kind() {
            // 20 ms Opus frames; a voice lets go of its track soon after its
            // last word, so the next speaker gets it.
            MediaKind::Audio => Clock {
                rate: Frequency::FORTY_EIGHT_KHZ,
                step: 960,
                hold: Duration::from_secs(1),
            },
            // A still screen may send a frame only every few seconds.
            MediaKind::Video => Clock {
                rate: Frequency::NINETY_KHZ,
                step: 3000,
                hold: Duration::from_secs(5),
            },
        }
    }
}

/// A kind of track's RTP clock and how long a holder keeps it.
struct Clock {
    rate: Frequency,
    /// The least RTP time between two holders' frames (one frame).
    step: u32,
    hold: Duration,
}

/// One feed of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source {
    pub(crate) conn: ConnId,
    pub(crate) feed: Feed,
}

/// One receiving track of a browser.
pub(super) struct Track {
    pub(super) mid: Mid,
    kind: MediaKind,
    pub(super) holder: Option<Source>,
    last_frame: Option<Instant>,
    /// Added to the holder's RTP time.
    offset: u32,
    last_time: u32,
    /// Video: the holder's frames are held back until a keyframe, since
    /// the browser cannot decode what came before it.
    awaiting_keyframe: bool,
}

impl Track {
    /// Whether its holder sent within the hold of its kind.
    fn held(&self, now: Instant) -> bool {
        match (self.holder, self.last_frame) {
            (Some(holder), Some(at)) => {
                now.saturating_duration_since(at) < holder.feed.clock().hold
            }
            _ => false,
        }
    }
}

/// Where a frame goes: the track, and its RTP time there.
#[derive(Debug)]
pub(super) struct Placed {
    pub(super) mid: Mid,
    /// The source took this track with this frame.
    pub(super) taken: bool,
    /// `None` while a new video holder's keyframe has not come: the frame
    /// is not written.
    pub(super) time: Option<MediaTime>,
}

#[derive(Default)]
pub(super) struct Tracks(Vec<Track>);

impl Tracks {
    pub(super) fn add(&mut self, mid: Mid, kind: MediaKind) {
        self.0.push(Track {
            mid,
            kind,
            holder: None,
            last_frame: None,
            offset: 0,
            last_time: 0,
            awaiting_keyframe: false,
        });
    }

    /// The track for a frame of `source`: the one it holds, or a free one
    /// of its kind it takes now; `None` when every such track is held by
    /// someone still sending.
    pub(super) fn place(
        &mut self,
        source: Source,
        timestamp: u32,
        keyframe: bool,
        now: Instant,
    ) -> Option<Placed> {
        let clock = source.feed.clock();
        let kind = source.feed.kind();
        let mut taken = false;
        let at = match self.0.iter().position(|t| t.holder == Some(source)) {
            Some(at) => at,
            None => {
                let at = self.0.iter().position(|t| t.kind == kind && !t.held(now))?;
                let track = &mut self.0[at];
                // Continue the track's clock by the time that passed.
                let elapsed = track.last_frame.map_or(0, |at| {
                    let passed = now.saturating_duration_since(at).as_micros() as u64;
                    passed * u64::from(clock.rate.get()) / 1_000_000
                });
                let next = track
                    .last_time
                    .wrapping_add((elapsed as u32).max(clock.step));
                track.offset = next.wrapping_sub(timestamp);
                track.holder = Some(source);
                track.awaiting_keyframe = kind == MediaKind::Video;
                taken = true;
                at
            }
        };
        let track = &mut self.0[at];
        track.last_frame = Some(now);
        let mut placed = Placed {
            mid: track.mid,
            taken,
            time: None,
        };
        if track.awaiting_keyframe && !keyframe {
            return Some(placed);
        }
        track.awaiting_keyframe = false;
        let time = timestamp.wrapping_add(track.offset);
        track.last_time = time;
        placed.time = Some(MediaTime::new(u64::from(time), clock.rate));
        Some(placed)
    }

    /// Whose feed the track `mid` carries now.
    pub(super) fn holder(&self, mid: Mid) -> Option<Source> {
        self.0.iter().find(|t| t.mid == mid)?.holder
    }

    /// Gives up the video tracks whose holder stopped sending; returns
    /// what they showed.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<(Mid, Source)> {
        self.release(|track, _| track.kind == MediaKind::Video && !track.held(now))
    }

    /// Gives up every track `conn` holds (it left); returns what they
    /// carried.
    pub(super) fn forget(&mut self, conn: ConnId) -> Vec<(Mid, Source)> {
        self.release(|_, holder| holder.conn == conn)
    }

    fn release(&mut self, gives_up: impl Fn(&Track, Source) -> bool) -> Vec<(Mid, Source)> {
        let mut released = Vec::new();
        for track in &mut self.0 {
            if let Some(holder) = track.holder
                && gives_up(track, holder)
            {
                track.holder = None;
                released.push((track.mid, holder));
            }
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Source = Source {
        conn: 1,
        feed: Feed::Camera,
    };
    const BOB: Source = Source {
        conn: 2,
        feed: Feed::Camera,
    };

    fn tracks() -> Tracks {
        let mut tracks = Tracks::default();
        tracks.add(Mid::from("0"), MediaKind::Audio);
        tracks.add(Mid::from("1"), MediaKind::Video);
        tracks
    }

    #[test]
    fn a_new_holder_waits_for_its_keyframe() {
        let mut tracks = tracks();
        let now = Instant::now();
        let first = tracks.place(ALICE, 100, false, now).unwrap();
        assert!(first.taken, "the track is taken by the first frame");
        assert_eq!(first.mid, Mid::from("1"), "a video track for a camera");
        assert!(first.time.is_none(), "not written before a keyframe");
        let key = tracks.place(ALICE, 3100, true, now).unwrap();
        assert!(!key.taken && key.time.is_some());
        let next = tracks.place(ALICE, 6100, false, now).unwrap();
        assert!(next.time.is_some(), "what follows the keyframe is written");
    }

    #[test]
    fn a_held_track_is_not_taken_and_time_goes_on_across_holders() {
        let mut tracks = tracks();
        let start = Instant::now();
        let first = tracks.place(ALICE, 50_000, true, start).unwrap();
        assert!(
            tracks.place(BOB, 7, true, start).is_none(),
            "the only video track is Alice's"
        );

        let later = start + Duration::from_secs(6);
        assert_eq!(tracks.expire(later), vec![(first.mid, ALICE)]);
        let second = tracks.place(BOB, 7, true, later).unwrap();
        assert!(second.taken);
        // Six seconds of the 90 kHz clock after Alice's last frame.
        let (first, second) = (first.time.unwrap(), second.time.unwrap());
        assert_eq!(
            second.numer() - first.numer(),
            6 * 90_000,
            "the track's clock runs on"
        );
    }

    #[test]
    fn a_leaving_connection_gives_up_its_tracks() {
        let mut tracks = tracks();
        let now = Instant::now();
        let voice = Source {
            conn: 1,
            feed: Feed::Voice,
        };
        let spoken = tracks.place(voice, 0, false, now).unwrap();
        assert!(spoken.time.is_some(), "voice needs no keyframe");
        tracks.place(ALICE, 0, true, now).unwrap();
        assert_eq!(tracks.expire(now), vec![], "both still sending");
        let mut gone = tracks.forget(1);
        gone.sort_by_key(|(mid, _)| mid.to_string());
        assert_eq!(gone, vec![(Mid::from("0"), voice), (Mid::from("1"), ALICE)]);
    }
}
