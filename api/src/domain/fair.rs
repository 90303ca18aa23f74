//! The fair queue (docs/room-life.md): the next track comes from whoever
//! has had the fewest plays this session, votes ordering a person's tracks
//! and breaking ties between people.
//!
//! Only tracks that played to their end count as a turn (a skipped one
//! does not), the one playing counts as its uploader's, and nobody is
//! counted more than one round behind the person with the most plays among
//! those waiting: a newcomer gets the next turn, not a run of five.
//! (pikaraoke and JMusicBot take turns the same way.)

use std::collections::HashMap;
use uuid::Uuid;

/// A track waiting, as the fair order needs it. `tracks` are given in the
/// vote order (score, then age, then id), which orders within a turn.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub uploader: Uuid,
}

/// The order in which `waiting` (in vote order) will play: indexes into it.
/// `plays`: the tracks each uploader has had this session.
///
/// Each track's turn is its uploader's count (caught up to one round
/// behind the most) plus its place among their waiting tracks; the order
/// is by turn, then by vote order. O(n log n): a long queue is cheap.
pub fn order(waiting: &[Waiting], plays: &HashMap<Uuid, u32>) -> Vec<usize> {
    let played = |user: &Uuid| plays.get(user).copied().unwrap_or(0);
    let most = waiting.iter().map(|w| played(&w.uploader)).max().unwrap_or(0);
    let mut taken: HashMap<Uuid, u32> = HashMap::new();
    let mut keyed: Vec<(u32, usize)> = waiting
        .iter()
        .enumerate()
        .map(|(rank, w)| {
            let before = taken.entry(w.uploader).or_insert(0);
            let turn = played(&w.uploader).max(most.saturating_sub(1)) + *before;
            *before += 1;
            (turn, rank)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, rank)| rank).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn users(n: usize) -> Vec<Uuid> {
        (0..n).map(|i| Uuid::from_u128(i as u128 + 1)).collect()
    }

    #[test]
    fn people_take_turns_and_a_newcomer_is_one_round_behind_at_most() {
        let [a, b, c] = users(3)[..] else { unreachable!() };
        let queue: Vec<Waiting> = [a, a, a, b, c].iter().map(|&uploader| Waiting { uploader }).collect();
        // a has played 5, b 4, c none: c and b are one behind a at most.
        let plays = HashMap::from([(a, 5), (b, 4)]);
        let order: Vec<Uuid> = order(&queue, &plays).into_iter().map(|i| queue[i].uploader).collect();
        assert_eq!(
            order,
            [b, c, a, a, a],
            "b and c (4 turns each) first, in vote order, then a's"
        );
        // Without plays: one each in turn, votes deciding who goes first.
        let order: Vec<Uuid> = super::order(&queue, &HashMap::new())
            .into_iter()
            .map(|i| queue[i].uploader)
            .collect();
        assert_eq!(order, [a, b, c, a, a]);
    }

    /// The same order played out turn by turn: whoever has had the fewest
    /// turns plays their best-voted track next, ties to the better-voted
    /// track; then they have had one more.
    fn model(waiting: &[Waiting], plays: &HashMap<Uuid, u32>) -> Vec<usize> {
        let played = |u: &Uuid| *plays.get(u).unwrap_or(&0);
        let most = waiting.iter().map(|w| played(&w.uploader)).max().unwrap_or(0);
        let mut turns: HashMap<Uuid, u32> = waiting
            .iter()
            .map(|w| (w.uploader, played(&w.uploader).max(most.saturating_sub(1))))
            .collect();
        let mut left: Vec<usize> = (0..waiting.len()).collect();
        let mut ordered = Vec::new();
        while !left.is_empty() {
            let fewest = left.iter().map(|&i| turns[&waiting[i].uploader]).min().unwrap();
            let at = left
                .iter()
                .position(|&i| turns[&waiting[i].uploader] == fewest)
                .unwrap();
            let next = left.remove(at);
            *turns.get_mut(&waiting[next].uploader).unwrap() += 1;
            ordered.push(next);
        }
        ordered
    }

    proptest! {
        /// Against the model, over queues of up to 40 tracks by up to 6
        /// people with up to 8 plays each.
        #[test]
        fn the_fair_order_is_the_models(
            uploaders in proptest::collection::vec(0usize..6, 0..40),
            counts in proptest::collection::vec(0u32..8, 6),
        ) {
            let people = users(6);
            let waiting: Vec<Waiting> = uploaders.iter().map(|&u| Waiting { uploader: people[u] }).collect();
            let plays: HashMap<Uuid, u32> = people.iter().zip(&counts).map(|(u, c)| (*u, *c)).collect();
            let got = order(&waiting, &plays);
            prop_assert_eq!(got.clone(), model(&waiting, &plays));
            // Every track once; each person's tracks in their vote order.
            let mut sorted = got.clone();
            sorted.sort();
            prop_assert_eq!(sorted, (0..waiting.len()).collect::<Vec<_>>());
        }
    }
}
